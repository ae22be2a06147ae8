package http2

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/applayer/applayer/internal/lifecycle"
	"github.com/applayer/applayer/internal/transcript"
	"github.com/applayer/applayer/web"
	"golang.org/x/net/http2/hpack"
)

// readBufSize holds the largest frame we accept (we advertise the
// default SETTINGS_MAX_FRAME_SIZE, 2^14) with its header, so that a frame
// is peeked whole before any of it is consumed: a read deadline set by
// Shutdown never cuts a frame in two.
const readBufSize = MinMaxFrameSize + FrameHeaderLen + 1024

// conn is one HTTP/2 connection. Its state belongs to the goroutine that
// runs serve (the loop); a reader goroutine feeds it frames, and each
// stream's handler goroutine talks to it with events.
type conn struct {
	s       *Server
	nc      net.Conn
	t       *lifecycle.Tracker
	br      *bufio.Reader
	bw      *bufio.Writer
	tr      *transcript.Session
	remote  string
	handoff *web.Handoff

	frames   chan readResult // from the reader
	events   chan event      // from handlers
	closed   chan struct{}   // closed when the loop ends
	readMore chan struct{}   // the loop lets the reader go on

	// Settings: ours and the peer's.
	maxStreams    uint32
	initialWindow uint32
	connWindow    uint32
	maxHeaderList uint32
	maxBody       int64
	idleTimeout   time.Duration
	writeTimeout  time.Duration
	maxControl    int
	peerInitial   int64 // SETTINGS_INITIAL_WINDOW_SIZE of the peer
	peerMaxFrame  int
	peerPush      bool
	peerStreams   uint32 // the peer's SETTINGS_MAX_CONCURRENT_STREAMS, for pushes
	pushing       int    // pushed streams not yet closed

	enc    *hpack.Encoder
	encBuf bytes.Buffer
	dec    *hpack.Decoder

	// Header block being received (HEADERS then CONTINUATIONs).
	hdr headerBlock

	streams   map[uint32]*stream
	maxClient uint32 // highest stream id the client opened
	nextPush  uint32 // next server stream id (even)
	active    int    // client streams open or half-closed: counted against maxStreams
	handlers  int    // handlers running
	ready     []*stream

	sendWindow int64 // the peer's connection window for our DATA
	recvWindow int64 // what the peer may still send us on the connection
	recvCredit int64 // consumed, not yet given back with WINDOW_UPDATE

	goAway     bool   // GOAWAY sent
	lastStream uint32 // in the GOAWAY sent
	junk       int    // frames that did work for nothing (see MaxControlFrames)
	resets     int    // streams reset by the client while running, or by us for its faults
	opened     int    // streams opened
	progress   bool   // stream data moved since the idle timer last fired
	writeErr   error
	// settingsAcked stops the SETTINGS_TIMEOUT timer.
	settingsAcked func() bool
	idleNow       atomic.Bool // no stream open: may be evicted (read by the accept loop)
	line          []byte      // scratch for trace lines
	wbuf          []byte      // scratch for frames
	dl            time.Time
}

// readResult is a batch of frames the reader found complete in its
// buffer, or the error that ended reading (after the frames before it).
type readResult struct {
	fs  []Frame
	err error
}

// headerBlock is the state of a header block in reception.
type headerBlock struct {
	stream     uint32
	endStream  bool
	prio       Priority
	hasPrio    bool
	fields     []hpack.HeaderField
	size       uint32 // header list size so far
	tooBig     bool
	bytes      int // fragment bytes so far
	frames     int
	err        *Error // first malformation seen, a stream error
	sawRegular bool
	trailer    bool
	target     *stream // for trailers
	refuse     bool    // the stream is refused or ignored: decode only
}

