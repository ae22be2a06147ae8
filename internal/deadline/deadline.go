// Package deadline gives a client connection a per-operation timeout: the
// deadline moves before each read and write, so that a silent peer cannot
// hold a client whose context has no deadline, while a long transfer that
// keeps moving is never cut.
package deadline

import (
	"net"
	"sync/atomic"
	"time"
)

// Conn moves its deadline before each read and write: Timeout from now,
// or the limit set by SetLimit (a context's deadline) if that is sooner.
type Conn struct {
	net.Conn
	timeout time.Duration
	limit   atomic.Int64 // UnixNano; 0 for none
}

// New wraps c; a timeout of zero or less sets none but the limit.
func New(c net.Conn, timeout time.Duration) *Conn {
	return &Conn{Conn: c, timeout: timeout}
}

// SetLimit sets the latest deadline any operation may have (the zero time
// for none); it may be called from another goroutine, as a context's
// AfterFunc does to cut a blocked operation short.
func (c *Conn) SetLimit(t time.Time) {
	var n int64
	if !t.IsZero() {
		n = t.UnixNano()
	}
	c.limit.Store(n)
}

func (c *Conn) deadline() time.Time {
	var t time.Time
	if c.timeout > 0 {
		t = time.Now().Add(c.timeout)
	}
	if n := c.limit.Load(); n != 0 && (t.IsZero() || n < t.UnixNano()) {
		t = time.Unix(0, n)
	}
	return t
}

func (c *Conn) Read(p []byte) (int, error) {
	c.Conn.SetReadDeadline(c.deadline())
	return c.Conn.Read(p)
}

func (c *Conn) Write(p []byte) (int, error) {
	c.Conn.SetWriteDeadline(c.deadline())
	return c.Conn.Write(p)
}
