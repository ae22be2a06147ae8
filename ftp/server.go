package ftp

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/applayer/applayer/internal/authlimit"
	"github.com/applayer/applayer/internal/lifecycle"
	"github.com/applayer/applayer/internal/transcript"
)

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("ftp: server closed")

// Defaults of the Server.
const (
	DefaultAddr         = "127.0.0.1:2121"
	DefaultIdleTimeout  = 5 * time.Minute  // vsftpd's idle_session_timeout is 300 s
	DefaultDataTimeout  = 30 * time.Second // waiting for a data connection, and each read or write on it
	DefaultWriteTimeout = time.Minute
	DefaultMaxLine      = 4096 // longest command line, CRLF included (vsftpd's VSFTP_MAX_COMMAND_LINE)
	DefaultMaxErrors    = 20
	// DefaultMaxListEntries bounds the entries of one listing.
	DefaultMaxListEntries = 100_000
)

// Authenticator checks a user's password; *maildir.Users (the users file,
// "name:bcrypt-hash" lines) is one.
type Authenticator interface {
	Check(user, password string) bool
}

// Limits are one user's upload bounds (see Server.UserLimits).
type Limits struct {
	Quota, MaxUpload int64
}

// Server is an FTP server. Its exported fields are its configuration, set
// before Serve; Root is required, the rest have working defaults.
type Server struct {
	// Addr is what ListenAndServe binds (default DefaultAddr).
	Addr string
	// Root is the directory every session is jailed in.
	Root string
	// Users checks the passwords of named users; nil allows none (only
	// anonymous, when enabled).
	Users Authenticator
	// Anonymous lets "anonymous" and "ftp" log in with any password, read
	// only.
	Anonymous bool
	// UserDirs jails each named user in the directory of its name under
	// Root (which must exist; a user without one cannot log in).
	// Anonymous users see the whole of Root.
	UserDirs bool
	// ReadOnly refuses every change to the tree for every user.
	ReadOnly bool
	// PasvMinPort and PasvMaxPort bound the ports of passive data sockets
	// (default 0, 0: any port the kernel picks).
	PasvMinPort, PasvMaxPort int
	// PasvAddress is the IPv4 address PASV replies give (default: the
	// address the control connection reached), for a server behind NAT.
	PasvAddress netip.Addr
	// TLSConfig enables AUTH TLS (RFC 4217); nil disables it.
	TLSConfig *tls.Config
	// RequireTLS refuses USER for named users before AUTH TLS and transfers
	// over clear data connections for them (anonymous users may stay in
	// clear).
	RequireTLS bool
	// NoTLSResumption accepts a protected data connection that does not
	// resume the control connection's TLS session. By default one that
	// does not is refused (as vsftpd's require_ssl_reuse): the resumed
	// session proves that the data connection comes from the client that
	// logged in.
	NoTLSResumption bool
	// MaxUploadBytes bounds one upload (default 0: no limit).
	MaxUploadBytes int64
	// Quota bounds the bytes of the files under a named user's root (its
	// own directory with UserDirs, else the whole of Root): an upload that
	// would pass it is cut off with 552 and leaves nothing under the real
	// name (default 0: no quota).
	Quota int64
	// UserLimits overrides Quota and MaxUploadBytes per user name (a zero
	// field keeps the server's value; negative: no limit for that user).
	UserLimits map[string]Limits
	// IdleTimeout bounds the wait for each command (default DefaultIdleTimeout).
	IdleTimeout time.Duration
	// DataTimeout bounds the wait for a data connection and each read or
	// write on one (default DefaultDataTimeout).
	DataTimeout time.Duration
	// WriteTimeout bounds each write of replies (default DefaultWriteTimeout).
	WriteTimeout time.Duration
	// MaxLine bounds a command line (default DefaultMaxLine).
	MaxLine int
	// MaxErrors closes a session after this many refused commands
	// (default DefaultMaxErrors).
	MaxErrors int
	// AuthFailureDelay is how long a wrong password waits for its 530
	// (default 1 second; negative for none).
	AuthFailureDelay time.Duration
	// AuthLimit counts failed logins across sessions and servers
	// (internal/authlimit); nil gives this server one of its own.
	AuthLimit *authlimit.Limiter
	// MaxConns bounds simultaneous sessions (default
	// lifecycle.DefaultMaxConns; negative for none); one over it is told
	// 421.
	MaxConns int
	// MaxConnsPerClient bounds one client's sessions at once (default
	// MaxConns/8, at least 1; negative for none).
	MaxConnsPerClient int
	// Logger receives the server's log lines; nil means slog.Default().
	Logger *slog.Logger
	// Trace records every dialogue; nil records nothing.
	Trace *transcript.Recorder

	once      sync.Once
	t         lifecycle.Tracker
	lim       *authlimit.Limiter
	closeOnce sync.Once
	closeCh   chan struct{}
	rootMu    sync.Mutex
	root      *os.Root
	rootErr   error
}

