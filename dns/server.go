package dns

import (
	"bufio"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"github.com/applayer/applayer/internal/lifecycle"
	"github.com/applayer/applayer/internal/transcript"
)

// ErrServerClosed is returned by the Serve methods after Shutdown or Close.
var ErrServerClosed = errors.New("dns: server closed")

// Request is one query as a server received it.
type Request struct {
	Msg    *Msg
	Raw    []byte // the message as received (TSIG signs these bytes)
	Remote netip.AddrPort
	TCP    bool
}

// A ResponseWriter sends the answer to a Request. Over UDP, WriteMsg
// truncates the message to what the client accepts (RFC 1035 §4.2.1, RFC
// 6891 §6.2.5) and sets TC; over TCP it sends it whole, and may be called
// more than once (a zone transfer).
type ResponseWriter interface {
	WriteMsg(m *Msg) error
}

// A Handler answers queries. It writes at most one response over UDP; not
// writing one drops the query silently. ServeDNS must not keep r or w after
// it returns.
type Handler interface {
	ServeDNS(w ResponseWriter, r *Request)
}

// A QuickHandler is a Handler that can tell, without waiting, whether it
// answers a query at once: a resolver answers a cache hit at once but waits
// for other servers on a miss. A batching UDP worker (UDPBatch) calls
// ServeQuick, and a query it declines (returns false, writing nothing) is
// served by ServeDNS in a goroutine of its own, so one slow answer never
// holds up the datagrams read with it.
type QuickHandler interface {
	Handler
	ServeQuick(w ResponseWriter, r *Request) bool
}

// HandlerFunc adapts a function to a Handler.
type HandlerFunc func(w ResponseWriter, r *Request)

// ServeDNS calls f(w, r).
func (f HandlerFunc) ServeDNS(w ResponseWriter, r *Request) { f(w, r) }

// Server serves a Handler over UDP and TCP. Its exported fields are its
// configuration; the zero value answers REFUSED to everything on
// 127.0.0.1:53.
//
// Concurrency: over UDP, UDPWorkers goroutines read from the one socket and
// each answers the datagram it read before reading the next, with its own
// buffers, so a fast handler (an authoritative zone) costs no goroutine or
// allocation per query. A handler that sometimes waits (a resolver) is a
// QuickHandler: with UDPBatch, what it cannot answer at once is served in
// a goroutine of its own (at most MaxPending); without, it blocks its
// worker, and then wants many workers. Over TCP, one goroutine per
// connection reads queries in turn (RFC 7766 §6.2.1: several per
// connection).
type Server struct {
	// Addr is what ListenAndServe binds (default "127.0.0.1:53").
	Addr    string
	Handler Handler
	// UDPWorkers is the number of UDP read loops (default GOMAXPROCS).
	UDPWorkers int
	// UDPBatch, when above 1, makes each UDP worker read up to this many
	// datagrams per system call and send the answers with one call
	// (recvmmsg and sendmmsg on Linux). It suits handlers that never wait,
	// such as an authoritative zone, and QuickHandlers, whose slow answers
	// are moved out of the batch.
	UDPBatch int
	// MaxPending bounds the queries a QuickHandler declined that are being
	// answered at once (default 1024); more are dropped, and their clients
	// ask again.
	MaxPending int
	// MaxUDPSize caps the UDP response size whatever the client's EDNS
	// buffer says (default DefaultEDNSSize, 1232).
	MaxUDPSize int
	// IdleTimeout closes a TCP connection that sends no query for this long
	// (default 10 seconds, RFC 7766 §6.2.3).
	IdleTimeout time.Duration
	// WriteTimeout bounds each TCP write (default 10 seconds).
	WriteTimeout time.Duration
	// MaxConns bounds simultaneous TCP connections (default
	// lifecycle.DefaultMaxConns; negative for none). At the limit,
	// connections waiting for a query are evicted to make room, and past
	// half of it the idle timeout is cut to a tenth, at least a second (see
	// lifecycle.Tracker).
	MaxConns int
	// MaxConnsPerClient bounds one client address's (an IPv6 /64's) TCP
	// connections at once (default MaxConns/8, at least 1; negative: none).
	MaxConnsPerClient int
	Logger            *slog.Logger
	// Trace records a one-line summary of every query and response.
	Trace *transcript.Recorder

	once    sync.Once
	t       lifecycle.Tracker
	pending chan struct{}  // a slot per declined query being answered
	slow    sync.WaitGroup // the goroutines answering them
}

