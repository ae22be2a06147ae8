// Package lifecycle is the accept loop, connection tracking and graceful
// shutdown that every applayer server shares, so that each protocol package
// gets Serve, Shutdown and Close right without writing them again.
//
// A protocol's Server embeds or holds a [Tracker] and calls
// [Tracker.ServeListener] from its Serve method with a per-connection
// handler (TCP), or [Tracker.ServePacket] with its read loop (UDP).
//
// Shutdown follows net/http: stop accepting, wake connections that are
// waiting for input, let work in flight finish, then, if the context expires
// first, close what is left. Handlers cooperate through [Tracker.ReadDeadline]:
// they call it before each read that waits for a client's next move, and end
// the connection cleanly when it reports false or when a read fails while
// [Tracker.ShuttingDown] is true.
package lifecycle

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxConns is the connection limit when Tracker.MaxConns is zero.
const DefaultMaxConns = 4096

// DefaultIPv6Prefix is the prefix length that makes IPv6 addresses one
// client when Tracker.IPv6Prefix is zero: a /64 is what one subscriber or
// one host is given, and may pick addresses from at will.
const DefaultIPv6Prefix = 64

// ErrClosed is returned by Serve methods after Shutdown or Close when the
// Tracker was given no error of the protocol's own.
var ErrClosed = errors.New("server closed")

// A Tracker owns a server's listeners and connections. Its exported fields
// are configuration, set before the first Serve call; the zero value works.
type Tracker struct {
	// Name labels log lines, e.g. "upper/tcp".
	Name string
	// MaxConns bounds the connections served at once (default
	// DefaultMaxConns; negative means no limit). A connection accepted at
	// the limit makes room by evicting idle connections (see Idle): those
	// of the clients holding the most connections, longest idle first, an
	// eighth of the idle ones at a time (at least 1, at most 32), as nginx
	// closes idle keep-alive connections when it runs out. When none is
	// idle, the new connection is refused: closed at once, so that a flood
	// cannot make later clients wait unseen in the listen queue.
	MaxConns int
	// MaxConnsPerClient bounds the connections served at once for one
	// client: an IPv4 address, or an IPv6 network of IPv6Prefix bits
	// (IPv4-mapped IPv6 addresses count as the IPv4 address). A connection
	// over it is refused as one over MaxConns is (Refusal, Refuse).
	// Default (zero): MaxConns/8 and at least 1, so 512 with the default
	// MaxConns (and 512 when MaxConns is negative); negative means no limit.
	// Connections whose remote address is not IP (Unix sockets, pipes) are
	// not limited.
	MaxConnsPerClient int
	// IPv6Prefix is how many leading bits of an IPv6 address name one client
	// for MaxConnsPerClient and eviction (default DefaultIPv6Prefix, 64;
	// 128 counts every address on its own).
	IPv6Prefix int
	// Logger receives accept errors, refused connections and recovered
	// panics. Nil means slog.Default().
	Logger *slog.Logger
	// ErrClosed is what Serve returns after Shutdown or Close; typically the
	// protocol package's ErrServerClosed. Nil means ErrClosed.
	ErrClosed error
	// Refusal, when set, is written to a connection over MaxConns before it
	// is closed, so the client learns why. It suits protocols where the
	// server speaks first, such as SMTP's "421 ... try again later" in
	// place of its greeting (RFC 5321 section 3.8). It does not suit HTTP,
	// whose client speaks first: a response sent before the request is
	// read is refused by clients, and closing with the request unread can
	// reset the connection. The write is bounded by refusalTimeout and its
	// errors are ignored.
	Refusal []byte
	// Refuse, when set, answers a connection over MaxConns instead of
	// Refusal, for protocols whose client speaks first (HTTP's 503): it
	// runs on its own goroutine, for at most MaxRefusing connections at
	// once (beyond them a connection is closed at once), must bound its
	// own waits, and the Tracker closes the connection when it returns.
	Refuse func(net.Conn)
	// OnShutdown, when set, is called once when Shutdown or Close begins,
	// after the listeners are closed. A server that keeps idle connections
	// without a goroutine (see Detach) releases them here.
	OnShutdown func()

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	packets   map[net.PacketConn]struct{}
	conns     map[net.Conn]*connState
	byConn    sync.Map             // net.Conn to *connState, read without mu
	clients   map[netip.Prefix]int // connections per client, under mu
	evicting  int                  // evicted connections not yet gone, under mu
	live      atomic.Int64         // len(conns) - evicting
	refusing  atomic.Int32         // Refuse calls running
	shutdown  atomic.Bool
	done      chan struct{} // closed when shutdown starts
	handlers  sync.WaitGroup
	lastWarn  atomic.Int64 // unix nanoseconds of the last over-limit warning
}

