package pop3

import (
	"bufio"
	"context"
	"crypto/md5"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/applayer/applayer/internal/authlimit"
	"github.com/applayer/applayer/internal/testutil"
	"github.com/applayer/applayer/internal/tlsutil"
	"github.com/applayer/applayer/internal/transcript"
	"github.com/applayer/applayer/mail/maildir"
	"golang.org/x/crypto/bcrypt"
)

const (
	bob     = "bob@hamburger.edu"
	bobPass = "s3cret with spaces"
)

// testMsgs are delivered to bob, in this order: one with a line that
// starts with a dot, one stored with bare LF (as another program might),
// one without a final line end.
var mu sync.Mutex

var testMsgs = []string{
	"From: alice@crepes.fr\r\nTo: bob@hamburger.edu\r\nSubject: hello\r\n\r\nDo you like ketchup?\r\n.How about pickles?\r\n..two dots\r\n",
	"Subject: lf\n\nline one\nline two\nline three\n",
	"Subject: no end\r\n\r\nlast line",
}

type env struct {
	t     *testing.T
	store *maildir.Store
	srv   *Server
	addr  string
	trace *strings.Builder
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newStore makes a data directory with bob and his messages.
func newStore(t *testing.T) *maildir.Store {
	t.Helper()
	st, err := maildir.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st.Users().Cost = bcrypt.MinCost
	if err := st.Users().Add(bob, bobPass, false); err != nil {
		t.Fatal(err)
	}
	for _, m := range testMsgs {
		if err := st.Deliver(bob, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

// start serves POP3 for st on 127.0.0.1:0 until the test ends.
func start(t *testing.T, st *maildir.Store, tune func(*Server)) *env {
	t.Helper()
	var tr strings.Builder
	rec := transcript.New(transcript.SinkFunc(func(e transcript.Event) {
		mu.Lock()
		tr.WriteString(transcript.Format(e) + "\n")
		mu.Unlock()
	}))
	srv := &Server{Store: st, Hostname: "mail.hamburger.edu", AuthFailureDelay: -1, Logger: quiet(), Trace: rec,
		AuthLimit: &authlimit.Limiter{Free: 1000}, MaxErrors: 1000}
	if tune != nil {
		tune(srv)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve = %v", err)
		}
	})
	return &env{t: t, store: st, srv: srv, addr: l.Addr().String(), trace: &tr}
}

// client is a raw POP3 dialogue.
type client struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func (e *env) dial() *client {
	e.t.Helper()
	c, err := net.Dial("tcp", e.addr)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	cl := &client{t: e.t, c: c, br: bufio.NewReader(c)}
	cl.expect("+OK")
	return cl
}

func (cl *client) readLine() string {
	cl.t.Helper()
	cl.c.SetReadDeadline(time.Now().Add(testutil.Patience))
	l, err := cl.br.ReadString('\n')
	if err != nil {
		cl.t.Fatalf("read: %v (after %q)", err, l)
	}
	if !strings.HasSuffix(l, "\r\n") {
		cl.t.Fatalf("line %q does not end in CRLF", l)
	}
	return strings.TrimSuffix(l, "\r\n")
}

// expect reads one line and checks its prefix.
func (cl *client) expect(prefix string) string {
	cl.t.Helper()
	l := cl.readLine()
	if !strings.HasPrefix(l, prefix) {
		cl.t.Fatalf("got %q; want %q...", l, prefix)
	}
	return l
}

// cmd sends a line and returns the first response line.
func (cl *client) cmd(line string) string {
	cl.t.Helper()
	fmt.Fprintf(cl.c, "%s\r\n", line)
	return cl.readLine()
}

// multi reads the lines of a multi-line response, un-stuffed, up to ".".
func (cl *client) multi() []string {
	cl.t.Helper()
	var out []string
	for {
		l := cl.readLine()
		if l == "." {
			return out
		}
		out = append(out, strings.TrimPrefix(l, "."))
	}
}

func (cl *client) login() {
	cl.t.Helper()
	if r := cl.cmd("USER " + bob); !strings.HasPrefix(r, "+OK") {
		cl.t.Fatalf("USER: %s", r)
	}
	if r := cl.cmd("PASS " + bobPass); !strings.HasPrefix(r, "+OK") {
		cl.t.Fatalf("PASS: %s", r)
	}
}

func crlf(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\n", "\r\n")
	if !strings.HasSuffix(s, "\r\n") {
		s += "\r\n"
	}
	return s
}

func TestDialogue(t *testing.T) {
	e := start(t, newStore(t), nil)
	cl := e.dial()
	// AUTHORIZATION: transaction commands are refused.
	for _, c := range []string{"STAT", "LIST", "RETR 1", "DELE 1", "NOOP", "RSET", "TOP 1 0", "UIDL", "PASS x"} {
		if r := cl.cmd(c); !strings.HasPrefix(r, "-ERR") {
			t.Errorf("%s before login: %q", c, r)
		}
	}
	if r := cl.cmd("CAPA"); r != "+OK Capability list follows" {
		t.Fatalf("CAPA: %q", r)
	}
	capa := strings.Join(cl.multi(), ",")
	if capa != "TOP,UIDL,RESP-CODES,AUTH-RESP-CODE,PIPELINING,USER,SASL PLAIN,IMPLEMENTATION applayer" {
		t.Errorf("CAPA before login = %s", capa)
	}
	cl.login()
	if r := cl.cmd("USER x"); !strings.HasPrefix(r, "-ERR") {
		t.Errorf("USER in TRANSACTION: %q", r)
	}
	sizes := make([]int, len(testMsgs))
	total := 0
	for i, m := range testMsgs {
		sizes[i] = len(crlf(m))
		total += sizes[i]
	}
	if r, want := cl.cmd("STAT"), fmt.Sprintf("+OK 3 %d", total); r != want {
		t.Errorf("STAT = %q; want %q", r, want)
	}
	cl.cmd("LIST")
	if got, want := strings.Join(cl.multi(), ","), fmt.Sprintf("1 %d,2 %d,3 %d", sizes[0], sizes[1], sizes[2]); got != want {
		t.Errorf("LIST = %s; want %s", got, want)
	}
	if r, want := cl.cmd("LIST 2"), fmt.Sprintf("+OK 2 %d", sizes[1]); r != want {
		t.Errorf("LIST 2 = %q; want %q", r, want)
	}
	for _, c := range []string{"LIST 4", "LIST 0", "LIST x", "RETR 9", "TOP 1", "TOP 1 -1", "DELE", "STAT 1"} {
		if r := cl.cmd(c); !strings.HasPrefix(r, "-ERR") {
			t.Errorf("%s: %q", c, r)
		}
	}
	for i, m := range testMsgs {
		if r, want := cl.cmd(fmt.Sprintf("RETR %d", i+1)), fmt.Sprintf("+OK %d octets", sizes[i]); r != want {
			t.Fatalf("RETR %d = %q; want %q", i+1, r, want)
		}
		got := strings.Join(cl.multi(), "\r\n") + "\r\n"
		if got != crlf(m) {
			t.Errorf("RETR %d = %q; want %q", i+1, got, crlf(m))
		}
	}
	cl.cmd("TOP 1 0")
	if got := strings.Join(cl.multi(), "|"); got != "From: alice@crepes.fr|To: bob@hamburger.edu|Subject: hello|" {
		t.Errorf("TOP 1 0 = %q", got)
	}
	cl.cmd("TOP 1 2")
	if got := strings.Join(cl.multi(), "|"); !strings.HasSuffix(got, "|Subject: hello||Do you like ketchup?|.How about pickles?") {
		t.Errorf("TOP 1 2 = %q", got)
	}
	cl.cmd("TOP 2 100")
	if got := strings.Join(cl.multi(), "|"); got != "Subject: lf||line one|line two|line three" {
		t.Errorf("TOP 2 100 = %q", got)
	}
	cl.cmd("UIDL")
	uidl := cl.multi()
	if len(uidl) != 3 {
		t.Fatalf("UIDL = %q", uidl)
	}
	if r := cl.cmd("DELE 2"); r != "+OK Message 2 deleted" {
		t.Errorf("DELE 2 = %q", r)
	}
	for _, c := range []string{"DELE 2", "RETR 2", "LIST 2", "UIDL 2", "TOP 2 0"} {
		if r := cl.cmd(c); r != "-ERR No such message" {
			t.Errorf("%s after DELE: %q", c, r)
		}
	}
	if r, want := cl.cmd("STAT"), fmt.Sprintf("+OK 2 %d", total-sizes[1]); r != want {
		t.Errorf("STAT after DELE = %q; want %q", r, want)
	}
	if r := cl.cmd("RSET"); !strings.HasPrefix(r, "+OK Maildrop has 3 messages") {
		t.Errorf("RSET = %q", r)
	}
	if r := cl.cmd("NOOP"); r != "+OK" {
		t.Errorf("NOOP = %q", r)
	}
	if r := cl.cmd("UIDL 3"); r != "+OK "+uidl[2] {
		t.Errorf("UIDL 3 = %q; want %q", r, "+OK "+uidl[2])
	}
	cl.cmd("DELE 1")
	if r := cl.cmd("QUIT"); r != "+OK mail.hamburger.edu POP3 server signing off (2 messages left)" {
		t.Errorf("QUIT = %q", r)
	}
	if _, err := cl.br.ReadByte(); err != io.EOF {
		t.Errorf("after QUIT the connection stays open: %v", err)
	}
	msgs, _ := e.store.List(bob)
	if len(msgs) != 2 {
		t.Errorf("%d messages left on disk; want 2", len(msgs))
	}
	// The transcript hides the password.
	testutil.WaitFor(t, "the transcript to record the end", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return strings.Contains(e.trace.String(), "connection closed")
	})
	mu.Lock()
	tr := e.trace.String()
	mu.Unlock()
	if strings.Contains(tr, "s3cret") || !strings.Contains(tr, "C: PASS <redacted>") {
		t.Errorf("the transcript shows the password or no PASS line:\n%s", tr)
	}
	if !strings.Contains(tr, "S: ..How about pickles?") {
		t.Errorf("the transcript lacks the message lines as sent:\n%s", tr)
	}
}

// UIDL stays the same across sessions, a restart of the server, and
// deletions of other messages; new messages get new ids after the old.
func TestUIDLStable(t *testing.T) {
	st := newStore(t)
	uidls := func(e *env) []string {
		cl := e.dial()
		cl.login()
		cl.cmd("UIDL")
		l := cl.multi()
		cl.cmd("QUIT")
		var ids []string
		for _, x := range l {
			ids = append(ids, strings.Fields(x)[1])
		}
		return ids
	}
	e := start(t, st, nil)
	first := uidls(e)
	if again := uidls(e); strings.Join(again, " ") != strings.Join(first, " ") {
		t.Fatalf("UIDL changed between sessions: %v then %v", first, again)
	}
	// A new server (a restart) on the same data.
	st2, err := maildir.Open(st.Dir)
	if err != nil {
		t.Fatal(err)
	}
	e2 := start(t, st2, nil)
	if again := uidls(e2); strings.Join(again, " ") != strings.Join(first, " ") {
		t.Fatalf("UIDL changed across a restart: %v then %v", first, again)
	}
	// Delete the first, deliver one more.
	cl := e2.dial()
	cl.login()
	cl.cmd("DELE 1")
	cl.cmd("QUIT")
	if err := st2.Deliver(bob, []byte("Subject: later\r\n\r\nx\r\n")); err != nil {
		t.Fatal(err)
	}
	after := uidls(e2)
	if len(after) != 3 || after[0] != first[1] || after[1] != first[2] {
		t.Fatalf("after DELE 1 and a delivery: %v (before %v)", after, first)
	}
	for _, old := range first {
		if after[2] == old {
			t.Fatalf("the new message got an old UIDL %s", old)
		}
	}
}

// A session that does not end with QUIT deletes nothing.
func TestDroppedConnectionDeletesNothing(t *testing.T) {
	e := start(t, newStore(t), nil)
	cl := e.dial()
	cl.login()
	cl.cmd("DELE 1")
	cl.cmd("DELE 2")
	cl.c.Close()
	// The next session can lock the maildrop only once the first is gone.
	var cl2 *client
	testutil.WaitFor(t, "the dropped session to release the maildrop", func() bool {
		cl2 = e.dial()
		cl2.cmd("USER " + bob)
		r := cl2.cmd("PASS " + bobPass)
		if strings.HasPrefix(r, "-ERR [IN-USE]") {
			cl2.c.Close()
			return false
		}
		return strings.HasPrefix(r, "+OK")
	})
	if r := cl2.cmd("STAT"); !strings.HasPrefix(r, "+OK 3 ") {
		t.Errorf("STAT after a dropped session = %q; want 3 messages", r)
	}
	if msgs, _ := e.store.List(bob); len(msgs) != 3 {
		t.Errorf("%d messages on disk; want 3", len(msgs))
	}
}

// One session per maildrop (RFC 1939 section 8); the second is told
// [IN-USE] and may try again once the first is done.
func TestInUse(t *testing.T) {
	e := start(t, newStore(t), nil)
	a := e.dial()
	a.login()
	b := e.dial()
	b.cmd("USER " + bob)
	if r := b.cmd("PASS " + bobPass); !strings.HasPrefix(r, "-ERR [IN-USE]") {
		t.Fatalf("second session: %q", r)
	}
	if r := b.cmd("STAT"); !strings.HasPrefix(r, "-ERR") {
		t.Errorf("STAT in the refused session: %q", r)
	}
	a.cmd("QUIT")
	b.login()
	if r := b.cmd("STAT"); !strings.HasPrefix(r, "+OK 3 ") {
		t.Errorf("STAT: %q", r)
	}
}

func TestAuthPlainAndAPOP(t *testing.T) {
	secrets := map[string]string{bob: "tanstaaf"}
	e := start(t, newStore(t), func(s *Server) {
		s.Domain = "hamburger.edu"
		s.APOP = func(u string) (string, bool) { x, ok := secrets[u]; return x, ok }
	})
	plain := base64.StdEncoding.EncodeToString([]byte("\x00bob\x00" + bobPass))
	// Initial response; the user without its domain.
	cl := e.dial()
	if r := cl.cmd("AUTH PLAIN " + plain); !strings.HasPrefix(r, "+OK Logged in") {
		t.Fatalf("AUTH PLAIN ir: %q", r)
	}
	cl.cmd("QUIT")
	// Continuation, a cancel, a wrong password.
	cl = e.dial()
	if r := cl.cmd("AUTH"); r != "+OK Mechanisms follow" {
		t.Fatalf("AUTH = %q", r)
	}
	if m := cl.multi(); strings.Join(m, ",") != "PLAIN" {
		t.Errorf("mechanisms %q", m)
	}
	if r := cl.cmd("AUTH PLAIN"); r != "+ " {
		t.Fatalf("AUTH PLAIN: %q", r)
	}
	if r := cl.cmd("*"); !strings.HasPrefix(r, "-ERR") {
		t.Errorf("cancel: %q", r)
	}
	cl.cmd("AUTH PLAIN")
	if r := cl.cmd(base64.StdEncoding.EncodeToString([]byte("\x00bob\x00wrong"))); r != "-ERR [AUTH] Authentication failed" {
		t.Errorf("wrong password: %q", r)
	}
	if r := cl.cmd("AUTH CRAM-MD5"); !strings.HasPrefix(r, "-ERR") {
		t.Errorf("CRAM-MD5: %q", r)
	}
	cl.cmd("AUTH PLAIN")
	if r := cl.cmd(plain); !strings.HasPrefix(r, "+OK Logged in") {
		t.Fatalf("AUTH PLAIN continued: %q", r)
	}
	cl.cmd("QUIT")
	// APOP with the greeting's timestamp (RFC 1939 section 7's example).
	c, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl = &client{t: t, c: c, br: bufio.NewReader(c)}
	greet := cl.expect("+OK")
	ts := greet[strings.Index(greet, "<"):]
	sum := md5.Sum([]byte(ts + "tanstaaf"))
	if r := cl.cmd("APOP bob " + hex.EncodeToString(sum[:]) + "0"); r != "-ERR [AUTH] Authentication failed" {
		t.Errorf("APOP with a bad digest: %q", r)
	}
	if r := cl.cmd("APOP nobody " + hex.EncodeToString(sum[:])); r != "-ERR [AUTH] Authentication failed" {
		t.Errorf("APOP for a stranger: %q", r)
	}
	if r := cl.cmd("APOP bob " + hex.EncodeToString(sum[:])); !strings.HasPrefix(r, "+OK Logged in, 3 messages") {
		t.Errorf("APOP: %q", r)
	}
}

// Three failed logins end the session; the login limiter's refusal is
// told [SYS/TEMP].
func TestAuthFailures(t *testing.T) {
	e := start(t, newStore(t), nil)
	cl := e.dial()
	for i := 0; i < 2; i++ {
		cl.cmd("USER " + bob)
		if r := cl.cmd("PASS nope"); r != "-ERR [AUTH] Authentication failed" {
			t.Fatalf("failure %d: %q", i+1, r)
		}
	}
	cl.cmd("USER " + bob)
	if r := cl.cmd("PASS nope"); r != "-ERR [AUTH] Authentication failed; closing connection" {
		t.Fatalf("third failure: %q", r)
	}
	if _, err := cl.br.ReadByte(); err != io.EOF {
		t.Errorf("session open after three failures: %v", err)
	}

	lim := &authlimit.Limiter{Free: 1, MaxWait: time.Millisecond}
	e = start(t, newStore(t), func(s *Server) { s.AuthLimit = lim })
	cl = e.dial()
	for i := 0; i < 2; i++ {
		cl.cmd("USER " + bob)
		cl.cmd("PASS nope")
	}
	cl.cmd("USER " + bob)
	if r := cl.cmd("PASS nope"); r != "-ERR [SYS/TEMP] Too many failed logins, try again later; closing connection" {
		t.Errorf("past the limiter: %q", r)
	}
}

// tlsEnv serves with STLS and a listener whose clients look remote.
func tlsEnv(t *testing.T) (*env, *tls.Config) {
	certPEM, keyPEM, err := tlsutil.SelfSigned([]string{"127.0.0.1", "localhost"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	e := start(t, newStore(t), func(s *Server) { s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}} })
	return e, &tls.Config{InsecureSkipVerify: true}
}

// remoteConn makes a loopback connection look like one from 192.0.2.1.
type remoteConn struct{ net.Conn }

func (remoteConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: 1234}
}

