package imap

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/applayer/applayer/internal/testutil"
	"github.com/applayer/applayer/mail/maildir"
)

// Commands outside their states are BAD (RFC 3501 section 3).
func TestStates(t *testing.T) {
	e := start(t, newStore(t), nil)
	cl := e.dial()
	for _, c := range []string{"SELECT INBOX", "FETCH 1 FLAGS", "LIST \"\" *", "APPEND INBOX {1+}\r\nx", "EXPUNGE", "UID FETCH 1 FLAGS", "IDLE"} {
		if _, st := cl.do(c); !strings.HasPrefix(st, "BAD") {
			t.Errorf("%q before login: %s", c, st)
		}
	}
	if _, st := cl.do("LOGIN bob wrong"); st != "NO [AUTHENTICATIONFAILED] Authentication failed" {
		t.Errorf("wrong password: %s", st)
	}
	cl.login()
	for _, c := range []string{"LOGIN bob x", "FETCH 1 FLAGS", "STORE 1 +FLAGS \\Seen", "CLOSE", "UID SEARCH ALL", "STARTTLS", "UID LIST"} {
		if _, st := cl.do(c); !strings.HasPrefix(st, "BAD") {
			t.Errorf("%q in authenticated state: %s", c, st)
		}
	}
	cl.ok("EXAMINE INBOX")
	if _, st := cl.do("STORE 1 +FLAGS (\\Seen)"); !strings.HasPrefix(st, "NO") {
		t.Errorf("STORE in a read-only mailbox: %s", st)
	}
	for _, c := range []string{"FETCH 4 FLAGS", "FETCH 0 FLAGS", "FETCH 1 (FLAGS", "FETCH 1 BODY[9.X]", "SEARCH FOO", "FETCH 1:* NOTANITEM", "COPY 1 Nowhere"} {
		if _, st := cl.do(c); !strings.HasPrefix(st, "BAD") && !strings.HasPrefix(st, "NO") {
			t.Errorf("%q: %s", c, st)
		}
	}
	if _, st := cl.do("COPY 1 Nowhere"); st != "NO [TRYCREATE] Mailbox does not exist" {
		t.Errorf("COPY to a missing mailbox: %s", st)
	}
	u, st := cl.do("LOGOUT")
	if st != "OK LOGOUT completed" || len(u) != 1 || !strings.HasPrefix(u[0], "* BYE") {
		t.Errorf("LOGOUT: %q %s", u, st)
	}
}

// Literals: synchronising ones get a continuation request, LITERAL+
// ones do not; too large ones are refused before they are sent, or end
// the session when they are already on their way.
func TestLiterals(t *testing.T) {
	e := start(t, newStore(t), func(s *Server) { s.MaxLiteral = 1000 })
	cl := e.dial()
	fmt.Fprintf(cl.c, "a1 LOGIN {3}\r\n")
	if l := cl.readLine(); !strings.HasPrefix(l, "+ ") {
		t.Fatalf("after {3}: %q", l)
	}
	fmt.Fprintf(cl.c, "bob {%d+}\r\n%s\r\n", len(bobPass), bobPass)
	if l := cl.readLine(); !strings.HasPrefix(l, "a1 OK") {
		t.Fatalf("LOGIN with literals: %q", l)
	}
	cl.seq = 1
	if _, st := cl.do("APPEND INBOX {5000}"); st != "BAD Literal too large" {
		t.Errorf("a synchronising literal over the limit: %s", st)
	}
	msg := "Subject: x\r\n\r\nbody\r\n"
	_, st := cl.do(fmt.Sprintf("APPEND INBOX (\\Flagged) \"02-Dec-2026 12:00:00 +0100\" {%d+}\r\n%s", len(msg), msg))
	if !strings.HasPrefix(st, "OK [APPENDUID ") {
		t.Errorf("APPEND with LITERAL+: %s", st)
	}
	// The message is named by the UID the server gave it: the fixture's
	// messages may be seen (and numbered) after it.
	var validity, uid int
	fmt.Sscanf(st, "OK [APPENDUID %d %d]", &validity, &uid)
	cl.ok("SELECT INBOX")
	u := cl.ok(fmt.Sprintf("UID FETCH %d (FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[TEXT])", uid))
	if len(u) != 1 || !strings.Contains(u[0], `FLAGS (\Flagged \Recent)`) || !strings.Contains(u[0], `INTERNALDATE "02-Dec-2026 11:00:00 +0000"`) && !strings.Contains(u[0], `"02-Dec-2026 12:00:00 +0100"`) ||
		!strings.Contains(u[0], fmt.Sprintf("RFC822.SIZE %d", len(msg))) || !strings.HasSuffix(u[0], "{6}\r\nbody\r\n)") {
		t.Errorf("the appended message: %q", u)
	}
	// A LITERAL+ too large: BYE.
	fmt.Fprintf(cl.c, "z APPEND INBOX {4294967296+}\r\n")
	if l := cl.readLine(); l != "z BAD Literal too large" {
		t.Errorf("a 4 GiB LITERAL+: %q", l)
	}
	if l := cl.readLine(); !strings.HasPrefix(l, "* BYE") {
		t.Errorf("after a 4 GiB LITERAL+: %q", l)
	}
}

