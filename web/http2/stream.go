package http2

import (
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/applayer/applayer/web"
	"golang.org/x/net/http2/hpack"
)

// streamState is a stream's state (RFC 9113 §5.1), as the server sees it.
type streamState uint8

const (
	stateIdle streamState = iota
	stateReservedLocal
	stateOpen
	stateHalfClosedLocal  // we sent END_STREAM; the client may still send
	stateHalfClosedRemote // the client sent END_STREAM; we may still send
	stateClosed
)

var stateNames = [...]string{"idle", "reserved (local)", "open", "half-closed (local)", "half-closed (remote)", "closed"}

func (s streamState) String() string { return stateNames[s] }

// The transitions of RFC 9113 §5.1's diagram, one function per event.

// onRecvHeaders: the client's HEADERS open an idle stream.
func (s streamState) onRecvHeaders(endStream bool) streamState {
	if s != stateIdle {
		return s
	}
	if endStream {
		return stateHalfClosedRemote
	}
	return stateOpen
}

// onRecvEndStream: the client ended its side.
func (s streamState) onRecvEndStream() streamState {
	switch s {
	case stateOpen:
		return stateHalfClosedRemote
	case stateHalfClosedLocal:
		return stateClosed
	}
	return s
}

// onSendEndStream: we ended ours.
func (s streamState) onSendEndStream() streamState {
	switch s {
	case stateOpen:
		return stateHalfClosedLocal
	case stateHalfClosedRemote:
		return stateClosed
	}
	return s
}

// onSendHeaders: a pushed stream starts its response.
func (s streamState) onSendHeaders() streamState {
	if s == stateReservedLocal {
		return stateHalfClosedRemote
	}
	return s
}

// canReceive reports whether the client may still send DATA or trailers.
func (s streamState) canReceive() bool { return s == stateOpen || s == stateHalfClosedLocal }

// canSend reports whether we may still send on the stream.
func (s streamState) canSend() bool {
	return s == stateOpen || s == stateHalfClosedRemote || s == stateReservedLocal
}

// stream is one request/response exchange. Fields above mu belong to the
// loop; the handler's side is rw.
type stream struct {
	c          *conn
	id         uint32
	state      streamState
	sendWindow int64 // what we may send
	recvWindow int64 // what the client may send
	unacked    int64 // consumed, not yet given back
	declared   int64 // content-length, or -1
	received   int64
	counted    bool // in c.active
	running    bool // the handler runs
	closed     bool
	req        *web.Request
	body       *pipe
	prio       priority
	pushed     bool

	// What the handler gave us to send: out, then END_STREAM if end.
	out     []byte
	outEnd  bool
	waiting bool // the handler waits on done for out to be sent
	inReady bool
	done    chan error

	bundle *streamBundle

	mu      sync.Mutex
	aborted error // set once the stream is gone: writes fail
}

// streamBundle is what a stream needs, allocated at once.
type streamBundle struct {
	st         stream
	req        web.Request
	rw         responseWriter
	reqFields  [8]web.Field
	respFields [10]web.Field
}

func (c *conn) newStream(id uint32) *stream {
	b := &streamBundle{}
	st := &b.st
	*st = stream{
		c: c, id: id, state: stateIdle, declared: -1,
		sendWindow: c.peerInitial, recvWindow: int64(c.initialWindow),
		done: make(chan error, 1), prio: defaultPriority, bundle: b,
	}
	c.streams[id] = st
	c.opened++
	return st
}

func (st *stream) abort(err error) {
	st.mu.Lock()
	if st.aborted == nil {
		st.aborted = err
	}
	st.mu.Unlock()
	if st.body != nil {
		st.body.closeWithError(err)
	}
	if st.waiting {
		st.waiting = false
		st.out = nil
		st.done <- err
	}
}

func (st *stream) err() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.aborted
}

