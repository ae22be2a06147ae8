package web

import (
	"bufio"
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/applayer/applayer/internal/lifecycle"
	"github.com/applayer/applayer/internal/transcript"
)

// A Handler answers one request. It writes the response through w; the
// server takes care of framing (Content-Length or chunked), Date, Server and
// Connection. It must not keep w or r after it returns.
type Handler interface {
	ServeHTTP(w ResponseWriter, r *Request)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(w ResponseWriter, r *Request)

// ServeHTTP calls f(w, r).
func (f HandlerFunc) ServeHTTP(w ResponseWriter, r *Request) { f(w, r) }

// ErrServerClosed is returned by Serve and ListenAndServe after Shutdown or
// Close.
var ErrServerClosed = errors.New("web: server closed")

// DefaultAddr is where `applayer web serve` listens unless told otherwise.
const DefaultAddr = "127.0.0.1:8080"

// Server serves HTTP/1.0 and HTTP/1.1 over TCP. Its exported fields are its
// configuration, set before Serve; the zero value works (it answers 404 to
// everything until given a Handler).
type Server struct {
	// Addr is the address ListenAndServe binds (default DefaultAddr).
	Addr string
	// Handler answers requests; nil answers 404.
	Handler Handler
	// Name is the Server field's value (default "applayer"); "-" omits it.
	Name string
	// IdleTimeout closes a persistent connection with no request for this
	// long (default 60 seconds).
	IdleTimeout time.Duration
	// HeaderTimeout bounds the time from a request's first byte to the end
	// of its head (default 10 seconds): the slowloris defence. A client
	// that misses it gets 408.
	HeaderTimeout time.Duration
	// BodyTimeout bounds each read of a request body (default 30 seconds).
	BodyTimeout time.Duration
	// WriteTimeout bounds each write, and each megabyte of a file sent
	// with sendfile (default 30 seconds).
	WriteTimeout time.Duration
	// MaxConns bounds connections served at once (default
	// lifecycle.DefaultMaxConns; negative for none); a connection over it is answered 503
	// once its request has come (a few at a time; the rest are closed at
	// once).
	MaxConns int
	// MaxConnsPerClient bounds the connections of one client address (an
	// IPv6 /64) served at once; one over it is answered as one over
	// MaxConns. Default MaxConns/8, at least 1; negative: no limit. When
	// the server is at MaxConns, a new connection evicts idle keep-alive
	// connections instead (the biggest client's first), and past half of
	// MaxConns the idle timeout is cut to a tenth, at least a second
	// (see lifecycle.Tracker).
	MaxConnsPerClient int
	// Pollers is how many epoll pollers keep idle keep-alive connections
	// and serve their ready requests (Linux; see poll_linux.go). The
	// default, 0, is GOMAXPROCS-1 and at least 1: a poller is a loop that
	// keeps its P while requests keep coming, and one P stays free for the
	// goroutines that are not pollers (connections serving a handler that
	// may block, other servers in the process, the garbage collector).
	// Negative: none; every connection keeps its own goroutine.
	Pollers int
	// MaxRequestsPerConn closes a connection after that many requests
	// (default 0: no limit).
	MaxRequestsPerConn int
	// Limits bound request heads and bodies (defaults in Limits).
	Limits Limits
	// AccessLog, when set, receives one line per request in the Combined
	// Log Format.
	AccessLog io.Writer
	// Logger receives errors and notices; nil means slog.Default().
	Logger *slog.Logger
	// Trace records each request and response head; nil records nothing.
	Trace *transcript.Recorder
	// HTTP2, when set, takes the connections that speak HTTP/2: those that
	// open with its preface (h2c by prior knowledge), those whose request
	// asks to upgrade to h2c, and TLS connections that chose "h2" by ALPN
	// (see Handoff; package web/http2 provides one).
	HTTP2 ConnHandler
	// TLSAddr, when set, is a second address ListenAndServe binds, for TLS
	// (HTTPS) with TLSConfig, serving the same handler.
	TLSAddr string
	// TLSConfig configures TLS for TLSAddr and ServeTLS: at least a
	// certificate. Its NextProtos default to "h2" (with HTTP2 set) and
	// "http/1.1".
	TLSConfig *tls.Config

	once  sync.Once
	t     lifecycle.Tracker
	clock clock
	name  string
	lim   Limits
	logMu sync.Mutex
	// Buffers go back to these pools while a connection is idle, so that
	// thousands of idle keep-alive connections hold none.
	br sync.Pool // *bufio.Reader
	bw sync.Pool // *bufio.Writer
	// polls keep idle connections without goroutines (poll_linux.go).
	polls     pollers
	escalated atomic.Int32 // goroutines that left a poller, still serving
}

func (s *Server) init() *lifecycle.Tracker {
	s.once.Do(func() {
		s.t.Name = "web"
		s.t.MaxConns = s.MaxConns
		s.t.MaxConnsPerClient = s.MaxConnsPerClient
		s.t.Logger = s.logger()
		s.t.ErrClosed = ErrServerClosed
		s.t.OnShutdown = s.stopPollers
		s.t.Refuse = s.refuseOverLimit
		s.name = s.Name
		if s.name == "" {
			s.name = "applayer"
		}
		s.lim = s.Limits.withDefaults()
	})
	return &s.t
}

func (s *Server) logger() *slog.Logger { return cmp.Or(s.Logger, slog.Default()) }

// ListenAndServe listens on Addr and serves until Shutdown or Close.
func (s *Server) ListenAndServe() error {
	addr := s.Addr
	if addr == "" {
		addr = DefaultAddr
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	if s.TLSAddr == "" {
		return s.Serve(l)
	}
	tl, err := net.Listen("tcp", s.TLSAddr)
	if err != nil {
		l.Close()
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- s.ServeTLS(tl) }()
	err = s.Serve(l)
	if err != ErrServerClosed {
		tl.Close()
	}
	if err2 := <-errc; err == ErrServerClosed && err2 != ErrServerClosed {
		s.Close()
		return err2
	}
	return err
}

// ServeTLS serves TLS connections accepted on l with TLSConfig (HTTP/1.1,
// and HTTP/2 when HTTP2 is set, chosen by ALPN) until Shutdown or Close.
func (s *Server) ServeTLS(l net.Listener) error {
	if s.TLSConfig == nil {
		l.Close()
		return errors.New("web: ServeTLS without a TLSConfig")
	}
	cfg := s.TLSConfig.Clone()
	if len(cfg.NextProtos) == 0 {
		if s.HTTP2 != nil {
			cfg.NextProtos = append(cfg.NextProtos, "h2")
		}
		cfg.NextProtos = append(cfg.NextProtos, "http/1.1")
	}
	return s.Serve(tls.NewListener(l, cfg))
}

// Serve accepts connections on l until Shutdown or Close, then returns
// ErrServerClosed.
func (s *Server) Serve(l net.Listener) error {
	t := s.init()
	s.logger().Info("web: serving", "addr", l.Addr().String())
	return t.ServeListener(l, s.serveConn)
}

// Shutdown stops accepting, lets requests in progress finish, closes idle
// connections, and waits; if ctx ends first it closes the rest and returns
// ctx's error.
func (s *Server) Shutdown(ctx context.Context) error { return s.init().Shutdown(ctx) }

// Close stops the server at once.
func (s *Server) Close() error { return s.init().Close() }

// Conns reports how many connections are open.
func (s *Server) Conns() int { return s.init().Conns() }

// conn is one client connection and the buffers it reuses.
type conn struct {
	s       *Server
	nc      net.Conn
	br      *bufio.Reader
	bw      *bufio.Writer
	p       parser
	req     Request
	resp    response
	body    bodyReader
	readDL  time.Time // the read deadline in force
	writeDL time.Time // the write deadline in force
	tr      *transcript.Session
	remote  string
	host    string // remote without the port, for the access log
	line    []byte // scratch for log and trace lines
	idle    time.Duration
	// raw waits for the socket to become readable without reading, so
	// that no buffer is held while waiting (see waitReadable).
	raw     syscall.RawConn
	readyFn func(uintptr) bool
	n       int  // requests read
	tls     bool // over TLS
	// evictHandoff evicts a connection handed to another engine (see
	// Handoff.SetEvict).
	evictHandoff atomic.Pointer[func() bool]

	// Parking on a poller (poll_linux.go). The connection is detached from
	// the Tracker when it first parks; release then ends it.
	fd         int32 // the socket's descriptor, or -1
	rio        rawIO
	poll       *poller
	release    func()
	gone       chan struct{} // closed by release
	headWait   atomic.Bool   // blocked reading a request head; cleared by whoever ends the wait
	inline     bool          // served on a poller's goroutine: nothing may block
	resuming   bool          // inline, reading after a wake-up: nothing there is no error
	escalated  bool          // left the poller's goroutine during this service
	st         *pollState    // the poller role, while inline
	registered bool          // known to the poller's epoll instance
	parked     bool          // on the poller's idle list, under its mutex
	prev, next *conn         // the idle list
	idleSince  time.Time
}

func (s *Server) serveConn(nc net.Conn) {
	c := &conn{s: s, nc: nc, remote: nc.RemoteAddr().String(), idle: cmp.Or(s.IdleTimeout, 60*time.Second)}
	c.host, _, _ = net.SplitHostPort(c.remote)
	c.tr = s.Trace.Session("http", c.remote)
	c.tr.Note("connection accepted")
	c.p.lim = s.lim
	c.resp.c = c
	c.req.RemoteAddr = c.remote
	if sc, ok := nc.(syscall.Conn); ok {
		c.raw, _ = sc.SyscallConn()
		c.readyFn = c.ready
	}
	c.initPoll()
	if tc, ok := nc.(*tls.Conn); ok && !c.tlsHandshake(tc) {
		return
	}
	if parked, _ := c.serve(); !parked && c.release != nil {
		c.release()
	}
}

// resume serves c, which its poller found readable, on the poller's
// goroutine. It reports whether c escalated, in which case this goroutine
// has become c's own and the poller goes on on another.
func (c *conn) resume(st *pollState) (escalated bool) {
	c.inline, c.st, c.escalated = true, st, false
	// The runtime checks a connection's deadlines before every raw read
	// and write, even those that do not wait: one left from the last time
	// c was served on its own goroutine (a header or body timeout, a write
	// deadline) has expired if c was idle for longer, and would end it.
	if !c.readDL.IsZero() {
		c.setRead(time.Time{})
	}
	c.reader()
	c.resuming = true
	_, err := c.br.Peek(1)
	c.resuming = false
	if err != nil && err != errWouldBlock {
		// The client closed or the socket failed: nothing to answer, and
		// closing does not wait.
		c.noteReadEnd(err, "idle")
		c.releaseReader()
		c.release()
		return false
	}
	parked, escalated := c.serve()
	if !parked {
		c.release()
	}
	return escalated
}

// escalate makes the calling goroutine this connection's own before it does
// something that may block: when it was serving on a poller, a new
// goroutine takes the poller over.
func (c *conn) escalate() {
	if !c.inline {
		return
	}
	c.inline, c.escalated = false, true
	c.s.escalated.Add(1)
	st := c.st
	c.st = nil
	go st.p.run(st)
}

// serve is the keep-alive loop: it reads and answers requests until the
// connection ends, or until it is idle and parked on a poller (parked;
// the caller must then leave c alone). escalated reports whether serving
// left a poller's goroutine.
func (c *conn) serve() (parked, escalated bool) {
	s := c.s
	for {
		// Wait for the next request: the idle timeout applies until its
		// first byte, the header timeout from then on.
		if c.br == nil || c.br.Buffered() == 0 {
			c.flush()
			c.releaseWriter()
			c.releaseReader()
			if s.t.ShuttingDown() {
				c.tr.Note("server shutting down")
				return false, c.escalated
			}
			escalated = c.escalated
			if c.park() {
				return true, escalated
			}
			c.escalate() // waiting here blocks
			if !c.extendRead(s.t.Timeout(c.idle), true) || !s.t.Idle(c.nc, nil) {
				c.tr.Note("server shutting down")
				return false, c.escalated
			}
			if err := c.waitReadable(); err != nil {
				c.noteReadEnd(err, "idle")
				return false, c.escalated
			}
			if !s.t.Busy(c.nc) {
				c.tr.Note("evicted: idle while the server is full; closing")
				return false, c.escalated
			}
			c.reader()
			if _, err := c.br.Peek(1); err != nil {
				c.noteReadEnd(err, "idle")
				c.releaseReader()
				return false, c.escalated
			}
		}
		waited := false
		if !headComplete(c.br) {
			c.escalate()
			c.setRead(time.Now().Add(c.headerTimeout()))
			// A head that has not all come is waiting for its client:
			// at MaxConns it may be evicted like an idle connection
			// (closed unanswered: a 408 would linger), so that slow
			// heads (slowloris) from many addresses cannot hold every
			// slot.
			waited = true
			c.headWait.Store(true)
			s.t.Idle(c.nc, nil)
		}
		err := c.p.readRequest(c.br, &c.req)
		if waited && (!c.headWait.CompareAndSwap(true, false) || !s.t.Busy(c.nc)) {
			c.tr.Note("evicted: request head incomplete while the server is full; closing")
			c.releaseWriter()
			c.releaseReader()
			return false, c.escalated
		}
		if err != nil {
			if c.isPreface(err) {
				c.handoff(&Handoff{Preface: true, Reader: c.br})
				return false, c.escalated
			}
			if c.notHTTP1(err) {
				c.tr.Note("neither HTTP/1.x nor the HTTP/2 preface: closing unanswered")
				c.releaseWriter()
				c.releaseReader()
				return false, c.escalated
			}
			c.requestError(err)
			c.releaseWriter()
			c.releaseReader()
			return false, c.escalated
		}
		c.n++
		c.traceRequest()
		if c.s.HTTP2 != nil && c.wantsH2C(&c.req) {
			c.upgradeH2C(&c.req)
			return false, c.escalated
		}
		if s.MaxRequestsPerConn > 0 && c.n >= s.MaxRequestsPerConn || s.t.ShuttingDown() {
			c.req.Close = true
		}
		if !c.serveRequest() {
			c.flush()
			c.closeWrite()
			c.releaseWriter()
			c.releaseReader()
			return false, c.escalated
		}
	}
}

// errWouldBlock is what a read or write on a poller's goroutine meets when
// the socket is not ready; it never reaches a handler (see connReader).
var errWouldBlock = errors.New("web: would block")

// connReader and connWriter sit under the connection's buffers. On a
// poller's goroutine they read and write without waiting, and escalate
// when the socket is not ready; otherwise they are the net.Conn.
type connReader struct{ c *conn }

func (r connReader) Read(p []byte) (int, error) {
	c := r.c
	if c.inline {
		n, err := c.rawRead(p)
		if err != errWouldBlock || c.resuming {
			return n, err
		}
		c.escalate()
		c.setRead(time.Now().Add(c.headerTimeout()))
	}
	return c.nc.Read(p)
}

type connWriter struct{ c *conn }

func (w connWriter) Write(p []byte) (int, error) {
	c := w.c
	// Every write to the socket comes through here (flushes, a chunked
	// body's, what bufio passes through), so the write deadline is moved
	// here, once: the one in force may be left from an earlier response,
	// long expired, and the runtime checks it even before a write that
	// does not wait.
	c.setWrite()
	if c.inline {
		n, err := c.rawWrite(p)
		if err != errWouldBlock {
			return n, err
		}
		c.escalate()
		c.s.t.WriteBegin(c.nc)
		m, err := c.nc.Write(p[n:])
		c.s.t.WriteEnd(c.nc)
		return n + m, err
	}
	// A write that waits on a client that does not read may be evicted
	// when the server is full (lifecycle.Tracker.WriteBegin).
	c.s.t.WriteBegin(c.nc)
	defer c.s.t.WriteEnd(c.nc)
	return c.nc.Write(p)
}

// headComplete reports whether a whole request head is already buffered, in
// which case parsing it needs no read and no header deadline.
func headComplete(br *bufio.Reader) bool {
	b, _ := br.Peek(br.Buffered())
	return len(b) > 0 && strings.Contains(unsafeString(b), "\r\n\r\n")
}

// setRead sets the read deadline.
func (c *conn) setRead(t time.Time) {
	c.readDL = t
	c.nc.SetReadDeadline(t)
}

// extendRead moves the read deadline to about now+d, touching the socket
// only when the deadline in force is off by more than a slack of a second
// (a quarter of d for short timeouts), and reports whether the server is
// still running (see lifecycle.Tracker.ReadDeadline). With exact, the
// deadline is never left later than now+d.
func (c *conn) extendRead(d time.Duration, exact bool) bool {
	want := time.Now().Add(d)
	slack := min(time.Second, d/4)
	if diff := want.Sub(c.readDL); diff > slack || diff < -slack || exact && diff < 0 {
		c.setRead(want)
	}
	return !c.s.t.ShuttingDown()
}

func (c *conn) noteReadEnd(err error, where string) {
	switch {
	case err == io.EOF:
		c.tr.Note("client closed the connection")
	case c.s.t.ShuttingDown():
		c.tr.Note("server shutting down")
	case errors.Is(err, os.ErrDeadlineExceeded):
		c.tr.Note(where + " timeout; closing")
	default:
		c.tr.Note("read failed: " + err.Error())
	}
}

// requestError answers a request that could not be read, then the
// connection closes: after a framing error nothing that follows can be
// trusted.
func (c *conn) requestError(err error) {
	var e *Error
	switch {
	case errors.As(err, &e):
	case errors.Is(err, os.ErrDeadlineExceeded) && !c.s.t.ShuttingDown():
		e = errorf(StatusRequestTimeout, "request head not received in time")
	default:
		c.noteReadEnd(err, "header")
		return
	}
	c.tr.Note("rejected: " + e.Reason)
	c.s.logger().Debug("web: bad request", "remote", c.remote, "status", e.Status, "reason", e.Reason)
	c.req.Close = true
	if c.req.Proto == "" {
		c.req.Proto = "HTTP/1.1"
		c.req.ProtoMinor = 1
	}
	c.req.Body = &noBody{}
	c.resp.reset(&c.req)
	c.resp.header.Set("Content-Type", "text/plain; charset=utf-8")
	c.resp.WriteHeader(e.Status)
	c.resp.Write([]byte(StatusText(e.Status) + ": " + e.Reason + "\n"))
	c.resp.finish()
	c.accessLog()
	c.flush()
	c.closeWrite()
}

// serveRequest runs the handler for c.req and finishes its response; it
// reports whether the connection may carry another request.
func (c *conn) serveRequest() (keep bool) {
	req := &c.req
	c.resp.reset(req)
	c.body = bodyReader{c: c, r: req.Body}
	if req.ContentLength != 0 {
		if ex := req.Header.Get("Expect"); ex != "" {
			if !equalFold(ex, "100-continue") {
				c.resp.header.Set("Content-Type", "text/plain; charset=utf-8")
				c.resp.WriteHeader(StatusExpectationFailed)
				c.resp.Write([]byte("Expectation Failed: only 100-continue is understood\n"))
				req.Close = true
				c.resp.finish()
				c.accessLog()
				return false
			}
			c.body.expect = req.ProtoMinor == 1
		}
	}
	req.Body = &c.body
	h := c.s.Handler
	if h == nil {
		h = HandlerFunc(NotFound)
	}
	if ih, ok := h.(inlineHandler); c.inline && (req.ContentLength != 0 || !ok || !ih.inline(req)) {
		c.escalate()
	}
	panicked := c.callHandler(h)
	if panicked {
		req.Close = true
		if !c.resp.wroteHeader {
			c.resp.header = c.resp.header[:0]
			c.resp.pending = c.resp.pending[:0]
			c.resp.header.Set("Content-Type", "text/plain; charset=utf-8")
			c.resp.WriteHeader(StatusInternalServerError)
			c.resp.Write([]byte("Internal Server Error\n"))
		}
	}
	ok := c.resp.finish()
	c.accessLog()
	if !ok || req.Close || c.resp.closeAfter {
		return false
	}
	// Whatever the handler left of the body is read and dropped, so the
	// next request starts where it should; a large remainder closes.
	if c.body.err != nil {
		return false
	}
	if req.ContentLength != 0 && !c.body.eof {
		if c.body.expect {
			// The client was never told to continue: it has not sent the
			// body, so the stream position is unknown.
			return false
		}
		n, err := io.CopyN(io.Discard, &c.body, 256<<10)
		if err != io.EOF && !(err == nil && n == 0) {
			return false
		}
		if !c.body.eof {
			return false
		}
	}
	return true
}

func (c *conn) callHandler(h Handler) (panicked bool) {
	defer func() {
		if p := recover(); p != nil {
			panicked = true
			c.s.logger().Error("web: handler panicked", "remote", c.remote, "path", c.req.Path, "panic", p)
		}
	}()
	h.ServeHTTP(&c.resp, &c.req)
	return false
}

// waitReadable blocks until the client sends something (or the read
// deadline passes) without reading it, through the runtime's poller, so
// that an idle connection holds no read buffer. The callback asks the
// kernel whether a byte is waiting (peekReady, without consuming it);
// when none is, returning false parks the goroutine until the socket is
// readable.
func (c *conn) waitReadable() error {
	if c.raw == nil {
		return nil
	}
	return c.raw.Read(c.readyFn)
}

func (c *conn) ready(fd uintptr) bool { return peekReady(fd) }

func (c *conn) reader() {
	if c.br != nil {
		return
	}
	if v := c.s.br.Get(); v != nil {
		c.br = v.(*bufio.Reader)
		c.br.Reset(connReader{c})
	} else {
		c.br = bufio.NewReaderSize(connReader{c}, 4096)
	}
}

func (c *conn) releaseReader() {
	if c.br != nil && c.br.Buffered() == 0 {
		c.br.Reset(nil)
		c.s.br.Put(c.br)
		c.br = nil
	}
}

func (c *conn) writer() *bufio.Writer {
	if c.bw == nil {
		if v := c.s.bw.Get(); v != nil {
			c.bw = v.(*bufio.Writer)
			c.bw.Reset(connWriter{c})
		} else {
			c.bw = bufio.NewWriterSize(connWriter{c}, 4096)
		}
	}
	return c.bw
}

func (c *conn) releaseWriter() {
	if c.bw != nil && c.bw.Buffered() == 0 {
		c.bw.Reset(nil)
		c.s.bw.Put(c.bw)
		c.bw = nil
	}
}

// flush writes what is buffered, under the write timeout.
func (c *conn) flush() error {
	if c.bw == nil || c.bw.Buffered() == 0 {
		return nil
	}
	err := c.bw.Flush()
	if err != nil {
		c.tr.Note("write failed: " + err.Error())
	}
	return err
}

// headerTimeout is the time a request head may take once its first byte
// has come.
func (c *conn) headerTimeout() time.Duration { return cmp.Or(c.s.HeaderTimeout, 10*time.Second) }

// setWrite moves the write deadline to about now+WriteTimeout, touching
// the socket only when the deadline in force is off by more than a slack
// of a second (a quarter of the timeout for short ones).
func (c *conn) setWrite() {
	d := cmp.Or(c.s.WriteTimeout, 30*time.Second)
	want := time.Now().Add(d)
	slack := min(time.Second, d/4)
	if diff := want.Sub(c.writeDL); diff > slack || diff < -slack {
		c.writeDL = want
		c.nc.SetWriteDeadline(want)
	}
}

// closeWrite half-closes the connection so that the client reads the whole
// response before it sees the end, then lingers briefly for the client's
// close (RFC 9112 §9.6: avoid a reset that would discard the response).
func (c *conn) closeWrite() {
	c.escalate() // lingering waits
	lingerClose(c.nc)
}

func lingerClose(nc net.Conn) {
	if cw, ok := nc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		nc.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		io.CopyN(io.Discard, nc, 64<<10)
	}
}

// refuseOverLimit answers a connection over MaxConns (lifecycle's Refuse):
// once its request head has come, or 8 KiB of it, within a second, it gets
// 503 with Retry-After (RFC 9110 §15.6.4) and the connection closes as
// closeWrite closes; a client that sends nothing in time is closed
// unanswered. An answer sent before the request would be refused by
// clients.
func (s *Server) refuseOverLimit(nc net.Conn) {
	nc.SetDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 8<<10)
	n := 0
	for n < len(buf) && !strings.Contains(unsafeString(buf[:n]), "\r\n\r\n") {
		m, err := nc.Read(buf[n:])
		n += m
		if err != nil {
			return
		}
	}
	body := StatusText(StatusServiceUnavailable) + ": too many connections; try again later\n"
	head := "HTTP/1.1 503 " + StatusText(StatusServiceUnavailable) + "\r\n" + string(s.clock.tick().date)
	if s.name != "-" {
		head += "Server: " + s.name + "\r\n"
	}
	head += "Retry-After: 1\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"
	nc.Write([]byte(head + body))
	lingerClose(nc)
}