// Bad input costs a BAD, not a panic or unbounded work.
func TestBadInput(t *testing.T) {
	e := start(t, newStore(t), nil)
	cl := e.dial()
	cl.login()
	cl.ok("SELECT INBOX")
	deep := strings.Repeat("(", 100) + "ALL" + strings.Repeat(")", 100)
	huge := strings.Repeat("1,", 20000) + "1"
	for _, c := range []string{"SEARCH " + deep, "FETCH " + huge + " FLAGS", "FETCH 1 BODY[" + strings.Repeat("1.", 50) + "1]",
		"LIST \"\" " + strings.Repeat("*%", 500), "SEARCH OR ALL", "FETCH 1 BODY[HEADER.FIELDS ()", "\"unterminated", "a"} {
		_, st := cl.do(c)
		if !strings.HasPrefix(st, "BAD") && !strings.HasPrefix(st, "OK") {
			t.Errorf("%.40q: %s", c, st)
		}
	}
	cl.ok("NOOP")
}

// UIDs and UIDVALIDITY survive a restart; an expunged UID is never given
// again; another session sees EXPUNGE and new mail.
func TestUIDsAndSessions(t *testing.T) {
	st := newStore(t)
	e := start(t, st, nil)
	a := e.dial()
	a.login()
	sel := strings.Join(a.ok("SELECT INBOX"), "\n")
	a.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
	b := e.dial()
	b.login()
	b.ok("SELECT INBOX")
	u := a.ok("EXPUNGE")
	if strings.Join(u, ",") != "* 2 EXPUNGE" {
		t.Errorf("EXPUNGE = %q", u)
	}
	// The other session learns it at its next command.
	if u := b.ok("NOOP"); strings.Join(u, ",") != "* 2 EXPUNGE" {
		t.Errorf("the other session after EXPUNGE: %q", u)
	}
	// New mail, as SMTP delivers it.
	if err := st.Deliver(bob, []byte("Subject: new\r\n\r\nx\r\n")); err != nil {
		t.Fatal(err)
	}
	if u := b.ok("NOOP"); strings.Join(u, ",") != "* 3 EXISTS,* 1 RECENT" {
		t.Errorf("after a delivery: %q", u)
	}
	uids := strings.Join(b.ok("UID SEARCH ALL"), "")
	if uids != "* SEARCH 1 3 4" {
		t.Errorf("UIDs = %q; want 1 3 4 (2 expunged, never reused)", uids)
	}
	// A restart: the same UIDVALIDITY and UIDs.
	st2, err := maildir.Open(st.Dir)
	if err != nil {
		t.Fatal(err)
	}
	e2 := start(t, st2, nil)
	c := e2.dial()
	c.login()
	sel2 := strings.Join(c.ok("SELECT INBOX"), "\n")
	v1 := sel[strings.Index(sel, "[UIDVALIDITY"):]
	v2 := sel2[strings.Index(sel2, "[UIDVALIDITY"):]
	if v1[:strings.Index(v1, "]")] != v2[:strings.Index(v2, "]")] {
		t.Errorf("UIDVALIDITY changed across a restart: %s then %s", v1, v2)
	}
	if got := strings.Join(c.ok("UID SEARCH ALL"), ""); got != uids {
		t.Errorf("UIDs after a restart = %q; want %q", got, uids)
	}
}