func (t *Tracker) logger() *slog.Logger {
	if t.Logger != nil {
		return t.Logger
	}
	return slog.Default()
}

func (t *Tracker) errClosed() error {
	if t.ErrClosed != nil {
		return t.ErrClosed
	}
	return ErrClosed
}

func (t *Tracker) init() {
	if t.done == nil {
		t.done = make(chan struct{})
		t.listeners = make(map[net.Listener]struct{})
		t.packets = make(map[net.PacketConn]struct{})
		t.conns = make(map[net.Conn]*connState)
		t.clients = make(map[netip.Prefix]int)
	}
}

// Done returns a channel that is closed when Shutdown or Close begins.
func (t *Tracker) Done() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.init()
	return t.done
}

// ShuttingDown reports whether Shutdown or Close has begun.
func (t *Tracker) ShuttingDown() bool { return t.shutdown.Load() }

// ReadDeadline sets c's read deadline to now+d (no deadline when d <= 0),
// with d cut under load (see Timeout), and reports whether the connection
// should go on reading. It returns false once shutdown has begun, or once
// the connection has been evicted; setting the deadline before checking
// closes the race with Shutdown and eviction, which set their flag before
// they wake readers.
//
// ReadDeadline also marks c idle, waiting for its client's next move (see
// Idle): a handler calls it only before such a read, and may call Busy when
// the read returns data. c is the connection the handler was given, or a
// connection wrapping it that has a NetConn method (crypto/tls.Conn).
func (t *Tracker) ReadDeadline(c net.Conn, d time.Duration) bool {
	now := time.Now()
	var dl time.Time
	if d > 0 {
		dl = now.Add(t.Timeout(d))
	}
	c.SetReadDeadline(dl)
	if st := t.state(c); st != nil && !st.markIdle(now) {
		return false
	}
	return !t.shutdown.Load()
}

// Timeouts shrink under load, as Postfix's do in its stress mode: when more
// than StressLoad of MaxConns are in use, Timeout hands out a tenth of an
// idle timeout, but never less than StressFloor (nor more than the timeout
// itself), so that connections held idle are let go sooner and the slots
// come back to clients that use them.
const (
	StressLoad  = 0.5
	StressFloor = time.Second
)

// Timeout returns d, the idle timeout a server would give a connection
// waiting for its client, cut to max(d/10, StressFloor) while the server is
// more than StressLoad full (never longer than d). ReadDeadline applies it;
// a server that sets its idle deadlines itself calls it.
func (t *Tracker) Timeout(d time.Duration) time.Duration {
	limit := t.limit()
	if limit <= 0 || float64(t.live.Load()) <= StressLoad*float64(limit) {
		return d
	}
	return max(d/10, min(d, StressFloor))
}

// Idle marks c, a tracked connection, as waiting for its client's next
// move, from now: while the server is at MaxConns, the Tracker may evict it
// to make room for a new connection. ReadDeadline calls it; a handler that
// waits in other ways calls it itself. evict, when not nil, is how a
// detached connection (see Detach), which no handler reads, is evicted:
// it is called from the accept loop, without the Tracker's lock, and must
// release the connection before it returns true, or return false when the
// connection is no longer idle. Without evict, evicting sets the
// connection's read deadline to now, so its handler's read fails, and
// makes ReadDeadline and Busy report false. Idle reports false when c has
// been evicted already.
func (t *Tracker) Idle(c net.Conn, evict func() bool) bool {
	st := t.state(c)
	if st == nil {
		return true
	}
	if evict != nil && st.evict.Load() == nil {
		st.evict.Store(&evict)
	}
	return st.markIdle(time.Now())
}