type remoteListener struct{ net.Listener }

func (l remoteListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return remoteConn{c}, nil
}

func TestSTLSAndPlaintextRefusal(t *testing.T) {
	e, ccfg := tlsEnv(t)
	// A second listener on the same server whose clients are "remote".
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go e.srv.Serve(remoteListener{l})
	e2 := &env{t: t, addr: l.Addr().String()}
	cl := e2.dial()
	cl.cmd("CAPA")
	if capa := strings.Join(cl.multi(), ","); strings.Contains(capa, "USER") || strings.Contains(capa, "SASL") || !strings.Contains(capa, "STLS") {
		t.Errorf("CAPA in clear from afar = %s", capa)
	}
	if r := cl.cmd("USER " + bob); !strings.HasPrefix(r, "-ERR [AUTH] Plaintext") {
		t.Errorf("USER in clear from afar: %q", r)
	}
	if r := cl.cmd("AUTH PLAIN AGJvYgB4"); !strings.HasPrefix(r, "-ERR [AUTH] Plaintext") {
		t.Errorf("AUTH PLAIN in clear from afar: %q", r)
	}
	// STLS with a pipelined command after it: that command is dropped.
	fmt.Fprintf(cl.c, "STLS\r\nNOOP\r\n")
	if r := cl.readLine(); r != "+OK Begin TLS negotiation" {
		t.Fatalf("STLS: %q", r)
	}
	tc := tls.Client(cl.c, ccfg)
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	cl = &client{t: t, c: tc, br: bufio.NewReader(tc)}
	cl.cmd("CAPA")
	if capa := strings.Join(cl.multi(), ","); !strings.Contains(capa, "USER") || strings.Contains(capa, "STLS") {
		t.Errorf("CAPA under TLS = %s", capa)
	}
	if r := cl.cmd("STLS"); !strings.HasPrefix(r, "-ERR") {
		t.Errorf("STLS twice: %q", r)
	}
	cl.login()
	if r := cl.cmd("STAT"); !strings.HasPrefix(r, "+OK 3") {
		t.Errorf("STAT under TLS: %q", r)
	}
	cl.cmd("QUIT")
	// POP3S: TLS from the first byte.
	l3, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go e.srv.Serve(tls.NewListener(l3, e.srv.TLSConfig))
	tc, err = tls.Dial("tcp", l3.Addr().String(), ccfg)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	cl = &client{t: t, c: tc, br: bufio.NewReader(tc)}
	cl.expect("+OK")
	cl.cmd("CAPA")
	if capa := strings.Join(cl.multi(), ","); strings.Contains(capa, "STLS") {
		t.Errorf("CAPA on POP3S offers STLS: %s", capa)
	}
	cl.login()
}

