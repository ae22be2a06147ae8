package mta

import (
	"context"
	"crypto/tls"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/applayer/applayer/internal/testutil"
	"github.com/applayer/applayer/mail/dkim"
	"github.com/applayer/applayer/mail/smtp"
	"github.com/applayer/applayer/mail/smtpclient"
)

// TestSubmittedMailIsDKIMSigned: what alice submits leaves crepes.fr with
// a DKIM-Signature of crepes.fr that verifies at bob's end; a message
// whose From: is a domain without a key leaves unsigned; alice's own
// copy is stored as it came.
func TestSubmittedMailIsDKIMSigned(t *testing.T) {
	key, err := dkim.GenerateKey("ed25519")
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := dkim.Record(key)
	res := labResolver(t)
	bob := newMTA(t, "hamburger.edu", res, 0, nil, "bob@hamburger.edu")
	bobPort := serve(t, bob, false)
	alice := newMTA(t, "crepes.fr", res, bobPort, []time.Duration{50 * time.Millisecond}, "alice@crepes.fr")
	alice.cfg.DKIM = []*dkim.Signer{{Domain: "crepes.fr", Selector: "lab", Key: key}}
	subPort := serve(t, alice, true)

	for _, from := range []string{"Alice <alice@crepes.fr>", "alice@elsewhere.example"} {
		_, err := smtpclient.Send(context.Background(), smtpclient.Submission{
			Addr: "127.0.0.1:" + strconv.Itoa(subPort), StartTLS: true, TLSConfig: &tls.Config{InsecureSkipVerify: true},
			User: "alice@crepes.fr", Password: "pw-alice@crepes.fr",
		}, smtp.Path{Mailbox: smtp.Address{Local: "alice", Domain: "crepes.fr"}},
			[]smtp.Address{{Local: "bob", Domain: "hamburger.edu"}, {Local: "alice", Domain: "crepes.fr"}},
			[]byte("From: "+from+"\r\nTo: bob@hamburger.edu\r\nSubject: ketchup\r\n\r\nDo you like ketchup?\r\n"))
		if err != nil {
			t.Fatal(err)
		}
	}
	testutil.WaitFor(t, "bob's two messages", func() bool { return mailCount(bob, "bob@hamburger.edu") == 2 })
	v := &dkim.Verifier{Lookup: func(_ context.Context, name string) ([]string, error) {
		if name == "lab._domainkey.crepes.fr" {
			return []string{rec}, nil
		}
		return nil, dkim.ErrNoKey
	}}
	signed := 0
	for i := range 2 {
		msg := readMail(t, bob, "bob@hamburger.edu", i)
		r := v.Verify(context.Background(), []byte(msg))
		switch {
		case strings.Contains(msg, "From: Alice <alice@crepes.fr>"):
			if len(r) != 1 || r[0].Status != dkim.Pass || r[0].Domain != "crepes.fr" {
				t.Errorf("alice's message at bob's: %+v\n%s", r, msg)
			}
			signed++
		case len(r) != 0:
			t.Errorf("a message from elsewhere.example was signed: %+v", r)
		}
	}
	if signed != 1 {
		t.Errorf("%d signed messages from crepes.fr at bob's, want 1", signed)
	}
	for i := range 2 {
		if own := readMail(t, alice, "alice@crepes.fr", i); strings.Contains(own, "DKIM-Signature") {
			t.Errorf("alice's own copy was changed:\n%s", own)
		}
	}
}
