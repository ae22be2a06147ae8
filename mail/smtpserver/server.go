package smtpserver

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/applayer/applayer/internal/authlimit"
	"github.com/applayer/applayer/internal/lifecycle"
	"github.com/applayer/applayer/internal/transcript"
)

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("smtpserver: server closed")

// Defaults of the Server's limits.
const (
	DefaultMaxMessageBytes = 32 << 20
	DefaultMaxRecipients   = 100 // RFC 5321 section 4.5.3.1.8: at least 100
	DefaultMaxErrors       = 10
	DefaultCommandTimeout  = 5 * time.Minute // RFC 5321 section 4.5.3.2.7
	DefaultDataTimeout     = 3 * time.Minute // section 4.5.3.2.6, per read
	DefaultWriteTimeout    = time.Minute
	DefaultPregreetWait    = time.Second
)

// Server is an SMTP server. Its exported fields are its configuration, set
// before Serve; Backend is required, the rest have working defaults.
type Server struct {
	// Addr is what ListenAndServe binds (default "127.0.0.1:2525").
	Addr string
	// Hostname is the name the server greets with (default "localhost").
	Hostname string
	// Backend accepts recipients and stores messages.
	Backend Backend
	// Submission makes this a submission server (RFC 6409): MAIL needs a
	// successful AUTH first. Otherwise the server is a mail exchanger that
	// takes mail without authentication and relies on Backend.Rcpt to
	// refuse relaying.
	Submission bool
	// TLSConfig enables STARTTLS (and with it AUTH); nil disables both.
	TLSConfig *tls.Config
	// MaxMessageBytes is the SIZE limit (default DefaultMaxMessageBytes).
	MaxMessageBytes int64
	// MaxRecipients bounds RCPT per transaction (default DefaultMaxRecipients).
	MaxRecipients int
	// MaxErrors closes a session after this many refused commands
	// (default DefaultMaxErrors).
	MaxErrors int
	// AuthFailureDelay is how long a wrong password waits for its 535, to
	// slow down guessing (default 1 second; negative for none).
	AuthFailureDelay time.Duration
	// AuthLimit counts failed logins per client address and per account
	// across sessions, and slows them down (internal/authlimit). Give every
	// server of a process the same one (the MTA's two listeners share
	// one; so will POP3, IMAP and webmail); nil gives this server one of
	// its own.
	AuthLimit *authlimit.Limiter
	// CommandTimeout bounds the wait for each command (default 5 minutes).
	CommandTimeout time.Duration
	// DataTimeout bounds each read during DATA (default 3 minutes).
	DataTimeout time.Duration
	// WriteTimeout bounds each write of replies (default 1 minute).
	WriteTimeout time.Duration
	// PregreetWait is how long a mail exchanger (not Submission) waits
	// between the first line of its greeting ("220-") and the last, for a
	// client that talks first, as RFC 5321 forbids and spam engines do;
	// such a client is told 521 and dropped (Postfix's postscreen pregreet
	// test). A client address that has waited once is not made to wait
	// again for a day. Default DefaultPregreetWait; negative for none.
	PregreetWait time.Duration
	// MaxConns bounds simultaneous sessions (default
	// lifecycle.DefaultMaxConns; negative for none). At the limit, sessions
	// waiting for their client are evicted to make room (told 421 Timeout),
	// and past half of it the command and data timeouts are cut to a tenth,
	// at least a second, as in Postfix's stress mode (see lifecycle.Tracker).
	MaxConns int
	// MaxConnsPerClient bounds one client address's (an IPv6 /64's)
	// sessions at once (default MaxConns/8, at least 1; negative: none);
	// one over it is told 421 as one over MaxConns.
	MaxConnsPerClient int
	// Logger receives the server's log lines; nil means slog.Default().
	Logger *slog.Logger
	// Trace records every dialogue; nil records nothing.
	Trace *transcript.Recorder

	once sync.Once
	t    lifecycle.Tracker
	lim  *authlimit.Limiter // AuthLimit, or the server's own

	passedMu sync.Mutex
	passed   map[netip.Prefix]time.Time // clients that waited for the greeting, when
}

func (s *Server) tracker() *lifecycle.Tracker {
	s.once.Do(func() {
		s.t.Name = "smtp"
		if s.Submission {
			s.t.Name = "submission"
		}
		s.t.MaxConns = s.MaxConns
		s.t.MaxConnsPerClient = s.MaxConnsPerClient
		// RFC 5321 section 3.8: a server that cannot take the session
		// says so with 421 and closes.
		s.t.Refusal = []byte("421 4.3.2 Too many connections, try again later\r\n")
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

func (s *Server) hostname() string {
	if s.Hostname == "" {
		return "localhost"
	}
	return s.Hostname
}

func (s *Server) maxBytes() int64 {
	if s.MaxMessageBytes <= 0 {
		return DefaultMaxMessageBytes
	}
	return s.MaxMessageBytes
}

// ListenAndServe binds Addr and serves it until Shutdown.
func (s *Server) ListenAndServe() error {
	addr := s.Addr
	if addr == "" {
		addr = "127.0.0.1:2525"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(l)
}

// Serve answers SMTP clients on l until Shutdown or Close, then returns
// ErrServerClosed.
func (s *Server) Serve(l net.Listener) error {
	if s.Backend == nil {
		l.Close()
		return errors.New("smtpserver: Server.Backend is nil")
	}
	t := s.tracker()
	s.logger().Info("smtp: serving", "role", t.Name, "addr", l.Addr().String(), "hostname", s.hostname())
	return t.ServeListener(l, s.serveConn)
}

// Shutdown stops accepting, lets every session finish the command it is in
// (a message being committed is committed), and closes the connections; if
// ctx ends first, it closes what is left and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error { return s.tracker().Shutdown(ctx) }

// Close stops the server at once.
func (s *Server) Close() error { return s.tracker().Close() }
