package web

import (
	"errors"
	"io"
	"runtime"
	"runtime/debug"
	"sync"
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
// The poller goroutine serves a request itself only when nothing in it can
// block: its head is already read, it has no body, the handler says it
// does not block (inlineHandler), and its response fits the socket. At the
// first thing that could block, the connection escalates: a new goroutine
// takes over the poller and the current one goes on serving this
// connection alone, as a connection goroutine, until it is idle again and
// parks once more.

// pollers is a server's set of pollers, started on first use.
type pollers struct {
	once sync.Once
	ps   []*poller
	next uint32 // round-robin assignment, under mu
	mu   sync.Mutex
}

// poller is one epoll instance and the connections parked on it.
type poller struct {
	s      *Server
	epfd   int
	wakeR  int // read end of a pipe whose write end wakes the loop to stop
	wakeW  int
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
	p    *poller
	evs  []syscall.EpollEvent
	i, n int
}

const wakeMark = -1 // event data of the wake pipe

// park hands an idle connection to a poller; it reports false when none is
// available (the caller then waits on its own goroutine). After a true
// return the connection belongs to the poller: the caller must not touch it.
func (c *conn) park() bool {
	s := c.s
	if c.fd < 0 || s.noPoll {
		return false
	}
	s.polls.once.Do(s.startPollers)
	if len(s.polls.ps) == 0 {
		return false
	}
	if c.poll == nil {
		s.polls.mu.Lock()
		c.poll = s.polls.ps[int(s.polls.next)%len(s.polls.ps)]
		s.polls.next++
		s.polls.mu.Unlock()
	}
	if c.release == nil {
		c.release = s.t.Detach(c.nc)
	}
	return c.poll.park(c)
}

func (s *Server) startPollers() {
	for range runtime.GOMAXPROCS(0) {
		p, err := newPoller(s)
		if err != nil {
			s.logger().Warn("web: no epoll poller; idle connections keep their goroutines", "err", err)
			break
		}
		s.polls.ps = append(s.polls.ps, p)
		go p.run(&pollState{p: p, evs: make([]syscall.EpollEvent, 256)})
	}
}

func newPoller(s *Server) (*poller, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	var pipe [2]int
	if err := syscall.Pipe2(pipe[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		syscall.Close(epfd)
		return nil, err
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: wakeMark}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, pipe[0], &ev); err != nil {
		syscall.Close(epfd)
		syscall.Close(pipe[0])
		syscall.Close(pipe[1])
		return nil, err
	}
	return &poller{s: s, epfd: epfd, wakeR: pipe[0], wakeW: pipe[1], parked: make(map[int32]*conn)}, nil
}

func (p *poller) park(c *conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	c.idleSince = time.Now()
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
			p.closeFDs()
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
	}()
	return c.resume(st)
}

// closeFDs closes the epoll instance and the wake pipe once the loop has
// stopped; park no longer uses them after stop.
func (p *poller) closeFDs() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.epfd >= 0 {
		syscall.Close(p.epfd)
		syscall.Close(p.wakeR)
		syscall.Close(p.wakeW)
		p.epfd = -1
	}
}

// next returns the next ready connection, waiting for one; nil when the
// poller has stopped.
func (p *poller) next(st *pollState) *conn {
	for {
		for st.i < st.n {
			ev := st.evs[st.i]
			st.i++
			if ev.Fd == wakeMark {
				continue
			}
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
		wait := p.sweep()
		if wait < 0 {
			return nil
		}
		n, err := syscall.EpollWait(p.epfd, st.evs, wait)
		if err != nil && !errors.Is(err, syscall.EINTR) {
			p.s.logger().Error("web: epoll_wait failed; poller stopping", "err", err)
			p.stop()
			return nil
		}
		st.i, st.n = 0, max(n, 0)
	}
}

// sweep closes the parked connections idle for longer than the idle
// timeout and returns how many milliseconds the loop may wait for events
// before the next one expires (at most a second), or -1 once the poller has
// stopped.
func (p *poller) sweep() int {
	now := time.Now()
	var expired []*conn
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return -1
	}
	for p.head != nil && now.Sub(p.head.idleSince) >= p.head.idle {
		c := p.head
		p.unpark(c)
		expired = append(expired, c)
	}
	wait := 1000
	if p.head != nil {
		left := p.head.idle - now.Sub(p.head.idleSince)
		wait = min(wait, int(left/time.Millisecond)+1)
	}
	p.mu.Unlock()
	for _, c := range expired {
		c.tr.Note("idle timeout; closing")
		c.release()
	}
	return wait
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
	if p.epfd >= 0 {
		syscall.Write(p.wakeW, []byte{0})
	}
	p.mu.Unlock()
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

// initPoll prepares c for parking: its descriptor, or -1 when it has none.
func (c *conn) initPoll() {
	c.fd = -1
	if c.raw != nil {
		c.raw.Control(func(u uintptr) { c.fd = int32(u) })
		c.rio.readFn = c.rio.read
		c.rio.writeFn = c.rio.write
	}
}