func newConn(s *Server, h *web.Handoff) *conn {
	c := &conn{
		s: s, nc: h.Conn, t: h.Tracker, handoff: h,
		remote:        h.Conn.RemoteAddr().String(),
		maxStreams:    cmp.Or(s.MaxConcurrentStreams, DefaultMaxConcurrentStreams),
		initialWindow: min(cmp.Or(s.InitialWindowSize, DefaultInitialWindowSize), MaxWindowSize),
		connWindow:    min(cmp.Or(s.ConnWindowSize, DefaultConnWindowSize), MaxWindowSize),
		maxHeaderList: cmp.Or(s.MaxHeaderListSize, DefaultMaxHeaderListSize),
		maxBody:       cmp.Or(s.MaxBodyBytes, web.DefaultMaxBodyBytes),
		idleTimeout:   cmp.Or(s.IdleTimeout, DefaultIdleTimeout),
		writeTimeout:  cmp.Or(s.WriteTimeout, DefaultWriteTimeout),
		maxControl:    cmp.Or(s.MaxControlFrames, DefaultMaxControlFrames),
		peerInitial:   DefaultWindowSize,
		peerMaxFrame:  MinMaxFrameSize,
		peerPush:      true,
		peerStreams:   100,
		streams:       make(map[uint32]*stream),
		sendWindow:    DefaultWindowSize,
		recvWindow:    DefaultWindowSize,
		nextPush:      2,
		frames:        make(chan readResult, 4),
		events:        make(chan event, 16),
		closed:        make(chan struct{}),
		readMore:      make(chan struct{}, 1),
	}
	if c.t == nil {
		c.t = &lifecycle.Tracker{}
	}
	c.tr = s.Trace.Session("http2", c.remote)
	c.enc = hpack.NewEncoder(&c.encBuf)
	c.dec = hpack.NewDecoder(DefaultHeaderTable, c.emit)
	c.dec.SetMaxStringLength(int(c.maxHeaderList))
	// The reader's buffer: what the HTTP/1.1 side read ahead comes first.
	var src io.Reader = h.Conn
	if h.Reader != nil && h.Reader.Buffered() > 0 {
		b, _ := h.Reader.Peek(h.Reader.Buffered())
		src = io.MultiReader(bytes.NewReader(bytes.Clone(b)), h.Conn)
	}
	c.br = bufio.NewReaderSize(src, readBufSize)
	c.bw = bufio.NewWriterSize(writerFunc(c.write), 32<<10)
	return c
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// write writes to the socket under the write timeout.
func (c *conn) write(p []byte) (int, error) {
	if now := time.Now(); c.dl.Sub(now) < c.writeTimeout-time.Second {
		c.dl = now.Add(c.writeTimeout)
		c.nc.SetWriteDeadline(c.dl)
	}
	return c.nc.Write(p)
}

// serve runs the connection: preface, then the loop.
func (c *conn) serve() {
	c.tr.Note("HTTP/2 connection")
	defer c.finish()
	// Our preface: SETTINGS, and the connection window raised.
	c.wbuf = AppendSettings(c.wbuf[:0],
		Setting{SettingMaxConcurrentStreams, c.maxStreams},
		Setting{SettingInitialWindowSize, c.initialWindow},
		Setting{SettingMaxHeaderListSize, c.maxHeaderList},
		Setting{SettingEnablePush, 0},
	)
	if inc := int64(c.connWindow) - DefaultWindowSize; inc > 0 {
		c.wbuf = AppendWindowUpdate(c.wbuf, 0, uint32(inc))
		c.recvWindow += inc
	}
	c.traceSent("SETTINGS max_concurrent_streams=" + itoa(c.maxStreams) + " initial_window_size=" + itoa(c.initialWindow) + " max_header_list_size=" + itoa(c.maxHeaderList))
	c.bw.Write(c.wbuf)
	if h := c.handoff; h.Upgrade != nil {
		if err := c.upgrade(h.Upgrade); err != nil {
			c.fail(err)
			return
		}
	}
	if c.flush() != nil {
		return
	}
	if err := c.readPreface(); err != nil {
		c.tr.Note("bad preface: " + err.Error())
		var e *Error
		if errors.As(err, &e) {
			c.fail(e)
		}
		return
	}
	// Reads wait without a deadline: the loop's idle timer bounds a
	// connection that does nothing (cut under load, as Tracker.Timeout
	// says), and Shutdown wakes the reader by setting one. The Tracker
	// sees the connection idle while no stream is open.
	c.nc.SetReadDeadline(time.Time{})
	if c.active == 0 {
		c.idleNow.Store(true)
		c.t.Idle(c.nc, nil)
	}
	if c.handoff.SetEvict != nil {
		c.handoff.SetEvict(c.evictIfIdle)
	}
	if c.t.ShuttingDown() {
		c.startGoAway(ErrCodeNo, "server shutting down")
	}
	go c.reader()
	c.loop()
}

// evictIfIdle closes the connection if no stream is open, and reports
// whether it did; the accept loop calls it to make room at MaxConns. A
// request racing with it is lost with the connection, as one racing with
// a parked HTTP/1.1 connection's eviction is; clients retry those.
func (c *conn) evictIfIdle() bool {
	if !c.idleNow.Load() {
		return false
	}
	c.tr.Note("evicted: idle while the server is full; closing")
	c.nc.Close()
	return true
}

func (c *conn) readPreface() error {
	want := ClientPreface
	if c.handoff.Preface {
		want = prefaceAfterRequest
	}
	c.nc.SetReadDeadline(time.Now().Add(c.idleTimeout))
	b, err := c.br.Peek(len(want))
	if err != nil && len(b) == 0 {
		return err
	}
	if string(b) != want {
		return connError(ErrCodeProtocol, "invalid connection preface")
	}
	c.br.Discard(len(want))
	return nil
}

// reader reads frames and hands them to the loop, one at a time: the
// payload is copied, so the loop may keep it.
func (c *conn) reader() {
	var hdr [FrameHeaderLen]byte
	for {
		var r readResult
		f, err := c.readFrame(&hdr)
		if err != nil {
			r.err = err
		} else {
			r.fs = c.moreFrames(append(make([]Frame, 0, 8), f))
		}
		select {
		case c.frames <- r:
		case <-c.closed:
			return
		}
		if err != nil {
			return
		}
	}
}

// moreFrames appends the frames already complete in the buffer, up to a
// batch of 32, so that a client's burst (h2load's ten requests, a browser's
// page of objects) reaches the loop at once and is answered in few writes.
func (c *conn) moreFrames(fs []Frame) []Frame {
	for len(fs) < 32 && c.br.Buffered() >= FrameHeaderLen {
		b, _ := c.br.Peek(FrameHeaderLen)
		fh := ParseFrameHeader(b)
		n := FrameHeaderLen + int(fh.Length)
		if fh.Length > MinMaxFrameSize || c.br.Buffered() < n {
			break
		}
		b, _ = c.br.Peek(n)
		f := Frame{FrameHeader: fh}
		if fh.Length > 0 {
			f.Payload = bytes.Clone(b[FrameHeaderLen:])
		}
		c.br.Discard(n)
		fs = append(fs, f)
	}
	return fs
}

func (c *conn) readFrame(hdr *[FrameHeaderLen]byte) (Frame, error) {
	for {
		b, err := c.br.Peek(FrameHeaderLen)
		if err == nil {
			fh := ParseFrameHeader(b)
			if fh.Length > MinMaxFrameSize {
				return Frame{FrameHeader: fh}, ErrFrameTooLarge
			}
			b, err = c.br.Peek(FrameHeaderLen + int(fh.Length))
			if err == nil {
				f := Frame{FrameHeader: fh}
				if fh.Length > 0 {
					f.Payload = bytes.Clone(b[FrameHeaderLen:])
				}
				c.br.Discard(len(b))
				return f, nil
			}
		}
		if errors.Is(err, os.ErrDeadlineExceeded) && c.t.ShuttingDown() {
			// Shutdown woke every reader; the loop sends GOAWAY and
			// streams in flight still need their WINDOW_UPDATEs.
			c.nc.SetReadDeadline(time.Now().Add(c.writeTimeout))
			continue
		}
		if err == io.EOF && c.br.Buffered() > 0 {
			err = io.ErrUnexpectedEOF
		}
		return Frame{}, err
	}
}

// loop is the one goroutine that owns the connection's state.
func (c *conn) loop() {
	idle := time.NewTimer(c.idleTimeout)
	defer idle.Stop()
	ack := time.NewTimer(cmp.Or(c.s.SettingsTimeout, DefaultSettingsTimeout))
	defer ack.Stop()
	c.settingsAcked = ack.Stop
	done := c.t.Done()
	for {
		select {
		case <-ack.C:
			c.fail(connError(ErrCodeSettingsTimeout, "our SETTINGS were not acknowledged"))
			return
		case r := <-c.frames:
			for _, f := range r.fs {
				if err := c.processFrame(f); err != nil {
					c.fail(err)
					return
				}
			}
			if r.err != nil {
				c.readEnded(r.err)
				return
			}
		case ev := <-c.events:
			c.processEvent(ev)
		case <-idle.C:
			if !c.progress {
				c.tr.Note("idle timeout")
				c.fail(connError(ErrCodeNo, "idle timeout"))
				return
			}
			c.progress = false
			idle.Reset(c.t.Timeout(c.idleTimeout))
		case <-done:
			done = nil
			c.startGoAway(ErrCodeNo, "server shutting down")
		}
		c.writeData()
		if c.writeErr != nil {
			return
		}
		if c.goAway && c.active == 0 && c.handlers == 0 && c.pushing == 0 && c.hdr.stream == 0 {
			c.flush()
			c.closeGracefully()
			return
		}
		if len(c.frames) == 0 && len(c.events) == 0 {
			if c.handlers > 0 && c.bw.Buffered() > 0 {
				// Handlers are running: let them answer before the
				// flush, so that their responses share a write.
				runtime.Gosched()
			}
			if len(c.frames) == 0 && len(c.events) == 0 && c.flush() != nil {
				return
			}
		}
	}
}

func (c *conn) readEnded(err error) {
	switch {
	case err == io.EOF:
		c.tr.Note("client closed the connection")
	case err == ErrFrameTooLarge:
		c.fail(connError(ErrCodeFrameSize, "frame larger than SETTINGS_MAX_FRAME_SIZE"))
	case errors.Is(err, os.ErrDeadlineExceeded):
		c.tr.Note("evicted: idle while the server is full")
		c.fail(connError(ErrCodeNo, "server full"))
	default:
		c.tr.Note("read failed: " + err.Error())
	}
}

// fail ends the connection: GOAWAY with e's code, then close.
func (c *conn) fail(err error) {
	e, ok := err.(*Error)
	if !ok {
		e = connError(ErrCodeInternal, err.Error())
	}
	if e.Stream != 0 {
		e = connError(e.Code, e.Reason)
	}
	if e.Code != ErrCodeNo {
		c.tr.Note("connection error: " + e.Error())
	}
	if c.writeErr == nil {
		c.lastStream = c.maxClient
		c.wbuf = AppendGoAway(c.wbuf[:0], c.maxClient, e.Code, e.Reason)
		c.traceSent("GOAWAY last_stream=" + itoa(c.maxClient) + " " + e.Code.String())
		c.bw.Write(c.wbuf)
		c.flush()
	}
	c.closeGracefully()
}

// closeGracefully half-closes and waits briefly for the client to see
// everything, so that the GOAWAY is not lost to a reset.
func (c *conn) closeGracefully() {
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		c.nc.SetReadDeadline(time.Now().Add(time.Second))
		// The reader goroutine reads until EOF or the deadline.
		timer := time.NewTimer(time.Second)
		defer timer.Stop()
		for {
			select {
			case r := <-c.frames:
				if r.err != nil {
					return
				}
			case <-timer.C:
				return
			}
		}
	}
}

