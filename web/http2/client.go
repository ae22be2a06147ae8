package http2

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/applayer/applayer/internal/deadline"
	"github.com/applayer/applayer/internal/link"
	"github.com/applayer/applayer/internal/transcript"
	"github.com/applayer/applayer/web/browser"
	"github.com/applayer/applayer/web/timeline"
	"golang.org/x/net/http2/hpack"
)

// DefaultClientTimeout bounds each read and write of a client connection.
const DefaultClientTimeout = 30 * time.Second

// clientWindow is the window the client grants each stream and the
// connection: large, so that a fast link stays full.
const clientWindow = 16 << 20

// Options configure Dial.
type Options struct {
	// Timeout bounds each read and write (default DefaultClientTimeout;
	// negative: none but the context's).
	Timeout time.Duration
	// TLS, when set, makes the connection h2 over TLS (ALPN "h2");
	// otherwise it is h2c by prior knowledge.
	TLS *tls.Config
	// Trace records every frame sent and received, the way nghttp -v
	// prints them; nil records nothing.
	Trace *transcript.Recorder
	// Rate, when positive, paces what the connection reads to this many
	// bytes a second (below TLS): a slow access link simulated on
	// loopback (internal/link).
	Rate int64
}

// ClientConn is an HTTP/2 client connection that fetches objects
// concurrently on one connection and records when each frame arrived.
type ClientConn struct {
	nc      net.Conn
	dc      *deadline.Conn
	br      *bufio.Reader
	bw      *bufio.Writer
	enc     *hpack.Encoder
	encBuf  bytes.Buffer
	dec     *hpack.Decoder
	tr      *transcript.Session
	start   time.Time
	next    uint32
	maxSend int
	hdr     [FrameHeaderLen]byte
	buf     []byte
	goAway  bool
}

