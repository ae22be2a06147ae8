package mta

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"

	"github.com/applayer/applayer/internal/authlimit"
	"github.com/applayer/applayer/mail/smtpserver"
)

// Server is a whole mail server: an MTA with its mail-exchanger listener
// (port 25: mail for our domains, no AUTH), its submission listener (port
// 587: AUTH required, any recipient) and its delivery worker.
type Server struct {
	MTA        *MTA
	MX         *smtpserver.Server
	Submission *smtpserver.Server

	mu     sync.Mutex
	cancel context.CancelFunc // set while Serve runs
	done   chan struct{}
}

// NewServer builds the two SMTP servers for m. tlsConfig enables STARTTLS
// (and so AUTH) on both.
func NewServer(m *MTA, tlsConfig *tls.Config) *Server {
	lim := m.cfg.AuthLimit
	if lim == nil {
		lim = &authlimit.Limiter{}
	}
	mk := func(sub bool) *smtpserver.Server {
		return &smtpserver.Server{
			Hostname:   m.cfg.Hostname,
			Backend:    m,
			Submission: sub,
			TLSConfig:  tlsConfig,
			Logger:     m.log,
			Trace:      m.cfg.Trace,
			AuthLimit:  lim,
		}
	}
	return &Server{MTA: m, MX: mk(false), Submission: mk(true), done: make(chan struct{})}
}

// Serve serves mx and sub (either may be nil) and runs the delivery worker
// until Shutdown; it returns smtpserver.ErrServerClosed then, or the first
// listener's error.
func (s *Server) Serve(mx, sub net.Listener) error {
	ctx, cancel := context.WithCancel(context.Background())
	s.mu.Lock()
	s.cancel = cancel
	s.mu.Unlock()
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
	cancel()
	wg.Wait()
	return first
}

// Shutdown stops both listeners gracefully (sessions finish the command
// they are in), then stops the worker after its attempts in flight.
func (s *Server) Shutdown(ctx context.Context) error {
	err := errors.Join(s.MX.Shutdown(ctx), s.Submission.Shutdown(ctx))
	s.mu.Lock()
	cancel := s.cancel
	s.mu.Unlock()
	if cancel != nil {
		cancel()
		select {
		case <-s.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return err
}
