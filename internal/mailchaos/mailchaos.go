// Package mailchaos is the kill -9 scenario of the mail server, shared by
// the command's test (cmd/applayer) and the abuse suite (bench/abuse): an
// `applayer mail serve` process is killed with SIGKILL again and again
// while senders submit messages to it, half for a local user, half to relay
// to an exchanger run in this process; after the last restart has drained
// the queue, every message that got its 250 must have arrived, in the
// Maildir or at the exchanger. Duplicates are allowed for messages in
// flight at a kill (RFC 5321 section 6.1 prefers them to loss).
//
// The kills are spread by count, not by time: the k-th of K kills comes
// once k/(K+1) of the messages have been sent, plus a random delay of up
// to Jitter, so that they land at random points of sessions and relays
// however fast the machine is.
package mailchaos

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/applayer/applayer/internal/tlsutil"
	"github.com/applayer/applayer/mail/mta"
	"github.com/applayer/applayer/mail/smtp"
	"github.com/applayer/applayer/mail/smtpclient"
	"github.com/applayer/applayer/mail/smtpserver"
)

// Config is one run of the scenario.
type Config struct {
	// Bin is the applayer binary to run.
	Bin string
	// Dir is a scratch directory the run may fill (data, log).
	Dir string
	// Senders submit at once, each over its own sessions (default 8).
	Senders int
	// Messages is how many messages the senders try in all (default 3000).
	Messages int
	// Kills is how many times the server is killed (default 10).
	Kills int
	// Jitter bounds the random delay of each kill after its count
	// threshold (default 20ms).
	Jitter time.Duration
	// Drain bounds the wait for the queue to empty after the last kill
	// (default 60 s).
	Drain time.Duration
	// WaitFor, when set, is how the run waits for a condition (a test's
	// testutil.WaitFor); by default the run polls until Drain.
	WaitFor func(what string, cond func() bool)
}

// Result is what a run observed.
type Result struct {
	Kills    int           // SIGKILLs sent
	Sent     int           // messages tried
	Acked    int           // messages that got 250
	Lost     []string      // acknowledged messages found nowhere (tokens)
	Dups     int           // extra deliveries of messages in flight at a kill
	Duration time.Duration // from the first start to the drained queue
}

func (r Result) String() string {
	return fmt.Sprintf("%d kills, %d messages acknowledged (of %d sent), %d lost, %d duplicate deliveries of in-flight messages, %.1f s",
		r.Kills, r.Acked, r.Sent, len(r.Lost), r.Dups, r.Duration.Seconds())
}