func (c *conn) finish() {
	close(c.closed)
	for _, st := range c.streams {
		st.abort(errConnClosed)
	}
	c.nc.Close()
}

var errConnClosed = errors.New("http2: connection closed")

func (c *conn) flush() error {
	if c.writeErr != nil {
		return c.writeErr
	}
	if err := c.bw.Flush(); err != nil {
		c.writeErr = err
		c.tr.Note("write failed: " + err.Error())
		return err
	}
	return nil
}

// writeFrame queues a frame for the socket.
func (c *conn) writeFrame(b []byte) {
	if c.writeErr != nil {
		return
	}
	if _, err := c.bw.Write(b); err != nil {
		c.writeErr = err
		c.tr.Note("write failed: " + err.Error())
	}
}

func (c *conn) startGoAway(code ErrCode, why string) {
	if c.goAway {
		return
	}
	c.goAway = true
	c.lastStream = c.maxClient
	c.tr.Note(why + ": GOAWAY")
	c.wbuf = AppendGoAway(c.wbuf[:0], c.maxClient, code, "")
	c.traceSent("GOAWAY last_stream=" + itoa(c.maxClient) + " " + code.String())
	c.writeFrame(c.wbuf)
}

// calm counts a frame that did work for nothing, and reports a
// connection error when the client has sent too many.
func (c *conn) calm(n int) error {
	c.junk += n
	if c.junk > c.maxControl+4*c.opened {
		return connError(ErrCodeEnhanceYourCalm, "too many frames that carry nothing")
	}
	return nil
}

