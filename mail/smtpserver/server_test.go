package smtpserver

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/applayer/applayer/internal/peertest"
	"github.com/applayer/applayer/internal/testutil"
	"github.com/applayer/applayer/internal/tlsutil"
	smtpc "github.com/applayer/applayer/mail/smtp"
	"github.com/applayer/applayer/mail/smtpclient"
)

// memBackend accepts mail for example.org users alice and bob, keeps
// messages in memory, and knows one password.
type memBackend struct {
	mu   sync.Mutex
	msgs []stored
	seq  int
}

type stored struct {
	env  Envelope
	user string
	data string
}

func (b *memBackend) Rcpt(s *Session, from smtpc.Path, to smtpc.Address) error {
	if to.Domain != "example.org" && s.User == "" {
		return smtpc.R(550, smtpc.CodeRelayDenied, "Relaying denied")
	}
	if to.Domain == "example.org" && to.Local != "alice" && to.Local != "bob" {
		return smtpc.R(550, smtpc.CodeBadMailbox, "No such user here")
	}
	return nil
}

func (b *memBackend) Authenticate(user, pass string) bool {
	return user == "alice@example.org" && pass == "secret"
}

func (b *memBackend) Open(s *Session, env *Envelope) (Delivery, error) {
	b.mu.Lock()
	b.seq++
	id := fmt.Sprintf("M%d", b.seq)
	b.mu.Unlock()
	return &memDelivery{b: b, id: id, env: *env, user: s.User}, nil
}

func (b *memBackend) messages() []stored {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]stored(nil), b.msgs...)
}

type memDelivery struct {
	b    *memBackend
	id   string
	env  Envelope
	user string
	buf  strings.Builder
}

func (d *memDelivery) Write(p []byte) (int, error) { return d.buf.Write(p) }
func (d *memDelivery) ID() string                  { return d.id }
func (d *memDelivery) Abort()                      {}
func (d *memDelivery) Commit() error {
	d.b.mu.Lock()
	defer d.b.mu.Unlock()
	d.b.msgs = append(d.b.msgs, stored{d.env, d.user, d.buf.String()})
	return nil
}

func startServer(t *testing.T, mod func(*Server)) (*Server, *memBackend, string) {
	t.Helper()
	b := &memBackend{}
	s := &Server{Hostname: "hamburger.edu", Backend: b, MaxMessageBytes: 10000, Logger: slog.New(slog.DiscardHandler), AuthFailureDelay: time.Millisecond, CommandTimeout: 5 * time.Second, DataTimeout: 5 * time.Second,
		PregreetWait: -1} // TestPregreet covers the wait
	if mod != nil {
		mod(s)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve = %v, want ErrServerClosed", err)
		}
	})
	return s, b, l.Addr().String()
}

// dialogue sends each step's line and checks that the reply starts with
// its want prefix. A step with an empty send only reads.
type step struct{ send, want string }

func runDialogue(t *testing.T, addr string, steps []step) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	readReply := func() string {
		var last string
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				return last + "<" + err.Error() + ">"
			}
			last = strings.TrimRight(l, "\r\n")
			if len(last) < 4 || last[3] != '-' {
				return last
			}
		}
	}
	if g := readReply(); !strings.HasPrefix(g, "220 hamburger.edu") {
		t.Fatalf("greeting = %q", g)
	}
	for _, s := range steps {
		if s.send != "" {
			io.WriteString(c, s.send)
		}
		if s.want == "" {
			continue
		}
		if got := readReply(); !strings.HasPrefix(got, s.want) {
			t.Fatalf("after %q: reply %q, want prefix %q", s.send, got, s.want)
		}
	}
}

