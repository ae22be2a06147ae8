package proxy

import (
	"cmp"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/applayer/applayer/internal/netprefix"
	"github.com/applayer/applayer/internal/transcript"
	"github.com/applayer/applayer/web"
	"github.com/applayer/applayer/web/cache"
)

// ErrServerClosed is returned by Serve and ListenAndServe after Shutdown
// or Close (the web server's sentinel: the proxy is one).
var ErrServerClosed = web.ErrServerClosed

// Defaults.
const (
	DefaultAddr          = "127.0.0.1:3128"
	DefaultMaxObject     = 8 << 20
	DefaultOriginTimeout = 30 * time.Second
	DefaultMaxIdle       = 64
	DefaultName          = "applayer"
)

// Status codes the web package has no names for.
const (
	statusBadGateway     = 502
	statusGatewayTimeout = 504
	statusLoopDetected   = 508
)

// DefaultConnectPorts are the ports CONNECT may reach unless told
// otherwise: HTTPS only, as Squid's SSL_ports.
var DefaultConnectPorts = []int{443}

// Server is a caching HTTP/1.1 proxy: forward (clients send absolute-form
// requests and CONNECT) or, with Origin set, reverse (an accelerator in
// front of one origin). Exported fields are its configuration; the zero
// value is a forward proxy on DefaultAddr for loopback clients with a
// memory cache of cache.DefaultMaxSize.
type Server struct {
	// HTTP takes the clients' connections: its Addr (default DefaultAddr),
	// timeouts and connection limits apply; its Handler is the proxy.
	HTTP web.Server
	// Origin, when set, makes this a reverse proxy for the origin at
	// host:port (or http://host:port): every request goes there.
	Origin string
	// Store keeps responses (default a cache.Memory of MaxSize bytes).
	Store cache.Store
	// MaxSize bounds the default memory store (default
	// cache.DefaultMaxSize).
	MaxSize int64
	// MaxObject is the largest response body stored (default
	// DefaultMaxObject); larger ones are streamed through, not kept.
	MaxObject int64
	// Allow lists the client networks served (default loopback only: no
	// open proxy). Others get 403.
	Allow []netip.Prefix
	// PurgeFrom lists the client networks whose PURGE requests are obeyed
	// (default loopback only).
	PurgeFrom []netip.Prefix
	// ConnectPorts are the ports a CONNECT tunnel may reach (default
	// DefaultConnectPorts).
	ConnectPorts []int
	// OriginTimeout bounds the connection to an origin and each read and
	// write on it (default DefaultOriginTimeout).
	OriginTimeout time.Duration
	// Name is the pseudonym in Via and Cache-Status (default DefaultName).
	Name string
	// Logger receives errors; nil means slog.Default().
	Logger *slog.Logger
	// Trace records the dialogues with origins; nil records nothing.
	Trace *transcript.Recorder

	once       sync.Once
	store      cache.Store
	policy     cache.Policy
	pool       pool
	originAddr string
	originHost string
	via        string
	flights    flights
	bg         sync.WaitGroup
	stats      counters
}

func (s *Server) init() {
	s.once.Do(func() {
		s.store = s.Store
		if s.store == nil {
			s.store = &cache.Memory{MaxSize: s.MaxSize}
		}
		s.policy = cache.Policy{Shared: true}
		if s.Origin != "" {
			// In front of an origin, the proxy plays the CDN (RFC 9213).
			s.policy.Targets = []string{"CDN-Cache-Control"}
		}
		s.pool = pool{maxIdle: DefaultMaxIdle, timeout: cmp.Or(s.OriginTimeout, DefaultOriginTimeout), trace: s.Trace}
		if s.Origin != "" {
			o := strings.TrimSuffix(strings.TrimPrefix(s.Origin, "http://"), "/")
			s.originHost = o
			if _, _, err := net.SplitHostPort(o); err != nil {
				o += ":80"
			}
			s.originAddr = o
		}
		s.via = "1.1 " + cmp.Or(s.Name, DefaultName)
		if s.HTTP.Addr == "" {
			s.HTTP.Addr = DefaultAddr
		}
		s.HTTP.Handler = web.Inline(s)
		if s.HTTP.Logger == nil {
			s.HTTP.Logger = s.Logger
		}
	})
}

