package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/applayer/applayer/internal/tlsutil"
	"github.com/applayer/applayer/mail/mta"
	"github.com/applayer/applayer/mail/smtp"
	"github.com/applayer/applayer/mail/smtpclient"
	"github.com/applayer/applayer/mail/smtpserver"
)

// tokenSink is an exchanger that records the X-Token of every message it
// accepts, slowly enough that relays are often in flight at a kill.
type tokenSink struct {
	mu  sync.Mutex
	got map[string]int
}

func (s *tokenSink) Rcpt(*smtpserver.Session, smtp.Path, smtp.Address) error { return nil }
func (s *tokenSink) Open(*smtpserver.Session, *smtpserver.Envelope) (smtpserver.Delivery, error) {
	return &tokenDelivery{s: s}, nil
}

type tokenDelivery struct {
	s   *tokenSink
	buf strings.Builder
}

func (d *tokenDelivery) Write(p []byte) (int, error) { return d.buf.Write(p) }
func (d *tokenDelivery) ID() string                  { return "sink" }
func (d *tokenDelivery) Abort()                      {}
func (d *tokenDelivery) Commit() error {
	time.Sleep(5 * time.Millisecond)
	d.s.mu.Lock()
	d.s.got[token(d.buf.String())]++
	d.s.mu.Unlock()
	return nil
}

func token(msg string) string {
	_, rest, _ := strings.Cut(msg, "X-Token: ")
	t, _, _ := strings.Cut(rest, "\r\n")
	return t
}

// serveSink runs an exchanger (no submission) whose backend is sink, and
// returns its port.
func serveSink(t *testing.T, backend smtpserver.Backend) int {
	t.Helper()
	cert, err := tlsutil.LoadOrCreate(t.TempDir(), []string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpserver.Server{Hostname: "sink.example", Backend: backend, Logger: slog.New(slog.DiscardHandler),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestSIGKILL runs `applayer mail serve` as a process and kills it with
// SIGKILL again and again while clients submit messages, half for a local
// user, half to relay. After the last restart drains the queue, every
// message that got 250 must have arrived: in the Maildir or at the
// exchanger. Duplicates are allowed only for messages in flight at a kill.
func TestSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a server process; skipped in -short mode")
	}
	dir := t.TempDir()
	bin := bin
	data := filepath.Join(dir, "data")
	add := exec.Command(bin, "mail", "user", "add", "--data", data, "alice@crepes.fr")
	add.Stdin = strings.NewReader("pw\n")
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}

	sink := &tokenSink{got: map[string]int{}}
	sinkPort := serveSink(t, sink)
	mxPort, subPort := freePort(t), freePort(t)
	sub := "127.0.0.1:" + strconv.Itoa(subPort)

	var (
		procMu sync.Mutex
		proc   *exec.Cmd
	)
	logFile, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	start := func() {
		cmd := exec.Command(bin, "mail", "serve", "--domain", "crepes.fr", "--data", data,
			"--listen", "127.0.0.1:"+strconv.Itoa(mxPort), "--submission", sub,
			"--upstream-port", strconv.Itoa(sinkPort), "--retry", "20ms", "--log-level", "warn")
		cmd.Stderr = logFile
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		proc = cmd
	}
	procMu.Lock()
	start()
	procMu.Unlock()
	defer func() {
		procMu.Lock()
		proc.Process.Kill()
		proc.Wait()
		procMu.Unlock()
	}()

	// Clients send until the killer has killed the server wantKills times
	// (bounded by maxPerClient messages each).
	const clients, maxPerClient, wantKills = 4, 600, 15
	var (
		ackMu sync.Mutex
		acked = map[string]bool{} // token -> local
		sent  atomic.Int32
	)
	killerDone := make(chan struct{})
	running := func() bool {
		select {
		case <-killerDone:
			return false
		default:
			return true
		}
	}
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := 0
			for n < maxPerClient && running() {
				cl, err := dialSubmission(sub)
				if err != nil {
					time.Sleep(20 * time.Millisecond)
					continue
				}
				for ; n < maxPerClient && running(); n++ {
					local := n%2 == 0
					tok := fmt.Sprintf("c%d-m%d", c, n)
					to := smtp.Address{Local: "far", Domain: "[127.0.0.1]"}
					if local {
						to = smtp.Address{Local: "alice", Domain: "crepes.fr"}
					}
					sent.Add(1)
					if err := sendOne(cl, to, tok); err != nil {
						n++ // this one may or may not have arrived; move on
						break
					}
					ackMu.Lock()
					acked[tok] = local
					ackMu.Unlock()
				}
				cl.Close()
			}
		}()
	}

	// The killer: SIGKILL at random moments, then restart at once.
	kills := 0
	go func() {
		defer close(killerDone)
		for kills < wantKills {
			time.Sleep(time.Duration(200+rand.IntN(300)) * time.Millisecond)
			procMu.Lock()
			proc.Process.Kill()
			proc.Wait()
			kills++
			start()
			procMu.Unlock()
		}
	}()
	<-killerDone
	wg.Wait()

	// Let the last server drain the queue.
	deadline := time.Now().Add(30 * time.Second)
	for {
		q, _ := mta.ListQueue(data)
		if len(q) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue still holds %d messages 30 s after the last kill", len(q))
		}
		time.Sleep(50 * time.Millisecond)
	}

	inbox := map[string]int{}
	for _, sub := range []string{"new", "cur"} {
		ents, _ := os.ReadDir(filepath.Join(data, "mail", "crepes.fr", "alice", sub))
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(data, "mail", "crepes.fr", "alice", sub, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			inbox[token(string(b))]++
		}
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	lost, dups := 0, 0
	for tok, local := range acked {
		n := sink.got[tok]
		if local {
			n = inbox[tok]
		}
		if n == 0 {
			lost++
			t.Errorf("acknowledged message %s (local %v) was lost", tok, local)
		}
		if n > 1 {
			dups += n - 1
		}
	}
	t.Logf("%d kills, %d messages acknowledged (of %d sent), %d lost, %d duplicate deliveries of in-flight messages",
		kills, len(acked), sent.Load(), lost, dups)
	if len(acked) < 20 {
		t.Errorf("only %d messages acknowledged", len(acked))
	}
}

func dialSubmission(addr string) (*smtpclient.Client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := smtpclient.Dial(ctx, addr, smtpclient.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, err
	}
	if err := c.Hello(ctx); err != nil {
		c.Close()
		return nil, err
	}
	if err := c.StartTLS(ctx, &tls.Config{InsecureSkipVerify: true}); err != nil {
		c.Close()
		return nil, err
	}
	if err := c.Auth(ctx, "alice@crepes.fr", "pw"); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func sendOne(c *smtpclient.Client, to smtp.Address, tok string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Mail(ctx, smtp.Path{Mailbox: smtp.Address{Local: "alice", Domain: "crepes.fr"}}, 0, false); err != nil {
		return err
	}
	if err := c.Rcpt(ctx, to); err != nil {
		return err
	}
	var b strings.Builder
	w := bufio.NewWriter(&b)
	fmt.Fprintf(w, "From: alice@crepes.fr\r\nSubject: chaos\r\nX-Token: %s\r\n\r\n", tok)
	for i := 0; i < 20; i++ {
		fmt.Fprintf(w, "line %d of a message that must not be lost\r\n", i)
	}
	w.Flush()
	_, err := c.Data(ctx, strings.NewReader(b.String()))
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return err
}
