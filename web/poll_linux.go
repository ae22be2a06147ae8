package web

import (
	"cmp"
	"errors"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The pollers keep idle keep-alive connections the way nginx does: each
// parked connection is registered, one-shot, with an epoll instance, and
// has no goroutine and no buffers while it waits. One goroutine per poller
// waits for readiness and serves the ready connections in the order the
// kernel reports them, one request after another on the same goroutine,
// without a goroutine wake-up per request. Go's own poller would wake each
// connection's goroutine instead, in an order reversed batch by batch,
// which spreads the latency of equal requests over twice the mean.
//
// The poller goroutine serves a request itself only while nothing in it
// waits: its head is already read, it has no body, the handler says it
// does not block (inlineHandler), and its response (written or sent with
// sendfile) fits the socket. At the first thing that would wait, the
// connection escalates: a new goroutine takes over the poller and the
// current one goes on serving this connection alone, as a connection
// goroutine, until it is idle again and parks once more.

// pollers is a server's set of pollers, started on first use.
type pollers struct {
	once sync.Once
	ps   []*poller
	next atomic.Uint32 // round-robin assignment
}

// poller is one epoll instance and the connections parked on it.
type poller struct {
	s      *Server
	epfd   int
	file   *os.File        // epfd, waited on through Go's own poller
	rc     syscall.RawConn // file's
	dl     time.Time       // file's read deadline: the next idle sweep
	mu     sync.Mutex
	parked map[int32]*conn // by descriptor
	head   *conn           // oldest parked connection (idle list)
	tail   *conn
	closed bool
}

// pollState is the poller role: the events read by the last wait and how
// far the loop has gone through them. It passes from goroutine to
// goroutine when a connection escalates.
type pollState struct {
	p     *poller
	evs   []syscall.EpollEvent
	i, n  int
	since time.Time // when the loop last let the scheduler poll
}

// yieldAfter bounds how long a busy poller keeps its P from other
// goroutines. A loop that always finds more events never parks: a
// goroutine queued behind it (another poller, a connection that left a
// poller) would wait for sysmon to preempt it, 10 ms later, and the
// scheduler looks for network readiness only when a P runs out of work.
const yieldAfter = 500 * time.Microsecond

// park hands an idle connection to a poller; it reports false when none is
// available (the caller then waits on its own goroutine). After a true
// return the connection belongs to the poller: the caller must not touch it.
func (c *conn) park() bool {
	s := c.s
	if c.fd < 0 || s.Pollers < 0 {
		return false
	}
	s.polls.once.Do(s.startPollers)
	if len(s.polls.ps) == 0 {
		return false
	}
	if c.poll == nil {
		c.poll = s.polls.ps[int(s.polls.next.Add(1))%len(s.polls.ps)]
	}
	if c.release == nil {
		release := s.t.Detach(c.nc)
		c.gone = make(chan struct{})
		c.release = sync.OnceFunc(func() { release(); close(c.gone) })
		s.t.Idle(c.nc, func() bool { return c.poll.evict(c) })
	}
	return c.poll.park(c)
}

func (s *Server) startPollers() {
	n := s.Pollers
	if n == 0 {
		n = max(runtime.GOMAXPROCS(0)-1, 1)
	}
	for range n {
		p, err := newPoller(s)
		if err != nil {
			s.logger().Warn("web: no epoll poller; idle connections keep their goroutines", "err", err)
			break
		}
		s.polls.ps = append(s.polls.ps, p)
		go p.run(&pollState{p: p, evs: make([]syscall.EpollEvent, 256)})
	}
}

// newPoller makes an epoll instance. The instance is itself readable when
// it has events, so the loop waits for it in Go's own poller, like any
// socket: no thread sleeps in epoll_wait holding a P, and the scheduler
// sees the wait.
func newPoller(s *Server) (*poller, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	if err := syscall.SetNonblock(epfd, true); err != nil {
		syscall.Close(epfd)
		return nil, err
	}
	f := os.NewFile(uintptr(epfd), "epoll")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &poller{s: s, epfd: epfd, file: f, rc: rc, parked: make(map[int32]*conn)}, nil
}

func (p *poller) park(c *conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	c.idleSince = time.Now()
	p.s.t.Idle(c.nc, nil) // parked connections are the first evicted
	c.parked = true
	p.parked[c.fd] = c
	p.link(c)
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: c.fd}
	op := syscall.EPOLL_CTL_MOD
	if !c.registered {
		op = syscall.EPOLL_CTL_ADD
	}
	if err := syscall.EpollCtl(p.epfd, op, int(c.fd), &ev); err != nil {
		p.unpark(c)
		return false
	}
	c.registered = true
	return true
}

