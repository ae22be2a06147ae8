package web

import (
	"io"
	"os"
	"strconv"
	"unsafe"
)

// ResponseWriter is how a Handler answers. Fields set in Header before
// WriteHeader (or the first Write) are sent; WriteHeader sends the status
// line and header section; Write sends body bytes. A handler that sets
// Content-Length gets exactly that framing; otherwise a short body is sent
// with a computed Content-Length and a long one chunked (HTTP/1.1) or
// delimited by closing the connection (HTTP/1.0).
type ResponseWriter interface {
	Header() *Header
	WriteHeader(status int)
	Write(p []byte) (int, error)
}

// pendingMax is how much body a response buffers while it waits to learn
// the length: a handler whose whole body fits is sent with Content-Length.
const pendingMax = 4096

// response is the ResponseWriter of one exchange on a conn.
type response struct {
	c           *conn
	req         *Request
	header      Header
	status      int
	wroteHeader bool
	clen        int64 // from the handler's Content-Length, or -1
	written     int64 // body bytes accepted from the handler
	sent        int64 // body bytes put on the wire
	chunked     bool
	noBody      bool // HEAD, 1xx, 204, 304: nothing after the head
	closeAfter  bool // the connection ends after this response
	untilClose  bool // HTTP/1.0 without a length: the close ends the body
	pending     []byte
	writeErr    error
	cw          chunkedWriter
	authUser    string // for the access log
}

func (r *response) reset(req *Request) {
	*r = response{c: r.c, req: req, header: r.header[:0], pending: r.pending[:0], clen: -1, cw: r.cw}
	if cap(r.pending) > 64<<10 {
		r.pending = nil
	}
}

func (r *response) Header() *Header { return &r.header }

func (r *response) WriteHeader(status int) {
	if r.wroteHeader || r.status != 0 {
		return
	}
	if status < 100 || status > 999 {
		status = StatusInternalServerError
	}
	r.status = status
}

func (r *response) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = StatusOK
	}
	if r.writeErr != nil {
		return 0, r.writeErr
	}
	r.written += int64(len(p))
	if r.bodyless() {
		return len(p), nil
	}
	if !r.wroteHeader {
		if r.clen < 0 && r.header.Has("Content-Length") {
			r.clen, _ = parseContentLength(r.header.Get("Content-Length"))
		}
		if r.clen < 0 && len(r.pending)+len(p) <= pendingMax {
			r.pending = append(r.pending, p...)
			return len(p), nil
		}
		r.writeHead(-1)
	}
	return r.writeBody(p)
}

func (r *response) bodyless() bool {
	return r.req.Method == "HEAD" || r.status < 200 || r.status == StatusNoContent || r.status == StatusNotModified
}

func (r *response) writeBody(p []byte) (int, error) {
	if r.noBody {
		return len(p), nil
	}
	if r.clen >= 0 && r.sent+int64(len(p)) > r.clen {
		// More than the declared length: send what fits, drop the rest.
		p = p[:r.clen-r.sent]
		r.closeAfter = true
	}
	var n int
	var err error
	w := r.c.writer()
	if r.chunked {
		r.cw.w = w
		n, err = r.cw.Write(p)
	} else {
		n, err = w.Write(p)
	}
	r.sent += int64(n)
	if err != nil {
		r.writeErr = err
		r.closeAfter = true
	}
	return n, err
}

// ReadFrom lets io.Copy from a file use sendfile: the head is written and
// flushed, then the file goes to the socket in pieces of a megabyte, each
// under the write timeout.
func (r *response) ReadFrom(src io.Reader) (int64, error) {
	if r.status == 0 {
		r.status = StatusOK
	}
	if !r.wroteHeader && r.clen < 0 && r.header.Has("Content-Length") {
		r.clen, _ = parseContentLength(r.header.Get("Content-Length"))
	}
	f, isFile := src.(*os.File)
	lr, isLimited := src.(*io.LimitedReader)
	if isLimited {
		f, isFile = lr.R.(*os.File)
	}
	if !isFile || r.clen < 0 || r.bodyless() || r.writeErr != nil {
		return io.Copy(writerOnly{r}, src)
	}
	if !r.wroteHeader {
		r.writeHead(-1)
	}
	if err := r.c.flush(); err != nil {
		r.writeErr = err
		r.closeAfter = true
		return 0, err
	}
	left := r.clen - r.sent
	if isLimited {
		left = min(left, lr.N)
	}
	var total int64
	count := func(n int64) {
		total += n
		left -= n
		r.sent += n
		r.written += n
		if isLimited {
			lr.N -= n
		}
	}
	if r.c.inline {
		// On a poller: send what the socket takes now, and leave the
		// poller only if the rest must wait.
		r.c.setWrite()
		n, err := r.c.rawSendfile(f, left)
		count(n)
		if err != nil && err != errWouldBlock {
			r.writeErr = err
			r.closeAfter = true
			return total, err
		}
		if left > 0 {
			r.c.escalate()
		}
	}
	for left > 0 {
		r.c.setWrite()
		r.c.s.t.WriteBegin(r.c.nc)
		n, err := r.c.nc.(io.ReaderFrom).ReadFrom(&io.LimitedReader{R: f, N: min(left, 1<<20)})
		r.c.s.t.WriteEnd(r.c.nc)
		count(n)
		if err != nil {
			r.writeErr = err
			r.closeAfter = true
			return total, err
		}
		if n == 0 {
			break
		}
	}
	return total, nil
}

