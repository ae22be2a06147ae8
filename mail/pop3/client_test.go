package pop3

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/applayer/applayer/internal/testutil"
	"github.com/applayer/applayer/internal/transcript"
	"github.com/applayer/applayer/mail/internal/dovecottest"
)

// exerciseClient drives the client against a server whose maildrop holds
// testMsgs.
func exerciseClient(t *testing.T, addr, user, pass string) {
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Patience)
	defer cancel()
	var mu sync.Mutex
	var tr strings.Builder
	rec := transcript.New(transcript.SinkFunc(func(e transcript.Event) {
		mu.Lock()
		tr.WriteString(transcript.Format(e) + "\n")
		mu.Unlock()
	}))
	defer func() {
		if t.Failed() {
			t.Logf("transcript:\n%s", tr.String())
		}
	}()
	login := func() *Client {
		c, err := Dial(ctx, addr, ClientOptions{Trace: rec})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Login(ctx, user, pass); err != nil {
			t.Fatal(err)
		}
		return c
	}
	c, err := Dial(ctx, addr, ClientOptions{Trace: rec})
	if err != nil {
		t.Fatal(err)
	}
	caps, err := c.Capabilities(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := caps["UIDL"]; !ok {
		t.Errorf("CAPA: %v", caps)
	}
	var re *ReplyError
	if err := c.Login(ctx, user, "wrong"); !errors.As(err, &re) {
		t.Fatalf("wrong password: %v", err)
	}
	c.Close()

	c = login()
	n, size, err := c.Stat(ctx)
	if err != nil || n != 3 || size <= 0 {
		t.Fatalf("STAT = %d %d %v", n, size, err)
	}
	list, err := c.List(ctx)
	if err != nil || len(list) != 3 || list[0].Num != 1 || list[0].Size <= 0 {
		t.Fatalf("LIST = %+v %v", list, err)
	}
	uidl, err := c.UIDL(ctx)
	if err != nil || len(uidl) != 3 || uidl[0].UID == "" {
		t.Fatalf("UIDL = %+v %v", uidl, err)
	}
	m, err := c.Retr(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if s := string(m); !strings.Contains(s, "\r\nDo you like ketchup?\r\n.How about pickles?\r\n..two dots\r\n") {
		t.Errorf("RETR 1 = %q", s)
	}
	h, err := c.Top(ctx, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if s := string(h); !strings.Contains(s, "Subject: hello\r\n") || strings.Contains(s, "ketchup") {
		t.Errorf("TOP 1 0 = %q", s)
	}
	if _, err := c.Retr(ctx, 99); !errors.As(err, &re) {
		t.Errorf("RETR 99: %v", err)
	}
	if err := c.Dele(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := c.Noop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Quit(ctx); err != nil {
		t.Fatal(err)
	}

	c = login()
	defer c.Close()
	if n, _, _ := c.Stat(ctx); n != 2 {
		t.Errorf("STAT after DELE and QUIT: %d messages", n)
	}
	u2, err := c.UIDL(ctx)
	if err != nil || len(u2) != 2 || u2[0].UID != uidl[1].UID {
		t.Errorf("UIDL not stable: before %+v, after %+v", uidl, u2)
	}
	c.Quit(ctx)
	if out := tr.String(); strings.Contains(out, pass) || !strings.Contains(out, "C: PASS <redacted>") {
		t.Errorf("password not redacted:\n%s", out)
	}
}

func TestClientOurServer(t *testing.T) {
	e := start(t, newStore(t), nil)
	exerciseClient(t, e.addr, bob, bobPass)
}

func TestClientDovecot(t *testing.T) {
	dv := dovecottest.Start(t, "bob", bobPass)
	for i, m := range testMsgs {
		dv.Deliver(t, "bob", i, []byte(m))
	}
	exerciseClient(t, dv.POP3, "bob", bobPass)
}

func TestClientSTLS(t *testing.T) {
	e, _ := tlsEnv(t)
	ctx := context.Background()
	c, err := Dial(ctx, e.addr, ClientOptions{TLSConfig: &tls.Config{InsecureSkipVerify: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.StartTLS(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Login(ctx, bob, bobPass); err != nil {
		t.Fatal(err)
	}
	if n, _, err := c.Stat(ctx); err != nil || n != 3 {
		t.Fatalf("STAT over TLS: %d %v", n, err)
	}
}