// processFrame handles one frame from the client. A returned error is a
// connection error; stream errors are answered here with RST_STREAM.
func (c *conn) processFrame(f Frame) error {
	if c.tr.Enabled() {
		c.traceRecv(f)
	}
	if c.hdr.stream != 0 && (f.Type != FrameContinuation || f.StreamID != c.hdr.stream) {
		return connError(ErrCodeProtocol, f.Type.String()+" inside a header block (RFC 9113 §6.10)")
	}
	var err error
	switch f.Type {
	case FrameData:
		err = c.onData(f)
	case FrameHeaders:
		err = c.onHeaders(f)
	case FramePriority:
		err = c.onPriority(f)
	case FrameRSTStream:
		err = c.onRSTStream(f)
	case FrameSettings:
		err = c.onSettings(f)
	case FramePushPromise:
		err = connError(ErrCodeProtocol, "PUSH_PROMISE from a client")
	case FramePing:
		err = c.onPing(f)
	case FrameGoAway:
		err = c.onGoAway(f)
	case FrameWindowUpdate:
		err = c.onWindowUpdate(f)
	case FrameContinuation:
		err = c.onContinuation(f)
	case FramePriorityUpdate:
		err = c.onPriorityUpdate(f)
	default:
		// Unknown types are ignored (RFC 9113 §4.1, §5.5).
		err = c.calm(1)
	}
	var e *Error
	if errors.As(err, &e) && e.Stream != 0 {
		c.resetStream(e.Stream, e.Code, e.Reason)
		c.resets++
		if c.resets > c.maxControl/4+c.opened/2 {
			return connError(ErrCodeEnhanceYourCalm, "too many streams reset")
		}
		return nil
	}
	return err
}

