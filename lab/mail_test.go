package lab

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/applayer/applayer/internal/testutil"
	"github.com/applayer/applayer/internal/transcript"
	"github.com/applayer/applayer/mail/smtp"
	"github.com/applayer/applayer/mail/smtpclient"
)

// mailTopology is the default topology's mail services (and, withDNS,
// its DNS services), with mail data in dirs, under a base port whose +25
// the kernel just reported free.
func mailTopology(t *testing.T, dirs map[string]string, withDNS bool) Topology {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.25.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := l.Addr().(*net.TCPAddr).Port
	l.Close()
	base := p - 25
	if base+587 > 65535 {
		base = p - 587
	}
	var specs []Spec
	for _, s := range DefaultTopology().Services {
		if withDNS && strings.HasPrefix(s.Kind, "dns") {
			specs = append(specs, s)
		}
		if s.Kind == "mail" {
			args := map[string]string{}
			for k, v := range s.Args {
				args[k] = v
			}
			args["data"] = dirs[s.Args["domain"]]
			s.Args = args
			specs = append(specs, s)
		}
	}
	return Topology{BasePort: base, Services: specs}
}

// TestLabAliceToBob runs the textbook's story across the lab: alice
// submits to crepes.fr's server, which looks up hamburger.edu's MX (in the
// lab's DNS, or in the services' records when the lab has no DNS),
// relays, and bob's Maildir receives the message.
func TestLabAliceToBob(t *testing.T) {
	for _, withDNS := range []bool{false, true} {
		t.Run(map[bool]string{false: "static records", true: "lab DNS"}[withDNS], func(t *testing.T) {
			aliceToBob(t, withDNS)
		})
	}
}