// writerOnly hides ReadFrom so io.Copy does not recurse.
type writerOnly struct{ io.Writer }

// writeHead sends the status line and header section (RFC 9112 §4, §5).
// knownLen is the body length when the handler has finished, else -1.
func (r *response) writeHead(knownLen int64) {
	r.wroteHeader = true
	if r.status == 0 {
		r.status = StatusOK
	}
	req := r.req
	h := &r.header
	if r.clen < 0 && h.Has("Content-Length") {
		r.clen, _ = parseContentLength(h.Get("Content-Length"))
	}
	r.noBody = r.bodyless()
	switch {
	case r.status == StatusNoContent || r.status < 200:
		h.Del("Content-Length")
		h.Del("Transfer-Encoding")
	case r.status == StatusNotModified:
		h.Del("Transfer-Encoding")
	case r.clen >= 0:
		h.Del("Transfer-Encoding")
	case knownLen >= 0 && !(req.Method == "HEAD" && knownLen == 0):
		r.clen = knownLen
		h.Set("Content-Length", strconv.FormatInt(knownLen, 10))
	case req.Method == "HEAD":
	case req.ProtoMinor == 1:
		r.chunked = true
		h.Set("Transfer-Encoding", "chunked")
	default:
		r.untilClose = true
		r.closeAfter = true
	}
	if req.Close || r.closeAfter || h.hasToken("Connection", "close") {
		r.closeAfter = true
	}
	w := r.c.writer()
	b := r.c.line[:0]
	b = appendStatusLine(b, r.status)
	tick := r.c.s.clock.tick()
	if !h.Has("Date") {
		b = append(b, tick.date...)
	}
	if r.c.s.name != "-" && !h.Has("Server") {
		b = append(b, "Server: "...)
		b = append(b, r.c.s.name...)
		b = append(b, "\r\n"...)
	}
	for _, f := range *h {
		if equalFold(f.Name, "Connection") {
			continue
		}
		b = append(b, f.Name...)
		b = append(b, ": "...)
		b = append(b, f.Value...)
		b = append(b, "\r\n"...)
	}
	switch {
	case r.closeAfter:
		b = append(b, "Connection: close\r\n"...)
	case req.ProtoMinor == 0:
		b = append(b, "Connection: keep-alive\r\n"...)
	}
	b = append(b, "\r\n"...)
	r.c.line = b
	if r.c.tr.Enabled() {
		r.c.traceHead(b)
	}
	if _, err := w.Write(b); err != nil {
		r.writeErr = err
		r.closeAfter = true
	}
	if len(r.pending) > 0 {
		p := r.pending
		r.pending = r.pending[:0]
		r.writeBody(p)
	}
}

// finish completes the response after the handler returned, and reports
// whether its framing came out right (if not, the connection must close).
func (r *response) finish() bool {
	if !r.wroteHeader {
		if r.status == 0 {
			r.status = StatusOK
		}
		n := int64(len(r.pending))
		if r.req.Method == "HEAD" {
			// The handler wrote the body GET would have had, and the
			// writes were dropped: their total is its length.
			n = r.written
		}
		r.writeHead(n)
	}
	if r.chunked && r.writeErr == nil {
		if err := r.cw.closeOn(r.c.writer()); err != nil {
			r.writeErr = err
		}
	}
	if r.clen >= 0 && !r.noBody && r.sent < r.clen && r.writeErr == nil {
		r.c.s.logger().Warn("web: handler wrote less than its Content-Length; closing", "path", r.req.Path, "want", r.clen, "wrote", r.sent)
		r.closeAfter = true
	} else if r.clen >= 0 && !r.noBody && r.sent < r.clen {
		r.closeAfter = true
	}
	if r.untilClose {
		r.closeAfter = true
	}
	return r.writeErr == nil && !r.closeAfter
}

func (cw *chunkedWriter) closeOn(w interface{ WriteString(string) (int, error) }) error {
	_, err := w.WriteString("0\r\n\r\n")
	return err
}

// SetAuthUser tells the server which user the request authenticated as, for
// the access log's authuser column.
func SetAuthUser(w ResponseWriter, user string) {
	if r, ok := w.(*response); ok {
		r.authUser = user
	}
}

func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