// openStream checks the decoded request head (RFC 9113 §8.2, §8.3) and
// starts its handler.
func (c *conn) openStream(id uint32) error {
	hb := &c.hdr
	st := c.newStream(id)
	st.state = st.state.onRecvHeaders(hb.endStream)
	st.counted = true
	c.active++
	if c.active == 1 {
		c.idleNow.Store(false)
		c.t.Busy(c.nc)
	}
	if hb.hasPrio {
		st.prio.from7540(hb.prio)
	}
	if hb.tooBig {
		// Answer 431 rather than reset, as HTTP/1.1 does.
		st.req = &web.Request{Method: "GET", Path: "/", Proto: "HTTP/2.0", RemoteAddr: c.remote, Body: noBody{}}
		c.startFixed(st, web.StatusHeaderFieldsTooLarge, "request header list larger than "+itoa(c.maxHeaderList)+" bytes\n")
		return nil
	}
	req, err := c.buildRequest(st, hb.fields)
	if err != nil {
		return err
	}
	st.req = req
	if hb.endStream {
		if req.ContentLength > 0 {
			return streamError(id, ErrCodeProtocol, "content-length without DATA")
		}
		req.ContentLength = 0
		req.Body = noBody{}
	} else {
		st.declared = req.ContentLength
		if c.maxBody > 0 && req.ContentLength > c.maxBody {
			st.req.Body = noBody{}
			c.startFixed(st, web.StatusContentTooLarge, "request body larger than "+strconv.FormatInt(c.maxBody, 10)+" bytes\n")
			return nil
		}
		st.body = &pipe{st: st}
		st.body.cond.L = &st.body.mu
		req.Body = st.body
	}
	if v := req.Header.Get("Priority"); v != "" {
		st.prio = parsePriorityField(v)
	}
	c.startHandler(st)
	return nil
}

// buildRequest maps the fields of a request head onto a web.Request.
func (c *conn) buildRequest(st *stream, fields []hpack.HeaderField) (*web.Request, error) {
	id := st.id
	bad := func(why string) (*web.Request, error) {
		return nil, streamError(id, ErrCodeProtocol, "malformed request: "+why)
	}
	var method, scheme, authority, path string
	var seen [4]bool
	regular := false
	n := 0
	for _, f := range fields {
		if !f.IsPseudo() {
			n++
		}
	}
	req := &st.bundle.req
	*req = web.Request{Proto: "HTTP/2.0", RemoteAddr: c.remote, ContentLength: -1, Header: st.bundle.reqFields[:0]}
	if n > len(st.bundle.reqFields) {
		req.Header = make(web.Header, 0, n)
	}
	var cookies []string
	for _, f := range fields {
		if !validName(f.Name) {
			return bad("field name " + strconv.Quote(f.Name) + " is not lowercase token characters")
		}
		if !validValue(f.Value) {
			return bad("invalid value in field " + f.Name)
		}
		if f.IsPseudo() {
			if regular {
				return bad("pseudo-header field after a regular one")
			}
			i := -1
			switch f.Name {
			case ":method":
				i, method = 0, f.Value
			case ":scheme":
				i, scheme = 1, f.Value
			case ":authority":
				i, authority = 2, f.Value
			case ":path":
				i, path = 3, f.Value
			default:
				return bad("pseudo-header field " + f.Name)
			}
			if seen[i] {
				return bad(f.Name + " given twice")
			}
			seen[i] = true
			continue
		}
		regular = true
		switch f.Name {
		case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
			return bad("connection-specific field " + f.Name)
		case "te":
			if f.Value != "trailers" {
				return bad("te other than trailers")
			}
		case "content-length":
			v, err := strconv.ParseInt(f.Value, 10, 64)
			if err != nil || v < 0 || f.Value[0] == '+' || req.ContentLength >= 0 && req.ContentLength != v {
				return bad("content-length")
			}
			req.ContentLength = v
		case "cookie":
			// Cookie crumbs are joined back into one field (RFC 9113 §8.2.3).
			cookies = append(cookies, f.Value)
			continue
		case "host":
			if authority == "" {
				authority = f.Value
			}
		}
		req.Header = append(req.Header, web.Field{Name: f.Name, Value: f.Value})
	}
	if len(cookies) > 0 {
		req.Header = append(req.Header, web.Field{Name: "cookie", Value: strings.Join(cookies, "; ")})
	}
	if !seen[0] {
		return bad("no :method")
	}
	req.Method = method
	if method == "CONNECT" {
		if seen[1] || seen[3] || authority == "" {
			return bad("CONNECT with :scheme or :path, or without :authority")
		}
		if err := req.SetTarget(authority); err != nil {
			return bad("CONNECT target")
		}
		return req, nil
	}
	if !seen[1] || !seen[3] || path == "" {
		return bad("missing :scheme or :path")
	}
	req.Scheme = scheme
	if path[0] != '/' && !(path == "*" && method == "OPTIONS") {
		return bad(":path is neither absolute nor *")
	}
	if err := req.SetTarget(path); err != nil {
		return bad(":path: " + err.Error())
	}
	req.Host = authority
	if !seen[2] && !req.Header.Has("host") {
		req.Host = ""
	}
	return req, nil
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	i := 0
	if s[0] == ':' {
		i = 1
	}
	for ; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c > 0x7e || c <= ' ' || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return true
}

func validValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == 0 || c == '\r' || c == '\n' {
			return false
		}
	}
	if s != "" && (s[0] == ' ' || s[0] == '\t' || s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		return false
	}
	return true
}

func equalFold(a, b string) bool { return strings.EqualFold(a, b) }

type noBody struct{}

func (noBody) Read([]byte) (int, error) { return 0, io.EOF }

// startFixed answers st with a short error without running the handler.
func (c *conn) startFixed(st *stream, status int, body string) {
	st.running = true
	c.handlers++
	if st.body != nil {
		st.body.closeWithError(io.EOF)
	}
	rw := &st.bundle.rw
	*rw = responseWriter{st: st, c: c, header: st.bundle.respFields[:0]}
	rw.header.Set("Content-Type", "text/plain; charset=utf-8")
	rw.WriteHeader(status)
	rw.Write([]byte(web.StatusText(status) + ": " + body))
	c.processEvent(rw.finishEvent())
}

// startHandler runs the handler for st on its own goroutine.
func (c *conn) startHandler(st *stream) {
	st.running = true
	c.handlers++
	go c.runHandler(st)
}

func (c *conn) runHandler(st *stream) {
	rw := &st.bundle.rw
	*rw = responseWriter{st: st, c: c, header: st.bundle.respFields[:0]}
	h := c.s.Handler
	if h == nil {
		h = web.HandlerFunc(web.NotFound)
	}
	defer func() {
		if p := recover(); p != nil {
			c.s.logger().Error("http2: handler panicked", "remote", c.remote, "path", st.req.Path, "panic", p)
			if !rw.sentHead {
				rw.header = rw.header[:0]
				rw.pending = rw.pending[:0]
				rw.status = 0
				rw.header.Set("Content-Type", "text/plain; charset=utf-8")
				rw.WriteHeader(web.StatusInternalServerError)
				rw.Write([]byte("Internal Server Error\n"))
			} else {
				rw.reset = true
			}
		}
		rw.finish()
	}()
	h.ServeHTTP(rw, st.req)
}

// event is what a handler tells the loop.
type event struct {
	st     *stream
	kind   eventKind
	status int
	header web.Header
	data   []byte
	end    bool  // END_STREAM after data
	wait   bool  // the handler waits on st.done
	n      int64 // evConsumed: body octets read
}

type eventKind uint8

const (
	evHead     eventKind = iota // a final head, maybe with data
	evInfo                      // a 1xx head (103 Early Hints)
	evData                      // more data
	evFinish                    // the handler returned
	evConsumed                  // the handler read body octets
	evReset                     // the handler panicked after its head
)

func (c *conn) send(ev event) error {
	select {
	case c.events <- ev:
	case <-c.closed:
		return errConnClosed
	}
	if !ev.wait {
		return nil
	}
	select {
	case err := <-ev.st.done:
		return err
	case <-c.closed:
		return errConnClosed
	}
}