// Busy marks c as working on its client's request: it is not evicted until
// it is idle again. It reports false when c was evicted while idle, in
// which case the handler should end the connection (its next ReadDeadline
// reports false too).
func (t *Tracker) Busy(c net.Conn) bool {
	st := t.state(c)
	if st == nil {
		return true
	}
	for {
		old := st.idle.Load()
		if old == evictedMark {
			return false
		}
		if old == 0 || st.idle.CompareAndSwap(old, 0) {
			return true
		}
	}
}

// StallAfter is how long a write must have been waiting on its client
// before the connection counts as stalled (see WriteBegin).
const StallAfter = 2 * time.Second

var stallAfter = StallAfter // tests shorten it

// WriteBegin marks c as writing to its client from now, until WriteEnd. A
// write blocked on a client that does not read waits on that client as a
// read waits for its next request: while the server is at MaxConns and no
// connection is idle, the connections whose write has waited StallAfter
// or longer are evicted as idle ones are (those of the clients holding the
// most connections first, the longest stalled first), by moving both
// their deadlines to now, so that the blocked write fails. Without it a
// client that asks for large responses and never reads them holds its
// slots until each write's timeout, renewable at will.
func (t *Tracker) WriteBegin(c net.Conn) {
	if st := t.state(c); st != nil {
		st.writing.Store(time.Now().UnixNano())
	}
}

// WriteEnd marks the end of the write WriteBegin began.
func (t *Tracker) WriteEnd(c net.Conn) {
	if st := t.state(c); st != nil {
		st.writing.Store(0)
	}
}

// evictStalled evicts writers stalled on their clients (see WriteBegin)
// when no connection is idle; under mu.
func (t *Tracker) evictStalled() {
	type cand struct {
		st    *connState
		n     int
		since int64
	}
	var cands []cand
	stalled := time.Now().Add(-stallAfter).UnixNano()
	for _, st := range t.conns {
		since := st.writing.Load()
		if since <= 0 || since > stalled || st.pending || st.detached {
			continue
		}
		cands = append(cands, cand{st, t.clients[st.client], since})
	}
	slices.SortFunc(cands, func(a, b cand) int {
		if a.n != b.n {
			return b.n - a.n
		}
		return cmp.Compare(a.since, b.since)
	})
	n := min(max(len(cands)/8, 1), maxEvict)
	for _, cd := range cands[:min(n, len(cands))] {
		st := cd.st
		st.idle.Store(evictedMark)
		st.pending = true
		t.evicting++
		st.c.SetDeadline(time.Now())
	}
}

// state finds c's state, looking through wrappers such as tls.Conn.
func (t *Tracker) state(c net.Conn) *connState {
	for range 4 {
		if v, ok := t.byConn.Load(c); ok {
			return v.(*connState)
		}
		w, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			return nil
		}
		c = w.NetConn()
	}
	return nil
}

// Conns reports how many connections are being served.
func (t *Tracker) Conns() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.conns)
}

// ServeListener accepts connections on l and runs handle for each in its own
// goroutine until Shutdown or Close, then returns the Tracker's ErrClosed. The
// connection is closed when handle returns; a panic in handle is logged with
// its stack and closes only that connection. Temporary accept errors (such as
// running out of file descriptors) are retried with a capped back-off.
func (t *Tracker) ServeListener(l net.Listener, handle func(net.Conn)) error {
	t.mu.Lock()
	t.init()
	if t.shutdown.Load() {
		t.mu.Unlock()
		l.Close()
		return t.errClosed()
	}
	t.listeners[l] = struct{}{}
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		delete(t.listeners, l)
		t.mu.Unlock()
		l.Close()
	}()

	var backoff time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			if t.shutdown.Load() {
				return t.errClosed()
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				t.logger().Warn("accept failed; retrying", "server", t.Name, "err", err, "in", backoff)
				select {
				case <-time.After(backoff):
				case <-t.Done():
				}
				continue
			}
			return fmt.Errorf("%s: accept: %w", t.Name, err)
		}
		backoff = 0
		st := t.track(c)
		if st == nil {
			t.refuse(c)
			continue
		}
		go t.run(c, st, handle)
	}
}

// refusalTimeout bounds the write of a Refusal. A new connection's send
// buffer is empty, so the write does not wait in practice; the deadline
// only guards the accept loop against the unexpected.
const refusalTimeout = 100 * time.Millisecond

// MaxRefusing bounds the Refuse calls running at once, so that a flood
// over the connection limit costs a bounded number of goroutines.
const MaxRefusing = 16

