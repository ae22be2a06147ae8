package mta

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/applayer/applayer/internal/testutil"
	"github.com/applayer/applayer/mail/smtp"
	"github.com/applayer/applayer/mail/smtpclient"
	"github.com/applayer/applayer/mail/smtpserver"
	"golang.org/x/crypto/bcrypt"
)

func TestRelayDomain(t *testing.T) {
	m, err := Open(Config{Dir: t.TempDir(), Domains: []string{"crepes.fr"}, RelayDomains: []string{"Backup.Example."}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	anon := &smtpserver.Session{}
	from := smtp.Path{Mailbox: smtp.Address{Local: "x", Domain: "y.example"}}
	if err := m.Rcpt(anon, from, smtp.Address{Local: "a", Domain: "backup.example"}); err != nil {
		t.Errorf("RCPT for a relay domain = %v, want accepted", err)
	}
	if err := m.Rcpt(anon, from, smtp.Address{Local: "a", Domain: "sub.backup.example"}); err == nil {
		t.Error("RCPT for a subdomain of a relay domain accepted; only the listed domain is")
	}
	if _, err := Open(Config{Dir: t.TempDir(), Domains: []string{"crepes.fr"}, RelayDomains: []string{"crepes.fr"}}); err == nil {
		t.Error("a domain both local and relay was accepted")
	}
}

// TestMailLoop refuses to relay a message that has passed too many hops
// (RFC 5321 section 6.3).
func TestMailLoop(t *testing.T) {
	m, err := Open(Config{Dir: t.TempDir(), Domains: []string{"crepes.fr"}, MaxHops: 3, Resolver: labResolver(t), MXPort: 1, Retry: []time.Duration{time.Hour}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	m.store.Users().Cost = bcrypt.MinCost
	m.store.Users().Add("alice@crepes.fr", "pw", false)
	port := serve(t, m, true)
	sub := smtpclient.Submission{Addr: "127.0.0.1:" + strconv.Itoa(port), StartTLS: true, TLSConfig: &tls.Config{InsecureSkipVerify: true},
		User: "alice@crepes.fr", Password: "pw"}
	from := smtp.Path{Mailbox: smtp.Address{Local: "alice", Domain: "crepes.fr"}}
	to := []smtp.Address{{Local: "x", Domain: "implicit.example"}}
	// Two earlier hops plus ours make three, the limit.
	_, err = smtpclient.Send(context.Background(), sub, from, to,
		[]byte("Received: from a\r\nReceived: from b\r\nSubject: loop\r\n\r\nx\r\n"))
	var r *smtp.Reply
	if !errors.As(err, &r) || r.Code != 554 || r.Enhanced != (smtp.EnhancedCode{5, 4, 6}) {
		t.Fatalf("Send of a message with 3 hops = %v, want 554 5.4.6", err)
	}
	// One earlier hop plus ours is fine; a Received: in the body does not count.
	_, err = smtpclient.Send(context.Background(), sub, from, to,
		[]byte("Received: from a\r\nSubject: ok\r\n\r\nReceived: from b\r\nReceived: from c\r\n"))
	if err != nil {
		t.Fatalf("Send of a message with 2 hops = %v", err)
	}
	if q, _ := ListQueue(m.cfg.Dir); len(q) != 1 {
		t.Errorf("queue holds %d messages, want 1", len(q))
	}
	// A looping message for a local and a remote recipient is refused
	// whole: the local copy is not delivered before the 554.
	_, err = smtpclient.Send(context.Background(), sub, from, append(to, smtp.Address{Local: "alice", Domain: "crepes.fr"}),
		[]byte("Received: from a\r\nReceived: from b\r\nSubject: loop\r\n\r\nx\r\n"))
	if !errors.As(err, &r) || r.Code != 554 {
		t.Fatalf("Send of a mixed message with 3 hops = %v, want 554", err)
	}
	if n := mailCount(m, "alice@crepes.fr"); n != 0 {
		t.Errorf("alice got %d copies of a message refused with 554", n)
	}
}

// picky refuses dave for good and frank for now.
type picky struct{ scripted }

func (p *picky) Rcpt(_ *smtpserver.Session, _ smtp.Path, to smtp.Address) error {
	switch to.Local {
	case "dave":
		return smtp.R(550, smtp.CodeBadMailbox, "no dave here")
	case "frank":
		return smtp.R(451, smtp.CodeSystem, "frank is busy")
	}
	return nil
}

// TestBounceBeforeOthersFinish reports a permanent failure at once, while
// another recipient of the same message is still being retried.
func TestBounceBeforeOthersFinish(t *testing.T) {
	ex := &picky{scripted{answers: []*smtp.Reply{nil}}}
	port := serve(t, ex, false)
	alice := newMTA(t, "crepes.fr", labResolver(t), port, []time.Duration{time.Hour}, "alice@crepes.fr")
	sub := serve(t, alice, true)
	if err := submit(t, sub, "alice@crepes.fr", "dave@bouncy.example", "frank@bouncy.example", "gina@bouncy.example"); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "the bounce for dave", func() bool { return mailCount(alice, "alice@crepes.fr") == 1 })
	b := readMail(t, alice, "alice@crepes.fr", 0)
	if !strings.Contains(b, "Final-Recipient: rfc822; dave@bouncy.example") || strings.Contains(b, "frank@") || strings.Contains(b, "Final-Recipient: rfc822; gina") {
		t.Errorf("bounce should name dave only:\n%s", b)
	}
	// The state is saved just after the bounce.
	testutil.WaitFor(t, "frank pending and dave reported", func() bool {
		q, _ := ListQueue(alice.cfg.Dir)
		return len(q) == 1 && strings.Join(q[0].Pending(), ",") == "frank@bouncy.example" &&
			q[0].State.Rcpts["dave@bouncy.example"] != nil && q[0].State.Rcpts["dave@bouncy.example"].Reported
	})
	if ex.got.Load() != 1 {
		t.Errorf("exchanger accepted %d messages, want 1 (for gina)", ex.got.Load())
	}
}

// countingListener counts accepted connections, and those the server has
// closed.
type countingListener struct {
	net.Listener
	n, closed atomic.Int32
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.n.Add(1)
	return &countedConn{Conn: c, l: l}, nil
}

type countedConn struct {
	net.Conn
	l    *countingListener
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.l.closed.Add(1) })
	return c.Conn.Close()
}

// TestRelayReusesConnections sends several queued messages for one
// exchanger over one session, and survives the exchanger closing it.
func TestRelayReusesConnections(t *testing.T) {
	ex := &scripted{answers: []*smtp.Reply{nil}}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &countingListener{Listener: inner}
	srv := &smtpserver.Server{Backend: ex, Logger: quiet, CommandTimeout: 2 * time.Second, PregreetWait: -1}
	go srv.Serve(l)
	defer srv.Close()
	port := inner.Addr().(*net.TCPAddr).Port
	m := newMTA(t, "crepes.fr", labResolver(t), port, []time.Duration{20 * time.Millisecond}, "alice@crepes.fr")
	sub := serve(t, m, true)
	for i := 0; i < 3; i++ {
		if err := submit(t, sub, "alice@crepes.fr", "x@implicit.example"); err != nil {
			t.Fatal(err)
		}
		testutil.WaitFor(t, "delivery", func() bool { return ex.got.Load() == int32(i+1) })
	}
	if n := l.n.Load(); n != 1 {
		t.Errorf("3 messages used %d connections, want 1", n)
	}
	// The exchanger drops the idle session (its timeout); the next message
	// must still go through, on a new connection.
	testutil.WaitFor(t, "the exchanger closing the idle session", func() bool { return l.closed.Load() == 1 })
	if err := submit(t, sub, "alice@crepes.fr", "x@implicit.example"); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "delivery after the exchanger closed the session", func() bool { return ex.got.Load() == 4 })
	if n := l.n.Load(); n != 2 {
		t.Errorf("after a dropped session: %d connections in all, want 2", n)
	}
}

