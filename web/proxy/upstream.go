package proxy

import (
	"context"
	"errors"
	"io"
	"sync"
	"syscall"
	"time"

	"github.com/applayer/applayer/internal/transcript"
	"github.com/applayer/applayer/web"
)

type idleConn struct {
	c     *web.ClientConn
	since time.Time
}

// pool keeps idle persistent connections to origins, a few per address.
type pool struct {
	mu      sync.Mutex
	idle    map[string][]idleConn
	maxIdle int
	timeout time.Duration
	trace   *transcript.Recorder
}

// maxIdleAge is how long an idle connection is kept: origins close theirs
// after a few seconds (Node's default is 5 s, nginx's 75 s), and a request
// sent just as one does is lost.
const maxIdleAge = 2 * time.Second

// get returns a connection to addr: an idle one unless fresh is set
// (a request with a body, which cannot be retried, goes on a new one).
func (p *pool) get(ctx context.Context, addr string, fresh bool) (c *web.ClientConn, reused bool, err error) {
	p.mu.Lock()
	for l := p.idle[addr]; len(l) > 0 && !fresh; l = p.idle[addr] {
		ic := l[len(l)-1]
		p.idle[addr] = l[:len(l)-1]
		c = ic.c
		if c.Drained() && time.Since(ic.since) < maxIdleAge {
			p.mu.Unlock()
			return c, true, nil
		}
		c.Close()
	}
	p.mu.Unlock()
	c, err = web.Dial(ctx, addr, web.Options{Timeout: p.timeout, Trace: p.trace})
	return c, false, err
}

func (p *pool) put(c *web.ClientConn) {
	if !c.Drained() {
		c.Close()
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.idle == nil {
		p.idle = map[string][]idleConn{}
	}
	if len(p.idle[c.Addr()]) >= p.maxIdle {
		c.Close()
		return
	}
	p.idle[c.Addr()] = append(p.idle[c.Addr()], idleConn{c, time.Now()})
}

func (p *pool) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.idle {
		for _, ic := range l {
			ic.c.Close()
		}
	}
	p.idle = nil
}

func closedIdle(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// exchange is one request to an origin and its response. Close returns
// the connection to the pool if the body was read to its end.
type exchange struct {
	*web.Response
	conn    *web.ClientConn
	p       *pool
	body    *countingReader
	reqTime time.Time
	rspTime time.Time
}

type countingReader struct {
	r   io.Reader
	n   int64
	eof bool
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	if err == io.EOF {
		c.eof = true
	}
	return n, err
}

func (x *exchange) Close() {
	if x.body.eof {
		x.p.put(x.conn)
	} else {
		x.conn.Close()
	}
}

// do sends req to addr over a pooled connection. A request without a body
// that fails on a reused connection (the origin closed it while idle) is
// tried once more on a new one.
func (p *pool) do(ctx context.Context, addr string, req *web.OutRequest) (*exchange, error) {
	for attempt := 0; ; attempt++ {
		c, reused, err := p.get(ctx, addr, req.Body != nil)
		if err != nil {
			return nil, err
		}
		start := time.Now()
		resp, err := c.Do(ctx, req)
		if err != nil {
			c.Close()
			// Only a connection the origin closed while it was idle is worth
			// another try: then the request was not read. A response that
			// came but could not be parsed was an answer; sending the
			// request again would repeat it at the origin.
			if reused && req.Body == nil && attempt == 0 && ctx.Err() == nil && closedIdle(err) {
				continue
			}
			return nil, err
		}
		cr := &countingReader{r: resp.Body}
		resp.Body = cr
		return &exchange{Response: resp, conn: c, p: p, body: cr, reqTime: start, rspTime: time.Now()}, nil
	}
}
