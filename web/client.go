package web

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/applayer/applayer/internal/deadline"
	"github.com/applayer/applayer/internal/link"
	"github.com/applayer/applayer/internal/transcript"
)

// Response is a response read by a client (RFC 9112 §4).
type Response struct {
	Proto      string // "HTTP/1.1" or "HTTP/1.0"
	ProtoMinor int
	Status     int
	Reason     string
	Header     Header
	// ContentLength is the body's length, -1 when unknown (chunked or
	// delimited by the connection closing).
	ContentLength int64
	// Body reads the body; the next response on the connection can be read
	// only after this one's body has been read to its end.
	Body    io.Reader
	Trailer Header
	// Close reports that the server will close the connection after this
	// response.
	Close bool
}

// ReadResponse reads a response to a request with the given method from br,
// skipping interim 1xx responses other than 101 (RFC 9110 §15.2).
func ReadResponse(br *bufio.Reader, method string) (*Response, error) {
	var p parser
	p.lim = Limits{MaxTarget: 8 << 10, MaxHeaderBytes: 64 << 10, MaxBodyBytes: -1}
	for {
		resp, err := p.readResponse(br, method)
		if err != nil {
			return nil, err
		}
		if resp.Status >= 200 || resp.Status == 101 {
			return resp, nil
		}
	}
}