func (c *conn) processEvent(ev event) {
	st := ev.st
	switch ev.kind {
	case evConsumed:
		c.credit(ev.n)
		if !st.closed && st.state.canReceive() {
			st.unacked += ev.n
			if st.unacked >= int64(c.initialWindow)/4 {
				st.recvWindow += st.unacked
				c.wbuf = AppendWindowUpdate(c.wbuf[:0], st.id, uint32(st.unacked))
				c.traceSent("WINDOW_UPDATE stream=" + itoa(st.id) + " +" + itoa(uint32(st.unacked)))
				c.writeFrame(c.wbuf)
				st.unacked = 0
			}
		}
		return
	case evFinish:
		if st.running {
			st.running = false
			c.handlers--
		}
		if st.closed {
			return
		}
	}
	if st.closed {
		if ev.wait {
			st.done <- errStreamClosed
		}
		return
	}
	switch ev.kind {
	case evInfo:
		c.writeHead(st, ev.status, ev.header, false)
		if ev.wait {
			st.done <- nil
		}
		return
	case evReset:
		c.resetStream(st.id, ErrCodeInternal, "handler panicked")
		return
	case evHead:
		if c.s.PushPreload && st.id%2 == 1 && ev.status == web.StatusOK {
			c.pushPreloads(st, ev.header)
		}
		end := ev.end && len(ev.data) == 0
		c.writeHead(st, ev.status, ev.header, end)
		if end {
			c.sentEnd(st)
			if ev.wait {
				st.done <- nil
			}
			return
		}
	}
	if len(ev.data) == 0 && !ev.end {
		if ev.wait {
			st.done <- nil
		}
		return
	}
	st.out, st.outEnd, st.waiting = ev.data, ev.end, ev.wait
	c.makeReady(st)
}

// writeHead encodes and queues a response head.
func (c *conn) writeHead(st *stream, status int, h web.Header, end bool) {
	c.encBuf.Reset()
	c.enc.WriteField(hpack.HeaderField{Name: ":status", Value: strconv.Itoa(status)})
	for _, f := range h {
		name := lower(f.Name)
		switch name {
		case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
			continue
		case "content-length":
			if status < 200 {
				continue
			}
		}
		c.enc.WriteField(hpack.HeaderField{Name: name, Value: f.Value, Sensitive: name == "set-cookie" || name == "authorization"})
	}
	st.state = st.state.onSendHeaders()
	c.wbuf = AppendHeaderBlock(c.wbuf[:0], st.id, 0, c.encBuf.Bytes(), end, c.peerMaxFrame)
	if c.tr.Enabled() {
		c.traceSent("HEADERS stream=" + itoa(st.id) + " :status=" + strconv.Itoa(status) + endNote(end))
	}
	c.writeFrame(c.wbuf)
}

func endNote(end bool) string {
	if end {
		return " END_STREAM"
	}
	return ""
}

func lower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

// sentEnd: END_STREAM went out on st.
func (c *conn) sentEnd(st *stream) {
	st.state = st.state.onSendEndStream()
	if st.state == stateClosed {
		c.closeStream(st)
		return
	}
	// The client may still be sending a body nobody will read: RFC 9113
	// §8.1 lets us stop it with NO_ERROR.
	if st.state == stateHalfClosedLocal && !st.running {
		c.resetStream(st.id, ErrCodeNo, "response complete before the request body")
	}
}

func (c *conn) makeReady(st *stream) {
	if !st.inReady {
		st.inReady = true
		c.ready = append(c.ready, st)
	}
}

func (c *conn) unready(st *stream) {
	if !st.inReady {
		return
	}
	st.inReady = false
	for i, s := range c.ready {
		if s == st {
			c.ready = append(c.ready[:i], c.ready[i+1:]...)
			break
		}
	}
}

// writeData sends DATA for the ready streams as far as the windows allow,
// in priority order (RFC 9218): the lowest urgency first; within one
// urgency, non-incremental streams one after another in stream order,
// incremental ones (and those with no priority signal) in turn, a frame
// each.
func (c *conn) writeData() {
	for len(c.ready) > 0 && c.writeErr == nil {
		i := c.pick()
		if i < 0 {
			return
		}
		st := c.ready[i]
		n := min(len(st.out), c.peerMaxFrame)
		n = int(min(int64(n), c.sendWindow, st.sendWindow))
		if n < 0 {
			n = 0
		}
		end := st.outEnd && n == len(st.out)
		var fl Flags
		if end {
			fl = FlagEndStream
		}
		c.wbuf = AppendFrameHeader(c.wbuf[:0], n, FrameData, fl, st.id)
		c.writeFrame(c.wbuf)
		c.writeFrame(st.out[:n])
		if c.tr.Enabled() {
			c.traceSent("DATA stream=" + itoa(st.id) + " len=" + strconv.Itoa(n) + endNote(end))
		}
		c.sendWindow -= int64(n)
		st.sendWindow -= int64(n)
		st.out = st.out[n:]
		if n > 0 {
			c.progress = true
		}
		if len(st.out) == 0 {
			c.unready(st)
			st.out = nil
			if st.waiting {
				st.waiting = false
				st.done <- nil
			}
			if end {
				c.sentEnd(st)
			}
		} else if st.prio.incremental {
			// Round robin: to the back of the list.
			copy(c.ready[i:], c.ready[i+1:])
			c.ready[len(c.ready)-1] = st
		}
	}
}