func TestDialogues(t *testing.T) {
	_, b, addr := startServer(t, nil)
	tests := []struct {
		name  string
		steps []step
	}{
		{"textbook", []step{
			{"HELO crepes.fr\r\n", "250 hamburger.edu Hello crepes.fr"},
			{"MAIL FROM: <alice@crepes.fr>\r\n", "250 <alice@crepes.fr>... Sender ok"},
			{"RCPT TO: <bob@example.org>\r\n", "250 <bob@example.org>... Recipient ok"},
			{"DATA\r\n", "354 Enter mail"},
			{"Do you like ketchup?\r\nHow about pickles?\r\n.\r\n", "250 Message accepted"},
			{"QUIT\r\n", "221 hamburger.edu closing connection"},
		}},
		{"order", []step{
			{"MAIL FROM:<a@b.example>\r\n", "503 Send HELO"},
			{"EHLO x\r\n", "250"},
			{"RCPT TO:<bob@example.org>\r\n", "503 5.5.1"},
			{"DATA\r\n", "503 5.5.1"},
			{"MAIL FROM:<a@b.example>\r\n", "250 2.1.0"},
			{"MAIL FROM:<a@b.example>\r\n", "503 5.5.1"},
			{"DATA\r\n", "503 5.5.1 Need RCPT"},
			{"RSET\r\n", "250 2.0.0"},
			{"RCPT TO:<bob@example.org>\r\n", "503 5.5.1"},
		}},
		{"syntax", []step{
			{"EHLO x\r\n", "250"},
			{"FOO\r\n", "500 5.5.2"},
			{"MAIL FROM:alice@crepes.fr\r\n", "501 5.1.7"},
			{"MAIL FROM:<alice@crepes.fr> SIZE=99999999\r\n", "552 5.3.4"},
			{"MAIL FROM:<alice@crepes.fr> FOO=1\r\n", "555 5.5.4"},
			{"MAIL FROM:<> BODY=8BITMIME\r\n", "250"},
			{"RCPT TO:<bob@@example.org>\r\n", "501 5.1.3"},
			{"RCPT TO:<carol@example.org>\r\n", "550 5.1.1"},
			{"VRFY bob\r\n", "252 2.5.0"},
			{"NOOP\r\n", "250"},
			{"HELO\r\n", "501"},
			{"MAIL FROM:<a@b.example>" + strings.Repeat(" ", 600) + "\r\n", "500 5.5.2 Line too long"},
			{"QUIT\r\n", "221"},
		}},
		{"relay refused", []step{
			{"EHLO spammer.example\r\n", "250"},
			{"MAIL FROM:<x@spammer.example>\r\n", "250"},
			{"RCPT TO:<victim@elsewhere.example>\r\n", "550 5.7.1"},
			{"RCPT TO:<@example.org:victim@elsewhere.example>\r\n", "550 5.7.1"},
			{"RCPT TO:<victim%elsewhere.example@example.org>\r\n", "550 5.1.1"},
			{"AUTH PLAIN AGFsaWNlQGV4YW1wbGUub3JnAHNlY3JldA==\r\n", "503 5.5.1"},
			{"RSET\r\nAUTH PLAIN AGFsaWNlQGV4YW1wbGUub3JnAHNlY3JldA==\r\n", "250"},
			{"", "538 5.7.11"},
		}},
		{"pipelining", []step{
			{"EHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<bob@example.org>\r\nRCPT TO:<nobody@example.org>\r\nDATA\r\n", "250"},
			{"", "250 2.1.0"}, {"", "250 2.1.5"}, {"", "550 5.1.1"}, {"", "354"},
			{"Subject: p\r\n\r\nbody\r\n.\r\nQUIT\r\n", "250 2.0.0"},
			{"", "221"},
		}},
		{"bad bodies", []step{
			{"EHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n", "250"},
			{"", "250"}, {"", "250"}, {"", "354"},
			{"bare\nLF\r\n.\r\n", "550 5.6.0"},
			{"MAIL FROM:<a@b.example>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n", "250"},
			{"", "250"}, {"", "354"},
			{"nul\x00\r\n.\r\n", "554 5.6.0"},
			{"MAIL FROM:<a@b.example>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n", "250"},
			{"", "250"}, {"", "354"},
			{strings.Repeat("0123456789abcdef\r\n", 1000) + ".\r\n", "552 5.3.4"},
			{"NOOP\r\n", "250"},
		}},
		{"smuggling", []step{
			// "\n.\r\n" does not end DATA: the second message is body,
			// not commands, and the whole is refused for its bare LF.
			{"EHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n", "250"},
			{"", "250"}, {"", "250"}, {"", "354"},
			{"Subject: one\r\n\r\nhi\n.\r\nMAIL FROM:<evil@b.example>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\nSubject: two\r\n\r\n.\r\n", "550 5.6.0"},
			{"NOOP\r\n", "250 2.0.0 OK"},
		}},
		{"smuggling with bare CR", []step{
			// "\r.\r" (and "\r.\n") end nothing either, and a bare CR
			// anywhere refuses the whole body.
			{"EHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n", "250"},
			{"", "250"}, {"", "250"}, {"", "354"},
			{"Subject: one\r\n\r\nhi\r.\rMAIL FROM:<evil@b.example>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\nSubject: two\r\n\r\n.\r\n", "550 5.6.0 Message contains bare CR"},
			{"MAIL FROM:<a@b.example>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n", "250"},
			{"", "250"}, {"", "354"},
			{"Subject: one\r\n\r\nhi\r.\nMAIL FROM:<evil@b.example>\r\n.\r\n", "550 5.6.0 Message contains bare CR"},
			{"MAIL FROM:<a@b.example>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n", "250"},
			{"", "250"}, {"", "354"},
			{"Subject: one\r\n\r\na bare\rCR inside a line\r\n.\r\n", "550 5.6.0 Message contains bare CR"},
			{"NOOP\r\n", "250 2.0.0 OK"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runDialogue(t, addr, tt.steps) })
	}
	msgs := b.messages()
	if len(msgs) != 2 {
		t.Fatalf("stored %d messages, want 2 (textbook, pipelining); the refused bodies must not be kept", len(msgs))
	}
	if !strings.Contains(msgs[0].data, "Received: from crepes.fr") || !strings.HasSuffix(msgs[0].data, "Do you like ketchup?\r\nHow about pickles?\r\n") {
		t.Errorf("stored message = %q", msgs[0].data)
	}
}

func TestTooManyErrorsCloses(t *testing.T) {
	_, _, addr := startServer(t, func(s *Server) { s.MaxErrors = 3 })
	runDialogue(t, addr, []step{{"X\r\n", "500"}, {"Y\r\n", "500"}, {"Z\r\n", "500"}, {"", "421"}, {"NOOP\r\n", "<"}})
}

// Test452CountsAsError: a client told 452 (too many recipients) again and
// again is closed like one told 5xx, instead of repeating RCPT forever.
func Test452CountsAsError(t *testing.T) {
	_, _, addr := startServer(t, func(s *Server) { s.MaxErrors = 3; s.MaxRecipients = 1 })
	runDialogue(t, addr, []step{
		{"EHLO x\r\n", "250"},
		{"MAIL FROM:<a@b.example>\r\n", "250"},
		{"RCPT TO:<bob@example.org>\r\n", "250"},
		{"RCPT TO:<alice@example.org>\r\n", "452 4.5.3"},
		{"RCPT TO:<alice@example.org>\r\n", "452 4.5.3"},
		{"RCPT TO:<alice@example.org>\r\n", "452 4.5.3"},
		{"", "421"},
		{"NOOP\r\n", "<"},
	})
}

// TestOverLimitGets421: a client over MaxConns is told 421 (RFC 5321
// section 3.8) instead of being dropped without a word.
func TestOverLimitGets421(t *testing.T) {
	_, _, addr := startServer(t, func(s *Server) { s.MaxConns = 1 })
	first, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	r := bufio.NewReader(first)
	if greet, _ := r.ReadString('\n'); !strings.HasPrefix(greet, "220 ") {
		t.Fatalf("first client's greeting = %q", greet)
	}
	second, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	second.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, _ := io.ReadAll(second)
	if !strings.HasPrefix(string(got), "421 4.3.2 ") {
		t.Errorf("client over the limit read %q, want a 421 4.3.2 reply", got)
	}
}

func TestNoNewlineDoesNotGrow(t *testing.T) {
	_, _, addr := startServer(t, nil)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(c)
	br.ReadString('\n')
	chunk := []byte(strings.Repeat("x", 64<<10))
	for i := 0; i < 256; i++ { // 16 MiB without a newline
		if _, err := c.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	io.WriteString(c, "\r\nNOOP\r\n")
	l1, _ := br.ReadString('\n')
	l2, _ := br.ReadString('\n')
	if !strings.HasPrefix(l1, "500") || !strings.HasPrefix(l2, "250") {
		t.Errorf("after 16 MiB line: %q %q; want 500 then 250", l1, l2)
	}
}

func TestClientStopsMidData(t *testing.T) {
	s, b, addr := startServer(t, nil)
	c, _ := net.Dial("tcp", addr)
	br := bufio.NewReader(c)
	br.ReadString('\n')
	io.WriteString(c, "HELO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\nhalf a message\r\n")
	for i := 0; i < 4; i++ {
		br.ReadString('\n')
	}
	c.Close()
	// The session is over once the server has let go of the connection;
	// only then is "nothing stored" a result and not a slow server.
	testutil.WaitFor(t, "the server to end the session", func() bool { return s.tracker().Conns() == 0 })
	if n := len(b.messages()); n != 0 {
		t.Errorf("stored %d messages after a client quit mid-DATA, want 0", n)
	}
}

func tlsConfig(t *testing.T) (*tls.Config, string) {
	dir := t.TempDir()
	cert, err := tlsutil.LoadOrCreate(dir, []string{"hamburger.edu", "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}}, filepath.Join(dir, tlsutil.CertFile)
}

func TestSubmissionWithOurClient(t *testing.T) {
	cfg, certFile := tlsConfig(t)
	_, b, addr := startServer(t, func(s *Server) { s.TLSConfig = cfg; s.Submission = true })
	pool, _ := tlsutil.CertPool(certFile)
	ctx := context.Background()
	sub := smtpclient.Submission{Addr: addr, StartTLS: true, TLSConfig: &tls.Config{RootCAs: pool, ServerName: "hamburger.edu"}}

	// Without AUTH: refused.
	_, err := smtpclient.Send(ctx, sub, smtpc.Path{Mailbox: smtpc.Address{Local: "alice", Domain: "example.org"}}, []smtpc.Address{{Local: "x", Domain: "far.example"}}, []byte("Subject: x\r\n\r\nx\r\n"))
	var r *smtpc.Reply
	if !errors.As(err, &r) || r.Code != 530 {
		t.Fatalf("Send without AUTH = %v, want 530", err)
	}
	for _, pass := range []string{"wrong", "secret"} {
		sub.User, sub.Password = "alice@example.org", pass
		_, err = smtpclient.Send(ctx, sub, smtpc.Path{Mailbox: smtpc.Address{Local: "alice", Domain: "example.org"}}, []smtpc.Address{{Local: "x", Domain: "far.example"}}, []byte("Subject: x\r\n\r\n.dot\r\n"))
		if pass == "wrong" {
			if !errors.As(err, &r) || r.Code != 535 || r.Enhanced != smtpc.CodeAuthFailed {
				t.Fatalf("Send with a wrong password = %v, want 535 5.7.8", err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("Send = %v", err)
		}
	}
	m := b.messages()
	if len(m) != 1 || m[0].user != "alice@example.org" || !strings.HasSuffix(m[0].data, "\r\n\r\n.dot\r\n") || !strings.Contains(m[0].data, "with ESMTPSA") {
		t.Errorf("stored %+v", m)
	}
}

func TestAuthNotOfferedInClear(t *testing.T) {
	cfg, _ := tlsConfig(t)
	_, _, addr := startServer(t, func(s *Server) { s.TLSConfig = cfg; s.Submission = true })
	runDialogue(t, addr, []step{
		{"EHLO x\r\n", "250"},
		{"AUTH PLAIN AGFsaWNlQGV4YW1wbGUub3JnAHNlY3JldA==\r\n", "538 5.7.11"},
		{"MAIL FROM:<alice@example.org>\r\n", "530 5.7.0"},
	})
}

// TestNetSMTP uses Go's net/smtp as an independent client.
func TestNetSMTP(t *testing.T) {
	cfg, _ := tlsConfig(t)
	_, b, addr := startServer(t, func(s *Server) { s.TLSConfig = cfg; s.Submission = true })
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.StartTLS(&tls.Config{InsecureSkipVerify: true}); err != nil {
		t.Fatal(err)
	}
	if err := c.Auth(smtp.PlainAuth("", "alice@example.org", "secret", "127.0.0.1")); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("alice@example.org"); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("bob@far.example"); err != nil {
		t.Fatal(err)
	}
	w, _ := c.Data()
	io.WriteString(w, "Subject: net/smtp\r\n\r\nhello\r\n")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	c.Quit()
	if n := len(b.messages()); n != 1 {
		t.Errorf("stored %d, want 1", n)
	}
}

func TestPythonSmtplib(t *testing.T) {
	py := peertest.Require(t, "python3", "python3")
	cfg, _ := tlsConfig(t)
	_, b, addr := startServer(t, func(s *Server) { s.TLSConfig = cfg; s.Submission = true })
	host, port, _ := net.SplitHostPort(addr)
	script := `
import smtplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP(sys.argv[1], int(sys.argv[2]), timeout=10)
s.ehlo("python.example")
s.starttls(context=ctx)
s.ehlo("python.example")
for mech in ("PLAIN", "LOGIN"):
    s.user, s.password = "alice@example.org", "secret"
    code, _ = s.auth(mech, getattr(s, "auth_" + mech.lower()))
    assert code == 235, code
    s.rset()
    s.close(); s.connect(sys.argv[1], int(sys.argv[2])); s.ehlo("python.example"); s.starttls(context=ctx); s.ehlo("python.example")
s.login("alice@example.org", "secret")
refused = s.sendmail("alice@example.org", ["bob@example.org", "carol@far.example"], "Subject: py\r\n\r\n.line with dot\r\nbye\r\n")
assert refused == {}, refused
s.quit()
`
	out, err := exec.Command(py, "-c", script, host, port).CombinedOutput()
	if err != nil {
		t.Fatalf("python3 smtplib: %v\n%s", err, out)
	}
	m := b.messages()
	if len(m) != 1 || len(m[0].env.To) != 2 || !strings.HasSuffix(m[0].data, "\r\n\r\n.line with dot\r\nbye\r\n") {
		t.Errorf("stored %+v", m)
	}
}

func TestSwaks(t *testing.T) {
	// STARTTLS needs Net::SSLeay, which swaks only recommends.
	swaks := peertest.RequireFeature(t, "swaks", "swaks", "=== TLS supported", "libnet-ssleay-perl", "--support")
	cfg, _ := tlsConfig(t)
	_, b, addr := startServer(t, func(s *Server) { s.TLSConfig = cfg })
	host, port, _ := net.SplitHostPort(addr)
	// MX role, pipelined, with STARTTLS.
	out, err := exec.Command(swaks, "--server", host, "--port", port, "--from", "alice@crepes.fr", "--to", "bob@example.org",
		"--pipeline", "--tls", "--helo", "crepes.fr", "--body", "Do you like ketchup?", "--timeout", "10").CombinedOutput()
	if err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	// Relay attempt: refused.
	out, err = exec.Command(swaks, "--server", host, "--port", port, "--from", "x@spammer.example", "--to", "victim@elsewhere.example", "--timeout", "10").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "550 5.7.1") {
		t.Errorf("swaks relay attempt: err %v, output lacks 550 5.7.1:\n%s", err, out)
	}
	// Submission with AUTH LOGIN over TLS.
	_, b2, addr2 := startServer(t, func(s *Server) { s.TLSConfig = cfg; s.Submission = true })
	host, port, _ = net.SplitHostPort(addr2)
	out, err = exec.Command(swaks, "--server", host, "--port", port, "--from", "alice@example.org", "--to", "bob@far.example",
		"--tls", "--auth", "LOGIN", "--auth-user", "alice@example.org", "--auth-password", "secret", "--timeout", "10").CombinedOutput()
	if err != nil {
		t.Fatalf("swaks AUTH LOGIN: %v\n%s", err, out)
	}
	if len(b.messages()) != 1 || len(b2.messages()) != 1 {
		t.Errorf("stored %d and %d messages, want 1 and 1", len(b.messages()), len(b2.messages()))
	}
}

func TestShutdownWakesIdleSessions(t *testing.T) {
	s, _, addr := startServer(t, nil)
	c, _ := net.Dial("tcp", addr)
	defer c.Close()
	br := bufio.NewReader(c)
	br.ReadString('\n')
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
	l, _ := br.ReadString('\n')
	if !strings.HasPrefix(l, "421") {
		t.Errorf("idle client got %q at shutdown, want 421", l)
	}
}

func TestMain(m *testing.M) { os.Exit(m.Run()) }

// TestCurl uses curl's SMTP client: plain to the MX role, then STARTTLS
// and AUTH to the submission role.
func TestCurl(t *testing.T) {
	curl := peertest.Require(t, "curl", "curl")
	cfg, _ := tlsConfig(t)
	_, b, addr := startServer(t, func(s *Server) { s.TLSConfig = cfg })
	msg := filepath.Join(t.TempDir(), "msg.txt")
	os.WriteFile(msg, []byte("From: alice@crepes.fr\r\nSubject: curl\r\n\r\nDo you like ketchup?\r\n.leading dot\r\n"), 0o644)
	out, err := exec.Command(curl, "-sS", "--max-time", "10", "smtp://"+addr+"/crepes.fr", "--mail-from", "alice@crepes.fr",
		"--mail-rcpt", "bob@example.org", "-T", msg).CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	_, b2, addr2 := startServer(t, func(s *Server) { s.TLSConfig = cfg; s.Submission = true })
	out, err = exec.Command(curl, "-sS", "--max-time", "10", "--ssl-reqd", "-k", "--user", "alice@example.org:secret",
		"smtp://"+addr2, "--mail-from", "alice@example.org", "--mail-rcpt", "carol@far.example", "-T", msg).CombinedOutput()
	if err != nil {
		t.Fatalf("curl with STARTTLS and AUTH: %v\n%s", err, out)
	}
	m1, m2 := b.messages(), b2.messages()
	if len(m1) != 1 || len(m2) != 1 || !strings.HasSuffix(m1[0].data, "\r\n.leading dot\r\n") || m2[0].user != "alice@example.org" {
		t.Errorf("stored %+v and %+v", m1, m2)
	}
}

// TestChunking drives BDAT (RFC 3030): chunks, LAST, limits, order.
func TestChunking(t *testing.T) {
	_, b, addr := startServer(t, nil)
	body1, body2 := "Subject: bdat\r\n\r\n", "8 bit \xff ok\r\n"
	big := strings.Repeat("x", 20000)
	tests := []struct {
		name  string
		steps []step
	}{
		{"two chunks", []step{
			{"EHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<bob@example.org>\r\n", "250"},
			{"", "250 2.1.0"}, {"", "250 2.1.5"},
			{fmt.Sprintf("BDAT %d\r\n%s", len(body1), body1), "250 2.0.0 17 octets received"},
			{"DATA\r\n", "503 5.5.1 DATA not allowed after BDAT"},
			{fmt.Sprintf("BDAT %d LAST\r\n%s", len(body2), body2), "250 2.0.0 Message accepted"},
			{"BDAT 0 LAST\r\n", "503 5.5.1"},
		}},
		{"too big", []step{
			// Refused before its octets are read, so the session ends.
			{"EHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<bob@example.org>\r\n", "250"},
			{"", "250"}, {"", "250"},
			{"BDAT 20000 LAST\r\n" + big, "552 5.3.4"},
			{"NOOP\r\n", "<"},
		}},
		{"absurd size refused unread", []step{
			// Not one octet follows: the 552 must come without waiting
			// for them.
			{"EHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<bob@example.org>\r\n", "250"},
			{"", "250"}, {"", "250"},
			{"BDAT 999999999999999999 LAST\r\n", "552 5.3.4"},
			{"", "<"},
		}},
		{"absurd size over two chunks", []step{
			{"EHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<bob@example.org>\r\n", "250"},
			{"", "250"}, {"", "250"},
			{"BDAT 9000\r\n" + big[:9000], "250 2.0.0 9000 octets"},
			{"BDAT 1001 LAST\r\n", "552 5.3.4"},
		}},
		{"absurd size out of order", []step{
			{"EHLO x\r\nBDAT 999999999999999999\r\n", "250"},
			{"", "503 5.5.1"},
			{"", "<"},
		}},
		{"bare CR refused", []step{
			{"EHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<bob@example.org>\r\n", "250"},
			{"", "250"}, {"", "250"},
			{"BDAT 7 LAST\r\na\r.\rb\r\n", "550 5.6.0 Message contains bare CR"},
			{"MAIL FROM:<a@b.example>\r\nRCPT TO:<bob@example.org>\r\n", "250"},
			{"", "250"},
			// A CR that ends one chunk and a letter that starts the next.
			{"BDAT 2\r\nx\r", "250 2.0.0 2 octets"},
			{"BDAT 3 LAST\r\ny\r\n", "550 5.6.0 Message contains bare CR"},
			{"MAIL FROM:<a@b.example>\r\nRCPT TO:<bob@example.org>\r\n", "250"},
			{"", "250"},
			{"BDAT 6 LAST\r\na\n.\nb\n", "550 5.6.0 Message contains bare LF"},
			{"MAIL FROM:<a@b.example>\r\nRCPT TO:<bob@example.org>\r\n", "250"},
			{"", "250"},
			{"BDAT 3 LAST\r\na\r\r", "550 5.6.0 Message contains bare CR"},
		}},
		{"reset mid-transfer", []step{
			{"EHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<bob@example.org>\r\n", "250"},
			{"", "250"}, {"", "250"},
			{"BDAT 3\r\nabc", "250 2.0.0 3 octets"},
			{"RCPT TO:<bob@example.org>\r\n", "503 5.5.1 BDAT transfer in progress"},
			{"RSET\r\n", "250"},
			{"BDAT 3 LAST\r\nabc", "503"},
		}},
		{"bad syntax closes", []step{
			{"EHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<bob@example.org>\r\n", "250"},
			{"", "250"}, {"", "250"},
			{"BDAT ten\r\n", "501 5.5.4"},
			{"NOOP\r\n", "<"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { runDialogue(t, addr, tt.steps) })
	}
	m := b.messages()
	if len(m) != 1 || !strings.HasSuffix(m[0].data, "\r\n"+body1+body2) || !strings.HasPrefix(m[0].data, "Received: ") {
		t.Errorf("stored %+v; want one message, Received: then both chunks", m)
	}
}

// TestStartTLSDropsInjectedCommands: commands pipelined in clear after
// STARTTLS are discarded, not run inside the TLS session (RFC 3207
// section 4.2; the command injection of CVE-2011-0411).
func TestStartTLSDropsInjectedCommands(t *testing.T) {
	cfg, _ := tlsConfig(t)
	_, _, addr := startServer(t, func(s *Server) { s.TLSConfig = cfg })
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	br.ReadString('\n') // greeting
	io.WriteString(c, "EHLO x\r\nSTARTTLS\r\nHELP\r\n")
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(l, "220 ") {
			break
		}
	}
	if br.Buffered() != 0 {
		t.Fatalf("more after 220 to STARTTLS: %d bytes", br.Buffered())
	}
	tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	io.WriteString(tc, "NOOP\r\n")
	l, err := bufio.NewReader(tc).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(l, "250 2.0.0 OK") && !strings.HasPrefix(l, "250 OK") {
		t.Errorf("first reply inside TLS = %q, want NOOP's 250 (the injected HELP was answered)", l)
	}
}