func (s *Server) tracker() *lifecycle.Tracker {
	s.once.Do(func() {
		n := s.MaxPending
		if n <= 0 {
			n = 1024
		}
		s.pending = make(chan struct{}, n)
		s.t.Name = "dns"
		s.t.MaxConns = s.MaxConns
		s.t.MaxConnsPerClient = s.MaxConnsPerClient
		s.t.Logger = s.logger()
		s.t.ErrClosed = ErrServerClosed
	})
	return &s.t
}

func (s *Server) logger() *slog.Logger { return cmp.Or(s.Logger, slog.Default()) }

func (s *Server) maxUDP() int {
	if s.MaxUDPSize > 0 {
		return s.MaxUDPSize
	}
	return DefaultEDNSSize
}

// ListenAndServe binds Addr over UDP and TCP, then serves both until
// Shutdown.
func (s *Server) ListenAndServe() error {
	addr := s.Addr
	if addr == "" {
		addr = "127.0.0.1:53"
	}
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		pc.Close()
		return err
	}
	return s.ServeBoth(l, pc)
}

// ServeBoth serves l over TCP and pc over UDP (either may be nil) until
// Shutdown, and returns the first error; if one transport fails, the other
// is stopped too.
func (s *Server) ServeBoth(l net.Listener, pc net.PacketConn) error {
	return lifecycle.ServeBoth(l, pc, s.Serve, s.ServePacket, ErrServerClosed, s.Close)
}

// Shutdown stops the server, letting queries in progress be answered; if
// ctx ends first, it closes what is left and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error { return s.tracker().Shutdown(ctx) }

// Close stops the server at once.
func (s *Server) Close() error { return s.tracker().Close() }

// ServePacket answers queries arriving on pc until Shutdown or Close.
func (s *Server) ServePacket(pc net.PacketConn) error {
	s.logger().Debug("dns: serving", "proto", "udp", "addr", pc.LocalAddr().String())
	return s.tracker().ServePacket(pc, func(pc net.PacketConn) error {
		n := s.UDPWorkers
		if n <= 0 {
			n = runtime.GOMAXPROCS(0)
		}
		errc := make(chan error, n)
		for i := 0; i < n; i++ {
			go func() {
				defer func() {
					if p := recover(); p != nil {
						s.logger().Error("dns: panic in udp worker", "panic", p)
						pc.Close()
						errc <- errors.New("dns: panic in udp worker")
					}
				}()
				if uc, ok := pc.(*net.UDPConn); ok && s.UDPBatch > 1 {
					errc <- s.udpBatchWorker(uc)
					return
				}
				errc <- s.udpWorker(pc)
			}()
		}
		var first error
		for i := 0; i < n; i++ {
			if err := <-errc; first == nil {
				first = err
				pc.Close() // one worker stopping stops them all
			}
		}
		s.slow.Wait() // declined queries still being answered
		return first
	})
}

// udpWriter is one UDP worker's ResponseWriter; it lives as long as the
// worker and is reused for every datagram.
type udpWriter struct {
	s      *Server
	uc     *net.UDPConn // nil when the PacketConn is not a *net.UDPConn
	pc     net.PacketConn
	to     netip.AddrPort
	toAddr net.Addr
	limit  int
	out    []byte
	pk     Packer
	tr     *transcript.Session
	wrote  bool
	// In batch mode, answers are queued here and sent together.
	batch *udpBatch
}

