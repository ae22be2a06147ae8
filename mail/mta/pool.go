package mta

import (
	"context"
	"sync"
	"time"

	"github.com/applayer/applayer/mail/smtpclient"
)

// Pool limits.
const (
	poolIdle    = 5 * time.Second // an idle relay connection is closed after this
	poolPerAddr = 8               // idle connections kept per exchanger address
)

// connPool keeps relay connections open between messages to the same
// exchanger, so that a busy queue does not pay a TCP handshake, a
// greeting, EHLO and STARTTLS per message: RFC 5321 section 3.3 lets one
// session carry many transactions. The zero value is ready to use.
type connPool struct {
	mu   sync.Mutex
	idle map[string][]pooledConn
}

type pooledConn struct {
	c     *smtpclient.Client
	since time.Time
}

// get returns the most recently used idle connection to addr, or nil.
func (p *connPool) get(addr string) *smtpclient.Client {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.idle[addr]
	if len(l) == 0 {
		return nil
	}
	c := l[len(l)-1].c
	p.idle[addr] = l[:len(l)-1]
	return c
}

// put keeps c for the next message to addr, or says QUIT when enough are
// kept already.
func (p *connPool) put(addr string, c *smtpclient.Client) {
	p.mu.Lock()
	if p.idle == nil {
		p.idle = map[string][]pooledConn{}
	}
	if len(p.idle[addr]) < poolPerAddr {
		p.idle[addr] = append(p.idle[addr], pooledConn{c, time.Now()})
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	quit(c)
}

// reap closes connections idle for longer than poolIdle.
func (p *connPool) reap() {
	var old []*smtpclient.Client
	p.mu.Lock()
	for addr, l := range p.idle {
		keep := l[:0]
		for _, pc := range l {
			if time.Since(pc.since) > poolIdle {
				old = append(old, pc.c)
			} else {
				keep = append(keep, pc)
			}
		}
		if len(keep) == 0 {
			delete(p.idle, addr)
		} else {
			p.idle[addr] = keep
		}
	}
	p.mu.Unlock()
	for _, c := range old {
		quit(c)
	}
}

// closeAll ends every idle connection.
func (p *connPool) closeAll() {
	p.mu.Lock()
	all := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, l := range all {
		for _, pc := range l {
			quit(pc.c)
		}
	}
}

func quit(c *smtpclient.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c.Quit(ctx)
	c.Close()
}