func (t *Tracker) refuse(c net.Conn) {
	if t.Refuse != nil {
		// Under mu, as in track: no handler starts once Shutdown has.
		t.mu.Lock()
		ok := !t.shutdown.Load() && t.refusing.Load() < MaxRefusing
		if ok {
			t.refusing.Add(1)
			t.handlers.Add(1)
		}
		t.mu.Unlock()
		if ok {
			go func() {
				defer t.handlers.Done()
				defer t.refusing.Add(-1)
				defer c.Close()
				defer t.recoverConn(c)
				t.Refuse(c)
			}()
			return
		}
	}
	if len(t.Refusal) > 0 && !t.shutdown.Load() {
		c.SetWriteDeadline(time.Now().Add(refusalTimeout))
		c.Write(t.Refusal)
	}
	c.Close()
}

// isTemporary reports errors that a later Accept may not repeat: running out
// of descriptors or buffers, or a connection reset before it was accepted.
func isTemporary(err error) bool {
	var te interface{ Temporary() bool }
	return errors.As(err, &te) && te.Temporary()
}

// connState is what the Tracker knows of a connection.
type connState struct {
	c        net.Conn
	client   netip.Prefix // the zero Prefix when the address is not IP
	detached bool         // under mu
	pending  bool         // evicted and counted in evicting, under mu
	// idle is when the connection last began to wait for its client, in
	// Unix nanoseconds; 0 while busy, evictedMark once evicted.
	idle  atomic.Int64
	evict atomic.Pointer[func() bool] // how to evict it, when detached
	// writing is when the write in progress began (Unix nanoseconds), 0
	// when none is (see WriteBegin).
	writing atomic.Int64
}

const evictedMark = -1

// markIdle records that the connection waits from now; false if evicted.
func (st *connState) markIdle(now time.Time) bool {
	ns := now.UnixNano()
	for {
		old := st.idle.Load()
		if old == evictedMark {
			return false
		}
		if st.idle.CompareAndSwap(old, ns) {
			return true
		}
	}
}

func (t *Tracker) limit() int {
	if t.MaxConns == 0 {
		return DefaultMaxConns
	}
	return t.MaxConns
}

func (t *Tracker) perClient() int {
	switch n := t.MaxConnsPerClient; {
	case n != 0:
		return n
	case t.limit() > 0:
		return max(t.limit()/8, 1)
	default:
		return DefaultMaxConns / 8
	}
}