// streamFor classifies id: the stream if it is known, and whether it is
// idle (never opened) otherwise.
func (c *conn) streamFor(id uint32) (st *stream, idle bool) {
	if st = c.streams[id]; st != nil {
		return st, false
	}
	if id%2 == 1 {
		return nil, id > c.maxClient
	}
	return nil, id >= c.nextPush
}

func (c *conn) onData(f Frame) error {
	data, err := ParseData(f)
	if err != nil {
		return err
	}
	n := int64(f.Length)
	if n > c.recvWindow {
		return connError(ErrCodeFlowControl, "DATA beyond the connection's window")
	}
	c.recvWindow -= n
	st, idle := c.streamFor(f.StreamID)
	if idle {
		return connError(ErrCodeProtocol, "DATA on an idle stream")
	}
	if st == nil || !st.state.canReceive() {
		c.credit(n)
		if st != nil && st.state == stateHalfClosedRemote || st == nil {
			return streamError(f.StreamID, ErrCodeStreamClosed, "DATA on a closed stream")
		}
		return streamError(f.StreamID, ErrCodeStreamClosed, "DATA after END_STREAM")
	}
	if n > st.recvWindow {
		c.credit(n)
		return streamError(f.StreamID, ErrCodeFlowControl, "DATA beyond the stream's window")
	}
	st.recvWindow -= n
	// Padding is flow-controlled but never read: give it back now.
	if pad := n - int64(len(data)); pad > 0 {
		c.credit(pad)
		st.recvWindow += pad
		st.unacked += pad
	}
	if len(data) == 0 && !f.Flags.Has(FlagEndStream) {
		if err := c.calm(1); err != nil {
			return err
		}
	}
	c.progress = true
	st.received += int64(len(data))
	if st.declared >= 0 && st.received > st.declared {
		c.credit(int64(len(data)))
		return streamError(f.StreamID, ErrCodeProtocol, "more DATA than content-length")
	}
	if c.maxBody > 0 && st.received > c.maxBody {
		c.credit(int64(len(data)))
		return streamError(f.StreamID, ErrCodeRefusedStream, "request body larger than "+strconv.FormatInt(c.maxBody, 10)+" bytes")
	}
	if st.body != nil {
		st.body.write(data)
	} else {
		c.credit(int64(len(data)))
	}
	if f.Flags.Has(FlagEndStream) {
		if st.declared >= 0 && st.received != st.declared {
			return streamError(f.StreamID, ErrCodeProtocol, "less DATA than content-length")
		}
		c.endRemote(st)
	}
	return nil
}

// credit gives n octets back to the connection's receive window, with a
// WINDOW_UPDATE once enough has gathered.
func (c *conn) credit(n int64) {
	c.recvCredit += n
	if c.recvCredit >= int64(c.connWindow)/4 || c.recvWindow < int64(c.connWindow)/2 {
		c.recvWindow += c.recvCredit
		c.wbuf = AppendWindowUpdate(c.wbuf[:0], 0, uint32(c.recvCredit))
		c.traceSent("WINDOW_UPDATE stream=0 +" + itoa(uint32(c.recvCredit)))
		c.writeFrame(c.wbuf)
		c.recvCredit = 0
	}
}