func aliceToBob(t *testing.T, withDNS bool) {
	dirs := map[string]string{"crepes.fr": t.TempDir(), "hamburger.edu": t.TempDir()}
	topo := mailTopology(t, dirs, withDNS)
	// The trace shows whom hamburger.edu's exchanger talks to: crepes.fr's
	// own address, the relay's local address.
	var mu sync.Mutex
	peers := map[string]bool{}
	sink := transcript.SinkFunc(func(e transcript.Event) {
		if strings.HasPrefix(e.Proto, "mail-crepes ") && strings.HasPrefix(e.Peer, "127.0.25.2:") {
			t.Errorf("the relay's dialogue is shown from both ends: %+v", e)
		}
		if strings.HasPrefix(e.Proto, "mail-hamburger smtp") {
			host, _, _ := net.SplitHostPort(e.Peer)
			mu.Lock()
			peers[host] = true
			mu.Unlock()
		}
	})
	l := &Lab{Topology: topo, Logger: slog.New(slog.DiscardHandler), TraceSink: sink}
	eps, err := l.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := l.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown = %v", err)
		}
	}()
	var sub, bobMX string
	for _, e := range eps {
		if e.Service == "mail-hamburger" && e.Proto == "smtp" {
			bobMX = e.Addr
		}
		if e.Service == "mail-crepes" && e.Proto == "submission" {
			sub = e.Addr
			if !strings.Contains(e.Try, "--to bob@hamburger.edu") {
				t.Errorf("crepes.fr's submission Try line does not send to bob: %s", e.Try)
			}
		}
	}
	pass, err := os.ReadFile(filepath.Join(dirs["crepes.fr"], "alice.pass"))
	if err != nil {
		t.Fatal(err)
	}
	// A bound on a hang, not a measure: AUTH's bcrypt check under the race
	// detector on a loaded machine takes seconds.
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Patience)
	defer cancel()
	_, err = smtpclient.Send(ctx, smtpclient.Submission{
		Addr: sub, StartTLS: true, TLSConfig: &tls.Config{InsecureSkipVerify: true},
		User: "alice@crepes.fr", Password: strings.TrimSpace(string(pass)),
	}, smtp.Path{Mailbox: smtp.Address{Local: "alice", Domain: "crepes.fr"}},
		[]smtp.Address{{Local: "bob", Domain: "hamburger.edu"}},
		[]byte("From: alice@crepes.fr\r\nTo: bob@hamburger.edu\r\nSubject: ketchup\r\n\r\nDo you like ketchup?\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	inbox := filepath.Join(dirs["hamburger.edu"], "mail", "hamburger.edu", "bob", "new")
	var ents []os.DirEntry
	testutil.WaitFor(t, "alice's message in bob's Maildir", func() bool { ents, _ = os.ReadDir(inbox); return len(ents) >= 1 })
	if len(ents) != 1 {
		t.Fatalf("bob's Maildir has %d messages, want 1", len(ents))
	}
	b, _ := os.ReadFile(filepath.Join(inbox, ents[0].Name()))
	wants := []string{"by mail.hamburger.edu", "by mail.crepes.fr", "Do you like ketchup?"}
	if withDNS {
		// mallory, on another host, claims to be alice: SPF fails for
		// crepes.fr, nothing is signed, and crepes.fr's DMARC says reject.
		_, err := smtpclient.Send(ctx, smtpclient.Submission{Addr: bobMX, Options: smtpclient.Options{LocalAddr: net.ParseIP("127.0.66.6")}},
			smtp.Path{Mailbox: smtp.Address{Local: "alice", Domain: "crepes.fr"}}, []smtp.Address{{Local: "bob", Domain: "hamburger.edu"}},
			[]byte("From: alice@crepes.fr\r\nTo: bob@hamburger.edu\r\nSubject: send me your password\r\n\r\nIt is me, alice.\r\n"))
		if r, ok := err.(*smtp.Reply); !ok || r.Code != 550 || !strings.Contains(r.Error(), "DMARC") {
			t.Errorf("a forged message from alice: %v, want 550 5.7.1 for crepes.fr's DMARC policy", err)
		}
		// The trust layer, through the lab's DNS: crepes.fr signed it,
		// hamburger.edu checked it.
		wants = append(wants, "DKIM-Signature: v=1; a=ed25519-sha256;", "Authentication-Results: mail.hamburger.edu;",
			"spf=pass smtp.mailfrom=alice@crepes.fr", "dkim=pass header.d=crepes.fr header.s=lab", "dmarc=pass header.from=crepes.fr")
	}
	for _, want := range wants {
		if !strings.Contains(string(b), want) {
			t.Errorf("bob's message lacks %q:\n%s", want, b)
		}
	}
	// bob reads it with POP3, as a user agent would.
	var pop string
	for _, e := range eps {
		if e.Service == "mail-hamburger" && e.Proto == "pop3" {
			pop = e.Addr
		}
	}
	bobPass, err := os.ReadFile(filepath.Join(dirs["hamburger.edu"], "bob.pass"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := textproto.Dial("tcp", pop)
	if err != nil {
		t.Fatalf("POP3 at %q: %v", pop, err)
	}
	defer c.Close()
	var lines []string
	for _, step := range []string{"", "USER bob", "PASS " + strings.TrimSpace(string(bobPass)), "RETR 1"} {
		if step != "" {
			c.PrintfLine("%s", step)
		}
		l, err := c.ReadLine()
		if err != nil || !strings.HasPrefix(l, "+OK") {
			t.Fatalf("POP3 %q: %q %v", step, l, err)
		}
	}
	lines, err = c.ReadDotLines()
	if err != nil || !strings.Contains(strings.Join(lines, "\n"), "Do you like ketchup?") {
		t.Errorf("POP3 RETR 1: %v\n%s", err, strings.Join(lines, "\n"))
	}
	// And with IMAP: the same message, its subject from the ENVELOPE.
	var imapAddr string
	for _, e := range eps {
		if e.Service == "mail-hamburger" && e.Proto == "imap" {
			imapAddr = e.Addr
		}
	}
	ic, err := textproto.Dial("tcp", imapAddr)
	if err != nil {
		t.Fatalf("IMAP at %q: %v", imapAddr, err)
	}
	defer ic.Close()
	if l, err := ic.ReadLine(); err != nil || !strings.HasPrefix(l, "* OK") {
		t.Fatalf("IMAP greeting %q %v", l, err)
	}
	var got []string
	for _, cmd := range []string{`a LOGIN bob "` + strings.TrimSpace(string(bobPass)) + `"`, "b SELECT INBOX", "c FETCH 1 (ENVELOPE)"} {
		ic.PrintfLine("%s", cmd)
		for {
			l, err := ic.ReadLine()
			if err != nil {
				t.Fatalf("IMAP %q: %v", cmd, err)
			}
			got = append(got, l)
			if strings.HasPrefix(l, cmd[:2]) {
				if !strings.HasPrefix(l, cmd[:2]+"OK") {
					t.Fatalf("IMAP %q: %s", cmd, l)
				}
				break
			}
		}
	}
	if !strings.Contains(strings.Join(got, "\n"), `"ketchup" (("alice" NIL "alice" "crepes.fr"))`) && !strings.Contains(strings.Join(got, "\n"), `"ketchup" ((NIL NIL "alice" "crepes.fr"))`) {
		t.Errorf("IMAP FETCH ENVELOPE of alice's message:\n%s", strings.Join(got, "\n"))
	}
	mu.Lock()
	defer mu.Unlock()
	if !peers["127.0.25.1"] || peers["127.0.0.1"] {
		t.Errorf("hamburger.edu's exchanger saw peers %v, want crepes.fr's 127.0.25.1", peers)
	}
}