// clientOf is the client a remote address belongs to: an IPv4 address, or
// an IPv6 network of bits6 bits; the zero Prefix when addr is not IP.
func clientOf(addr net.Addr, bits6 int) netip.Prefix {
	var ip netip.Addr
	switch a := addr.(type) {
	case *net.TCPAddr:
		ip = a.AddrPort().Addr()
	case *net.UDPAddr:
		ip = a.AddrPort().Addr()
	default:
		ap, err := netip.ParseAddrPort(addr.String())
		if err != nil {
			return netip.Prefix{}
		}
		ip = ap.Addr()
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is4() {
		return netip.PrefixFrom(ip, 32)
	}
	if bits6 <= 0 || bits6 > 128 {
		bits6 = DefaultIPv6Prefix
	}
	p, _ := ip.Prefix(bits6)
	return p
}

// maxEvict bounds the connections evicted at once, as nginx closes up to 32
// idle keep-alive connections (an eighth of them) when it runs out.
const maxEvict = 32

func (t *Tracker) track(c net.Conn) *connState {
	var client netip.Prefix
	if a := c.RemoteAddr(); a != nil {
		client = clientOf(a, t.IPv6Prefix)
	}
	for try := 0; ; try++ {
		t.mu.Lock()
		if t.shutdown.Load() {
			t.mu.Unlock()
			return nil
		}
		if per := t.perClient(); per > 0 && client.IsValid() && t.clients[client] >= per {
			t.mu.Unlock()
			t.warn("per-client connection limit reached; refusing the client's connections", c, per)
			return nil
		}
		limit := t.limit()
		var detached []func() bool
		if limit > 0 && len(t.conns)-t.evicting >= limit && try == 0 {
			detached = t.evictIdle()
		}
		if limit <= 0 || len(t.conns)-t.evicting < limit {
			st := &connState{c: c, client: client}
			t.conns[c] = st
			t.byConn.Store(c, st)
			t.clients[client]++
			t.live.Store(int64(len(t.conns) - t.evicting))
			t.handlers.Add(1)
			t.mu.Unlock()
			return st
		}
		t.mu.Unlock()
		if len(detached) == 0 {
			t.warn("connection limit reached and no idle connection to evict; refusing connections", c, limit)
			return nil
		}
		// Their release takes mu. They run at once, so that evictions
		// that wait for a goroutine to let go (a web connection blocked
		// in a request head) cost the accept loop the longest of them,
		// not their sum.
		var wg sync.WaitGroup
		for _, evict := range detached {
			wg.Go(func() { evict() })
		}
		wg.Wait()
	}
}

func (t *Tracker) warn(msg string, c net.Conn, limit int) {
	now := time.Now().UnixNano()
	if last := t.lastWarn.Load(); now-last > int64(time.Second) && t.lastWarn.CompareAndSwap(last, now) {
		t.logger().Warn(msg, "server", t.Name, "limit", limit, "remote", c.RemoteAddr().String())
	}
}

// evictIdle picks idle connections to evict, under mu: the clients holding
// the most connections first, and each client's longest idle first; an
// eighth of the idle connections, at least one and at most maxEvict. It
// evicts those a handler reads at once, and returns how to evict the
// detached ones, which must be called without mu.
func (t *Tracker) evictIdle() (detached []func() bool) {
	type cand struct {
		st    *connState
		n     int
		since int64
	}
	var cands []cand
	for _, st := range t.conns {
		since := st.idle.Load()
		if since <= 0 || st.detached && st.evict.Load() == nil {
			continue
		}
		cands = append(cands, cand{st, t.clients[st.client], since})
	}
	if len(cands) == 0 {
		t.evictStalled()
		t.live.Store(int64(len(t.conns) - t.evicting))
		return nil
	}
	slices.SortFunc(cands, func(a, b cand) int {
		if a.n != b.n {
			return b.n - a.n
		}
		return cmp.Compare(a.since, b.since)
	})
	n := min(max(len(cands)/8, 1), maxEvict)
	for _, cd := range cands[:n] {
		st := cd.st
		if st.detached {
			evict, since := *st.evict.Load(), cd.since
			detached = append(detached, func() bool {
				if evict() {
					return true
				}
				// Busy again: not a candidate until it is idle anew.
				st.idle.CompareAndSwap(since, 0)
				return false
			})
			continue
		}
		if !st.idle.CompareAndSwap(cd.since, evictedMark) {
			continue // busy again, or idle anew: spare it
		}
		st.pending = true
		t.evicting++
		st.c.SetReadDeadline(time.Now())
	}
	t.live.Store(int64(len(t.conns) - t.evicting))
	return detached
}

// forget ends the tracking of c; under mu.
func (t *Tracker) forget(c net.Conn, st *connState) {
	delete(t.conns, c)
	t.byConn.Delete(c)
	if t.clients[st.client]--; t.clients[st.client] <= 0 {
		delete(t.clients, st.client)
	}
	if st.pending {
		st.pending = false
		t.evicting--
	}
	t.live.Store(int64(len(t.conns) - t.evicting))
}

func (t *Tracker) run(c net.Conn, st *connState, handle func(net.Conn)) {
	defer func() {
		t.mu.Lock()
		// Once detached, c may even be released already: its release
		// owns the rest.
		detached := st.detached
		if !detached {
			t.forget(c, st)
		}
		t.mu.Unlock()
		if !detached {
			c.Close()
			t.handlers.Done()
		}
	}()
	defer t.recoverConn(c)
	handle(c)
}

// recoverConn logs a panic of a goroutine serving c; deferred.
func (t *Tracker) recoverConn(c net.Conn) {
	if p := recover(); p != nil {
		t.logger().Error("panic serving connection", "server", t.Name, "remote", c.RemoteAddr().String(), "panic", p, "stack", string(debug.Stack()))
	}
}

// Detach hands the lifetime of c, a connection whose handler is running, to
// the caller: when the handler returns, c is neither closed nor forgotten.
// It is called at most once per connection.
// The returned release closes c and ends its tracking; it must be called
// once (later calls do nothing), from any goroutine. Until then c counts
// against MaxConns, Close closes it and Shutdown waits for its release;
// marked with Idle and an evict function, it may be evicted.
// It lets a server keep an idle connection without a goroutine.
func (t *Tracker) Detach(c net.Conn) (release func()) {
	t.mu.Lock()
	st := t.conns[c]
	st.detached = true
	t.mu.Unlock()
	return sync.OnceFunc(func() {
		t.mu.Lock()
		t.forget(c, st)
		t.mu.Unlock()
		c.Close()
		t.handlers.Done()
	})
}

// ServePacket runs loop, a datagram read loop over pc, until Shutdown or
// Close closes pc; it then returns the Tracker's ErrClosed. Any other error
// from loop is returned as it is. A panic in loop is logged and returned as
// an error.
func (t *Tracker) ServePacket(pc net.PacketConn, loop func(net.PacketConn) error) (err error) {
	t.mu.Lock()
	t.init()
	if t.shutdown.Load() {
		t.mu.Unlock()
		pc.Close()
		return t.errClosed()
	}
	t.packets[pc] = struct{}{}
	t.handlers.Add(1)
	t.mu.Unlock()
	defer func() {
		if p := recover(); p != nil {
			t.logger().Error("panic in packet loop", "server", t.Name, "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("%s: panic: %v", t.Name, p)
		}
		t.mu.Lock()
		delete(t.packets, pc)
		t.mu.Unlock()
		pc.Close()
		t.handlers.Done()
		if t.shutdown.Load() {
			err = t.errClosed()
		}
	}()
	return loop(pc)
}

// ServeBoth serves l with serve and pc with servePacket (either socket may
// be nil), each in its own goroutine, and returns the first error. If that
// error is not closed (the server's ErrServerClosed: one transport failed on
// its own), it calls stop so that the other ends too. It waits for both
// before it returns. It is the body of the ServeBoth method of servers that
// answer on UDP and TCP at once (upper, DNS).
func ServeBoth(l net.Listener, pc net.PacketConn, serve func(net.Listener) error, servePacket func(net.PacketConn) error, closed error, stop func() error) error {
	var serves []func() error
	if l != nil {
		serves = append(serves, func() error { return serve(l) })
	}
	if pc != nil {
		serves = append(serves, func() error { return servePacket(pc) })
	}
	if len(serves) == 0 {
		return errors.New("nothing to serve")
	}
	errc := make(chan error, len(serves))
	for _, f := range serves {
		go func() { errc <- f() }()
	}
	err := <-errc
	if !errors.Is(err, closed) {
		stop()
	}
	for range len(serves) - 1 {
		<-errc
	}
	return err
}

// Shutdown stops the server gracefully: it closes the listeners and packet
// connections, wakes connections blocked waiting for input, and waits for
// their handlers to return. If ctx ends first, it closes the remaining
// connections and returns ctx's error.
func (t *Tracker) Shutdown(ctx context.Context) error {
	t.begin()
	t.mu.Lock()
	for c := range t.conns {
		c.SetReadDeadline(time.Now())
	}
	t.mu.Unlock()

	finished := make(chan struct{})
	go func() {
		t.handlers.Wait()
		close(finished)
	}()
	select {
	case <-finished:
		return nil
	case <-ctx.Done():
		t.closeConns()
		<-finished
		return ctx.Err()
	}
}

// Close stops the server at once, closing every listener and connection.
func (t *Tracker) Close() error {
	t.begin()
	t.closeConns()
	t.handlers.Wait()
	return nil
}

func (t *Tracker) begin() {
	t.mu.Lock()
	t.init()
	if t.shutdown.Swap(true) {
		t.mu.Unlock()
		return
	}
	close(t.done)
	for l := range t.listeners {
		l.Close()
	}
	for pc := range t.packets {
		pc.Close()
	}
	t.mu.Unlock()
	if t.OnShutdown != nil {
		t.OnShutdown()
	}
}

func (t *Tracker) closeConns() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for c := range t.conns {
		c.Close()
	}
}

// OrDefault is the defaults rule for a bound a stranger controls (a
// timeout, a size, a count): zero or negative means the default, since
// none would leave the server unbounded (docs/ARCHITECTURE.md, Defaults).
func OrDefault[T int | int64 | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}
