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
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxConns is the connection limit when Tracker.MaxConns is zero.
const DefaultMaxConns = 4096

// ErrClosed is returned by Serve methods after Shutdown or Close when the
// Tracker was given no error of the protocol's own.
var ErrClosed = errors.New("server closed")

// A Tracker owns a server's listeners and connections. Its exported fields
// are configuration, set before the first Serve call; the zero value works.
type Tracker struct {
	// Name labels log lines, e.g. "upper/tcp".
	Name string
	// MaxConns bounds the connections served at once (default
	// DefaultMaxConns; negative means no limit). A connection accepted over
	// the limit is closed at once, so that a flood of idle connections
	// cannot make later clients wait unseen in the listen queue.
	MaxConns int
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
	refusing  atomic.Int32 // Refuse calls running
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

// ReadDeadline sets c's read deadline to now+d (no deadline when d <= 0) and
// reports whether the connection should go on reading. It returns false once
// shutdown has begun; setting the deadline before checking closes the race
// with Shutdown, which sets the flag before it wakes readers.
func (t *Tracker) ReadDeadline(c net.Conn, d time.Duration) bool {
	var dl time.Time
	if d > 0 {
		dl = time.Now().Add(d)
	}
	c.SetReadDeadline(dl)
	return !t.shutdown.Load()
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
	detached bool // under mu
}

func (t *Tracker) track(c net.Conn) *connState {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.shutdown.Load() {
		return nil
	}
	limit := t.MaxConns
	if limit == 0 {
		limit = DefaultMaxConns
	}
	if limit > 0 && len(t.conns) >= limit {
		now := time.Now().UnixNano()
		if last := t.lastWarn.Load(); now-last > int64(time.Second) && t.lastWarn.CompareAndSwap(last, now) {
			t.logger().Warn("connection limit reached; refusing connections", "server", t.Name, "limit", limit, "remote", c.RemoteAddr().String())
		}
		return nil
	}
	st := &connState{}
	t.conns[c] = st
	t.handlers.Add(1)
	return st
}

func (t *Tracker) run(c net.Conn, st *connState, handle func(net.Conn)) {
	defer func() {
		t.mu.Lock()
		// Once detached, c may even be released already: its release
		// owns the rest.
		detached := st.detached
		if !detached {
			delete(t.conns, c)
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
// against MaxConns, Close closes it and Shutdown waits for its release.
// It lets a server keep an idle connection without a goroutine.
func (t *Tracker) Detach(c net.Conn) (release func()) {
	t.mu.Lock()
	t.conns[c].detached = true
	t.mu.Unlock()
	return sync.OnceFunc(func() {
		t.mu.Lock()
		delete(t.conns, c)
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
