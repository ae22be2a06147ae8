package web

import (
	"bufio"
	"errors"
	"net"
	"time"
)

// Tunnel answers a CONNECT request (RFC 9110 §9.3.6) with "200
// Connection established" and hands the client's connection to the
// caller, for a proxy that relays bytes both ways: the returned reader
// holds what the client sent after its request head. No deadline is left
// on the connection; the caller sets its own. The handler must finish
// with the tunnel before it returns: the server then closes the
// connection. It fails if the response head was already sent or w is not
// a server's.
func Tunnel(w ResponseWriter) (net.Conn, *bufio.Reader, error) {
	r, ok := w.(*response)
	if !ok || r.wroteHeader || r.c.br == nil {
		return nil, nil, errors.New("web: Tunnel on a response already started")
	}
	c := r.c
	c.escalate() // the tunnel waits on both peers
	r.wroteHeader, r.noBody, r.closeAfter, r.status = true, true, true, StatusOK
	const line = "HTTP/1.1 200 Connection established\r\n\r\n"
	c.writer().WriteString(line)
	c.tr.Server("HTTP/1.1 200 Connection established")
	c.tr.Server("")
	if err := c.flush(); err != nil {
		return nil, nil, err
	}
	c.setRead(time.Time{})
	c.writeDL = time.Time{}
	c.nc.SetWriteDeadline(time.Time{})
	return c.nc, c.br, nil
}

// An InlineHandler answers some requests without blocking on anything but
// the client's connection (a cache hit from memory), and says which
// before it is called: such a request may be served on a poller's
// goroutine, without a goroutine of its own (see doc.go). If the handler
// then finds it must wait after all (the entry went away), it calls
// Blocking first.
type InlineHandler interface {
	Handler
	Inline(r *Request) bool
}

// Inline makes h's Inline promise known to the server: use the result as
// the Server's Handler.
func Inline(h InlineHandler) Handler { return inlineAdapter{h} }

type inlineAdapter struct{ InlineHandler }

func (a inlineAdapter) inline(r *Request) bool { return a.Inline(r) }

// Blocking tells the server that the handler behind w is about to do
// something that may wait (a request to another server): when it runs on
// a poller's goroutine, the poller passes to a new goroutine first.
func Blocking(w ResponseWriter) {
	if r, ok := w.(*response); ok {
		r.c.escalate()
	}
}

// Drained reports whether c may carry another request and nothing has
// arrived on it beyond the last response: a server that sent more than
// its response framed (a body longer than its Content-Length) leaves
// bytes that would be read as the next response, so a pool of
// connections (the proxy's) must not reuse such a connection.
func (c *ClientConn) Drained() bool { return c.Reusable() && c.br.Buffered() == 0 }