func (s *Server) logger() *slog.Logger { return cmp.Or(s.Logger, slog.Default()) }

// ListenAndServe listens on HTTP.Addr and serves until Shutdown or Close.
func (s *Server) ListenAndServe() error { s.init(); return s.HTTP.ListenAndServe() }

// Serve serves clients on l until Shutdown or Close.
func (s *Server) Serve(l net.Listener) error { s.init(); return s.HTTP.Serve(l) }

// Shutdown stops accepting, lets exchanges in flight finish (background
// revalidations too), and closes the connections to origins.
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	err := s.HTTP.Shutdown(ctx)
	done := make(chan struct{})
	go func() { s.bg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	s.pool.closeAll()
	return err
}

// Close stops at once.
func (s *Server) Close() error {
	s.init()
	err := s.HTTP.Close()
	s.pool.closeAll()
	return err
}

// CacheStore returns the store in use.
func (s *Server) CacheStore() cache.Store { s.init(); return s.store }

// target is where a request goes and what it is cached under.
type target struct {
	addr string // the origin's host:port
	host string // the Host field to send
	path string // origin-form target
	key  string
}

func clientAddr(remote string) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap(), true
}

func allowed(list []netip.Prefix, remote string) bool {
	a, ok := clientAddr(remote)
	if !ok {
		return false
	}
	if list == nil {
		return netprefix.IsLoopback(a)
	}
	return netprefix.ContainsAny(list, a)
}

// Inline tells the server that a GET or HEAD may be answered without
// blocking (a hit from memory): it may run on a poller's goroutine. Every
// path that waits (an origin, another request's fetch, a tunnel) calls
// web.Blocking first.
func (s *Server) Inline(r *web.Request) bool {
	return (r.Method == "GET" || r.Method == "HEAD") && r.ContentLength == 0
}

// ServeHTTP answers one client request.
func (s *Server) ServeHTTP(w web.ResponseWriter, r *web.Request) {
	s.init()
	if !allowed(s.Allow, r.RemoteAddr) {
		web.WriteError(w, web.StatusForbidden, "this proxy serves only the networks it is told to")
		return
	}
	if r.Method == "CONNECT" {
		s.connect(w, r)
		return
	}
	if r.Form == web.OriginForm && strings.HasPrefix(r.Path, statsPrefix) {
		s.serveStats(w, r)
		return
	}
	t, status, msg := s.target(r)
	if status != 0 {
		web.WriteError(w, status, msg)
		return
	}
	if hasLoop(r.Header, s.via) {
		web.WriteError(w, statusLoopDetected, "request already passed through this proxy")
		return
	}
	switch r.Method {
	case "PURGE":
		s.purge(w, r, t)
	case "GET", "HEAD":
		if r.ContentLength != 0 {
			// A GET with a body: the key does not hold the body, so the
			// answer is neither served from the cache nor stored.
			s.forward(w, r, t)
			return
		}
		s.cached(w, r, t)
	default:
		s.forward(w, r, t)
	}
}

// unkeyedFields are request fields the cache key does not hold and that
// applications commonly trust and reflect: the host, scheme or port they
// think they were reached by, a rewritten URL or method. A response to a
// request carrying one may be shaped by it (web cache poisoning), so it is
// not stored, nor does it replace what is stored; the request may still be
// answered from the cache.
var unkeyedFields = []string{
	"X-Forwarded-Host", "X-Host", "X-Forwarded-Server", "X-Forwarded-Scheme", "X-Forwarded-Proto",
	"X-Forwarded-Port", "X-Forwarded-Prefix", "X-Forwarded-Ssl", "Front-End-Https", "Forwarded",
	"X-Original-URL", "X-Rewrite-URL", "X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override",
}