// evict closes c if it is still parked: the Tracker makes room for a new
// connection when the server is at MaxConns (lifecycle.Tracker.Idle).
func (p *poller) evict(c *conn) bool {
	p.mu.Lock()
	if !c.parked {
		p.mu.Unlock()
		// An idle HTTP/2 connection handed over, or one blocked in a
		// request head on its own goroutine.
		if evict := c.evictHandoff.Load(); evict != nil && (*evict)() {
			c.release()
			return true
		}
		return c.evictHead()
	}
	p.unpark(c)
	p.mu.Unlock()
	c.tr.Note("evicted: idle while the server is full; closing")
	c.release()
	return true
}

// headEvictWait bounds how long evicting a connection blocked in a request
// head waits for its goroutine to release it.
const headEvictWait = 100 * time.Millisecond

// evictHead evicts c, detached but served on its own goroutine, if that
// goroutine is blocked reading a request head: its read is woken, it
// closes c and releases it, which evictHead waits for (bounded, since the
// Tracker counts on the slot being free when it returns true).
func (c *conn) evictHead() bool {
	if !c.headWait.CompareAndSwap(true, false) {
		return false
	}
	c.nc.SetReadDeadline(time.Now())
	select {
	case <-c.gone:
		return true
	case <-time.After(headEvictWait):
		return false
	}
}

// unpark takes c off the idle list; under mu.
func (p *poller) unpark(c *conn) {
	c.parked = false
	delete(p.parked, c.fd)
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		p.head = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else {
		p.tail = c.prev
	}
	c.prev, c.next = nil, nil
}

// link appends c to the idle list; under mu.
func (p *poller) link(c *conn) {
	c.prev, c.next = p.tail, nil
	if p.tail != nil {
		p.tail.next = c
	} else {
		p.head = c
	}
	p.tail = c
}

// run is the poller loop: it takes ready connections one at a time and
// serves them. It returns when the poller stops, or when a connection
// escalated, in which case another goroutine has taken st over.
func (p *poller) run(st *pollState) {
	for {
		c := p.next(st)
		if c == nil {
			return
		}
		if p.serve(c, st) {
			return
		}
	}
}

// serve resumes c; a panic (a bug: handlers' own panics are caught
// earlier) ends c but not the poller.
func (p *poller) serve(c *conn, st *pollState) (escalated bool) {
	defer func() {
		if r := recover(); r != nil {
			p.s.logger().Error("web: panic serving connection", "remote", c.remote, "panic", r, "stack", string(debug.Stack()))
			escalated = c.st == nil
			c.release()
		}
		if escalated {
			p.s.escalated.Add(-1)
		}
	}()
	return c.resume(st)
}

// next returns the next ready connection, waiting for one; nil when the
// poller has stopped.
func (p *poller) next(st *pollState) *conn {
	for {
		for st.i < st.n {
			ev := st.evs[st.i]
			st.i++
			p.mu.Lock()
			c := p.parked[ev.Fd]
			if c != nil {
				p.unpark(c)
			}
			p.mu.Unlock()
			if c != nil {
				return c
			}
		}
		next := p.sweep()
		if next.IsZero() {
			return nil
		}
		if now := time.Now(); now.Sub(st.since) > yieldAfter {
			if p.s.escalated.Load() > 0 {
				// Sleeping leaves the P without work, so the scheduler
				// polls the network and runs what is ready before the
				// loop goes on (a shorter sleep would be over before the
				// scheduler looks).
				time.Sleep(20 * time.Microsecond)
			} else {
				runtime.Gosched()
			}
			st.since = time.Now()
		}
		if d := next.Sub(p.dl); d > 50*time.Millisecond || d < -50*time.Millisecond {
			p.dl = next
			p.file.SetReadDeadline(next)
		}
		n, err := p.wait(st)
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			p.dl = time.Time{}
		case err != nil:
			p.mu.Lock()
			closed := p.closed
			p.mu.Unlock()
			if !closed {
				p.s.logger().Error("web: epoll_wait failed; poller stopping", "err", err)
				p.stop()
			}
			return nil
		}
		st.i, st.n = 0, n
	}
}

// wait fills st.evs with ready events, parking the goroutine in Go's poller
// while there are none.
func (p *poller) wait(st *pollState) (n int, err error) {
	parked := false
	rerr := p.rc.Read(func(fd uintptr) bool {
		for {
			n, err = syscall.EpollWait(int(fd), st.evs, 0)
			if err != syscall.EINTR {
				break
			}
		}
		n = max(n, 0)
		if n == 0 && err == nil {
			parked = true
			return false
		}
		return true
	})
	if parked {
		st.since = time.Now()
	}
	return n, cmp.Or(err, rerr)
}

