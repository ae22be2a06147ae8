package dns

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/applayer/applayer/internal/transcript"
)

// ErrTimeout is returned by Exchange when no acceptable answer arrived in
// time.
var ErrTimeout = errors.New("dns: no answer in time")

// Client sends queries and reads the answers, over UDP with a retry over TCP
// when the answer comes truncated (RFC 1035 §4.2.1), or over TCP alone.
// Its zero value works.
type Client struct {
	// TCP sends every query over TCP.
	TCP bool
	// Timeout bounds one exchange, TCP retry included (default 2 seconds).
	Timeout time.Duration
	// NoTCPRetry returns a truncated UDP answer as it is.
	NoTCPRetry bool
	// Trace records a summary of each query and answer.
	Trace *transcript.Recorder
}

// Response is an answer and how it came.
type Response struct {
	Msg  *Msg
	RTT  time.Duration
	TCP  bool // the answer came over TCP
	Size int  // its size in bytes
}

// Exchange sends q to addr (host:port) and returns the answer. q's ID is
// replaced by a random one (a resolver's first defence against forged
// answers, RFC 5452 §9.2), and UDP goes out from a fresh socket, so from a
// port the kernel picks at random. Over UDP, datagrams that do not come
// from addr or do not match the ID and question are ignored.
func (c *Client) Exchange(ctx context.Context, q *Msg, addr string) (*Response, error) {
	to := c.Timeout
	if to <= 0 {
		to = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, to)
	defer cancel()
	q.ID = uint16(rand.N(1 << 16))
	wire, err := q.Pack()
	if err != nil {
		return nil, err
	}
	if !c.TCP {
		r, err := c.exchangeUDP(ctx, q, wire, addr)
		if err != nil || !r.Msg.Truncated || c.NoTCPRetry {
			return r, err
		}
	}
	return c.exchangeTCP(ctx, q, wire, addr)
}

func (c *Client) exchangeUDP(ctx context.Context, q *Msg, wire []byte, addr string) (*Response, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	tr := c.Trace.Session("dns/udp", addr)
	if tr.Enabled() {
		tr.Client(q.Summary())
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	start := time.Now()
	if _, err := conn.Write(wire); err != nil {
		return nil, err
	}
	bp := udpBufs.Get().(*[]byte)
	defer udpBufs.Put(bp)
	buf := *bp
	for {
		n, err := conn.Read(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				tr.Note("no answer in time")
				return nil, ErrTimeout
			}
			return nil, err
		}
		if n == len(buf) {
			// The datagram may have been cut to the buffer: treat it as
			// truncated, so the question is asked again over TCP.
			if h, ok := UnpackHeader(buf[:n]); ok && h.ID == q.ID && h.Response {
				h.Truncated = true
				tr.Note("answer fills the receive buffer; treating it as truncated")
				return &Response{Msg: &Msg{Header: h, Question: q.Question}, RTT: time.Since(start), Size: n}, nil
			}
			continue
		}
		m := new(Msg)
		if m.Unpack(buf[:n]) != nil || !m.Response || !matches(q, m) {
			tr.Note("ignoring a datagram that does not answer the query")
			continue
		}
		if tr.Enabled() {
			tr.Server(m.Summary())
		}
		return &Response{Msg: m, RTT: time.Since(start), Size: n}, nil
	}
}

// udpBufSize is the receive buffer of a UDP exchange: over three times the
// 1232 bytes a query advertises, so a compliant answer always fits; an
// answer that fills it is asked again over TCP. Buffers are pooled; the
// decoded message copies what it keeps.
const udpBufSize = 4096

var udpBufs = sync.Pool{New: func() any { b := make([]byte, udpBufSize); return &b }}

// matches reports whether m answers q: same ID and the same question (RFC
// 5452 §4.1), names compared case-insensitively.
func matches(q, m *Msg) bool {
	if m.ID != q.ID || len(m.Question) != len(q.Question) {
		return false
	}
	for i := range q.Question {
		a, b := q.Question[i], m.Question[i]
		if a.Type != b.Type || a.Class != b.Class || !equalFold(a.Name, b.Name) {
			return false
		}
	}
	return true
}

func (c *Client) exchangeTCP(ctx context.Context, q *Msg, wire []byte, addr string) (*Response, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	tr := c.Trace.Session("dns/tcp", addr)
	if tr.Enabled() {
		tr.Client(q.Summary())
	}
	start := time.Now()
	if err := WriteTCP(conn, wire); err != nil {
		return nil, err
	}
	for {
		b, err := ReadTCP(conn)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return nil, ErrTimeout
			}
			return nil, err
		}
		m := new(Msg)
		if err := m.Unpack(b); err != nil {
			return nil, err
		}
		if !m.Response || !matches(q, m) {
			continue
		}
		if tr.Enabled() {
			tr.Server(m.Summary())
		}
		return &Response{Msg: m, RTT: time.Since(start), TCP: true, Size: len(b)}, nil
	}
}

// WriteTCP writes one message with its two-byte length (RFC 1035 §4.2.2).
func WriteTCP(w io.Writer, wire []byte) error {
	b := make([]byte, 2, 2+len(wire))
	binary.BigEndian.PutUint16(b, uint16(len(wire)))
	_, err := w.Write(append(b, wire...))
	return err
}

// ReadTCP reads one length-prefixed message.
func ReadTCP(r io.Reader) ([]byte, error) {
	var l [2]byte
	if _, err := io.ReadFull(r, l[:]); err != nil {
		return nil, err
	}
	b := make([]byte, binary.BigEndian.Uint16(l[:]))
	_, err := io.ReadFull(r, b)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return b, err
}