func (w *udpWriter) WriteMsg(m *Msg) error {
	if w.wrote {
		return errors.New("dns: second response to a UDP query")
	}
	w.wrote = true
	if b := w.batch; b != nil {
		return b.queue(w, m)
	}
	out, err := w.pk.PackLimit(w.out[:0], m, w.limit)
	if err != nil {
		out, err = w.pk.Pack(w.out[:0], serverFailure(m))
		if err != nil {
			return err
		}
	}
	w.out = out
	if w.tr.Enabled() {
		var back Msg
		if back.Unpack(out) == nil {
			w.tr.Server(back.Summary())
		}
	}
	if w.uc != nil {
		_, err = w.uc.WriteToUDPAddrPort(out, w.to)
	} else {
		_, err = w.pc.WriteTo(out, w.toAddr)
	}
	return err
}

func (s *Server) udpWorker(pc net.PacketConn) error {
	t := s.tracker()
	uc, _ := pc.(*net.UDPConn)
	buf := make([]byte, 65536)
	w := &udpWriter{s: s, uc: uc, pc: pc, out: make([]byte, 0, 4096)}
	var req Msg
	r := &Request{Msg: &req}
	for {
		var n int
		var err error
		if uc != nil {
			n, w.to, err = uc.ReadFromUDPAddrPort(buf)
		} else {
			var a net.Addr
			n, a, err = pc.ReadFrom(buf)
			w.toAddr = a
			if ua, ok := a.(*net.UDPAddr); ok {
				w.to = ua.AddrPort()
			}
		}
		if err != nil {
			if t.ShuttingDown() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			s.logger().Debug("dns: udp read", "err", err)
			continue
		}
		w.wrote = false
		w.tr = nil
		if s.Trace != nil {
			w.tr = s.Trace.Session("dns/udp", w.to.String())
		}
		r.Raw, r.Remote, r.TCP = buf[:n], w.to, false
		s.handleUDP(w, r, false)
	}
}

// serverFailure is the answer sent when a handler's response cannot be
// encoded (a record with a broken name, say): SERVFAIL with the question,
// so the client learns at once instead of timing out.
func serverFailure(m *Msg) *Msg {
	f := &Msg{Header: m.Header, Question: m.Question}
	f.Rcode = RcodeServFail
	f.Authoritative = false
	for _, q := range f.Question {
		if CheckName(q.Name) != nil {
			f.Question = nil
		}
	}
	return f
}

// handleUDP answers one datagram; the answer's size limit comes from the
// query's EDNS size, capped by MaxUDPSize.
func (s *Server) handleUDP(w *udpWriter, r *Request, quick bool) (declined bool) {
	defer func() {
		// A handler's panic costs one datagram, not the socket.
		if p := recover(); p != nil {
			s.logger().Error("dns: panic answering a datagram", "remote", r.Remote.String(), "panic", p, "stack", string(debug.Stack()))
		}
	}()
	w.limit = MinUDPSize
	return s.handle(w, r, w.tr, w, quick)
}

// answerLater serves a query a QuickHandler declined in a goroutine of its
// own, writing the answer straight to the socket.
func (s *Server) answerLater(uc *net.UDPConn, raw []byte, to netip.AddrPort, toAddr net.Addr, tr *transcript.Session) {
	select {
	case s.pending <- struct{}{}:
	default:
		tr.Note("too many queries pending; dropped")
		return
	}
	raw = append([]byte(nil), raw...)
	s.slow.Add(1)
	go func() {
		defer func() { <-s.pending; s.slow.Done() }()
		w := &udpWriter{s: s, uc: uc, pc: uc, to: to, toAddr: toAddr, tr: tr}
		var req Msg
		s.handleUDP(w, &Request{Msg: &req, Raw: raw, Remote: to}, false)
	}()
}