// bodyReader is the Body a handler sees: it sends 100 Continue before the
// first read when the client asked for it (RFC 9110 §10.1.1), keeps the
// read deadline moving, and remembers how the body ended.
type bodyReader struct {
	c      *conn
	r      io.Reader
	expect bool
	eof    bool
	err    error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.eof {
		return 0, io.EOF
	}
	if b.err != nil {
		return 0, b.err
	}
	b.c.escalate() // a body may be slow to come
	if b.expect {
		b.expect = false
		if !b.c.resp.wroteHeader {
			w := b.c.writer()
			w.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
			b.c.tr.Server("HTTP/1.1 100 Continue")
			if err := b.c.flush(); err != nil {
				b.err = err
				return 0, err
			}
		}
	}
	b.c.extendRead(cmp.Or(b.c.s.BodyTimeout, 30*time.Second), false)
	n, err := b.r.Read(p)
	if err == io.EOF {
		b.eof = true
	} else if err != nil {
		b.err = err
	}
	return n, err
}

// An inlineHandler can tell that it answers r without blocking on anything
// but the connection (whose reads and writes escalate by themselves), so
// that a poller's goroutine may run it; any other handler runs on the
// connection's own goroutine.
type inlineHandler interface{ inline(r *Request) bool }

type noBody struct{}

func (noBody) Read([]byte) (int, error) { return 0, io.EOF }

// NotFound answers 404.
func NotFound(w ResponseWriter, r *Request) {
	WriteError(w, StatusNotFound, "no such object: "+r.Path)
}

// WriteError answers with status and a short plain-text body.
func WriteError(w ResponseWriter, status int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	io.WriteString(w, StatusText(status)+": "+msg+"\n")
}