// pick returns the index in c.ready of the stream to send for next, or -1
// when every ready stream waits for a window.
func (c *conn) pick() int {
	best := -1
	for i, st := range c.ready {
		if len(st.out) > 0 && (st.sendWindow <= 0 || c.sendWindow <= 0) {
			continue
		}
		if best < 0 {
			best = i
			continue
		}
		b := c.ready[best]
		switch {
		case st.prio.urgency < b.prio.urgency:
			best = i
		case st.prio.urgency > b.prio.urgency:
		case !st.prio.incremental && b.prio.incremental:
			best = i
		case !st.prio.incremental && !b.prio.incremental && st.id < b.id:
			best = i
		}
	}
	return best
}

// priority is a stream's RFC 9218 priority.
type priority struct {
	urgency     uint8 // 0 (highest) to 7
	incremental bool
	rfc9218     bool // set by a Priority field or PRIORITY_UPDATE
}

// defaultPriority is RFC 9218's u=3, served in turn with the other
// streams that gave no signal (RFC 9218 §4 makes them non-incremental;
// taking turns keeps one large response from holding back small ones,
// which is what a client that says nothing expects of HTTP/2).
var defaultPriority = priority{urgency: 3, incremental: true}

// parsePriorityField parses a Priority field value (RFC 9218 §4): a
// dictionary of which u (0-7) and i (boolean) are read; anything else, and
// anything malformed, is ignored.
func parsePriorityField(v string) priority {
	p := priority{urgency: 3, rfc9218: true}
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		key, val, hasVal := strings.Cut(item, "=")
		if i := strings.IndexByte(val, ';'); i >= 0 {
			val = val[:i]
		}
		switch key {
		case "u":
			if len(val) == 1 && val[0] >= '0' && val[0] <= '7' {
				p.urgency = val[0] - '0'
			}
		case "i":
			p.incremental = !hasVal || val == "?1"
		}
	}
	return p
}

// from7540 maps an RFC 7540 weight onto an urgency, for a stream that
// gave no RFC 9218 signal: the heaviest weights first, in turn.
func (p *priority) from7540(pr Priority) {
	w := int(pr.Weight) + 1 // 1..256
	switch {
	case w > 200:
		p.urgency = 1
	case w > 100:
		p.urgency = 2
	case w > 32:
		p.urgency = 3
	case w > 8:
		p.urgency = 4
	default:
		p.urgency = 5
	}
	p.incremental = true
}

// pipe is a request body: the loop writes DATA into it, the handler reads.
type pipe struct {
	st     *stream
	mu     sync.Mutex
	cond   sync.Cond
	buf    []byte
	err    error // io.EOF at the end
	closed bool
}

func (p *pipe) write(b []byte) {
	p.mu.Lock()
	p.buf = append(p.buf, b...)
	p.mu.Unlock()
	p.cond.Signal()
}

func (p *pipe) closeWithError(err error) {
	p.mu.Lock()
	if p.err == nil {
		p.err = err
	}
	p.mu.Unlock()
	p.cond.Broadcast()
}

// drop discards what was not read and reports how much.
func (p *pipe) drop() int64 {
	p.mu.Lock()
	n := len(p.buf)
	p.buf = nil
	p.closed = true
	p.mu.Unlock()
	return int64(n)
}

func (p *pipe) Read(b []byte) (int, error) {
	p.mu.Lock()
	for len(p.buf) == 0 && p.err == nil {
		p.cond.Wait()
	}
	if len(p.buf) == 0 {
		err := p.err
		p.mu.Unlock()
		if err != io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, err
	}
	n := copy(b, p.buf)
	p.buf = p.buf[n:]
	if len(p.buf) == 0 {
		p.buf = nil
	}
	closed := p.closed
	p.mu.Unlock()
	if !closed {
		p.st.c.send(event{st: p.st, kind: evConsumed, n: int64(n)})
	}
	return n, nil
}