// handle decodes r.Raw, answers what the server itself must (FORMERR,
// BADVERS), and passes the rest to the Handler.
//
// With quick set and a QuickHandler, it calls ServeQuick and reports
// whether the handler declined.
func (s *Server) handle(w ResponseWriter, r *Request, tr *transcript.Session, uw *udpWriter, quick bool) (declined bool) {
	req := r.Msg
	if err := req.Unpack(r.Raw); err != nil {
		h, ok := UnpackHeader(r.Raw)
		tr.Note("undecodable message: " + err.Error())
		if !ok || h.Response {
			return // nothing to answer, or never answer a response
		}
		// RFC 1035 §4.1.1: FORMERR, echoing the header only.
		resp := Msg{Header: Header{ID: h.ID, Response: true, Opcode: h.Opcode, RecursionDesired: h.RecursionDesired, Rcode: RcodeFormErr}}
		w.WriteMsg(&resp)
		return
	}
	if req.Response {
		tr.Note("ignoring a response sent to the server")
		return
	}
	if uw != nil && req.EDNS != nil {
		uw.limit = min(req.MaxUDPSize(), s.maxUDP())
	}
	if tr.Enabled() {
		tr.Client(req.Summary())
	}
	if req.EDNS != nil && req.EDNS.Version > 0 {
		// RFC 6891 §6.1.3: unknown EDNS version.
		var resp Msg
		resp.SetReply(req)
		resp.Rcode = RcodeBadVers
		w.WriteMsg(&resp)
		return
	}
	if s.Handler == nil {
		var resp Msg
		resp.SetReply(req)
		resp.Rcode = RcodeRefused
		w.WriteMsg(&resp)
		return
	}
	if qh, ok := s.Handler.(QuickHandler); ok && quick {
		return !qh.ServeQuick(w, r)
	}
	s.Handler.ServeDNS(w, r)
	return false
}

// Serve answers queries over TCP connections accepted on l until Shutdown
// or Close.
func (s *Server) Serve(l net.Listener) error {
	s.logger().Debug("dns: serving", "proto", "tcp", "addr", l.Addr().String())
	return s.tracker().ServeListener(l, s.serveConn)
}

type tcpWriter struct {
	c   net.Conn
	wto time.Duration
	out []byte
	pk  Packer
	tr  *transcript.Session
}

func (w *tcpWriter) WriteMsg(m *Msg) error {
	out, err := w.pk.PackLimit(append(w.out[:0], 0, 0), m, 0xFFFF)
	if err != nil {
		if out, err = w.pk.Pack(append(w.out[:0], 0, 0), serverFailure(m)); err != nil {
			return err
		}
	}
	w.out = out
	binary.BigEndian.PutUint16(out, uint16(len(out)-2))
	if w.tr.Enabled() {
		w.tr.Server(m.Summary())
	}
	w.c.SetWriteDeadline(time.Now().Add(w.wto))
	_, err = w.c.Write(out)
	return err
}

// serveConn reads length-prefixed queries (RFC 1035 §4.2.2) one after
// another and answers each before reading the next.
func (s *Server) serveConn(c net.Conn) {
	t := s.tracker()
	var remote netip.AddrPort
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		remote = a.AddrPort()
	}
	tr := s.Trace.Session("dns/tcp", c.RemoteAddr().String())
	w := &tcpWriter{c: c, wto: cmp.Or(s.WriteTimeout, 10*time.Second), tr: tr}
	idle := cmp.Or(s.IdleTimeout, 10*time.Second)
	var lenbuf [2]byte
	buf := make([]byte, 512)
	// Buffered reads: a client that pipelines queries (RFC 7766 §6.2.1)
	// costs one system call for many of them.
	br := bufio.NewReaderSize(c, 4096)
	var req Msg
	r := &Request{Msg: &req, Remote: remote, TCP: true}
	for {
		if !t.ReadDeadline(c, idle) {
			return
		}
		if _, err := io.ReadFull(br, lenbuf[:]); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				tr.Note("idle timeout; closing")
			}
			return
		}
		t.Busy(c)
		n := int(binary.BigEndian.Uint16(lenbuf[:]))
		if n > cap(buf) {
			buf = make([]byte, n)
		}
		// A query that has begun must arrive within the idle timeout too.
		c.SetReadDeadline(time.Now().Add(idle))
		if _, err := io.ReadFull(br, buf[:n]); err != nil {
			tr.Note("connection closed in the middle of a message")
			return
		}
		r.Raw = buf[:n]
		s.handle(w, r, tr, nil, false)
	}
}