// sweep closes the parked connections idle for longer than the idle
// timeout and returns when the next one expires (at most a second ahead),
// or the zero time once the poller has stopped.
func (p *poller) sweep() time.Time {
	now := time.Now()
	var expired []*conn
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return time.Time{}
	}
	// The idle timeout, cut under load (lifecycle.Tracker.Timeout), is the
	// same for every connection, so the list stays in order of expiry.
	for p.head != nil && now.Sub(p.head.idleSince) >= p.s.t.Timeout(p.head.idle) {
		c := p.head
		p.unpark(c)
		expired = append(expired, c)
	}
	next := now.Add(time.Second)
	if p.head != nil {
		if t := p.head.idleSince.Add(p.s.t.Timeout(p.head.idle)); t.Before(next) {
			next = t
		}
	}
	p.mu.Unlock()
	for _, c := range expired {
		c.tr.Note("idle timeout; closing")
		c.release()
	}
	return next
}

// stop closes every parked connection, refuses new ones and ends the loop.
func (p *poller) stop() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	var all []*conn
	for p.head != nil {
		c := p.head
		p.unpark(c)
		all = append(all, c)
	}
	p.mu.Unlock()
	p.file.Close() // wakes the loop; park no longer uses epfd
	for _, c := range all {
		c.tr.Note("server shutting down")
		c.release()
	}
}

// stopPollers is the Tracker's OnShutdown: parked connections are idle, so
// they close at once, as net/http closes idle connections.
func (s *Server) stopPollers() {
	s.polls.once.Do(func() {}) // none start after this
	for _, p := range s.polls.ps {
		p.stop()
	}
}

// rawIO is a connection's non-blocking reads and writes, with the
// callbacks bound once so that each call allocates nothing.
type rawIO struct {
	buf     []byte
	n       int
	err     error
	readFn  func(uintptr) bool
	writeFn func(uintptr) bool
}

func (r *rawIO) read(fd uintptr) bool {
	for {
		r.n, r.err = syscall.Read(int(fd), r.buf)
		if r.err != syscall.EINTR {
			return true
		}
	}
}

func (r *rawIO) write(fd uintptr) bool {
	for r.n < len(r.buf) {
		m, err := syscall.Write(int(fd), r.buf[r.n:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			r.err = err
			break
		}
		r.n += m
	}
	return true
}

// rawRead reads what the socket holds without waiting: errWouldBlock when
// nothing is there.
func (c *conn) rawRead(b []byte) (int, error) {
	r := &c.rio
	r.buf, r.n, r.err = b, 0, nil
	rerr := c.raw.Read(r.readFn)
	n, err := max(r.n, 0), r.err
	r.buf, r.err = nil, nil
	switch {
	case err == syscall.EAGAIN:
		return 0, errWouldBlock
	case err != nil:
		return 0, err
	case rerr != nil:
		return 0, rerr
	case n == 0 && len(b) > 0:
		return 0, io.EOF
	}
	return n, nil
}

// rawWrite writes what the socket takes without waiting.
func (c *conn) rawWrite(b []byte) (int, error) {
	r := &c.rio
	r.buf, r.n, r.err = b, 0, nil
	werr := c.raw.Write(r.writeFn)
	n, err := r.n, r.err
	r.buf, r.err = nil, nil
	if err == syscall.EAGAIN {
		err = errWouldBlock
	}
	if err == nil {
		err = werr
	}
	return n, err
}

// rawSendfile sends up to n bytes of f from its current offset with
// sendfile(2), as much as the socket takes without waiting, and leaves f's
// offset after what was sent.
func (c *conn) rawSendfile(f *os.File, n int64) (int64, error) {
	fc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	off, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, err
	}
	start := off
	var serr error
	cerr := fc.Control(func(ffd uintptr) {
		werr := c.raw.Write(func(sfd uintptr) bool {
			for off-start < n {
				m, e := syscall.Sendfile(int(sfd), int(ffd), &off, int(min(n-(off-start), 1<<30)))
				if e == syscall.EINTR {
					continue
				}
				if e != nil {
					serr = e
					break
				}
				if m == 0 {
					break // the file is shorter than it was
				}
			}
			return true
		})
		serr = cmp.Or(serr, werr)
	})
	sent := off - start
	if sent > 0 {
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			return sent, err
		}
	}
	switch {
	case serr == syscall.EAGAIN:
		serr = errWouldBlock
	case sent == 0 && (serr == syscall.EINVAL || serr == syscall.ENOSYS || serr == syscall.EOPNOTSUPP):
		// No sendfile from this file: the connection's own goroutine
		// copies it, as Go's sendfile falls back to a copy.
		serr = errWouldBlock
	}
	return sent, cmp.Or(serr, cerr)
}

// initPoll prepares c for parking: its descriptor, or -1 when it has none.
func (c *conn) initPoll() {
	c.fd = -1
	if c.raw != nil {
		c.raw.Control(func(u uintptr) { c.fd = int32(u) })
		c.rio.readFn = c.rio.read
		c.rio.writeFn = c.rio.write
	}
}