func (p *parser) readResponse(br *bufio.Reader, method string) (*Response, error) {
	if err := p.readHead(br, p.lim.MaxTarget, p.lim.MaxHeaderBytes, false); err != nil {
		if err == io.EOF {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	if len(p.ends) == 0 {
		return nil, errors.New("web: empty line where a status line was expected")
	}
	head := string(p.buf)
	resp := &Response{}
	// status-line = HTTP-version SP status-code SP [ reason-phrase ]
	line := head[:p.ends[0]]
	version, rest, _ := strings.Cut(line, " ")
	minor, err := parseVersion(version)
	if err != nil {
		return nil, errors.New("web: malformed status line " + strconv.Quote(line))
	}
	code, reason, _ := strings.Cut(rest, " ")
	if len(code) != 3 || !isDigit(code[0]) || !isDigit(code[1]) || !isDigit(code[2]) || code[0] == '0' {
		return nil, errors.New("web: malformed status code in " + strconv.Quote(line))
	}
	resp.Status, _ = strconv.Atoi(code)
	resp.Reason = reason
	resp.ProtoMinor = minor
	resp.Proto = version
	if resp.Header, err = parseFields(head, p.ends, nil); err != nil {
		return nil, err
	}
	if minor == 0 {
		resp.Close = !resp.Header.hasToken("Connection", "keep-alive")
	} else {
		resp.Close = resp.Header.hasToken("Connection", "close")
	}
	// Framing of a response (RFC 9112 §6.3).
	switch {
	case method == "HEAD" || resp.Status < 200 || resp.Status == 204 || resp.Status == 304:
		resp.Body = noBody{}
	case resp.Header.Has("Transfer-Encoding") && minor == 0:
		// RFC 9112 §6.1: an HTTP/1.0 message with Transfer-Encoding has
		// faulty framing (1.0 has no transfer codings).
		return nil, errors.New("web: HTTP/1.0 response with Transfer-Encoding (RFC 9112 §6.1)")
	case resp.Header.Has("Transfer-Encoding"):
		codings := strings.Split(strings.Join(resp.Header.Values("Transfer-Encoding"), ","), ",")
		if !equalFold(strings.TrimSpace(codings[len(codings)-1]), "chunked") {
			resp.ContentLength = -1
			resp.Close = true
			resp.Body = br
			break
		}
		if len(codings) > 1 {
			return nil, errors.New("web: response uses transfer codings other than chunked")
		}
		resp.ContentLength = -1
		var c chunkedReader
		c.reset(br, &resp.Trailer, 64<<10, -1)
		resp.Body = &c
	case resp.Header.Has("Content-Length"):
		vals := resp.Header.Values("Content-Length")
		n, ok := parseContentLength(strings.TrimSpace(vals[0]))
		for _, v := range vals[1:] {
			if m, ok2 := parseContentLength(strings.TrimSpace(v)); !ok2 || m != n {
				ok = false
			}
		}
		if !ok {
			return nil, errors.New("web: response with an invalid Content-Length")
		}
		resp.ContentLength = n
		resp.Body = &fixedBody{br: br, n: n}
	default:
		resp.ContentLength = -1
		resp.Close = true
		resp.Body = br
	}
	return resp, nil
}

// ClientConn is one client connection to a server, carrying one request at
// a time (HTTP/1.1 persistent connections, RFC 9112 §9.3).
type ClientConn struct {
	// Connect is how long the TCP handshake took: one RTT.
	Connect time.Duration
	// Requests counts the requests sent.
	Requests int

	addr   string
	nc     *deadline.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	tr     *transcript.Session
	closed bool
	last   *Response
}

// DefaultClientTimeout bounds each read and write of a client connection
// when Options.Timeout is zero, so that nothing waits forever on a silent
// server when the context has no deadline.
const DefaultClientTimeout = 30 * time.Second

// Options configure a client connection.
type Options struct {
	// Timeout bounds the handshake and each read and write on the
	// connection, within whatever the context allows (default
	// DefaultClientTimeout; negative: none but the context's).
	Timeout time.Duration
	// Trace records the dialogue; nil records nothing.
	Trace *transcript.Recorder
	// Rate, when positive, paces what the connection reads to this many
	// bytes a second: a slow access link simulated on loopback
	// (internal/link).
	Rate int64
}

// Dial opens a connection to addr (host:port), timing the handshake.
func Dial(ctx context.Context, addr string, opts Options) (*ClientConn, error) {
	to := cmp.Or(opts.Timeout, DefaultClientTimeout)
	d := net.Dialer{Timeout: max(to, 0)}
	start := time.Now()
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	nc := deadline.New(link.Pace(raw, opts.Rate), to)
	c := &ClientConn{Connect: time.Since(start), addr: addr, nc: nc, br: bufio.NewReaderSize(nc, 32<<10), bw: bufio.NewWriterSize(nc, 4<<10)}
	c.tr = opts.Trace.Session("http", addr)
	c.tr.Note("connected in " + c.Connect.Round(time.Microsecond).String())
	return c, nil
}

// Addr is the address the connection was dialled to.
func (c *ClientConn) Addr() string { return c.addr }

// Reusable reports whether another request may be sent on c.
func (c *ClientConn) Reusable() bool { return !c.closed && (c.last == nil || !c.last.Close) }

// Close closes the connection.
func (c *ClientConn) Close() error {
	c.closed = true
	return c.nc.Close()
}

// OutRequest is a request a client sends.
type OutRequest struct {
	Method string
	// Target is the request-target: a path and query in origin-form.
	Target string
	Host   string
	// HTTP10 sends "HTTP/1.0" instead of "HTTP/1.1".
	HTTP10 bool
	// Close asks the server to close after answering ("Connection:
	// close" in 1.1; in 1.0, the absence of keep-alive).
	Close  bool
	Header Header
	// Body, when not nil, is sent with ContentLength, or chunked if
	// ContentLength is negative (HTTP/1.1 only).
	Body          io.Reader
	ContentLength int64
}

// Do sends req and reads the response head. The caller reads Body to its
// end before the next Do. ctx bounds the whole exchange up to the head.
func (c *ClientConn) Do(ctx context.Context, req *OutRequest) (*Response, error) {
	if !c.Reusable() {
		return nil, errors.New("web: connection is closed")
	}
	dl, _ := ctx.Deadline()
	c.nc.SetLimit(dl)
	stop := context.AfterFunc(ctx, func() { c.nc.SetLimit(time.Now()); c.nc.SetDeadline(time.Now()) })
	defer stop()
	c.Requests++
	proto := "HTTP/1.1"
	if req.HTTP10 {
		proto = "HTTP/1.0"
	}
	method := req.Method
	if method == "" {
		method = "GET"
	}
	target := req.Target
	if target == "" {
		target = "/"
	}
	var b []byte
	b = append(b, method+" "+target+" "+proto+"\r\n"...)
	hdr := Header{{"Host", req.Host}}
	hdr = append(hdr, req.Header...)
	switch {
	case req.HTTP10 && !req.Close:
		hdr.Set("Connection", "keep-alive")
	case !req.HTTP10 && req.Close:
		hdr.Set("Connection", "close")
	}
	chunked := false
	if req.Body != nil {
		if req.ContentLength >= 0 {
			hdr.Set("Content-Length", strconv.FormatInt(req.ContentLength, 10))
		} else if !req.HTTP10 {
			hdr.Set("Transfer-Encoding", "chunked")
			chunked = true
		} else {
			return nil, errors.New("web: an HTTP/1.0 request body needs a length")
		}
	}
	c.tr.Client(method + " " + target + " " + proto)
	for _, f := range hdr {
		b = append(b, f.Name+": "+f.Value+"\r\n"...)
		if equalFold(f.Name, "Authorization") {
			scheme, cred, _ := strings.Cut(f.Value, " ")
			c.tr.ClientSecret(f.Name+": "+scheme+" ", cred)
		} else {
			c.tr.Client(f.Name + ": " + f.Value)
		}
	}
	c.tr.Client("")
	b = append(b, "\r\n"...)
	if _, err := c.bw.Write(b); err != nil {
		return nil, c.fail(err)
	}
	if req.Body != nil {
		var err error
		if chunked {
			cw := &chunkedWriter{w: c.bw}
			if _, err = io.Copy(cw, req.Body); err == nil {
				err = cw.close(nil)
			}
		} else {
			_, err = io.Copy(c.bw, io.LimitReader(req.Body, req.ContentLength))
		}
		if err != nil {
			return nil, c.fail(err)
		}
	}
	if err := c.bw.Flush(); err != nil {
		return nil, c.fail(err)
	}
	resp, err := ReadResponse(c.br, method)
	if err != nil {
		return nil, c.fail(err)
	}
	if c.tr.Enabled() {
		c.tr.Server(resp.Proto + " " + strconv.Itoa(resp.Status) + " " + resp.Reason)
		for _, f := range resp.Header {
			c.tr.Server(f.Name + ": " + f.Value)
		}
		c.tr.Server("")
	}
	if req.Close || req.HTTP10 && !resp.Header.hasToken("Connection", "keep-alive") {
		resp.Close = true
	}
	c.last = resp
	return resp, nil
}

func (c *ClientConn) fail(err error) error {
	c.Close()
	c.tr.Note("failed: " + err.Error())
	return err
}
