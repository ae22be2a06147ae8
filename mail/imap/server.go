package imap

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/applayer/applayer/internal/authlimit"
	"github.com/applayer/applayer/internal/lifecycle"
	"github.com/applayer/applayer/internal/transcript"
	"github.com/applayer/applayer/mail/maildir"
)

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("imap: server closed")

// Defaults of the Server's fields.
const (
	DefaultAddr = "127.0.0.1:1430"
	// DefaultTimeout is the autologout timer: RFC 3501 section 5.4 asks
	// for at least 30 minutes (IDLE clients re-issue it every 29).
	DefaultTimeout          = 30 * time.Minute
	DefaultWriteTimeout     = time.Minute
	DefaultMaxErrors        = 20
	DefaultAuthFailureDelay = time.Second
	// DefaultMaxLiteral bounds one literal (an APPENDed message): the SMTP
	// server's message size limit.
	DefaultMaxLiteral = 32 << 20
	// DefaultIdlePoll is how often an IDLE session looks for changes.
	DefaultIdlePoll = 250 * time.Millisecond
)

// maxAuthFailures closes a session after this many failed logins.
const maxAuthFailures = 3

// Server is an IMAP server. Its exported fields are its configuration,
// set before Serve; Store is required, the rest have working defaults.
type Server struct {
	// Addr is what ListenAndServe binds (default DefaultAddr).
	Addr string
	// Hostname is the name in the greeting (default "localhost").
	Hostname string
	// Store holds the users file and the Maildirs (required).
	Store *maildir.Store
	// Domain completes a user name given without one; empty: users give
	// their whole address.
	Domain string
	// TLSConfig enables STARTTLS; nil disables it. A listener that is
	// already TLS (IMAPS, port 993) is recognised by its *tls.Conn
	// connections.
	TLSConfig *tls.Config
	// InsecureAuth allows LOGIN and AUTHENTICATE PLAIN without TLS from
	// any client; by default only loopback clients may send a password in
	// clear (elsewhere LOGINDISABLED is announced, RFC 3501 section 6.2.3).
	InsecureAuth bool
	// AuthFailureDelay is how long a failed login waits for its NO
	// (default DefaultAuthFailureDelay; negative for none).
	AuthFailureDelay time.Duration
	// AuthLimit counts failed logins per client and per account across
	// sessions and servers; nil gives this server one of its own.
	AuthLimit *authlimit.Limiter
	// Timeout bounds the wait for each command (default DefaultTimeout).
	Timeout time.Duration
	// WriteTimeout bounds each write (default DefaultWriteTimeout).
	WriteTimeout time.Duration
	// MaxLiteral bounds one literal (default DefaultMaxLiteral).
	MaxLiteral int64
	// MaxErrors closes a session after this many BAD answers (default
	// DefaultMaxErrors).
	MaxErrors int
	// IdlePoll is how often IDLE looks for new mail and changes (default
	// DefaultIdlePoll).
	IdlePoll time.Duration
	// MaxConns bounds sessions at once (default lifecycle.DefaultMaxConns;
	// negative for none); MaxConnsPerClient bounds one client's (default
	// MaxConns/8; negative for none). See lifecycle.Tracker.
	MaxConns, MaxConnsPerClient int
	// Logger receives the server's log lines; nil means slog.Default().
	Logger *slog.Logger
	// Trace records every dialogue; nil records nothing.
	Trace *transcript.Recorder

	once sync.Once
	t    lifecycle.Tracker
	lim  *authlimit.Limiter
}

func (s *Server) tracker() *lifecycle.Tracker {
	s.once.Do(func() {
		s.t.Name = "imap"
		s.t.MaxConns = s.MaxConns
		s.t.MaxConnsPerClient = s.MaxConnsPerClient
		s.t.Refusal = []byte("* BYE [UNAVAILABLE] Too many connections, try again later\r\n")
		s.t.Logger = s.logger()
		s.t.ErrClosed = ErrServerClosed
		s.lim = s.AuthLimit
		if s.lim == nil {
			s.lim = &authlimit.Limiter{}
		}
	})
	return &s.t
}

func (s *Server) logger() *slog.Logger { return cmp.Or(s.Logger, slog.Default()) }

func (s *Server) hostname() string { return cmp.Or(s.Hostname, "localhost") }

// ListenAndServe binds Addr and serves it until Shutdown.
func (s *Server) ListenAndServe() error {
	l, err := net.Listen("tcp", cmp.Or(s.Addr, DefaultAddr))
	if err != nil {
		return err
	}
	return s.Serve(l)
}

// Serve answers IMAP clients on l until Shutdown or Close, then returns
// ErrServerClosed. A tls.Listener makes it IMAPS.
func (s *Server) Serve(l net.Listener) error {
	if s.Store == nil {
		l.Close()
		return errors.New("imap: Server.Store is nil")
	}
	t := s.tracker()
	s.logger().Info("imap: serving", "addr", l.Addr().String(), "hostname", s.hostname())
	return t.ServeListener(l, s.serveConn)
}

// Shutdown stops accepting and ends every session (with BYE) once it is
// waiting for its client; a command in progress finishes first. If ctx
// ends first, it closes what is left and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error { return s.tracker().Shutdown(ctx) }

// Close stops the server at once.
func (s *Server) Close() error { return s.tracker().Close() }