// TestRelayKeeps8BitMIME relays a message with BODY=8BITMIME as it came.
func TestRelayKeeps8BitMIME(t *testing.T) {
	ex := &scripted{answers: []*smtp.Reply{nil}}
	port := serve(t, ex, false)
	alice := newMTA(t, "crepes.fr", labResolver(t), port, []time.Duration{time.Hour}, "alice@crepes.fr")
	sub := serve(t, alice, true)
	from := smtp.Path{Mailbox: smtp.Address{Local: "alice", Domain: "crepes.fr"}}
	_, err := smtpclient.Send(context.Background(), smtpclient.Submission{
		Addr: "127.0.0.1:" + strconv.Itoa(sub), StartTLS: true, TLSConfig: &tls.Config{InsecureSkipVerify: true},
		User: "alice@crepes.fr", Password: "pw-alice@crepes.fr",
	}, from, []smtp.Address{{Local: "x", Domain: "implicit.example"}}, []byte("Subject: cr\xc3\xaapes\r\n\r\nCr\xc3\xaapes!\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "the relay", func() bool { return ex.got.Load() == 1 })
	if ex.got8bit.Load() != 1 {
		t.Error("the relayed MAIL FROM lacked BODY=8BITMIME")
	}
}

// TestGiveUp bounces a message whose exchanger keeps answering 4xx once
// the give-up time has passed since its arrival.
func TestGiveUp(t *testing.T) {
	ex := &scripted{answers: []*smtp.Reply{smtp.R(451, smtp.CodeSystem, "try later")}}
	port := serve(t, ex, false)
	m, err := Open(Config{Dir: t.TempDir(), Domains: []string{"crepes.fr"}, Resolver: labResolver(t), MXPort: port,
		Retry: []time.Duration{30 * time.Millisecond}, GiveUp: 200 * time.Millisecond, Timeout: 5 * time.Second, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	m.store.Users().Cost = bcrypt.MinCost
	m.store.Users().Add("alice@crepes.fr", "pw-alice@crepes.fr", false)
	runWorker(t, m)
	sub := serve(t, m, true)
	if err := submit(t, sub, "alice@crepes.fr", "slow@bouncy.example"); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "the expiry bounce", func() bool { return mailCount(m, "alice@crepes.fr") == 1 })
	b := readMail(t, m, "alice@crepes.fr", 0)
	for _, want := range []string{"Final-Recipient: rfc822; slow@bouncy.example", "Action: failed", "Status: 4.4.7", "gave up after 200ms", "451 4.3.0 try later"} {
		if !strings.Contains(b, want) {
			t.Errorf("expiry bounce lacks %q:\n%s", want, b)
		}
	}
	if n := ex.tries.Load(); n < 2 {
		t.Errorf("exchanger saw %d attempts before the give-up, want several", n)
	}
	testutil.WaitFor(t, "an empty queue", func() bool { q, _ := ListQueue(m.cfg.Dir); return len(q) == 0 })
}

// gated holds its first delivery until released, then refuses it with a
// temporary error; later ones are accepted.
type gated struct {
	scripted
	entered, release chan struct{}
	once             sync.Once
}

func (g *gated) Open(s *smtpserver.Session, env *smtpserver.Envelope) (smtpserver.Delivery, error) {
	first := false
	g.once.Do(func() { first = true })
	if first {
		close(g.entered)
		<-g.release
		return nil, smtp.R(451, smtp.CodeSystem, "try later")
	}
	return g.scripted.Open(s, env)
}

// TestFlushDuringAttempt: a flush that comes while a message's attempt is
// in flight makes it due again when that attempt ends, instead of being
// overwritten by the back-off the attempt records (an hour here).
func TestFlushDuringAttempt(t *testing.T) {
	ex := &gated{scripted: scripted{answers: []*smtp.Reply{nil}}, entered: make(chan struct{}), release: make(chan struct{})}
	port := serve(t, ex, false)
	m := newMTA(t, "crepes.fr", labResolver(t), port, []time.Duration{time.Hour}, "alice@crepes.fr")
	sub := serve(t, m, true)
	if err := submit(t, sub, "alice@crepes.fr", "carol@noanswer.example"); err != nil {
		t.Fatal(err)
	}
	<-ex.entered
	flush := filepath.Join(m.qdir, FlushFile)
	if err := os.WriteFile(flush, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "the worker taking the flush", func() bool { _, err := os.Stat(flush); return os.IsNotExist(err) })
	close(ex.release)
	testutil.WaitFor(t, "the flushed message delivered at once", func() bool { return ex.got.Load() == 1 })
}