// endRemote: the client sent END_STREAM on st.
func (c *conn) endRemote(st *stream) {
	st.state = st.state.onRecvEndStream()
	if st.body != nil {
		st.body.closeWithError(io.EOF)
	}
	if st.state == stateClosed {
		c.closeStream(st)
	}
}

func (c *conn) onHeaders(f Frame) error {
	h, err := ParseHeaders(f)
	if err != nil {
		return err
	}
	id := f.StreamID
	if id%2 == 0 {
		return connError(ErrCodeProtocol, "HEADERS on an even stream id from a client")
	}
	c.hdr = headerBlock{stream: id, endStream: f.Flags.Has(FlagEndStream), prio: h.Priority, hasPrio: h.HasPriority, fields: c.hdr.fields[:0]}
	st, idle := c.streamFor(id)
	switch {
	case st != nil:
		// Trailers: only on a stream the client is still sending on, and
		// they end it.
		if !st.state.canReceive() {
			c.hdr.refuse = true
			c.hdr.err = streamError(id, ErrCodeStreamClosed, "HEADERS after END_STREAM")
		} else if !c.hdr.endStream {
			c.hdr.refuse = true
			c.hdr.err = streamError(id, ErrCodeProtocol, "trailers without END_STREAM")
		}
		c.hdr.trailer, c.hdr.target = true, st
	case !idle:
		// A closed stream; the block must still be decoded.
		return connError(ErrCodeStreamClosed, "HEADERS on a closed stream")
	default:
		if h.HasPriority && h.Priority.StreamDep == id {
			c.hdr.refuse = true
			c.hdr.err = streamError(id, ErrCodeProtocol, "stream depends on itself")
		}
		c.maxClient = id
		if c.goAway {
			// After GOAWAY new streams are ignored (RFC 9113 §6.8).
			c.hdr.refuse = true
		} else if c.active >= int(c.maxStreams) || c.handlers >= int(c.maxStreams) {
			c.hdr.refuse = true
			c.hdr.err = streamError(id, ErrCodeRefusedStream, "too many concurrent streams")
		}
	}
	return c.fragment(h.Fragment, f.Flags.Has(FlagEndHeaders))
}

func (c *conn) onContinuation(f Frame) error {
	if c.hdr.stream == 0 || f.StreamID != c.hdr.stream {
		return connError(ErrCodeProtocol, "CONTINUATION without a header block in progress")
	}
	c.hdr.frames++
	if len(f.Payload) == 0 && !f.Flags.Has(FlagEndHeaders) {
		if err := c.calm(1); err != nil {
			return err
		}
	}
	return c.fragment(f.Payload, f.Flags.Has(FlagEndHeaders))
}

// fragment feeds a header block fragment to the decoder, and acts on the
// whole block at its end.
func (c *conn) fragment(p []byte, end bool) error {
	hb := &c.hdr
	hb.bytes += len(p)
	// CONTINUATION floods: a block is bounded in octets and frames, even
	// when its fields are no longer kept (CVE-2024-27316).
	if hb.bytes > 2*int(c.maxHeaderList)+4096 || hb.frames > 64 {
		return connError(ErrCodeEnhanceYourCalm, "header block too large")
	}
	if _, err := c.dec.Write(p); err != nil {
		return connError(ErrCodeCompression, "HPACK: "+err.Error())
	}
	if !end {
		return nil
	}
	if err := c.dec.Close(); err != nil {
		return connError(ErrCodeCompression, "HPACK: "+err.Error())
	}
	id := hb.stream
	hb.stream = 0
	c.dec.SetEmitEnabled(true)
	if hb.err != nil {
		return hb.err
	}
	if hb.refuse {
		return nil
	}
	if hb.trailer {
		st := hb.target
		if len(hb.fields) > 0 && hb.fields[0].IsPseudo() || hb.sawPseudoLate() {
			return streamError(id, ErrCodeProtocol, "pseudo-header field in trailers")
		}
		if hb.tooBig {
			return streamError(id, ErrCodeProtocol, "trailers too large")
		}
		if st.declared >= 0 && st.received != st.declared {
			return streamError(id, ErrCodeProtocol, "less DATA than content-length")
		}
		if st.req != nil {
			for _, f := range hb.fields {
				st.req.Trailer.Add(f.Name, f.Value)
			}
		}
		c.endRemote(st)
		return nil
	}
	return c.openStream(id)
}

func (hb *headerBlock) sawPseudoLate() bool {
	for _, f := range hb.fields {
		if f.IsPseudo() {
			return true
		}
	}
	return false
}

