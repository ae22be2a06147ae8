package pop3

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
var ErrServerClosed = errors.New("pop3: server closed")

// Defaults of the Server's fields.
const (
	DefaultAddr = "127.0.0.1:1100"
	// DefaultTimeout is the autologout timer: RFC 1939 section 3 asks for
	// at least 10 minutes.
	DefaultTimeout          = 10 * time.Minute
	DefaultWriteTimeout     = time.Minute
	DefaultMaxErrors        = 10
	DefaultAuthFailureDelay = time.Second
)

// maxAuthFailures closes a session after this many failed logins.
const maxAuthFailures = 3

// lockName is the lock a session holds on its maildrop.
const lockName = "applayer-pop3.lock"

// Server is a POP3 server. Its exported fields are its configuration, set
// before Serve; Store is required, the rest have working defaults.
type Server struct {
	// Addr is what ListenAndServe binds (default DefaultAddr).
	Addr string
	// Hostname is the name in the greeting (default "localhost").
	Hostname string
	// Store holds the users file and the Maildirs (required).
	Store *maildir.Store
	// Domain completes a user name given without one ("bob" logs in as
	// bob@Domain); empty: users give their whole address.
	Domain string
	// TLSConfig enables STLS; nil disables it. A listener that is already
	// TLS (POP3S, port 995) is recognised by its *tls.Conn connections.
	TLSConfig *tls.Config
	// InsecureAuth allows USER/PASS and AUTH PLAIN without TLS from any
	// client; by default only loopback clients may send a password in
	// clear.
	InsecureAuth bool
	// APOP, when set, gives the shared secret of a user for APOP (RFC 1939
	// section 7), which needs it in clear; the greeting then carries the
	// timestamp that announces APOP. Nil: no APOP.
	APOP func(user string) (secret string, ok bool)
	// AuthFailureDelay is how long a failed login waits for its -ERR
	// (default DefaultAuthFailureDelay; negative for none).
	AuthFailureDelay time.Duration
	// AuthLimit counts failed logins per client and per account across
	// sessions and servers (internal/authlimit); give every server of a
	// process the same one. Nil gives this server one of its own.
	AuthLimit *authlimit.Limiter
	// Timeout bounds the wait for each command (default DefaultTimeout).
	Timeout time.Duration
	// WriteTimeout bounds each write (default DefaultWriteTimeout).
	WriteTimeout time.Duration
	// MaxErrors closes a session after this many refused commands
	// (default DefaultMaxErrors).
	MaxErrors int
	// MaxConns bounds sessions at once (default lifecycle.DefaultMaxConns;
	// negative for none); MaxConnsPerClient bounds one client's (default
	// MaxConns/8; negative for none). See lifecycle.Tracker.
	MaxConns, MaxConnsPerClient int
	// Logger receives the server's log lines; nil means slog.Default().
	Logger *slog.Logger
	// Trace records every dialogue; nil records nothing.
	Trace *transcript.Recorder

	once  sync.Once
	t     lifecycle.Tracker
	lim   *authlimit.Limiter
	sizes sizeCache
}

func (s *Server) tracker() *lifecycle.Tracker {
	s.once.Do(func() {
		s.t.Name = "pop3"
		s.t.MaxConns = s.MaxConns
		s.t.MaxConnsPerClient = s.MaxConnsPerClient
		s.t.Refusal = []byte("-ERR [SYS/TEMP] Too many connections, try again later\r\n")
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

// Serve answers POP3 clients on l until Shutdown or Close, then returns
// ErrServerClosed. A tls.Listener makes it POP3S.
func (s *Server) Serve(l net.Listener) error {
	if s.Store == nil {
		l.Close()
		return errors.New("pop3: Server.Store is nil")
	}
	t := s.tracker()
	s.logger().Info("pop3: serving", "addr", l.Addr().String(), "hostname", s.hostname())
	return t.ServeListener(l, s.serveConn)
}

// Shutdown stops accepting and ends every session once it is waiting for
// its client (a session in the middle of a command finishes it; sessions
// do not enter UPDATE, so nothing is deleted); if ctx ends first, it
// closes what is left and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error { return s.tracker().Shutdown(ctx) }

// Close stops the server at once.
func (s *Server) Close() error { return s.tracker().Close() }

// sizeCache remembers the CRLF size of messages by base name: a Maildir
// message never changes, so the size is computed once per process.
type sizeCache struct {
	mu sync.Mutex
	m  map[string]int64
}

const sizeCacheMax = 100_000

func (c *sizeCache) get(base string) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.m[base]
	return n, ok
}

func (c *sizeCache) put(base string, n int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= sizeCacheMax {
		c.m = map[string]int64{}
	}
	c.m[base] = n
}