// Run runs the scenario. It returns an error when the scenario could not
// be run (the server did not start, the queue did not drain); lost
// messages are reported in the Result, not as an error.
func Run(ctx context.Context, cfg Config) (Result, error) {
	senders := cfgOr(cfg.Senders, 8)
	messages := cfgOr(cfg.Messages, 3000)
	kills := cfgOr(cfg.Kills, 10)
	jitter := cfgOr(cfg.Jitter, 20*time.Millisecond)
	drain := cfgOr(cfg.Drain, 60*time.Second)
	var res Result
	begin := time.Now()

	data := filepath.Join(cfg.Dir, "data")
	add := exec.CommandContext(ctx, cfg.Bin, "mail", "user", "add", "--data", data, "alice@crepes.fr")
	add.Stdin = strings.NewReader("pw\n")
	if out, err := add.CombinedOutput(); err != nil {
		return res, fmt.Errorf("mail user add: %v: %s", err, out)
	}

	sink := &tokenSink{got: map[string]int{}}
	sinkPort, stopSink, err := serveSink(cfg.Dir, sink)
	if err != nil {
		return res, err
	}
	defer stopSink()
	mxPort, err := freePort()
	if err != nil {
		return res, err
	}
	subPort, err := freePort()
	if err != nil {
		return res, err
	}
	sub := "127.0.0.1:" + strconv.Itoa(subPort)

	logFile, err := os.Create(filepath.Join(cfg.Dir, "server.log"))
	if err != nil {
		return res, err
	}
	defer logFile.Close()
	var (
		procMu sync.Mutex
		proc   *exec.Cmd
	)
	start := func() error {
		cmd := exec.Command(cfg.Bin, "mail", "serve", "--domain", "crepes.fr", "--data", data,
			"--listen", "127.0.0.1:"+strconv.Itoa(mxPort), "--submission", sub,
			"--upstream-port", strconv.Itoa(sinkPort), "--retry", "20ms", "--log-level", "warn")
		cmd.Stderr = logFile
		if err := cmd.Start(); err != nil {
			return err
		}
		proc = cmd
		return nil
	}
	procMu.Lock()
	err = start()
	procMu.Unlock()
	if err != nil {
		return res, err
	}
	defer func() {
		procMu.Lock()
		proc.Process.Kill()
		proc.Wait()
		procMu.Unlock()
	}()

	var (
		ackMu sync.Mutex
		acked = map[string]bool{} // token -> local
		sent  atomic.Int64
		next  atomic.Int64 // the next message number to try
	)
	sendersDone := make(chan struct{})
	var wg sync.WaitGroup
	for c := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Load() < int64(messages) && ctx.Err() == nil {
				cl, err := dialSubmission(sub)
				if err != nil {
					time.Sleep(20 * time.Millisecond) // the server is restarting
					continue
				}
				for ctx.Err() == nil {
					n := next.Add(1) - 1
					if n >= int64(messages) {
						break
					}
					local := n%2 == 0
					tok := fmt.Sprintf("c%d-m%d", c, n)
					to := smtp.Address{Local: "far", Domain: "[127.0.0.1]"}
					if local {
						to = smtp.Address{Local: "alice", Domain: "crepes.fr"}
					}
					sent.Add(1)
					if err := sendOne(cl, to, tok); err != nil {
						break // this one may or may not have arrived; move on
					}
					ackMu.Lock()
					acked[tok] = local
					ackMu.Unlock()
				}
				cl.Close()
			}
		}()
	}
	go func() { wg.Wait(); close(sendersDone) }()

	// The killer: the k-th kill once k/(kills+1) of the messages are sent.
	killerDone := make(chan error, 1)
	go func() {
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for res.Kills < kills {
			threshold := int64((res.Kills + 1) * messages / (kills + 1))
			for sent.Load() < threshold {
				select {
				case <-sendersDone:
					killerDone <- nil
					return
				case <-ctx.Done():
					killerDone <- ctx.Err()
					return
				case <-tick.C:
				}
			}
			time.Sleep(rand.N(jitter)) // a random point of a session
			procMu.Lock()
			proc.Process.Kill()
			proc.Wait()
			res.Kills++
			err := start()
			procMu.Unlock()
			if err != nil {
				killerDone <- err
				return
			}
		}
		killerDone <- nil
	}()
	if err := <-killerDone; err != nil {
		return res, err
	}
	<-sendersDone
	res.Sent = int(sent.Load())

	// Let the last server drain the queue.
	empty := func() bool {
		q, err := mta.ListQueue(data)
		return err == nil && len(q) == 0
	}
	if cfg.WaitFor != nil {
		cfg.WaitFor("the queue to drain after the last kill", empty)
	} else {
		deadline := time.Now().Add(drain)
		for !empty() {
			if time.Now().After(deadline) {
				q, _ := mta.ListQueue(data)
				return res, fmt.Errorf("queue still holds %d messages %v after the last kill", len(q), drain)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	res.Duration = time.Since(begin)

	inbox := map[string]int{}
	for _, sub := range []string{"new", "cur"} {
		dir := filepath.Join(data, "mail", "crepes.fr", "alice", sub)
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				return res, err
			}
			inbox[token(string(b))]++
		}
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	ackMu.Lock()
	defer ackMu.Unlock()
	res.Acked = len(acked)
	for tok, local := range acked {
		n := sink.got[tok]
		if local {
			n = inbox[tok]
		}
		if n == 0 {
			res.Lost = append(res.Lost, tok)
		}
		if n > 1 {
			res.Dups += n - 1
		}
	}
	slices.Sort(res.Lost)
	return res, nil
}

func cfgOr[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// tokenSink is a backend that records the X-Token of every message it
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
	time.Sleep(5 * time.Millisecond) // a slow next hop: relays in flight at kills
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

// serveSink runs the exchanger the relayed messages go to, on 127.0.0.1,
// and returns its port.
func serveSink(dir string, backend smtpserver.Backend) (int, func(), error) {
	cert, err := tlsutil.LoadOrCreate(filepath.Join(dir, "sink-tls"), []string{"localhost"})
	if err != nil {
		return 0, nil, err
	}
	s := &smtpserver.Server{Hostname: "sink.example", Backend: backend, Logger: slog.New(slog.DiscardHandler),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, nil, err
	}
	go s.Serve(l)
	return l.Addr().(*net.TCPAddr).Port, func() { s.Close() }, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
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
	for i := range 20 {
		fmt.Fprintf(w, "line %d of a message that must not be lost\r\n", i)
	}
	w.Flush()
	_, err := c.Data(ctx, strings.NewReader(b.String()))
	return err
}
