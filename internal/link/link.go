// Package link simulates an access link's rate in user space, for
// demonstrations on loopback, where a real link's bandwidth is gigabytes a
// second and the textbook's transmission delay (L/R, section 1.4) cannot
// be seen. [Pace] wraps a client's connection so that what it reads
// arrives no faster than a given rate: the server's bytes then come in the
// order it sent them, at the pace of a slow link, which is what makes
// HTTP/1.1's head-of-line blocking and HTTP/2's interleaving visible.
//
// Only reads are paced (the downlink, where a page's bytes flow); the
// reader's TCP receive window then throttles the sender, as a bottleneck
// link would.
package link

import (
	"net"
	"sync"
	"time"
)

// Conn is a net.Conn whose reads are paced to a rate.
type Conn struct {
	net.Conn
	rate float64 // bytes per second

	mu    sync.Mutex
	due   time.Time // when the bytes read so far have "arrived"
	now   func() time.Time
	sleep func(time.Duration)
}

// Pace returns c with reads paced to bytesPerSecond; a rate of zero or less
// returns c itself.
func Pace(c net.Conn, bytesPerSecond int64) net.Conn {
	if bytesPerSecond <= 0 {
		return c
	}
	return &Conn{Conn: c, rate: float64(bytesPerSecond), now: time.Now, sleep: time.Sleep}
}

// quantum is how long one read may stand for: reads are cut to the bytes
// the link carries in this time, so that the pace is smooth.
const quantum = 5 * time.Millisecond

// Read reads at most a quantum's worth of bytes, then waits until the link
// would have delivered them.
func (c *Conn) Read(p []byte) (int, error) {
	if limit := max(int(c.rate*quantum.Seconds()), 1); len(p) > limit {
		p = p[:limit]
	}
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.mu.Lock()
		now := c.now()
		if c.due.Before(now) {
			c.due = now
		}
		c.due = c.due.Add(time.Duration(float64(n) / c.rate * float64(time.Second)))
		wait := c.due.Sub(now)
		c.mu.Unlock()
		if wait > 0 {
			c.sleep(wait)
		}
	}
	return n, err
}
