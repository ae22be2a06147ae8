package upper

import (
	"cmp"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/applayer/applayer/internal/lifecycle"
	"github.com/applayer/applayer/internal/transcript"
)

// DefaultAddr is where the textbook's server listens: port 12000. applayer
// binds loopback unless told otherwise.
const DefaultAddr = "127.0.0.1:12000"

// MaxDatagram is the largest UDP payload over IPv4: 65,535 bytes less the IP
// and UDP headers.
const MaxDatagram = 65507

// ErrServerClosed is returned by the Serve methods after Shutdown or Close.
var ErrServerClosed = errors.New("upper: server closed")

// Server answers uppercase requests over TCP, UDP or both. Its exported
// fields are its configuration; the zero value serves both transports on
// DefaultAddr with the defaults below.
type Server struct {
	// Addr is the address ListenAndServe binds (default DefaultAddr).
	Addr string
	// Network is "tcp", "udp", or "" for both (ListenAndServe only).
	Network string
	// IdleTimeout drops a TCP client that sends nothing for this long
	// (default 5 minutes: long enough for a person typing at the textbook's
	// prompt).
	IdleTimeout time.Duration
	// WriteTimeout drops a TCP client that does not read its answers: one
	// write may block at most this long (default 30 seconds).
	WriteTimeout time.Duration
	// MaxConns bounds simultaneous TCP clients (default
	// lifecycle.DefaultMaxConns; negative for none); clients over the
	// limit are closed at once.
	MaxConns int
	// MaxConnsPerClient bounds one client address's (an IPv6 /64's) TCP
	// connections at once (default MaxConns/8, at least 1; negative: none).
	MaxConnsPerClient int
	// Logger receives the server's log lines; nil means slog.Default().
	Logger *slog.Logger
	// Trace records every exchange; nil records nothing.
	Trace *transcript.Recorder

	once sync.Once
	t    lifecycle.Tracker
}

func (s *Server) tracker() *lifecycle.Tracker {
	s.once.Do(func() {
		s.t.Name = "upper"
		s.t.MaxConns = s.MaxConns
		s.t.MaxConnsPerClient = s.MaxConnsPerClient
		s.t.Logger = s.logger()
		s.t.ErrClosed = ErrServerClosed
	})
	return &s.t
}

func (s *Server) logger() *slog.Logger { return cmp.Or(s.Logger, slog.Default()) }

// ListenAndServe binds Addr for the transports Network names, then serves
// them until Shutdown. Both sockets are bound before either is served, so an
// address in use is reported before anything starts.
func (s *Server) ListenAndServe() error {
	addr := s.Addr
	if addr == "" {
		addr = DefaultAddr
	}
	var l net.Listener
	var pc net.PacketConn
	var err error
	if s.Network == "" || s.Network == "tcp" {
		if l, err = net.Listen("tcp", addr); err != nil {
			return err
		}
	}
	if s.Network == "" || s.Network == "udp" {
		if pc, err = net.ListenPacket("udp", addr); err != nil {
			if l != nil {
				l.Close()
			}
			return err
		}
	}
	if l == nil && pc == nil {
		return errors.New("upper: Network must be \"tcp\", \"udp\" or empty")
	}
	return s.ServeBoth(l, pc)
}

// ServeBoth serves l over TCP and pc over UDP (either may be nil) until
// Shutdown, and returns the first error; if one transport fails, the other
// is stopped too.
func (s *Server) ServeBoth(l net.Listener, pc net.PacketConn) error {
	return lifecycle.ServeBoth(l, pc, s.Serve, s.ServePacket, ErrServerClosed, s.Close)
}

// Serve answers TCP clients on l until Shutdown or Close, then returns
// ErrServerClosed.
func (s *Server) Serve(l net.Listener) error {
	s.logger().Info("upper: serving", "proto", "tcp", "addr", l.Addr().String())
	return s.tracker().ServeListener(l, s.serveConn)
}