// Dial connects to addr and exchanges prefaces.
func Dial(ctx context.Context, addr string, opt Options) (*ClientConn, error) {
	timeout := cmp.Or(opt.Timeout, DefaultClientTimeout)
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	nc = link.Pace(nc, opt.Rate)
	if opt.TLS != nil {
		cfg := opt.TLS.Clone()
		cfg.NextProtos = []string{"h2"}
		tc := tls.Client(nc, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, err
		}
		if tc.ConnectionState().NegotiatedProtocol != "h2" {
			tc.Close()
			return nil, errors.New("http2: the server did not choose h2 by ALPN")
		}
		nc = tc
	}
	dc := deadline.New(nc, timeout)
	if dl, ok := ctx.Deadline(); ok {
		dc.SetLimit(dl)
	}
	c := &ClientConn{nc: nc, dc: dc, br: bufio.NewReaderSize(dc, 64<<10), bw: bufio.NewWriterSize(dc, 16<<10), next: 1, maxSend: MinMaxFrameSize, start: time.Now()}
	c.enc = hpack.NewEncoder(&c.encBuf)
	c.dec = hpack.NewDecoder(DefaultHeaderTable, nil)
	c.dec.SetMaxStringLength(1 << 20)
	c.tr = opt.Trace.Session("http2", addr)
	b := append([]byte(ClientPreface), AppendSettings(nil, Setting{SettingEnablePush, 0}, Setting{SettingInitialWindowSize, clientWindow})...)
	b = AppendWindowUpdate(b, 0, clientWindow-DefaultWindowSize)
	c.traceSend(FrameHeader{Type: FrameSettings, Length: 12}, "ENABLE_PUSH=0 INITIAL_WINDOW_SIZE="+strconv.Itoa(clientWindow))
	c.traceSend(FrameHeader{Type: FrameWindowUpdate, Length: 4}, "window_size_increment="+strconv.Itoa(clientWindow-DefaultWindowSize))
	c.bw.Write(b)
	if err := c.bw.Flush(); err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

// Close closes the connection, saying GOAWAY first.
func (c *ClientConn) Close() error {
	c.bw.Write(AppendGoAway(nil, 0, ErrCodeNo, ""))
	c.bw.Flush()
	return c.nc.Close()
}

// A Fetch is one response on the connection, with its timeline.
type Fetch struct {
	Path   string
	Stream uint32
	Status int
	Header []hpack.HeaderField
	Body   []byte
	Err    error // RST_STREAM from the server, or the connection's end
	// Times from the connection's start: request sent, response head,
	// first and last DATA.
	Sent, Head, First, Last time.Duration
	// Frames is when each DATA frame arrived and its length.
	Frames []FrameArrival
	done   bool
}

// FrameArrival is one DATA frame of a response.
type FrameArrival struct {
	At  time.Duration
	Len int
}

// Page fetches the page at u, then every object it references on its own
// origin, all at once on this connection: the page's fetch first in the
// result, then the objects'. The page's body is kept up to maxPage octets;
// the objects' bodies are counted, not kept.
func (c *ClientConn) Page(ctx context.Context, u *url.URL, maxPage int) ([]*Fetch, error) {
	page, err := c.Get(ctx, u.Scheme, u.Host, []string{u.RequestURI()}, maxPage)
	if err != nil {
		return page, err
	}
	if page[0].Err != nil {
		return page, page[0].Err
	}
	var paths []string
	for _, o := range browser.ObjectLinks(bytes.NewReader(page[0].Body), u) {
		if o.Host == u.Host && o.Scheme == u.Scheme {
			paths = append(paths, o.RequestURI())
		}
	}
	objects, err := c.Get(ctx, u.Scheme, u.Host, paths, 0)
	return append(page, objects...), err
}

// Get fetches every path at once, on one stream each, from authority
// (the :authority and scheme to send), and returns when all have ended.
// Bodies are kept up to maxBody octets each (the rest is counted in the
// timeline, not kept).
func (c *ClientConn) Get(ctx context.Context, scheme, authority string, paths []string, maxBody int) ([]*Fetch, error) {
	stop := context.AfterFunc(ctx, func() { c.dc.SetLimit(time.Now()) })
	defer stop()
	out := make([]*Fetch, len(paths))
	byID := map[uint32]*Fetch{}
	for i, p := range paths {
		if c.goAway {
			return out, errors.New("http2: the server sent GOAWAY")
		}
		c.encBuf.Reset()
		for _, f := range []hpack.HeaderField{{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: scheme}, {Name: ":authority", Value: authority}, {Name: ":path", Value: p}, {Name: "user-agent", Value: "applayer"}} {
			c.enc.WriteField(f)
		}
		id := c.next
		c.next += 2
		f := &Fetch{Path: p, Stream: id, Sent: time.Since(c.start)}
		out[i], byID[id] = f, f
		blk := AppendHeaderBlock(nil, id, 0, c.encBuf.Bytes(), true, c.maxSend)
		c.traceSend(FrameHeader{Type: FrameHeaders, Flags: FlagEndHeaders | FlagEndStream, StreamID: id, Length: uint32(c.encBuf.Len())}, "GET "+p)
		c.bw.Write(blk)
	}
	if err := c.bw.Flush(); err != nil {
		return out, err
	}
	left := len(paths)
	var hb []byte
	hbStream, hbEnd := uint32(0), false
	var credit int
	for left > 0 {
		fr, err := ReadFrame(c.br, &c.hdr, c.buf, MaxMaxFrameSize)
		if err != nil {
			for _, f := range out {
				if !f.done {
					f.Err = fmt.Errorf("connection ended: %w", err)
				}
			}
			return out, err
		}
		at := time.Since(c.start)
		c.traceRecv(fr)
		f := byID[fr.StreamID]
		switch fr.Type {
		case FrameSettings:
			if !fr.Flags.Has(FlagAck) {
				ParseSettings(fr, func(s Setting) error {
					if s.ID == SettingMaxFrameSize {
						c.maxSend = int(s.Val)
					}
					return nil
				})
				c.bw.Write(AppendFrameHeader(nil, 0, FrameSettings, FlagAck, 0))
				c.traceSend(FrameHeader{Type: FrameSettings, Flags: FlagAck}, "ACK")
			}
		case FramePing:
			if d, err := ParsePing(fr); err == nil && !fr.Flags.Has(FlagAck) {
				c.bw.Write(AppendPing(nil, true, d))
			}
		case FrameGoAway:
			c.goAway = true
			g, _ := ParseGoAway(fr)
			if g.Code != ErrCodeNo {
				return out, fmt.Errorf("http2: GOAWAY %v: %s", g.Code, g.Debug)
			}
		case FrameRSTStream:
			code, _ := ParseRSTStream(fr)
			if f != nil && !f.done {
				f.Err, f.done = fmt.Errorf("stream reset: %v", code), true
				left--
			}
		case FrameHeaders, FrameContinuation:
			if fr.Type == FrameHeaders {
				h, err := ParseHeaders(fr)
				if err != nil {
					return out, err
				}
				hb, hbStream, hbEnd = append(hb[:0], h.Fragment...), fr.StreamID, fr.Flags.Has(FlagEndStream)
			} else {
				hb = append(hb, fr.Payload...)
			}
			if !fr.Flags.Has(FlagEndHeaders) {
				continue
			}
			fields, err := c.dec.DecodeFull(hb)
			if err != nil {
				return out, fmt.Errorf("http2: HPACK: %w", err)
			}
			if f = byID[hbStream]; f == nil {
				continue
			}
			status := 0
			if len(fields) > 0 && fields[0].Name == ":status" {
				status, _ = strconv.Atoi(fields[0].Value)
			}
			if status >= 200 && f.Status == 0 {
				f.Status, f.Header, f.Head = status, fields, at
			}
			if hbEnd && !f.done {
				f.done = true
				left--
			}
		case FrameData:
			if f == nil {
				continue
			}
			d, err := ParseData(fr)
			if err != nil {
				return out, err
			}
			if len(f.Frames) == 0 {
				f.First = at
			}
			f.Last = at
			f.Frames = append(f.Frames, FrameArrival{At: at, Len: len(d)})
			if len(f.Body) < maxBody {
				f.Body = append(f.Body, d[:min(len(d), maxBody-len(f.Body))]...)
			}
			// Give the window back at once, for the stream and the
			// connection, so that the server is never held up.
			if fr.Length > 0 {
				credit += int(fr.Length)
				if !fr.Flags.Has(FlagEndStream) {
					c.bw.Write(AppendWindowUpdate(nil, fr.StreamID, fr.Length))
				}
				if credit >= clientWindow/4 {
					c.bw.Write(AppendWindowUpdate(nil, 0, uint32(credit)))
					credit = 0
				}
			}
			if fr.Flags.Has(FlagEndStream) && !f.done {
				f.done = true
				left--
			}
		}
		if c.br.Buffered() < FrameHeaderLen {
			if err := c.bw.Flush(); err != nil {
				return out, err
			}
		}
	}
	return out, c.bw.Flush()
}

func (c *ClientConn) stamp() string {
	return fmt.Sprintf("[%7.3f]", time.Since(c.start).Seconds())
}

func (c *ClientConn) traceSend(h FrameHeader, note string) {
	if c.tr.Enabled() {
		c.tr.Client(c.stamp() + " send " + nghttpFrame(h) + " " + note)
	}
}

func (c *ClientConn) traceRecv(f Frame) {
	if c.tr.Enabled() {
		c.tr.Server(c.stamp() + " recv " + nghttpFrame(f.FrameHeader))
	}
}

// nghttpFrame describes a frame header as nghttp -v does.
func nghttpFrame(h FrameHeader) string {
	return h.Type.String() + " frame <length=" + strconv.Itoa(int(h.Length)) + ", flags=0x" + fmt.Sprintf("%02x", uint8(h.Flags)) + ", stream_id=" + strconv.Itoa(int(h.StreamID)) + ">"
}

// Timeline draws each fetch as a row of width cells over the span from
// the first request to the last frame (times in the columns are from the
// connection's start): '-' while waiting, 'H' for the
// response head, '#' where DATA arrived. Interleaved responses show as
// rows that fill at the same time.
func Timeline(w io.Writer, fetches []*Fetch, width int) {
	if len(fetches) == 0 {
		return
	}
	rows := Rows(fetches)
	start, end := timeline.Start(rows), timeline.End(rows)
	fmt.Fprintf(w, "%-6s %-6s %10s %9s %9s %9s %6s  %-*s  %s\n", "stream", "status", "bytes", "head", "first", "last", "frames", width, "timeline (0 to "+fmtDur(end-start)+")", "path")
	for i, f := range fetches {
		n := 0
		for _, fa := range f.Frames {
			n += fa.Len
		}
		status := strconv.Itoa(f.Status)
		if f.Err != nil {
			status = "error"
		}
		fmt.Fprintf(w, "%-6d %-6s %10d %9s %9s %9s %6d  %s  %s\n", f.Stream, status, n, fmtDur(f.Head), fmtDur(f.First), fmtDur(f.Last), len(f.Frames), timeline.Bar(rows[i], start, end, width), f.Path)
	}
}

// Rows turns fetches into timeline rows, a DATA frame a mark.
func Rows(fetches []*Fetch) []timeline.Row {
	rows := make([]timeline.Row, len(fetches))
	for i, f := range fetches {
		marks := make([]time.Duration, len(f.Frames))
		for j, fa := range f.Frames {
			marks[j] = fa.At
		}
		rows[i] = timeline.Row{Label: f.Path, Sent: f.Sent, Head: f.Head, First: f.First, Last: f.Last, Marks: marks}
	}
	return rows
}

func fmtDur(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64) + "ms"
}
