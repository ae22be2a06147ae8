package http2

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/applayer/applayer/internal/lifecycle"
	"github.com/applayer/applayer/internal/transcript"
	"github.com/applayer/applayer/web"
)

// Defaults of Server's fields.
const (
	DefaultMaxConcurrentStreams = 128
	DefaultInitialWindowSize    = 1 << 20 // what each stream may send us unread
	DefaultConnWindowSize       = 1 << 20 // what the whole connection may
	DefaultMaxHeaderListSize    = web.DefaultMaxHeaderBytes
	DefaultIdleTimeout          = 60 * time.Second
	DefaultWriteTimeout         = 30 * time.Second
	DefaultMaxControlFrames     = 1000
	DefaultSettingsTimeout      = 10 * time.Second
)

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("http2: server closed")

// Server serves HTTP/2 connections to a web.Handler. Its exported fields
// are its configuration; the zero value works. On its own it serves
// listeners whose connections speak HTTP/2 from their first byte (prior
// knowledge, or TLS with ALPN "h2"); web.Server hands it the connections
// it detects as HTTP/2 on its HTTP/1.1 port (see ServeHandoff).
type Server struct {
	// Handler answers requests; nil answers 404.
	Handler web.Handler
	// Name is the server field's value (default "applayer"); "-" omits it.
	Name string
	// MaxConcurrentStreams bounds the streams a client may have open at
	// once, and the handlers running for one connection (default
	// DefaultMaxConcurrentStreams).
	MaxConcurrentStreams uint32
	// InitialWindowSize is the flow-control window of each stream for
	// request bodies (default DefaultInitialWindowSize).
	InitialWindowSize uint32
	// ConnWindowSize is the connection's flow-control window (default
	// DefaultConnWindowSize): at most this much request body is held
	// unread per connection.
	ConnWindowSize uint32
	// MaxHeaderListSize bounds a request's header list, counted as RFC 9113
	// §6.5.2 does (default DefaultMaxHeaderListSize); more gets 431.
	MaxHeaderListSize uint32
	// MaxBodyBytes bounds a request body (default web.DefaultMaxBodyBytes;
	// negative for none).
	MaxBodyBytes int64
	// IdleTimeout closes a connection that made no progress (no stream
	// data in either direction) for this long (default 60 seconds).
	IdleTimeout time.Duration
	// WriteTimeout bounds each write to the socket (default 30 seconds).
	WriteTimeout time.Duration
	// SettingsTimeout is how long the client has to acknowledge our
	// SETTINGS before the connection ends with SETTINGS_TIMEOUT (RFC 9113
	// §6.5.3; default DefaultSettingsTimeout).
	SettingsTimeout time.Duration
	// MaxControlFrames bounds the frames that cost the server work and
	// carry nothing (PING, SETTINGS, PRIORITY, empty DATA and header
	// fragments, unknown types), and the streams a client resets, beyond
	// what its real requests account for: past it the connection ends
	// with ENHANCE_YOUR_CALM (default DefaultMaxControlFrames).
	MaxControlFrames int
	// PushPreload pushes (PUSH_PROMISE, RFC 9113 §8.4) the same-origin
	// objects a 200 response names in Link fields with rel=preload, to
	// clients that allow push, before the response itself; see
	// LinkPreloads for a handler that names a page's objects so.
	PushPreload bool
	// Logger receives errors; nil means slog.Default().
	Logger *slog.Logger
	// Trace records a one-line summary of each frame; nil records nothing.
	Trace *transcript.Recorder

	t         lifecycle.Tracker
	dateCache atomic.Pointer[dateValue]
}

func (s *Server) logger() *slog.Logger { return cmp.Or(s.Logger, slog.Default()) }

// Serve accepts connections on l, each speaking HTTP/2 from its first
// byte, until Shutdown or Close.
func (s *Server) Serve(l net.Listener) error {
	s.t.Name = "http2"
	s.t.ErrClosed = ErrServerClosed
	s.t.Logger = s.logger()
	return s.t.ServeListener(l, func(nc net.Conn) {
		s.ServeHandoff(&web.Handoff{Conn: nc, Reader: bufio.NewReader(nc), Tracker: &s.t})
	})
}

// Shutdown sends GOAWAY on every connection, lets the streams in flight
// finish and waits (see lifecycle.Tracker.Shutdown).
func (s *Server) Shutdown(ctx context.Context) error { return s.t.Shutdown(ctx) }

// Close closes every connection at once.
func (s *Server) Close() error { return s.t.Close() }

// ServeHandoff serves one connection until it ends. h.Reader holds what
// was already read: the whole client preface to come unless h.Preface
// says its first line was consumed; h.Upgrade is the HTTP/1.1 request
// that asked for h2c (answered 101 already), which becomes stream 1.
func (s *Server) ServeHandoff(h *web.Handoff) {
	c := newConn(s, h)
	c.serve()
}

// date returns the date field's value, formatted once a second.
func (c *conn) date() string {
	now := time.Now().Unix()
	if d := c.s.dateCache.Load(); d != nil && d.unix == now {
		return d.s
	}
	d := &dateValue{unix: now, s: time.Unix(now, 0).UTC().Format(web.TimeFormat)}
	c.s.dateCache.Store(d)
	return d.s
}

type dateValue struct {
	unix int64
	s    string
}