func unkeyed(h web.Header) bool { return slices.ContainsFunc(unkeyedFields, h.Has) }

func hasLoop(h web.Header, via string) bool {
	n := 0
	for _, v := range h.Values("Via") {
		n += strings.Count(v, via)
	}
	return n >= 2
}

func (s *Server) target(r *web.Request) (target, int, string) {
	pq := cmp.Or(r.RawPath, "/")
	if r.RawQuery != "" {
		pq += "?" + r.RawQuery
	}
	if s.originAddr != "" {
		host := cmp.Or(r.Host, s.originHost)
		return target{addr: s.originAddr, host: host, path: pq, key: cache.Key("http", host, r.RawPath, r.RawQuery)}, 0, ""
	}
	if r.Form != web.AbsoluteForm {
		return target{}, web.StatusBadRequest, "this is a forward proxy: send absolute-form requests (http://host/path), or CONNECT"
	}
	if r.Scheme != "http" {
		return target{}, web.StatusNotImplemented, "no TLS to origins: use CONNECT for https"
	}
	addr := r.Host
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr += ":80"
	}
	return target{addr: addr, host: r.Host, path: pq, key: cache.RequestKey(r)}, 0, ""
}

// outHeader is the header to send to the origin for r: its end-to-end
// fields with ours in Via; Host goes separately.
func (s *Server) outHeader(r *web.Request, dropConditionals bool) web.Header {
	h := cache.EndToEnd(r.Header)
	h.Del("Host")
	h.Del("Expect")
	// The framing toward the origin is ours (fetch sets Content-Length
	// when it sends a body): a client's Content-Length on a request sent
	// without its body would make the origin take the next request on the
	// pooled connection as that body.
	h.Del("Content-Length")
	if dropConditionals {
		for _, n := range conditionals {
			h.Del(n)
		}
	}
	addVia(&h, s.via)
	return h
}

var conditionals = []string{"If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since", "If-Range"}

func hasConditional(h web.Header) bool {
	return slices.ContainsFunc(conditionals, h.Has) || h.Has("Range")
}

func addVia(h *web.Header, via string) {
	if v := h.Get("Via"); v != "" {
		h.Set("Via", strings.Join(h.Values("Via"), ", ")+", "+via)
	} else {
		h.Add("Via", via)
	}
}

func (s *Server) fetch(ctx context.Context, method string, t target, h web.Header, body io.Reader, n int64) (*exchange, error) {
	req := &web.OutRequest{Method: method, Target: t.path, Host: t.host, Header: h}
	if body != nil && n != 0 {
		req.Body, req.ContentLength = body, n
	}
	x, err := s.pool.do(ctx, t.addr, req)
	if err != nil {
		s.stats.originErrors.Add(1)
		return nil, err
	}
	s.stats.originRequests.Add(1)
	return x, nil
}

func (s *Server) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 4*cmp.Or(s.OriginTimeout, DefaultOriginTimeout))
}

// cached answers GET and HEAD from the store, the origin, or both.
func (s *Server) cached(w web.ResponseWriter, r *web.Request, t target) {
	now := time.Now()
	if e := cache.Select(s.store, t.key, r.Header); e != nil {
		d := cache.Decide(s.policy, e, r.Header, now)
		switch d.State {
		case cache.Fresh, cache.StaleOK:
			s.stats.hits.Add(1)
			s.serveEntry(w, r, e, d.Age, "HIT", false)
			return
		case cache.StaleRevalidate:
			s.stats.hits.Add(1)
			s.stats.stale.Add(1)
			s.serveEntry(w, r, e, d.Age, "STALE", false)
			s.background(r.Header, t, e)
			return
		case cache.Validate:
			s.revalidate(w, r, t, e, d)
			return
		}
	}
	if cache.RequestControl(r.Header).OnlyIfCached {
		s.stats.misses.Add(1)
		web.WriteError(w, statusGatewayTimeout, "only-if-cached and nothing stored (RFC 9111 §5.2.1.7)")
		return
	}
	s.miss(w, r, t)
}

