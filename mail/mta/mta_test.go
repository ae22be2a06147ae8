package mta

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/applayer/applayer/internal/testutil"
	"github.com/applayer/applayer/internal/tlsutil"
	"github.com/applayer/applayer/mail/smtp"
	"github.com/applayer/applayer/mail/smtpclient"
	"github.com/applayer/applayer/mail/smtpserver"
	"golang.org/x/crypto/bcrypt"
)

var quiet = slog.New(slog.DiscardHandler)

// serve runs an SMTP server for backend on 127.0.0.1:0 and returns its
// port.
func serve(t *testing.T, backend smtpserver.Backend, submission bool) int {
	t.Helper()
	cert, err := tlsutil.LoadOrCreate(t.TempDir(), []string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	host := "test.example"
	if m, ok := backend.(*MTA); ok {
		host = m.Hostname()
	}
	s := &smtpserver.Server{Hostname: host, Backend: backend, Submission: submission, Logger: quiet,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}, PregreetWait: -1}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

// newMTA opens an MTA for domain with the given users and starts its worker.
func newMTA(t *testing.T, domain string, res Resolver, mxPort int, retry []time.Duration, users ...string) *MTA {
	t.Helper()
	m, err := Open(Config{Dir: t.TempDir(), Domains: []string{domain}, Resolver: res, MXPort: mxPort, Retry: retry,
		Timeout: 5 * time.Second, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	m.store.Users().Cost = bcrypt.MinCost
	for _, u := range users {
		if err := m.store.Users().Add(u, "pw-"+u, false); err != nil {
			t.Fatal(err)
		}
	}
	runWorker(t, m)
	return m
}

func runWorker(t *testing.T, m *MTA) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func submit(t *testing.T, port int, user string, to ...string) error {
	t.Helper()
	var rcpts []smtp.Address
	for _, a := range to {
		ad, err := smtp.ParseAddress(a)
		if err != nil {
			t.Fatal(err)
		}
		rcpts = append(rcpts, ad)
	}
	from, _ := smtp.ParseAddress(user)
	_, err := smtpclient.Send(context.Background(), smtpclient.Submission{
		Addr: "127.0.0.1:" + strconv.Itoa(port), StartTLS: true, TLSConfig: &tls.Config{InsecureSkipVerify: true},
		User: user, Password: "pw-" + user, Options: smtpclient.Options{Timeout: 5 * time.Second},
	}, smtp.Path{Mailbox: from}, rcpts, []byte("Subject: ketchup\r\n\r\nDo you like ketchup?\r\n"))
	return err
}

func mailCount(m *MTA, addr string) int {
	l, _ := m.store.List(addr)
	return len(l)
}

func readMail(t *testing.T, m *MTA, addr string, i int) string {
	l, _ := m.store.List(addr)
	b, err := os.ReadFile(l[i].Path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func labResolver(t *testing.T) *StaticResolver {
	r, err := ParseRecords([]string{
		"hamburger.edu. 300 IN MX 10 mail.hamburger.edu.",
		"mail.hamburger.edu. 300 IN A 127.0.0.1",
		"crepes.fr. 300 IN MX 10 mail.crepes.fr.",
		"mail.crepes.fr. 300 IN A 127.0.0.1",
		"nomail.example. 300 IN MX 0 .",
		"noanswer.example. IN MX 10 mx.noanswer.example.",
		"mx.noanswer.example. IN A 127.0.0.1",
		"bouncy.example. IN MX 10 mx.bouncy.example.",
		"mx.bouncy.example. IN A 127.0.0.1",
		"implicit.example. IN A 127.0.0.1",
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestAliceToBob is the textbook's story: alice submits to her server, which
// finds bob's server by its MX record and relays; bob's Maildir gets it.
func TestAliceToBob(t *testing.T) {
	res := labResolver(t)
	bob := newMTA(t, "hamburger.edu", res, 0, nil, "bob@hamburger.edu")
	bobPort := serve(t, bob, false)
	alice := newMTA(t, "crepes.fr", res, bobPort, []time.Duration{50 * time.Millisecond}, "alice@crepes.fr")
	subPort := serve(t, alice, true)

	if err := submit(t, subPort, "alice@crepes.fr", "bob@hamburger.edu", "alice@crepes.fr"); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "bob's mail", func() bool { return mailCount(bob, "bob@hamburger.edu") == 1 })
	if n := mailCount(alice, "alice@crepes.fr"); n != 1 {
		t.Errorf("alice's own copy: %d messages, want 1", n)
	}
	got := readMail(t, bob, "bob@hamburger.edu", 0)
	for _, want := range []string{"Return-Path: <alice@crepes.fr>", "by mail.hamburger.edu", "by mail.crepes.fr", "with ESMTPSA", "Do you like ketchup?"} {
		if !strings.Contains(got, want) {
			t.Errorf("bob's message lacks %q:\n%s", want, got)
		}
	}
	// The relayed copy carried no Return-Path of crepes.fr's: only bob's
	// server, making the final delivery, adds one (RFC 5321 section 4.4).
	if n := strings.Count(got, "Return-Path:"); n != 1 {
		t.Errorf("bob's message has %d Return-Path fields, want 1", n)
	}
	if own := readMail(t, alice, "alice@crepes.fr", 0); !strings.HasPrefix(own, "Return-Path: <alice@crepes.fr>\r\nReceived: ") {
		t.Errorf("alice's own copy does not start with Return-Path and Received:\n%s", own)
	}
	testutil.WaitFor(t, "empty queue", func() bool { q, _ := ListQueue(alice.cfg.Dir); return len(q) == 0 })
}

// scripted is an exchanger whose answer to each message is scripted.
type scripted struct {
	mu      sync.Mutex
	answers []*smtp.Reply // nil = accept; the last repeats
	got     atomic.Int32
	tries   atomic.Int32
	got8bit atomic.Int32 // messages that came with BODY=8BITMIME
}

func (s *scripted) Rcpt(*smtpserver.Session, smtp.Path, smtp.Address) error { return nil }
func (s *scripted) Open(_ *smtpserver.Session, env *smtpserver.Envelope) (smtpserver.Delivery, error) {
	if env.Body8Bit {
		s.got8bit.Add(1)
	}
	return &scriptedDelivery{s: s}, nil
}

type scriptedDelivery struct{ s *scripted }

func (d *scriptedDelivery) Write(p []byte) (int, error) { return len(p), nil }
func (d *scriptedDelivery) ID() string                  { return "X" }
func (d *scriptedDelivery) Abort()                      {}
func (d *scriptedDelivery) Commit() error {
	d.s.mu.Lock()
	defer d.s.mu.Unlock()
	n := int(d.s.tries.Add(1)) - 1
	a := d.s.answers[min(n, len(d.s.answers)-1)]
	if a != nil {
		return a
	}
	d.s.got.Add(1)
	return nil
}

func TestTemporaryThenAccepted(t *testing.T) {
	ex := &scripted{answers: []*smtp.Reply{smtp.R(451, smtp.CodeSystem, "try later"), smtp.R(421, smtp.CodeSystem, "busy"), nil}}
	port := serve(t, ex, false)
	alice := newMTA(t, "crepes.fr", labResolver(t), port, []time.Duration{20 * time.Millisecond}, "alice@crepes.fr")
	sub := serve(t, alice, true)
	if err := submit(t, sub, "alice@crepes.fr", "carol@noanswer.example"); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "delivery after two refusals", func() bool { return ex.got.Load() == 1 })
	if n := ex.tries.Load(); n != 3 {
		t.Errorf("exchanger saw %d attempts, want 3", n)
	}
	if n := mailCount(alice, "alice@crepes.fr"); n != 0 {
		t.Errorf("alice got %d bounces for a delivered message", n)
	}
}

func TestPermanentFailureBounces(t *testing.T) {
	ex := &scripted{answers: []*smtp.Reply{smtp.R(554, smtp.CodeBadContent, "we hate ketchup")}}
	port := serve(t, ex, false)
	alice := newMTA(t, "crepes.fr", labResolver(t), port, []time.Duration{20 * time.Millisecond}, "alice@crepes.fr")
	sub := serve(t, alice, true)
	if err := submit(t, sub, "alice@crepes.fr", "dave@bouncy.example", "erin@nomail.example"); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "the bounce", func() bool { return mailCount(alice, "alice@crepes.fr") == 1 })
	b := readMail(t, alice, "alice@crepes.fr", 0)
	for _, want := range []string{"Content-Type: multipart/report; report-type=delivery-status", "message/delivery-status",
		"Final-Recipient: rfc822; dave@bouncy.example", "Status: 5.6.0", "Diagnostic-Code: smtp; 554 5.6.0 we hate ketchup",
		"Final-Recipient: rfc822; erin@nomail.example", "Status: 5.1.10", "Subject: ketchup", "Return-Path: <>"} {
		if !strings.Contains(b, want) {
			t.Errorf("bounce lacks %q:\n%s", want, b)
		}
	}
	if ex.tries.Load() != 1 {
		t.Errorf("exchanger saw %d attempts after a 5xx, want 1", ex.tries.Load())
	}
}

func TestUnreachableStaysQueuedThenFlush(t *testing.T) {
	// Find a port nobody listens on, then start the exchanger there later.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	alice := newMTA(t, "crepes.fr", labResolver(t), port, []time.Duration{time.Hour}, "alice@crepes.fr")
	sub := serve(t, alice, true)
	if err := submit(t, sub, "alice@crepes.fr", "frank@implicit.example"); err != nil {
		t.Fatal(err)
	}
	var item QueueItem
	testutil.WaitFor(t, "a failed attempt", func() bool {
		q, _ := ListQueue(alice.cfg.Dir)
		if len(q) == 1 && q[0].State.Rcpts["frank@implicit.example"] != nil {
			item = q[0]
			return true
		}
		return false
	})
	st := item.State.Rcpts["frank@implicit.example"]
	if st.Attempts != 1 || st.Next.Before(time.Now().Add(50*time.Minute)) || !strings.Contains(st.Last, "4.4.1") {
		t.Errorf("after a refused connection: %+v; want 1 attempt, next in about an hour, 4.4.1", st)
	}

	// A restart finds the message again.
	m2, err := Open(Config{Dir: alice.cfg.Dir, Domains: []string{"crepes.fr"}, Logger: quiet})
	if err != nil || len(m2.queue) != 1 {
		t.Fatalf("reopened queue: %d messages, %v; want 1", len(m2.queue), err)
	}

	ex := &scripted{answers: []*smtp.Reply{nil}}
	el, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Skip("port taken meanwhile:", err)
	}
	srv := &smtpserver.Server{Backend: ex, Logger: quiet, PregreetWait: -1}
	go srv.Serve(el)
	defer srv.Close()
	if err := RequestFlush(alice.cfg.Dir); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "delivery after flush", func() bool { return ex.got.Load() == 1 })
	testutil.WaitFor(t, "empty queue", func() bool { q, _ := ListQueue(alice.cfg.Dir); return len(q) == 0 })
}

func TestDeleteQueued(t *testing.T) {
	alice := newMTA(t, "crepes.fr", labResolver(t), 1, []time.Duration{time.Hour}, "alice@crepes.fr")
	sub := serve(t, alice, true)
	submit(t, sub, "alice@crepes.fr", "x@implicit.example")
	q, _ := ListQueue(alice.cfg.Dir)
	if len(q) != 1 {
		t.Fatalf("queue has %d messages, want 1", len(q))
	}
	if err := DeleteQueued(alice.cfg.Dir, q[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := DeleteQueued(alice.cfg.Dir, q[0].ID); err == nil {
		t.Error("deleting twice succeeded")
	}
	if err := DeleteQueued(alice.cfg.Dir, "../users"); err == nil {
		t.Error("DeleteQueued accepted a path")
	}
	if q, _ := ListQueue(alice.cfg.Dir); len(q) != 0 {
		t.Errorf("queue after delete: %d", len(q))
	}
}

func TestPolicy(t *testing.T) {
	m := newMTA(t, "crepes.fr", labResolver(t), 1, nil, "alice@crepes.fr")
	anon := &smtpserver.Session{}
	authed := &smtpserver.Session{User: "alice@crepes.fr", TLS: true}
	alice := smtp.Path{Mailbox: smtp.Address{Local: "alice", Domain: "crepes.fr"}}
	tests := []struct {
		s    *smtpserver.Session
		from smtp.Path
		to   string
		code int
	}{
		{anon, alice, "alice@crepes.fr", 0},
		{anon, alice, "Alice@crepes.fr", 0},
		{anon, alice, "postmaster@crepes.fr", 0},
		{anon, alice, "nobody@crepes.fr", 550},
		{anon, alice, "bob@hamburger.edu", 550},
		{anon, alice, "bob@[127.0.0.1]", 550},
		{anon, smtp.Path{Null: true}, "bob@hamburger.edu", 550},
		{authed, alice, "bob@hamburger.edu", 0},
		{authed, smtp.Path{Mailbox: smtp.Address{Local: "ceo", Domain: "crepes.fr"}}, "bob@hamburger.edu", 550},
	}
	for _, tt := range tests {
		to, err := smtp.ParseAddress(tt.to)
		if err != nil {
			t.Fatal(err)
		}
		err = m.Rcpt(tt.s, tt.from, to)
		var r *smtp.Reply
		code := 0
		if errors.As(err, &r) {
			code = r.Code
		}
		if code != tt.code {
			t.Errorf("Rcpt(user %q, from %s, to %s) = %v, want code %d", tt.s.User, tt.from, tt.to, err, tt.code)
		}
	}
}

func TestBackoffSchedule(t *testing.T) {
	m := &MTA{cfg: Config{Retry: DefaultRetry}}
	for n, want := range []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 2 * time.Hour} {
		got := m.backoff(n + 1)
		if got < want || got > want+want/10 {
			t.Errorf("backoff(%d) = %v, want %v plus at most 10%%", n+1, got, want)
		}
	}
}

func TestRoute(t *testing.T) {
	res := labResolver(t)
	res.MX["multi.example"] = []*net.MX{{Host: "b.multi.example", Pref: 20}, {Host: "a.multi.example", Pref: 10}}
	res.IP["a.multi.example"] = []net.IPAddr{{IP: net.ParseIP("127.0.0.11")}}
	res.IP["b.multi.example"] = []net.IPAddr{{IP: net.ParseIP("127.0.0.12")}, {IP: net.ParseIP("::1")}}
	for i := 1; i <= 8; i++ { // more exchangers than are tried
		h := fmt.Sprintf("mx%d.many.example", i)
		res.MX["many.example"] = append(res.MX["many.example"], &net.MX{Host: h, Pref: uint16(10 * i)})
		res.IP[h] = []net.IPAddr{{IP: net.ParseIP(fmt.Sprintf("127.0.1.%d", i))}}
	}
	checkRoutes(t, "route(%s)", res, 25, []routeCase{
		{"multi.example", "127.0.0.11:25 127.0.0.12:25 [::1]:25", 0},
		{"many.example", "127.0.1.1:25 127.0.1.2:25 127.0.1.3:25 127.0.1.4:25 127.0.1.5:25", 0},
		{"implicit.example", "127.0.0.1:25", 0},
		{"nomail.example", "", 556},
		{"nxdomain.example", "", 550},
		{"[127.0.0.9]", "127.0.0.9:25", 0},
	})
}

// routeCase is one domain's expected route: the exchanger addresses in
// order, or the reply code of the failure.
type routeCase struct {
	domain string
	want   string
	code   int
}

// checkRoutes runs route for each case through res; label formats the
// domain for failure messages.
func checkRoutes(t *testing.T, label string, res Resolver, port int, tests []routeCase) {
	t.Helper()
	for _, tt := range tests {
		hops, err := route(context.Background(), res, tt.domain, port)
		var addrs []string
		for _, h := range hops {
			addrs = append(addrs, h.Addr)
		}
		code := 0
		var re *routeError
		if errors.As(err, &re) {
			code = re.reply.Code
		}
		if strings.Join(addrs, " ") != tt.want || code != tt.code {
			t.Errorf(label+" = %v, %v; want %s, code %d", tt.domain, addrs, err, tt.want, tt.code)
		}
	}
}

func TestDSNNeverToNullSender(t *testing.T) {
	ex := &scripted{answers: []*smtp.Reply{smtp.R(550, smtp.CodeBadMailbox, "no")}}
	port := serve(t, ex, false)
	m := newMTA(t, "crepes.fr", labResolver(t), port, []time.Duration{10 * time.Millisecond}, "alice@crepes.fr")
	if _, err := m.enqueueBytes([]byte("Subject: bounce of a bounce\r\n\r\nx\r\n"), Envelope{To: []string{"x@bouncy.example"}, Arrived: time.Now()}); err != nil {
		t.Fatal(err)
	}
	// The worker queues a DSN (bounce) before it removes the failed
	// message, so once the queue is empty a DSN would be in it or would
	// already have reached the exchanger: no need to wait any longer.
	testutil.WaitFor(t, "the attempt", func() bool { q, _ := ListQueue(m.cfg.Dir); return len(q) == 0 })
	if q, _ := ListQueue(m.cfg.Dir); len(q) != 0 || ex.tries.Load() != 1 {
		t.Errorf("after a failed message from <>: queue %d, exchanger tries %d; want 0 and 1 (no DSN)", len(q), ex.tries.Load())
	}
}

// RFC 5321 section 4.1.1.3: RCPT TO:<Postmaster> without a domain must be
// accepted; the message goes to the postmaster of the server's domain.
func TestBarePostmaster(t *testing.T) {
	m := newMTA(t, "crepes.fr", labResolver(t), 1, nil)
	port := serve(t, m, false)
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "HELO x.example\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<Postmaster>\r\nDATA\r\nSubject: hi\r\n\r\nhello\r\n.\r\nQUIT\r\n")
	b, _ := io.ReadAll(c)
	for _, want := range []string{"\r\n250 <postmaster>", "\r\n354 ", "\r\n250 Message accepted", "\r\n221 "} {
		if !strings.Contains(string(b), want) {
			t.Errorf("dialogue lacks %q:\n%s", want, b)
		}
	}
	if n := mailCount(m, "postmaster@crepes.fr"); n != 1 {
		t.Errorf("postmaster@crepes.fr has %d messages, want 1", n)
	}
}