// Commands pipelined in one write are all answered, in order, in one
// flush (RFC 2449 section 6.6).
func TestPipelining(t *testing.T) {
	e := start(t, newStore(t), nil)
	cl := e.dial()
	fmt.Fprintf(cl.c, "USER %s\r\nPASS %s\r\nSTAT\r\nLIST 1\r\nUIDL 1\r\nNOOP\r\nQUIT\r\n", bob, bobPass)
	for _, want := range []string{"+OK Send PASS", "+OK Logged in", "+OK 3 ", "+OK 1 ", "+OK 1 ", "+OK", "+OK mail.hamburger.edu"} {
		cl.expect(want)
	}
}

// Bad input: unknown and malformed commands, an over-long line, and the
// error limit.
func TestBadInput(t *testing.T) {
	e := start(t, newStore(t), func(s *Server) { s.MaxErrors = 4 })
	// The error limit counts refusals of every kind.
	cl := e.dial()
	for _, c := range []string{"", "XYZZY", "LI", strings.Repeat("A", MaxLine+10)} {
		r := cl.cmd(c)
		if !strings.HasPrefix(r, "-ERR") {
			t.Errorf("%.20q: %q", c, r)
		}
	}
	if r := cl.readLine(); r != "-ERR Too many errors, closing connection" {
		t.Errorf("after 4 errors: %q", r)
	}
}