// miss fetches a response nothing stored answers. Concurrent misses for
// one key without conditionals are collapsed: the first goes to the
// origin, the others wait for it and are answered from what it stored.
func (s *Server) miss(w web.ResponseWriter, r *web.Request, t target) {
	web.Blocking(w)
	collapsible := r.Method == "GET" && !hasConditional(r.Header) && !r.Header.Has("Authorization") && !unkeyed(r.Header)
	if collapsible {
		if wait, leader := s.flights.join(t.key); !leader {
			s.stats.waiting.Add(1)
			select {
			case <-wait:
			case <-time.After(cmp.Or(s.OriginTimeout, DefaultOriginTimeout)):
			}
			s.stats.waiting.Add(-1)
			if e := cache.Select(s.store, t.key, r.Header); e != nil {
				if d := cache.Decide(s.policy, e, r.Header, time.Now()); d.State == cache.Fresh {
					s.stats.hits.Add(1)
					s.stats.collapsed.Add(1)
					s.serveEntry(w, r, e, d.Age, "HIT", false)
					return
				}
			}
		} else {
			defer s.flights.done(t.key)
		}
	}
	s.stats.misses.Add(1)
	ctx, cancel := s.ctx()
	defer cancel()
	x, err := s.fetch(ctx, r.Method, t, s.outHeader(r, false), nil, 0)
	if err != nil {
		s.badGateway(w, err)
		return
	}
	defer x.Close()
	s.relay(w, r, t, x, "MISS")
}

func (s *Server) badGateway(w web.ResponseWriter, err error) {
	s.logger().Debug("proxy: origin failed", "err", err)
	status := statusBadGateway
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, errTimeout) || isTimeout(err) {
		status = statusGatewayTimeout
	}
	web.WriteError(w, status, "the origin could not be reached: "+err.Error())
}