// ServePacket answers UDP datagrams on pc until Shutdown or Close, then
// returns ErrServerClosed.
func (s *Server) ServePacket(pc net.PacketConn) error {
	s.logger().Info("upper: serving", "proto", "udp", "addr", pc.LocalAddr().String())
	return s.tracker().ServePacket(pc, s.packetLoop)
}

// Shutdown stops accepting, lets each TCP client's answer in progress be
// written, closes the connections, and waits; if ctx ends first, it closes
// what is left and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error { return s.tracker().Shutdown(ctx) }

// Close stops the server at once.
func (s *Server) Close() error { return s.tracker().Close() }

// Buffer sizes: a connection starts reading into a small buffer, so that
// thousands of idle clients cost little, and moves to a large one once a
// read fills the small one (a client streaming data).
const (
	smallBuf = 4 << 10
	largeBuf = 128 << 10
)

var largePool = sync.Pool{New: func() any { b := make([]byte, largeBuf); return &b }}

func (s *Server) serveConn(c net.Conn) {
	t := s.tracker()
	tr := s.Trace.Session("upper/tcp", c.RemoteAddr().String())
	tr.Note("connection accepted")
	idle := cmp.Or(s.IdleTimeout, 5*time.Minute)
	wto := cmp.Or(s.WriteTimeout, 30*time.Second)

	in := make([]byte, smallBuf)
	var out []byte
	var large *[]byte
	defer func() {
		if large != nil {
			largePool.Put(large)
		}
	}()
	var u Uppercaser

	write := func(b []byte) bool {
		if len(b) == 0 {
			return true
		}
		c.SetWriteDeadline(time.Now().Add(wto))
		if _, err := c.Write(b); err != nil {
			tr.Note("write failed: " + err.Error())
			s.logger().Debug("upper: write failed", "remote", c.RemoteAddr().String(), "err", err)
			return false
		}
		tr.ServerBytes(b)
		return true
	}

	for {
		if !t.ReadDeadline(c, idle) {
			tr.Note("server shutting down")
			write(u.Flush(out[:0]))
			return
		}
		n, err := c.Read(in)
		if n > 0 {
			tr.ClientBytes(in[:n])
			ans := u.Transform(in[:n], out)
			if len(ans) > 0 && &ans[0] != &in[0] {
				out = ans // keep the grown scratch buffer
			}
			if !write(ans) {
				return
			}
			if n == len(in) && large == nil {
				large = largePool.Get().(*[]byte)
				in = *large
			}
		}
		if err == nil {
			continue
		}
		write(u.Flush(out[:0]))
		switch {
		case err == io.EOF:
			tr.Note("client finished sending; closing")
			if cw, ok := c.(interface{ CloseWrite() error }); ok {
				cw.CloseWrite()
			}
		case t.ShuttingDown():
			tr.Note("server shutting down")
		case errors.Is(err, os.ErrDeadlineExceeded):
			tr.Note("idle timeout; closing")
			s.logger().Debug("upper: idle timeout", "remote", c.RemoteAddr().String(), "after", idle)
		default:
			tr.Note("read failed: " + err.Error())
		}
		return
	}
}

func (s *Server) packetLoop(pc net.PacketConn) error {
	buf := make([]byte, 1<<16)
	out := make([]byte, 0, 1<<16)
	for {
		n, addr, err := pc.ReadFrom(buf)
		if err != nil {
			if s.tracker().ShuttingDown() {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			// ICMP errors from earlier replies can surface here on some
			// systems; they concern one peer, not the socket.
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			s.logger().Debug("upper: udp read", "err", err)
			continue
		}
		var u Uppercaser
		out = u.Flush(u.Append(out[:0], buf[:n]))
		if tr := s.Trace.Session("upper/udp", addr.String()); tr.Enabled() {
			tr.ClientBytes(buf[:n])
			tr.ServerBytes(out)
		}
		if _, err := pc.WriteTo(out, addr); err != nil {
			// An answer can outgrow the largest datagram when uppercasing
			// lengthens characters (U+023F becomes a 3-byte U+2C7E).
			s.logger().Debug("upper: udp write", "to", addr.String(), "bytes", len(out), "err", err)
		}
	}
}
