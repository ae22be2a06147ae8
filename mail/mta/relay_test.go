package mta

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/applayer/applayer/internal/testutil"
	"github.com/applayer/applayer/mail/smtp"
	"github.com/applayer/applayer/mail/smtpserver"
)

// TestOpenRelayMatrix tries the classic relay tricks on the MX listener
// without authentication: every one must be refused, and nothing queued.
func TestOpenRelayMatrix(t *testing.T) {
	m := newMTA(t, "crepes.fr", labResolver(t), 1, nil, "alice@crepes.fr")
	port := serve(t, m, false)
	tricks := []string{
		"<victim@elsewhere.example>",
		"<VICTIM@ELSEWHERE.EXAMPLE>",
		"<victim@elsewhere.example.>",
		"<@crepes.fr:victim@elsewhere.example>",
		"<@crepes.fr,@mail.crepes.fr:victim@elsewhere.example>",
		"<victim%elsewhere.example@crepes.fr>",
		"<elsewhere.example!victim@crepes.fr>",
		"<\"victim@elsewhere.example\"@crepes.fr>",
		"<\"victim%elsewhere.example\"@crepes.fr>",
		"<victim@elsewhere.example@crepes.fr>",
		"<victim@[127.0.0.1]>",
		"<victim@[IPv6:::1]>",
		"<victim@crepes.fr.elsewhere.example>",
		"<victim@elsewhere.example (comment)>",
		"victim@elsewhere.example",
		"<victim@elsewhere.example> NOTIFY=NEVER",
		"< victim@elsewhere.example>",
		"<victim@elsewhere.example\x00@crepes.fr>",
		"<victim@crepes.fr\r\nRCPT TO:<victim@elsewhere.example>",
		"<postmaster@elsewhere.example>",
		"<alice@crepes.fr@elsewhere.example>",
	}
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	reply := func() string {
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			if len(l) < 4 || l[3] != '-' {
				return strings.TrimRight(l, "\r\n")
			}
		}
	}
	reply()
	fmt.Fprintf(c, "EHLO spammer.example\r\n")
	reply()
	for i, trick := range tricks {
		if i%8 == 0 { // stay under MaxErrors: start a fresh transaction
			fmt.Fprintf(c, "RSET\r\nMAIL FROM:<spammer@spammer.example>\r\n")
			reply()
			if r := reply(); !strings.HasPrefix(r, "250") {
				t.Fatalf("MAIL = %q", r)
			}
		}
		fmt.Fprintf(c, "RCPT TO:%s\r\n", trick)
		r := reply()
		if !strings.HasPrefix(r, "5") {
			t.Errorf("RCPT TO:%q = %q; want a 5xx refusal", trick, r)
		}
		if strings.Contains(trick, "\r\n") { // the injected second command
			if r := reply(); !strings.HasPrefix(r, "5") {
				t.Errorf("injected RCPT = %q; want a 5xx refusal", r)
			}
		}
		if i%8 == 7 {
			c.Close()
			c, err = net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
			if err != nil {
				t.Fatal(err)
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			br = bufio.NewReader(c)
			reply()
			fmt.Fprintf(c, "EHLO spammer.example\r\n")
			reply()
		}
	}
	fmt.Fprintf(c, "DATA\r\n")
	if r := reply(); !strings.HasPrefix(r, "503") {
		t.Errorf("DATA after only refused recipients = %q, want 503", r)
	}
	if q, _ := ListQueue(m.cfg.Dir); len(q) != 0 {
		t.Errorf("%d messages queued by an unauthenticated client", len(q))
	}
}

// TestRelayInClearWhenTLSFails: STARTTLS between MTAs is opportunistic
// (RFC 7435), so an exchanger whose TLS handshake fails still gets the
// message, on a new connection without STARTTLS, in the same attempt.
func TestRelayInClearWhenTLSFails(t *testing.T) {
	ex := &scripted{answers: []*smtp.Reply{nil}}
	broken := &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		return nil, errors.New("no certificate today")
	}}
	s := &smtpserver.Server{Hostname: "mx.noanswer.example", Backend: ex, Logger: quiet, TLSConfig: broken, PregreetWait: -1}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	alice := newMTA(t, "crepes.fr", labResolver(t), l.Addr().(*net.TCPAddr).Port, []time.Duration{time.Hour}, "alice@crepes.fr")
	sub := serve(t, alice, true)
	if err := submit(t, sub, "alice@crepes.fr", "carol@noanswer.example"); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "delivery in clear", func() bool { return ex.got.Load() == 1 })
}

// greylister offers PIPELINING and refuses every MAIL FROM for now, so the
// pipelined RCPTs and DATA get 503s.
func greylister(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				fmt.Fprint(c, "220 mx.noanswer.example ESMTP\r\n")
				br := bufio.NewReader(c)
				for {
					l, err := br.ReadString('\n')
					if err != nil {
						return
					}
					switch v := strings.ToUpper(strings.Fields(l + " x")[0]); v {
					case "EHLO":
						fmt.Fprint(c, "250-mx.noanswer.example\r\n250 PIPELINING\r\n")
					case "MAIL":
						fmt.Fprint(c, "451 4.7.1 Greylisted, try again later\r\n")
					case "RCPT", "DATA":
						fmt.Fprint(c, "503 5.5.1 Need MAIL first\r\n")
					case "QUIT":
						fmt.Fprint(c, "221 bye\r\n")
						return
					default:
						fmt.Fprint(c, "250 ok\r\n")
					}
				}
			}()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port
}

// TestPipelinedMailRefusedForNow: a 4xx to MAIL FROM keeps the message
// queued; the 503s that the pipelined RCPTs then get are not permanent
// refusals of the recipients, so no bounce.
func TestPipelinedMailRefusedForNow(t *testing.T) {
	alice := newMTA(t, "crepes.fr", labResolver(t), greylister(t), []time.Duration{time.Hour}, "alice@crepes.fr")
	sub := serve(t, alice, true)
	if err := submit(t, sub, "alice@crepes.fr", "carol@noanswer.example"); err != nil {
		t.Fatal(err)
	}
	attempted := func() *RcptState {
		q, _ := ListQueue(alice.cfg.Dir)
		if len(q) != 1 {
			return nil
		}
		return q[0].State.Rcpts["carol@noanswer.example"]
	}
	testutil.WaitFor(t, "an attempt or a bounce", func() bool { return attempted() != nil || mailCount(alice, "alice@crepes.fr") > 0 })
	if n := mailCount(alice, "alice@crepes.fr"); n != 0 {
		t.Fatalf("alice got %d bounces for a temporary refusal:\n%s", n, readMail(t, alice, "alice@crepes.fr", 0))
	}
	if st := attempted(); st == nil || st.Failed || !strings.Contains(st.Last, "451") {
		t.Errorf("recipient state after a 451 to MAIL = %+v, want a temporary failure with the 451", st)
	}
}