var errTimeout = errors.New("timeout")

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// relay sends the origin's response to the client, and stores it on the
// way when it may be (streamed through, never held whole, when larger
// than MaxObject).
func (s *Server) relay(w web.ResponseWriter, r *web.Request, t target, x *exchange, xcache string) {
	storable := r.Method == "GET" && cache.Storable(s.policy, "GET", r.Header, x.Status, x.Header)
	maxObj := cmp.Or(s.MaxObject, DefaultMaxObject)
	if x.ContentLength > maxObj {
		storable = false
	}
	// A request the key does not describe whole (fields an application may
	// reflect, a body) must not set what other clients are served.
	poisoner := unkeyed(r.Header) || r.ContentLength != 0
	if poisoner {
		storable = false
	}
	if !storable && !poisoner && r.Method == "GET" && x.Status < 500 {
		// A newer response that may not be stored replaces none: drop the
		// stored ones, which it supersedes.
		if x.Status != 304 && x.Status != 206 {
			s.store.Delete(t.key)
		}
	}
	wh := w.Header()
	*wh = append(*wh, cache.EndToEnd(x.Header)...)
	addVia(wh, s.via)
	wh.Set("X-Cache", xcache)
	if x.ContentLength >= 0 && r.Method != "HEAD" {
		wh.Set("Content-Length", strconv.FormatInt(x.ContentLength, 10))
	}
	if storable {
		wh.Set("Cache-Status", cmp.Or(s.Name, DefaultName)+"; fwd=miss; stored")
	} else {
		wh.Set("Cache-Status", cmp.Or(s.Name, DefaultName)+"; fwd=uri-miss")
	}
	w.WriteHeader(x.Status)
	var buf []byte
	if storable && x.ContentLength >= 0 {
		buf = make([]byte, 0, x.ContentLength)
	}
	tmp := make([]byte, 32<<10)
	complete := true
	for {
		n, err := x.Body.Read(tmp)
		if n > 0 {
			if storable {
				if int64(len(buf)+n) > maxObj {
					storable, buf = false, nil
				} else {
					buf = append(buf, tmp[:n]...)
				}
			}
			if _, werr := w.Write(tmp[:n]); werr != nil {
				// The client went away: finish reading for the cache only if
				// it is worth it and close.
				complete = false
				break
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			complete = false
			break
		}
	}
	s.stats.bytesOrigin.Add(x.body.n)
	if storable && complete && x.body.eof {
		e := cache.NewEntry(s.policy, t.key, r.Header, x.Status, x.Header, buf, x.reqTime, x.rspTime)
		s.store.Put(e)
	}
}

// serveEntry answers from a stored entry; a client's own conditional
// request is evaluated against it (RFC 9111 §4.3.2).
func (s *Server) serveEntry(w web.ResponseWriter, r *web.Request, e *cache.Entry, age time.Duration, xcache string, validated bool) {
	h := cache.ServedHeader(e, age, validated)
	wh := w.Header()
	if e.Status/100 == 2 && cache.NotModified(r.Header, h) {
		for _, f := range h {
			switch strings.ToLower(f.Name) {
			case "cache-control", "content-location", "date", "etag", "expires", "vary", "last-modified", "age", "via":
				wh.Add(f.Name, f.Value)
			}
		}
		addVia(wh, s.via)
		wh.Set("X-Cache", xcache)
		w.WriteHeader(web.StatusNotModified)
		return
	}
	*wh = append(*wh, h...)
	addVia(wh, s.via)
	wh.Set("X-Cache", xcache)
	wh.Set("Cache-Status", cmp.Or(s.Name, DefaultName)+"; hit")
	wh.Set("Content-Length", strconv.Itoa(len(e.Body)))
	w.WriteHeader(e.Status)
	if r.Method != "HEAD" {
		w.Write(e.Body)
		s.stats.bytesCache.Add(int64(len(e.Body)))
	}
}

// revalidate asks the origin whether e may still be used (RFC 9111
// §4.3.1), and answers with it or with the origin's new response.
func (s *Server) revalidate(w web.ResponseWriter, r *web.Request, t target, e *cache.Entry, d cache.Decision) {
	web.Blocking(w)
	h := s.outHeader(r, true)
	cond, _ := cache.Conditional(e)
	h = append(h, cond...)
	ctx, cancel := s.ctx()
	defer cancel()
	method := "GET"
	x, err := s.fetch(ctx, method, t, h, nil, 0)
	if err != nil {
		if d.MayServeStaleOnError(e) {
			s.stats.stale.Add(1)
			s.serveEntry(w, r, e, d.Age, "STALE", false)
			return
		}
		s.badGateway(w, err)
		return
	}
	defer x.Close()
	switch {
	case x.Status >= 500 && x.Status <= 504 && d.MayServeStaleOnError(e):
		s.stats.stale.Add(1)
		s.serveEntry(w, r, e, d.Age, "STALE", false)
	case x.Status == web.StatusNotModified:
		s.stats.revalidated.Add(1)
		n := cache.Freshened(e, x.Header, x.reqTime, x.rspTime)
		if cache.Storable(s.policy, "GET", r.Header, n.Status, n.Header) {
			s.store.Put(n)
		} else {
			s.store.Delete(t.key)
		}
		s.serveEntry(w, r, n, n.Age(time.Now()), "REVALIDATED", true)
	default:
		s.stats.misses.Add(1)
		s.relay(w, r, t, x, "MISS")
	}
}

// background revalidates e for a stale-while-revalidate answer, once per
// key at a time.
func (s *Server) background(reqHeader web.Header, t target, e *cache.Entry) {
	bgKey := "\x00bg " + t.key
	if _, leader := s.flights.join(bgKey); !leader {
		return
	}
	rh := append(web.Header(nil), reqHeader...)
	for _, n := range conditionals {
		rh.Del(n)
	}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		defer s.flights.done(bgKey)
		h := cache.EndToEnd(rh)
		h.Del("Host")
		addVia(&h, s.via)
		cond, _ := cache.Conditional(e)
		h = append(h, cond...)
		ctx, cancel := s.ctx()
		defer cancel()
		x, err := s.fetch(ctx, "GET", t, h, nil, 0)
		if err != nil {
			return
		}
		defer x.Close()
		switch {
		case x.Status == web.StatusNotModified:
			s.stats.revalidated.Add(1)
			io.Copy(io.Discard, x.Body)
			s.store.Put(cache.Freshened(e, x.Header, x.reqTime, x.rspTime))
		case cache.Storable(s.policy, "GET", rh, x.Status, x.Header) && x.ContentLength <= cmp.Or(s.MaxObject, DefaultMaxObject):
			body, err := io.ReadAll(io.LimitReader(x.Body, cmp.Or(s.MaxObject, DefaultMaxObject)+1))
			if err == nil && x.body.eof {
				s.stats.bytesOrigin.Add(int64(len(body)))
				s.store.Put(cache.NewEntry(s.policy, t.key, rh, x.Status, x.Header, body, x.reqTime, x.rspTime))
			}
		}
	}()
}