func (s *Server) tracker() *lifecycle.Tracker {
	s.once.Do(func() {
		s.t.Name = "ftp"
		s.t.MaxConns = s.MaxConns
		s.t.MaxConnsPerClient = s.MaxConnsPerClient
		// RFC 959 section 4.2: 421 Service not available, closing.
		s.t.Refusal = []byte("421 Too many connections, try again later.\r\n")
		s.t.Logger = s.logger()
		s.t.ErrClosed = ErrServerClosed
		s.lim = s.AuthLimit
		if s.lim == nil {
			s.lim = &authlimit.Limiter{}
		}
	})
	return &s.t
}

// closing is closed when transfers in flight must stop: Close, or a
// Shutdown whose context ended.
func (s *Server) closing() chan struct{} {
	s.closeOnce.Do(func() { s.closeCh = make(chan struct{}) })
	return s.closeCh
}

func (s *Server) abortTransfers() {
	ch := s.closing()
	s.rootMu.Lock()
	defer s.rootMu.Unlock()
	select {
	case <-ch:
	default:
		close(ch)
	}
}

func (s *Server) logger() *slog.Logger { return cmp.Or(s.Logger, slog.Default()) }

func (s *Server) openRoot() (*os.Root, error) {
	s.rootMu.Lock()
	defer s.rootMu.Unlock()
	if s.root == nil && s.rootErr == nil {
		if s.Root == "" {
			s.rootErr = errors.New("ftp: Server.Root is empty")
		} else if s.root, s.rootErr = os.OpenRoot(s.Root); s.rootErr != nil {
			s.rootErr = fmt.Errorf("ftp: %w", s.rootErr)
		}
	}
	return s.root, s.rootErr
}

// ListenAndServe binds Addr and serves it until Shutdown.
func (s *Server) ListenAndServe() error {
	if _, err := s.openRoot(); err != nil {
		return err
	}
	l, err := net.Listen("tcp", cmp.Or(s.Addr, DefaultAddr))
	if err != nil {
		return err
	}
	return s.Serve(l)
}

// Serve answers FTP clients on l until Shutdown or Close, then returns
// ErrServerClosed.
func (s *Server) Serve(l net.Listener) error {
	if _, err := s.openRoot(); err != nil {
		l.Close()
		return err
	}
	t := s.tracker()
	s.logger().Info("ftp: serving", "addr", l.Addr().String(), "root", s.Root, "anonymous", s.Anonymous, "tls", s.TLSConfig != nil)
	err := t.ServeListener(l, s.serveConn)
	return err
}

// Shutdown stops accepting, lets transfers in flight finish, tells idle
// sessions 421 and closes them; if ctx ends first, it closes what is left
// and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	stop := context.AfterFunc(ctx, s.abortTransfers)
	defer stop()
	err := s.tracker().Shutdown(ctx)
	s.closeRoot()
	return err
}

// Close stops the server at once.
func (s *Server) Close() error {
	s.abortTransfers()
	err := s.tracker().Close()
	s.closeRoot()
	return err
}

func (s *Server) closeRoot() {
	s.rootMu.Lock()
	defer s.rootMu.Unlock()
	if s.root != nil {
		s.root.Close()
		s.root = nil
		s.rootErr = ErrServerClosed
	}
}
