package web

import (
	"bufio"
	"crypto/tls"
	"net"
	"strings"
	"time"

	"github.com/applayer/applayer/internal/lifecycle"
)

// A Handoff is a connection the HTTP/1.1 server gives to another protocol
// engine (HTTP/2, package web/http2) once it has seen that the client
// speaks it: by the HTTP/2 preface (prior knowledge), by a request with
// "Upgrade: h2c", or by TLS ALPN "h2".
type Handoff struct {
	Conn net.Conn
	// Reader holds what was read from Conn and not consumed.
	Reader *bufio.Reader
	// Preface reports that the preface's first part, the request line
	// "PRI * HTTP/2.0" and its empty line, was consumed.
	Preface bool
	// Upgrade is the HTTP/1.1 request that asked for h2c, already
	// answered with 101 Switching Protocols; it has no body.
	Upgrade *Request
	// Tracker is the server's, for shutdown, idle marks and timeouts.
	Tracker *lifecycle.Tracker
	// SetEvict, when not nil, takes a function that closes the connection
	// at once if it is idle and reports whether it did: how the server
	// makes room at MaxConns by evicting it, as it evicts a parked
	// HTTP/1.1 connection.
	SetEvict func(evict func() bool)
}

// A ConnHandler serves a handed-off connection until it ends.
type ConnHandler interface {
	ServeHandoff(h *Handoff)
}

// SetTarget parses a request-target (RFC 9112 §3.2) into r's Target, Form,
// Path, RawPath, RawQuery (and Host and Scheme for the absolute and
// authority forms): what an HTTP/2 request's :path or a CONNECT's
// :authority carries. r.Method must be set first.
func (r *Request) SetTarget(target string) error { return parseTarget(target, r) }

// isPreface reports whether a request line that failed with 505 was the
// first line of the HTTP/2 connection preface (RFC 9113 §3.4).
func (c *conn) isPreface(err error) bool {
	e, ok := err.(*Error)
	return ok && e.Status == StatusVersionNotSupported && c.n == 0 && c.s.HTTP2 != nil &&
		c.p.ends != nil && len(c.p.ends) == 1 && string(c.p.buf) == "PRI * HTTP/2.0"
}

// notHTTP1 reports whether the first request of a connection with HTTP/2
// on was a lone line of three words whose last is no HTTP version: not
// HTTP/1.x, but what an HTTP/2 client with a broken preface sends (h2spec's
// "INVALID CONNECTION PREFACE"). RFC 9113 §3.4 has the connection end
// then, and an HTTP/1.1 400 would be read as a garbage frame; so it is
// closed unanswered (RFC 9112 §3 only says a server SHOULD answer 400).
func (c *conn) notHTTP1(err error) bool {
	e, ok := err.(*Error)
	if !ok || e.Status != StatusBadRequest || c.n != 0 || c.s.HTTP2 == nil || len(c.p.ends) != 1 {
		return false
	}
	parts := strings.Split(string(c.p.buf), " ")
	return len(parts) == 3 && !strings.HasPrefix(parts[2], "HTTP/")
}

// handoff gives the connection to s.HTTP2 and returns when it has ended.
func (c *conn) handoff(h *Handoff) {
	c.escalate()
	c.flush()
	c.releaseWriter()
	h.Conn, h.Tracker = c.nc, &c.s.t
	if c.release != nil {
		// Detached once parked: the Tracker evicts it through the
		// poller, which hands the eviction to the other engine.
		h.SetEvict = func(evict func() bool) { c.evictHandoff.Store(&evict) }
	}
	if h.Reader == nil {
		c.reader()
		h.Reader = c.br
	}
	c.br = nil // the other engine owns what is buffered
	c.nc.SetReadDeadline(time.Time{})
	c.tr.Note("handing the connection to HTTP/2")
	c.s.HTTP2.ServeHandoff(h)
}

// wantsH2C reports whether req asks to upgrade to h2c (RFC 7540 §3.2) in a
// way we take: HTTP/1.1, no body, Connection naming Upgrade and
// HTTP2-Settings, one HTTP2-Settings field.
func (c *conn) wantsH2C(req *Request) bool {
	if c.s.HTTP2 == nil || c.tls || req.ProtoMinor != 1 || req.ContentLength != 0 || req.Chunked {
		return false
	}
	up := req.Header.Get("Upgrade")
	if up == "" || !req.Header.hasToken("Upgrade", "h2c") {
		return false
	}
	return req.Header.hasToken("Connection", "upgrade") && req.Header.hasToken("Connection", "http2-settings") &&
		req.Header.count("HTTP2-Settings") == 1
}

// upgradeH2C answers 101 and hands the connection over with req as its
// stream 1.
func (c *conn) upgradeH2C(req *Request) {
	w := c.writer()
	w.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
	c.tr.Server("HTTP/1.1 101 Switching Protocols")
	if c.flush() != nil {
		return
	}
	r := *req
	r.Header = append(Header(nil), req.Header...)
	r.Body = &noBody{}
	c.reader()
	c.handoff(&Handoff{Upgrade: &r, Reader: c.br})
}

// tlsHandshake completes a TLS handshake within the header timeout, and
// hands an "h2" connection to HTTP/2; it reports whether the connection
// is to be served here as HTTP/1.1.
func (c *conn) tlsHandshake(tc *tls.Conn) bool {
	c.tls = true
	tc.SetDeadline(time.Now().Add(c.headerTimeout()))
	if err := tc.Handshake(); err != nil {
		c.tr.Note("TLS handshake failed: " + err.Error())
		return false
	}
	tc.SetDeadline(time.Time{})
	st := tc.ConnectionState()
	c.tr.Note("TLS " + tls.VersionName(st.Version) + " ALPN " + strings.TrimSpace(st.NegotiatedProtocol))
	if st.NegotiatedProtocol == "h2" && c.s.HTTP2 != nil {
		c.handoff(&Handoff{})
		return false
	}
	return true
}