// forward passes an unsafe (or other) method to the origin with its
// body, and invalidates what its success changes (RFC 9111 §4.4).
func (s *Server) forward(w web.ResponseWriter, r *web.Request, t target) {
	web.Blocking(w)
	ctx, cancel := s.ctx()
	defer cancel()
	var body io.Reader
	if r.ContentLength != 0 {
		body = r.Body
	}
	x, err := s.fetch(ctx, r.Method, t, s.outHeader(r, false), body, r.ContentLength)
	if err != nil {
		s.badGateway(w, err)
		return
	}
	defer x.Close()
	if cache.Invalidates(r.Method, x.Status) {
		for _, k := range cache.InvalidatedKeys(t.key, x.Header) {
			s.store.Delete(k)
		}
	}
	s.relay(w, r, t, x, "MISS")
}

// purge removes what is stored for the target (the PURGE method of Squid
// and Varnish), for clients in PurgeFrom.
func (s *Server) purge(w web.ResponseWriter, r *web.Request, t target) {
	if !allowed(s.PurgeFrom, r.RemoteAddr) {
		web.WriteError(w, web.StatusForbidden, "PURGE is not allowed from this address")
		return
	}
	had := len(s.store.Get(t.key)) > 0
	s.store.Delete(t.key)
	s.stats.purges.Add(1)
	if !had {
		web.WriteError(w, web.StatusNotFound, "nothing stored for "+t.key)
		return
	}
	(*w.Header()).Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(web.StatusOK)
	io.WriteString(w, "purged "+t.key+"\n")
}

// flights tracks the keys being fetched, for collapsed forwarding.
type flights struct {
	mu sync.Mutex
	m  map[string]chan struct{}
}

func (f *flights) join(key string) (wait <-chan struct{}, leader bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ch, ok := f.m[key]; ok {
		return ch, false
	}
	if f.m == nil {
		f.m = map[string]chan struct{}{}
	}
	f.m[key] = make(chan struct{})
	return nil, true
}

func (f *flights) done(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ch, ok := f.m[key]; ok {
		close(ch)
		delete(f.m, key)
	}
}

type counters struct {
	hits, misses, revalidated, stale, collapsed, purges atomic.Int64
	originRequests, originErrors                        atomic.Int64
	bytesCache, bytesOrigin                             atomic.Int64
	tunnels                                             atomic.Int64
	waiting                                             atomic.Int64 // requests waiting for another one's fetch
}