// emit receives each decoded field.
func (c *conn) emit(f hpack.HeaderField) {
	hb := &c.hdr
	hb.size += f.Size()
	if hb.size > c.maxHeaderList {
		// Too large: stop keeping fields, but keep decoding so that the
		// dynamic table stays in step (HPACK bombs cost no memory).
		hb.tooBig = true
		hb.fields = hb.fields[:0]
		c.dec.SetEmitEnabled(false)
		return
	}
	hb.fields = append(hb.fields, f)
}

func (c *conn) onPriority(f Frame) error {
	p, err := ParsePriority(f)
	if err != nil {
		return err
	}
	if p.StreamDep == f.StreamID {
		return streamError(f.StreamID, ErrCodeProtocol, "stream depends on itself")
	}
	if st := c.streams[f.StreamID]; st != nil && !st.prio.rfc9218 {
		st.prio.from7540(p)
	}
	return c.calm(1)
}

func (c *conn) onRSTStream(f Frame) error {
	code, err := ParseRSTStream(f)
	if err != nil {
		return err
	}
	st, idle := c.streamFor(f.StreamID)
	if idle {
		return connError(ErrCodeProtocol, "RST_STREAM on an idle stream")
	}
	if st == nil {
		return nil
	}
	c.tr.Note("stream " + itoa(st.id) + " reset by the client: " + code.String())
	if st.running {
		// Rapid Reset (CVE-2023-44487): a stream reset while its handler
		// runs costs us the handler's work.
		c.resets++
		if c.resets > c.maxControl/4+c.opened/2 {
			return connError(ErrCodeEnhanceYourCalm, "too many streams reset")
		}
	}
	st.state = stateClosed
	c.closeStream(st)
	return nil
}

func (c *conn) onSettings(f Frame) error {
	if err := c.calm(1); err != nil {
		return err
	}
	err := ParseSettings(f, func(s Setting) error {
		switch s.ID {
		case SettingHeaderTableSize:
			c.enc.SetMaxDynamicTableSizeLimit(s.Val)
		case SettingEnablePush:
			c.peerPush = s.Val == 1
		case SettingInitialWindowSize:
			delta := int64(s.Val) - c.peerInitial
			c.peerInitial = int64(s.Val)
			for _, st := range c.streams {
				st.sendWindow += delta
				if st.sendWindow > MaxWindowSize {
					return connError(ErrCodeFlowControl, "SETTINGS_INITIAL_WINDOW_SIZE makes a window exceed 2^31-1")
				}
			}
		case SettingMaxFrameSize:
			c.peerMaxFrame = int(s.Val)
		case SettingMaxConcurrentStreams:
			c.peerStreams = s.Val
		}
		return nil
	})
	if err != nil {
		return err
	}
	if f.Flags.Has(FlagAck) && c.settingsAcked != nil {
		c.settingsAcked()
	}
	if !f.Flags.Has(FlagAck) {
		c.wbuf = AppendFrameHeader(c.wbuf[:0], 0, FrameSettings, FlagAck, 0)
		c.traceSent("SETTINGS ACK")
		c.writeFrame(c.wbuf)
	}
	return nil
}

func (c *conn) onPing(f Frame) error {
	data, err := ParsePing(f)
	if err != nil {
		return err
	}
	if f.Flags.Has(FlagAck) {
		return nil
	}
	if err := c.calm(1); err != nil {
		return err
	}
	c.wbuf = AppendPing(c.wbuf[:0], true, data)
	c.traceSent("PING ACK")
	c.writeFrame(c.wbuf)
	return nil
}

func (c *conn) onGoAway(f Frame) error {
	g, err := ParseGoAway(f)
	if err != nil {
		return err
	}
	c.tr.Note("client sent GOAWAY " + g.Code.String())
	c.startGoAway(ErrCodeNo, "client going away")
	return nil
}

func (c *conn) onWindowUpdate(f Frame) error {
	inc, err := ParseWindowUpdate(f)
	if err != nil {
		return err
	}
	if f.StreamID == 0 {
		c.sendWindow += int64(inc)
		if c.sendWindow > MaxWindowSize {
			return connError(ErrCodeFlowControl, "connection window above 2^31-1")
		}
		return nil
	}
	st, idle := c.streamFor(f.StreamID)
	if idle {
		return connError(ErrCodeProtocol, "WINDOW_UPDATE on an idle stream")
	}
	if st == nil {
		return nil
	}
	st.sendWindow += int64(inc)
	if st.sendWindow > MaxWindowSize {
		return streamError(f.StreamID, ErrCodeFlowControl, "stream window above 2^31-1")
	}
	return nil
}