// Shutdown ends waiting sessions with -ERR, and deletes nothing.
func TestShutdown(t *testing.T) {
	st := newStore(t)
	srv := &Server{Store: st, Logger: quiet(), AuthFailureDelay: -1}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	e := &env{t: t, addr: l.Addr().String()}
	cl := e.dial()
	cl.login()
	cl.cmd("DELE 1")
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Patience)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve = %v", err)
	}
	if r := cl.readLine(); !strings.HasPrefix(r, "-ERR [SYS/TEMP] Server shutting down") {
		t.Errorf("on shutdown: %q", r)
	}
	if msgs, _ := st.List(bob); len(msgs) != 3 {
		t.Errorf("%d messages after shutdown; want 3", len(msgs))
	}
}

// A message in the UID list keeps its UIDL when an IMAP session moves it
// from new/ to cur/ and flags it during a POP3 session; RETR and DELE
// find it there.
func TestMessageMovedDuringSession(t *testing.T) {
	e := start(t, newStore(t), nil)
	cl := e.dial()
	cl.login()
	cl.cmd("UIDL 1")
	f := maildir.Folder{Path: e.store.MaildirPath(bob)}
	snap, err := f.Sync(true) // as IMAP's SELECT does
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.SetFlags(snap.Entries[0], "S"); err != nil {
		t.Fatal(err)
	}
	if r := cl.cmd("RETR 1"); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("RETR of a moved message: %q", r)
	}
	cl.multi()
	cl.cmd("DELE 1")
	cl.cmd("QUIT")
	left, _ := os.ReadDir(filepath.Join(f.Path, "cur"))
	if len(left) != 2 {
		t.Errorf("%d messages in cur/; want 2", len(left))
	}
}
