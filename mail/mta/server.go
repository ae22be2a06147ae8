package mta

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"

	"github.com/applayer/applayer/internal/authlimit"
	"github.com/applayer/applayer/mail/smtpserver"
)

// Default listen addresses of ListenAndServe, the ones `mail serve` uses.
const (
	DefaultAddr           = "127.0.0.1:2525"
	DefaultSubmissionAddr = "127.0.0.1:5870"
)

// ErrServing is returned by a Serve or ListenAndServe called while the
// server already serves.
var ErrServing = errors.New("mta: Server is already serving (Serve runs once)")

// Server is a whole mail server: an MTA with its mail-exchanger listener
// (port 25: mail for our domains, no AUTH), its submission listener (port
// 587: AUTH required, any recipient) and its delivery worker. Its exported
// fields are its configuration. The zero value cannot work: MTA is
// required (from Open), and Serve says so when it is missing. NewServer
// fills MTA, TLSConfig, MX and Submission at once, so that the two SMTP
// servers' limits can be set before Serve.
//
// A Server serves once: a second Serve returns ErrServing, and Serve after
// Shutdown or Close returns smtpserver.ErrServerClosed.
type Server struct {
	// MTA is the mail system both listeners hand messages to (required).
	MTA *MTA
	// TLSConfig enables STARTTLS (and so AUTH) on both listeners; it is
	// read when MX and Submission are made.
	TLSConfig *tls.Config
	// Addr and SubmissionAddr are where ListenAndServe listens (default
	// DefaultAddr and DefaultSubmissionAddr).
	Addr, SubmissionAddr string
	// MX and Submission are the two SMTP servers; nil ones are made from
	// the MTA's configuration when Serve starts.
	MX, Submission *smtpserver.Server

	mu     sync.Mutex
	state  int                // serverNew, serverServing or serverClosed
	cancel context.CancelFunc // stops the worker; set while Serve runs
	done   chan struct{}      // closed when Serve returns
}

const (
	serverNew = iota
	serverServing
	serverClosed
)

// NewServer returns a Server for m with its two SMTP servers made.
// tlsConfig enables STARTTLS (and so AUTH) on both.
func NewServer(m *MTA, tlsConfig *tls.Config) *Server {
	s := &Server{MTA: m, TLSConfig: tlsConfig}
	s.fill()
	return s
}

// fill makes the SMTP servers that are nil. It needs MTA.
func (s *Server) fill() {
	m := s.MTA
	lim := m.cfg.AuthLimit
	if lim == nil {
		lim = &authlimit.Limiter{}
	}
	if s.MX != nil && s.MX.AuthLimit != nil {
		lim = s.MX.AuthLimit
	}
	mk := func(sub bool) *smtpserver.Server {
		return &smtpserver.Server{
			Hostname:   m.cfg.Hostname,
			Backend:    m,
			Submission: sub,
			TLSConfig:  s.TLSConfig,
			Logger:     m.log,
			Trace:      m.cfg.Trace,
			AuthLimit:  lim,
		}
	}
	if s.MX == nil {
		s.MX = mk(false)
	}
	if s.Submission == nil {
		s.Submission = mk(true)
	}
}

// start moves the server from new to serving, or says why it cannot.
func (s *Server) start() (context.Context, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.state == serverServing:
		return nil, ErrServing
	case s.state == serverClosed:
		return nil, smtpserver.ErrServerClosed
	case s.MTA == nil:
		return nil, errors.New("mta: Server.MTA is nil: open the mail system with mta.Open and set it (or use mta.NewServer)")
	}
	s.fill()
	ctx, cancel := context.WithCancel(context.Background())
	s.state, s.cancel, s.done = serverServing, cancel, make(chan struct{})
	return ctx, nil
}

// ListenAndServe binds Addr and SubmissionAddr, both before serving
// either, and serves them as Serve does.
func (s *Server) ListenAndServe() error {
	mx, err := net.Listen("tcp", cmp.Or(s.Addr, DefaultAddr))
	if err != nil {
		return err
	}
	sub, err := net.Listen("tcp", cmp.Or(s.SubmissionAddr, DefaultSubmissionAddr))
	if err != nil {
		mx.Close()
		return err
	}
	return s.Serve(mx, sub)
}

// Serve serves mx and sub (either may be nil) and runs the delivery worker
// until Shutdown or Close; it returns smtpserver.ErrServerClosed then, or
// the first listener's error. It closes the listeners it is given, also
// when it returns at once with an error.
func (s *Server) Serve(mx, sub net.Listener) error {
	ctx, err := s.start()
	if err != nil {
		for _, l := range []net.Listener{mx, sub} {
			if l != nil {
				l.Close()
			}
		}
		return err
	}
	defer close(s.done)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); s.MTA.Run(ctx) }()
	errc := make(chan error, 2)
	n := 0
	for _, p := range []struct {
		srv *smtpserver.Server
		l   net.Listener
	}{{s.MX, mx}, {s.Submission, sub}} {
		if p.l == nil {
			continue
		}
		n++
		go func() { errc <- p.srv.Serve(p.l) }()
	}
	var first error
	for i := 0; i < n; i++ {
		err := <-errc
		if first == nil {
			first = err
			if !errors.Is(err, smtpserver.ErrServerClosed) {
				s.MX.Close()
				s.Submission.Close()
			}
		}
	}
	if n == 0 {
		<-ctx.Done()
		first = smtpserver.ErrServerClosed
	}
	s.mu.Lock()
	s.state = serverClosed
	s.mu.Unlock()
	s.cancel()
	wg.Wait()
	return first
}

// stop marks the server closed and returns what a running Serve needs to
// be stopped: the worker's cancel and the channel closed when Serve
// returns (nil, nil when Serve is not running).
func (s *Server) stop() (context.CancelFunc, chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == serverNew && s.MTA != nil {
		s.fill()
	}
	serving := s.state == serverServing
	s.state = serverClosed
	if !serving {
		return nil, nil
	}
	return s.cancel, s.done
}

// Shutdown stops both listeners gracefully (sessions finish the command
// they are in), then stops the worker after its attempts in flight. If
// ctx ends first, it returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	cancel, done := s.stop()
	var err error
	if s.MX != nil {
		err = errors.Join(s.MX.Shutdown(ctx), s.Submission.Shutdown(ctx))
	}
	if cancel != nil {
		cancel()
		select {
		case <-done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return err
}

// Close stops both listeners and their sessions at once and tells the
// worker to stop; Serve returns once the attempts in flight have seen it.
func (s *Server) Close() error {
	cancel, _ := s.stop()
	var err error
	if s.MX != nil {
		err = errors.Join(s.MX.Close(), s.Submission.Close())
	}
	if cancel != nil {
		cancel()
	}
	return err
}
