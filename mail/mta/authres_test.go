package mta

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/applayer/applayer/internal/dnstest"
	"github.com/applayer/applayer/internal/testutil"
	"github.com/applayer/applayer/mail/smtp"
	"github.com/applayer/applayer/mail/smtpclient"
)

// TestIncomingChecked: with CheckIncoming, mail for a local user is
// checked: a message SPF authenticates for its From: domain arrives with
// spf=pass and dmarc=pass, one forged in the name of a domain whose DMARC
// policy is reject is refused with 550 5.7.1, and one from a domain with
// no policy arrives with dmarc=none.
func TestIncomingChecked(t *testing.T) {
	addr := dnstest.ServeZones(t, map[string]string{
		"crepes.fr.":       "@ TXT \"v=spf1 ip4:127.0.0.1 -all\"\n_dmarc TXT \"v=DMARC1; p=reject\"\n",
		"evil.example.":    "@ TXT \"v=spf1 -all\"\n",
		"nodmarc.example.": "@ TXT \"v=spf1 ?all\"\n",
	})
	bob := newMTA(t, "hamburger.edu", DNSResolver(addr), 0, nil, "bob@hamburger.edu")
	bob.cfg.CheckIncoming = true
	port := serve(t, bob, false)
	send := func(mailFrom, from string) error {
		a, _ := smtp.ParseAddress(mailFrom)
		_, err := smtpclient.Send(context.Background(), smtpclient.Submission{
			Addr: "127.0.0.1:" + strconv.Itoa(port), Options: smtpclient.Options{Timeout: testutil.Patience},
		}, smtp.Path{Mailbox: a}, []smtp.Address{{Local: "bob", Domain: "hamburger.edu"}},
			[]byte("From: "+from+"\r\nTo: bob@hamburger.edu\r\nSubject: ketchup\r\n\r\nDo you like ketchup?\r\n"))
		return err
	}
	if err := send("alice@crepes.fr", "alice@crepes.fr"); err != nil {
		t.Fatal(err)
	}
	err := send("mallory@evil.example", "alice@crepes.fr")
	if r, ok := err.(*smtp.Reply); !ok || r.Code != 550 || !strings.Contains(r.Error(), "DMARC") {
		t.Errorf("a message forged in crepes.fr's name: %v, want 550 5.7.1 for DMARC", err)
	}
	if err := send("carol@nodmarc.example", "carol@nodmarc.example"); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "bob's two messages", func() bool { return mailCount(bob, "bob@hamburger.edu") == 2 })
	var got []string
	for i := range 2 {
		got = append(got, readMail(t, bob, "bob@hamburger.edu", i))
	}
	if strings.Contains(got[0], "carol@") { // the Maildir's order is not arrival's
		got[0], got[1] = got[1], got[0]
	}
	for i, want := range [][]string{
		{"Return-Path: <alice@crepes.fr>\r\nAuthentication-Results: mail.hamburger.edu;\r\n\tspf=pass smtp.mailfrom=alice@crepes.fr;\r\n\tdkim=none;\r\n\tdmarc=pass header.from=crepes.fr\r\nReceived: "},
		{"spf=neutral smtp.mailfrom=carol@nodmarc.example", "dmarc=none header.from=nodmarc.example"},
	} {
		for _, w := range want {
			if !strings.Contains(got[i], w) {
				t.Errorf("message %d lacks %q:\n%s", i+1, w, got[i])
			}
		}
	}
}