// IDLE tells of a delivery and of another session's flag change and
// expunge, without a command.
func TestIdle(t *testing.T) {
	st := newStore(t)
	e := start(t, st, nil)
	a := e.dial()
	a.login()
	a.ok("SELECT INBOX")
	b := e.dial()
	b.login()
	b.ok("SELECT INBOX")
	fmt.Fprintf(a.c, "i1 IDLE\r\n")
	if l := a.readLine(); l != "+ idling" {
		t.Fatalf("IDLE: %q", l)
	}
	if err := st.Deliver(bob, []byte("Subject: while idle\r\n\r\nx\r\n")); err != nil {
		t.Fatal(err)
	}
	if l := a.readLine(); l != "* 4 EXISTS" {
		t.Errorf("IDLE after a delivery: %q", l)
	}
	a.readLine() // RECENT
	b.ok("STORE 1 +FLAGS.SILENT (\\Flagged)")
	if l := a.readLine(); l != `* 1 FETCH (FLAGS (\Flagged \Recent))` {
		t.Errorf("IDLE after another session's STORE: %q", l)
	}
	b.ok("STORE 3 +FLAGS.SILENT (\\Deleted)")
	b.ok("EXPUNGE")
	for {
		l := a.readLine()
		if l == "* 3 EXPUNGE" {
			break
		}
		if !strings.Contains(l, "FETCH (FLAGS") {
			t.Fatalf("IDLE after another session's EXPUNGE: %q", l)
		}
	}
	fmt.Fprintf(a.c, "DONE\r\n")
	if l := a.readLine(); l != "i1 OK IDLE terminated" {
		t.Errorf("DONE: %q", l)
	}
	// IDLE without a selected mailbox (the authenticated state).
	a.ok("UNSELECT")
	fmt.Fprintf(a.c, "i2 IDLE\r\n")
	if l := a.readLine(); l != "+ idling" {
		t.Fatalf("IDLE unselected: %q", l)
	}
	fmt.Fprintf(a.c, "DONE\r\n")
	if l := a.readLine(); l != "i2 OK IDLE terminated" {
		t.Errorf("DONE unselected: %q", l)
	}
}

// The plaintext login is refused from afar before STARTTLS.
func TestLoginDisabled(t *testing.T) {
	e := tlsEnv(t)
	cl := e.dial()
	// A loopback client may log in in clear: AUTH=PLAIN, no LOGINDISABLED.
	u := cl.ok("CAPABILITY")
	if !strings.Contains(u[0], "STARTTLS") || !strings.Contains(u[0], "AUTH=PLAIN") || strings.Contains(u[0], "LOGINDISABLED") {
		t.Errorf("CAPABILITY on loopback: %q", u)
	}
	ss := &session{srv: e.srv}
	ss.conn = fakeRemote{}
	if ss.plainAllowed() || !strings.Contains(ss.capabilities(), "LOGINDISABLED") {
		t.Errorf("a remote client in clear may send a password: %s", ss.capabilities())
	}
	ss.tls = true
	if !ss.plainAllowed() {
		t.Error("a remote client under TLS may not log in")
	}
}

// AUTHENTICATE PLAIN with an initial response and with a continuation.
func TestAuthenticate(t *testing.T) {
	e := start(t, newStore(t), nil)
	ir := "AGJvYgBzM2NyZXQgd2l0aCBzcGFjZXM=" // \0bob\0s3cret with spaces
	cl := e.dial()
	if _, st := cl.do("AUTHENTICATE PLAIN " + ir); !strings.HasPrefix(st, "OK [CAPABILITY") {
		t.Fatalf("AUTHENTICATE PLAIN with SASL-IR: %s", st)
	}
	cl = e.dial()
	fmt.Fprintf(cl.c, "a AUTHENTICATE PLAIN\r\n")
	if l := cl.readLine(); l != "+ " {
		t.Fatalf("continuation: %q", l)
	}
	fmt.Fprintf(cl.c, "%s\r\n", ir)
	if l := cl.readLine(); !strings.HasPrefix(l, "a OK") {
		t.Fatalf("AUTHENTICATE PLAIN continued: %q", l)
	}
	testutil.WaitFor(t, "the transcript", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return strings.Contains(e.trace.String(), "C: <redacted>")
	})
	mu.Lock()
	defer mu.Unlock()
	if strings.Contains(e.trace.String(), ir) {
		t.Errorf("the transcript shows the credentials:\n%s", e.trace.String())
	}
}

// Shutdown says BYE to waiting sessions.
func TestShutdown(t *testing.T) {
	e := start(t, newStore(t), nil)
	cl := e.dial()
	cl.login()
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Patience)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil && !errors.Is(err, ErrServerClosed) {
		t.Fatal(err)
	}
	if l := cl.readLine(); !strings.HasPrefix(l, "* BYE") {
		t.Errorf("on shutdown: %q", l)
	}
}