func (c *conn) onPriorityUpdate(f Frame) error {
	pu, err := ParsePriorityUpdate(f)
	if err != nil {
		return err
	}
	if pu.Prioritized%2 == 0 {
		return connError(ErrCodeProtocol, "PRIORITY_UPDATE for a server stream")
	}
	if st := c.streams[pu.Prioritized]; st != nil {
		st.prio = parsePriorityField(pu.Value)
	}
	return c.calm(1)
}

// resetStream sends RST_STREAM and forgets the stream.
func (c *conn) resetStream(id uint32, code ErrCode, why string) {
	c.tr.Note("stream " + itoa(id) + " reset: " + code.String() + ": " + why)
	c.wbuf = AppendRSTStream(c.wbuf[:0], id, code)
	c.traceSent("RST_STREAM stream=" + itoa(id) + " " + code.String())
	c.writeFrame(c.wbuf)
	if st := c.streams[id]; st != nil {
		st.state = stateClosed
		c.closeStream(st)
	}
}

// closeStream forgets a closed stream; its handler, if still running,
// sees its writes fail.
func (c *conn) closeStream(st *stream) {
	if st.closed {
		return
	}
	st.closed = true
	delete(c.streams, st.id)
	if st.pushed {
		c.pushing--
	}
	if st.counted {
		st.counted = false
		c.active--
		if c.active == 0 {
			c.idleNow.Store(true)
			c.t.Idle(c.nc, nil)
		}
	}
	st.abort(errStreamClosed)
	// Body octets the handler will never read go back to the connection.
	if st.body != nil {
		if n := st.body.drop(); n > 0 {
			c.credit(n)
		}
	}
	c.unready(st)
}

var errStreamClosed = errors.New("http2: stream closed")

func (c *conn) traceRecv(f Frame) {
	c.tr.Client("[" + f.FrameHeader.String() + "]")
}

func (c *conn) traceSent(s string) {
	if c.tr.Enabled() {
		c.tr.Server("[" + s + "]")
	}
}

func itoa(v uint32) string { return strconv.FormatUint(uint64(v), 10) }

// upgrade takes the HTTP/1.1 request that asked for h2c as stream 1, in
// state half-closed (remote) (RFC 7540 §3.2), with the HTTP2-Settings it
// carried applied.
func (c *conn) upgrade(req *web.Request) error {
	settings, err := base64.RawURLEncoding.DecodeString(trimPad(req.Header.Get("HTTP2-Settings")))
	if err != nil {
		return connError(ErrCodeProtocol, "HTTP2-Settings is not base64url")
	}
	f := Frame{FrameHeader: FrameHeader{Length: uint32(len(settings)), Type: FrameSettings}, Payload: settings}
	if err := ParseSettings(f, func(s Setting) error {
		switch s.ID {
		case SettingHeaderTableSize:
			c.enc.SetMaxDynamicTableSizeLimit(s.Val)
		case SettingEnablePush:
			c.peerPush = s.Val == 1
		case SettingInitialWindowSize:
			c.peerInitial = int64(s.Val)
		case SettingMaxFrameSize:
			c.peerMaxFrame = int(s.Val)
		}
		return nil
	}); err != nil {
		return err
	}
	r := &web.Request{
		Method: req.Method, Target: req.Target, Form: req.Form, Scheme: "http", Host: req.Host,
		Path: req.Path, RawPath: req.RawPath, RawQuery: req.RawQuery,
		Proto: "HTTP/2.0", ProtoMinor: 0, ContentLength: 0, RemoteAddr: c.remote,
	}
	for _, f := range req.Header {
		switch {
		case equalFold(f.Name, "Connection"), equalFold(f.Name, "Upgrade"), equalFold(f.Name, "HTTP2-Settings"), equalFold(f.Name, "Keep-Alive"):
		default:
			r.Header.Add(f.Name, f.Value)
		}
	}
	c.maxClient = 1
	st := c.newStream(1)
	st.state = stateHalfClosedRemote
	st.req = r
	r.Body = noBody{}
	c.startHandler(st)
	return nil
}

func trimPad(s string) string {
	for len(s) > 0 && s[len(s)-1] == '=' {
		s = s[:len(s)-1]
	}
	return s
}
