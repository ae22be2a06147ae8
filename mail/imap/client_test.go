package imap

import (
	"context"
	"crypto/tls"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/applayer/applayer/internal/testutil"
	"github.com/applayer/applayer/internal/transcript"
	"github.com/applayer/applayer/mail/internal/dovecottest"
)

type traceBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (t *traceBuf) rec() *transcript.Recorder {
	return transcript.New(transcript.SinkFunc(func(e transcript.Event) {
		t.mu.Lock()
		t.b.WriteString(transcript.Format(e) + "\n")
		t.mu.Unlock()
	}))
}

func (t *traceBuf) String() string { t.mu.Lock(); defer t.mu.Unlock(); return t.b.String() }

// exerciseClient drives every command of the client against a server whose
// INBOX holds testMsgs; deliver adds a message to it behind the server's
// back (as the MTA does) for IDLE.
func exerciseClient(t *testing.T, addr, user, pass string, deliver func([]byte)) {
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Patience)
	defer cancel()
	var tr traceBuf
	c, err := Dial(ctx, addr, ClientOptions{Trace: tr.rec()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	defer func() {
		if t.Failed() {
			t.Logf("transcript:\n%s", tr.String())
		}
	}()
	if err := c.Login(ctx, user, "wrong"+pass); err == nil {
		t.Fatal("LOGIN with a wrong password succeeded")
	} else if ce := (*CommandError)(nil); !errors.As(err, &ce) || ce.Resp.Kind != "NO" {
		t.Fatalf("wrong password: %v", err)
	}
	if err := c.LoginAny(ctx, user, pass); err != nil {
		t.Fatal(err)
	}
	if !c.Has("IMAP4REV1") {
		t.Errorf("capabilities after login: %v", c.caps)
	}
	boxes, err := c.ListStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var inbox *MailboxInfo
	for i := range boxes {
		if strings.EqualFold(boxes[i].Name, "INBOX") {
			inbox = &boxes[i]
		}
	}
	if inbox == nil || inbox.Status == nil || inbox.Status.Messages != 3 || inbox.Status.Unseen != 3 {
		t.Fatalf("LIST/STATUS: %+v", boxes)
	}
	st, err := c.Select(ctx, "INBOX", false)
	if err != nil {
		t.Fatal(err)
	}
	if st.Messages != 3 || st.UIDValidity == 0 || st.UIDNext == 0 {
		t.Fatalf("SELECT: %+v", st)
	}
	uids, err := c.UIDSearch(ctx, "ALL")
	if err != nil || len(uids) != 3 {
		t.Fatalf("UID SEARCH ALL = %v, %v", uids, err)
	}
	ms, err := c.UIDFetch(ctx, "1:*", "(UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE BODYSTRUCTURE)")
	if err != nil || len(ms) != 3 {
		t.Fatalf("UID FETCH = %v, %v", ms, err)
	}
	m0 := ms[0]
	if m0.Envelope == nil || m0.Envelope.Subject != "hello" || len(m0.Envelope.From) != 1 ||
		m0.Envelope.From[0].Addr() != "alice@crepes.fr" || m0.Envelope.From[0].Name != "Alice" || m0.Envelope.MessageID != "<1@crepes.fr>" {
		t.Errorf("ENVELOPE: %+v", m0.Envelope)
	}
	if m0.Size != uint32(len(testMsgs[0])) || m0.InternalDate.IsZero() || !m0.HasFlags || m0.HasFlag(`\Seen`) {
		t.Errorf("size %d (want %d), date %v, flags %v", m0.Size, len(testMsgs[0]), m0.InternalDate, m0.Flags)
	}
	bs := ms[1].BodyStructure
	if bs == nil || bs.Type != "multipart" || bs.Subtype != "mixed" || len(bs.Parts) != 2 ||
		bs.Parts[0].Type != "text" || bs.Parts[0].Params["charset"] != "utf-8" ||
		bs.Parts[1].Filename() != "r.bin" || bs.Parts[1].Encoding != "base64" || bs.Parts[1].Section != "2" {
		t.Errorf("BODYSTRUCTURE: %+v", bs)
	}
	if len(ms[1].Envelope.To) != 2 {
		t.Errorf("To: %+v", ms[1].Envelope.To)
	}
	m, err := c.FetchOne(ctx, uids[1], "(BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[2] BODY.PEEK[]<0.12>)")
	if err != nil {
		t.Fatal(err)
	}
	if got := string(m.Sections["HEADER.FIELDS (SUBJECT)"]); got != "Subject: recipe\r\n\r\n" {
		t.Errorf("HEADER.FIELDS = %q", got)
	}
	if got := string(m.Sections["2"]); got != "AAEC" && got != "AAEC\r\n" {
		t.Errorf("BODY[2] = %q", got)
	}
	if got := string(m.Sections[""]); got != testMsgs[1][:12] {
		t.Errorf("BODY[]<0.12> = %q (sections %v)", got, m.Sections)
	}
	if f, _ := c.FetchOne(ctx, uids[1], "(FLAGS)"); f.HasFlag(`\Seen`) {
		t.Error("BODY.PEEK set \\Seen")
	}
	found, err := c.UIDSearchText(ctx, "ketchup")
	if err != nil || len(found) != 1 || found[0] != uids[0] {
		t.Errorf("SEARCH TEXT ketchup = %v, %v", found, err)
	}
	if err := c.UIDStore(ctx, uidsString(uids[:1]), "+FLAGS", []string{`\Seen`}); err != nil {
		t.Fatal(err)
	}
	if unseen, _ := c.UIDSearch(ctx, "UNSEEN"); len(unseen) != 2 {
		t.Errorf("UNSEEN after STORE: %v", unseen)
	}
	if err := c.Create(ctx, "Archive"); err != nil {
		t.Fatal(err)
	}
	// A name beyond ASCII goes out in modified UTF-7 and comes back in UTF-8.
	if err := c.Create(ctx, "Entwürfe & Co"); err != nil {
		t.Fatal(err)
	}
	if l, err := c.List(ctx, "", "Entw*"); err != nil || len(l) != 1 || l[0].Name != "Entwürfe & Co" {
		t.Errorf("LIST of a UTF-7 name: %+v, %v", l, err)
	}
	if _, err := c.Status(ctx, "Entwürfe & Co"); err != nil {
		t.Errorf("STATUS of a UTF-7 name: %v", err)
	}
	if err := c.UIDMove(ctx, uidsString(uids[:1]), "Archive"); err != nil {
		t.Fatal(err)
	}
	if err := c.UIDCopy(ctx, uidsString(uids[2:3]), "Archive"); err != nil {
		t.Fatal(err)
	}
	msg := "From: bob@hamburger.edu\r\nSubject: draft with {5}\r\n\r\nbody\r\n"
	if _, err := c.Append(ctx, "Archive", []string{`\Seen`, `\Draft`}, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	if as, err := c.Status(ctx, "Archive"); err != nil || as.Messages != 3 || as.Unseen != 1 {
		t.Errorf("Archive after MOVE, COPY, APPEND: %+v, %v", as, err)
	}
	if err := c.UIDStore(ctx, uidsString(uids[2:3]), "+FLAGS", []string{`\Deleted`}); err != nil {
		t.Fatal(err)
	}
	if err := c.Expunge(ctx); err != nil {
		t.Fatal(err)
	}
	if left, _ := c.UIDSearch(ctx, "ALL"); len(left) != 1 || left[0] != uids[1] {
		t.Errorf("INBOX after MOVE and EXPUNGE: %v", left)
	}

	// IDLE: a delivery behind the server's back is announced.
	ictx, stop := context.WithCancel(ctx)
	exists := make(chan uint32, 16)
	idled := make(chan error, 1)
	go func() {
		idled <- c.Idle(ictx, func(r *Response) {
			if r.Kind == "EXISTS" {
				exists <- r.Num
			}
		})
	}()
	testutil.WaitFor(t, "IDLE accepted", func() bool { return strings.Contains(tr.String(), "S: + ") })
	deliver([]byte("From: alice@crepes.fr\r\nSubject: new\r\n\r\nnew\r\n"))
	select {
	case n := <-exists:
		if n != 2 {
			t.Errorf("EXISTS %d, want 2", n)
		}
	case <-time.After(testutil.Patience):
		t.Fatal("no EXISTS during IDLE")
	}
	stop()
	if err := <-idled; err != nil {
		t.Fatalf("IDLE: %v", err)
	}
	if c.Selected.Messages != 2 {
		t.Errorf("Selected.Messages = %d after IDLE", c.Selected.Messages)
	}
	if err := c.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	out := tr.String()
	if strings.Contains(out, pass) {
		t.Errorf("password in the transcript:\n%s", out)
	}
	for _, want := range []string{"<redacted>", "C: A", " UID FETCH 1:* ", "C: DONE", "Subject: recipe"} {
		if !strings.Contains(out, want) {
			t.Errorf("transcript lacks %q:\n%s", want, out)
		}
	}
}

func uidsString(u []uint32) string {
	var b []string
	for _, x := range u {
		b = append(b, strconv.FormatUint(uint64(x), 10))
	}
	return strings.Join(b, ",")
}

func TestClientOurServer(t *testing.T) {
	st := newStore(t)
	e := start(t, st, nil)
	exerciseClient(t, e.addr, bob, bobPass, func(m []byte) {
		if err := st.Deliver(bob, m); err != nil {
			t.Error(err)
		}
	})
}

func TestClientDovecot(t *testing.T) {
	const pass = "s3cret with spaces"
	dv := dovecottest.Start(t, "bob", pass)
	for i, m := range testMsgs {
		dv.Deliver(t, "bob", i, []byte(m))
	}
	n := 10
	exerciseClient(t, dv.IMAP, "bob", pass, func(m []byte) { n++; dv.Deliver(t, "bob", n, m) })
}

func TestClientSTARTTLS(t *testing.T) {
	e := tlsEnv(t)
	ctx := context.Background()
	c, err := Dial(ctx, e.addr, ClientOptions{TLSConfig: &tls.Config{InsecureSkipVerify: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Capabilities(ctx); err != nil || !c.Has("STARTTLS") {
		t.Fatalf("STARTTLS not offered: %v %v", c.caps, err)
	}
	if err := c.StartTLS(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if !c.TLS() {
		t.Fatal("not TLS")
	}
	if err := c.Authenticate(ctx, bob, bobPass); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select(ctx, "INBOX", true); err != nil {
		t.Fatal(err)
	}
	if !c.Selected.ReadOnly {
		t.Error("EXAMINE not read-only")
	}
}

func TestClientSilentServer(t *testing.T) {
	addr := testutil.SilentServer(t)
	_, err := Dial(context.Background(), addr, ClientOptions{Timeout: 50 * time.Millisecond})
	if err == nil {
		t.Fatal("Dial to a silent server succeeded")
	}
}
