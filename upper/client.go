package upper

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/applayer/applayer/internal/deadline"
	"github.com/applayer/applayer/internal/transcript"
)

// ErrTimeout is returned by UDPConn.Exchange when no answer came back within
// the timeout on any attempt: the request or its answer was lost.
var ErrTimeout = errors.New("upper: no answer (datagram lost?)")

// DefaultUDPTimeout is how long a UDP client waits for each answer.
const DefaultUDPTimeout = time.Second

// DefaultTCPTimeout bounds the handshake and each read and write of a TCP
// client when Options.Timeout is zero, so that nothing waits forever on a
// silent server when the context has no deadline.
const DefaultTCPTimeout = 30 * time.Second

// Options configure a client, UDP or TCP.
type Options struct {
	// Timeout bounds, over TCP, the handshake and each read and write
	// (default DefaultTCPTimeout; negative: none but the context's); over
	// UDP, Exchange takes its own per-answer timeout.
	Timeout time.Duration
	// Trace records the dialogue; nil records nothing.
	Trace *transcript.Recorder
}

// dialTCP dials addr and wraps the connection so that every read and write
// is bounded by the options' timeout and by ctx.
func dialTCP(ctx context.Context, addr string, opts Options) (*deadline.Conn, error) {
	to := cmp.Or(opts.Timeout, DefaultTCPTimeout)
	d := net.Dialer{Timeout: max(to, 0)}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return deadline.New(c, to), nil
}

// UDPConn is a client's UDP socket to one server. It is not safe for
// concurrent use: the textbook's client has one request outstanding.
type UDPConn struct {
	c     net.Conn
	trace *transcript.Session
	buf   []byte
	// Late counts answers that arrived after their exchange had given up,
	// and were discarded.
	Late int
}

// DialUDP opens a connected UDP socket to addr: the kernel then delivers
// only datagrams from that address.
func DialUDP(ctx context.Context, addr string, opts Options) (*UDPConn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "udp", addr)
	if err != nil {
		return nil, err
	}
	return &UDPConn{c: c, trace: opts.Trace.Session("upper/udp", addr), buf: make([]byte, 1<<16)}, nil
}

// Close closes the socket.
func (u *UDPConn) Close() error { return u.c.Close() }

// Attempt is what happened to one datagram sent by Exchange.
type Attempt struct {
	Lost bool          // no answer within the timeout
	RTT  time.Duration // time from send to answer, when not lost
}

// Exchange sends payload and waits up to timeout for its answer, resending
// up to retries more times when none comes. It returns the answer and every
// attempt made. Datagrams that are not the answer to this payload (late
// answers to an earlier exchange) are counted in Late and skipped. After the
// last attempt times out, it returns ErrTimeout.
func (u *UDPConn) Exchange(ctx context.Context, payload []byte, timeout time.Duration, retries int) ([]byte, []Attempt, error) {
	if len(payload) > MaxDatagram {
		return nil, nil, fmt.Errorf("upper: %d bytes do not fit in one datagram (at most %d)", len(payload), MaxDatagram)
	}
	if timeout <= 0 {
		timeout = DefaultUDPTimeout
	}
	want := Upper(payload)
	var attempts []Attempt
	for try := 0; try <= retries; try++ {
		if err := ctx.Err(); err != nil {
			return nil, attempts, err
		}
		start := time.Now()
		if _, err := u.c.Write(payload); err != nil {
			return nil, attempts, err
		}
		u.trace.ClientBytes(payload)
		deadline := start.Add(timeout)
		if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
			deadline = d
		}
		u.c.SetReadDeadline(deadline)
		for {
			n, err := u.c.Read(u.buf)
			if err != nil {
				if errors.Is(err, os.ErrDeadlineExceeded) {
					attempts = append(attempts, Attempt{Lost: true})
					u.trace.Note(fmt.Sprintf("no answer within %v", timeout))
					break
				}
				// A closed port answers with ICMP port
				// unreachable, which a connected socket reports.
				if errors.Is(err, syscall.ECONNREFUSED) {
					err = fmt.Errorf("upper: nothing listens on %s (ICMP port unreachable)", u.c.RemoteAddr())
				}
				return nil, attempts, err
			}
			if !bytes.Equal(u.buf[:n], want) {
				u.Late++
				u.trace.Note("discarding a datagram that answers an earlier request")
				continue
			}
			rtt := time.Since(start)
			u.trace.ServerBytes(u.buf[:n])
			attempts = append(attempts, Attempt{RTT: rtt})
			return append([]byte(nil), u.buf[:n]...), attempts, nil
		}
	}
	return nil, attempts, ErrTimeout
}

// SendTCP is the textbook's TCPClient: it connects to addr, sends sentence,
// half-closes its side to say it is done, and returns everything the server
// sends back before it closes.
func SendTCP(ctx context.Context, addr string, sentence []byte, opts Options) ([]byte, error) {
	c, err := dialTCP(ctx, addr, opts)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	dl, _ := ctx.Deadline()
	c.SetLimit(dl)
	stop := context.AfterFunc(ctx, func() { c.SetLimit(time.Now()); c.SetDeadline(time.Now()) })
	defer stop()
	tr := opts.Trace.Session("upper/tcp", addr)
	go func() {
		// Write concurrently with reading: an answer larger than the
		// socket buffers must be drained while the sentence is still
		// going out.
		if _, err := c.Write(sentence); err == nil {
			tr.ClientBytes(sentence)
			c.Conn.(*net.TCPConn).CloseWrite()
		}
	}()
	reply, err := io.ReadAll(c)
	tr.ServerBytes(reply)
	if err != nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	return reply, err
}

// TCPConn is an interactive client connection that sends one line at a
// time and reads back one line, the textbook's "client sends many sentences"
// variant. It relies on the server answering a newline with a newline.
type TCPConn struct {
	c     *deadline.Conn
	r     *bufio.Reader
	trace *transcript.Session
}

// DialTCP connects to addr.
func DialTCP(ctx context.Context, addr string, opts Options) (*TCPConn, error) {
	c, err := dialTCP(ctx, addr, opts)
	if err != nil {
		return nil, err
	}
	return &TCPConn{c: c, r: bufio.NewReader(c), trace: opts.Trace.Session("upper/tcp", addr)}, nil
}

// Line sends line plus "\n" and returns the answer without its newline.
func (t *TCPConn) Line(ctx context.Context, line string) (string, error) {
	dl, _ := ctx.Deadline()
	t.c.SetLimit(dl)
	stop := context.AfterFunc(ctx, func() { t.c.SetLimit(time.Now()); t.c.SetDeadline(time.Now()) })
	defer stop()
	if _, err := io.WriteString(t.c, line+"\n"); err != nil {
		return "", err
	}
	t.trace.Client(line)
	ans, err := t.r.ReadString('\n')
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return "", err
	}
	ans = ans[:len(ans)-1]
	t.trace.Server(ans)
	return ans, nil
}

// Close closes the connection.
func (t *TCPConn) Close() error { return t.c.Close() }

// Stats sums up a run of UDP exchanges the way ping does.
type Stats struct {
	Sent, Received int
	Min, Max, Sum  time.Duration
}

// Add records one attempt.
func (s *Stats) Add(a Attempt) {
	s.Sent++
	if a.Lost {
		return
	}
	if s.Received == 0 || a.RTT < s.Min {
		s.Min = a.RTT
	}
	if a.RTT > s.Max {
		s.Max = a.RTT
	}
	s.Received++
	s.Sum += a.RTT
}

// Loss is the fraction of datagrams lost, in percent.
func (s *Stats) Loss() float64 {
	if s.Sent == 0 {
		return 0
	}
	return 100 * float64(s.Sent-s.Received) / float64(s.Sent)
}

// Avg is the mean round-trip time of the answered datagrams.
func (s *Stats) Avg() time.Duration {
	if s.Received == 0 {
		return 0
	}
	return s.Sum / time.Duration(s.Received)
}

// String renders the summary like ping's last two lines.
func (s *Stats) String() string {
	out := fmt.Sprintf("%d sent, %d received, %.1f%% lost", s.Sent, s.Received, s.Loss())
	if s.Received > 0 {
		out += fmt.Sprintf("\nrtt min/avg/max = %s/%s/%s", FormatRTT(s.Min), FormatRTT(s.Avg()), FormatRTT(s.Max))
	}
	return out
}

// FormatRTT prints a duration in milliseconds with three decimals, as ping
// does.
func FormatRTT(d time.Duration) string {
	return fmt.Sprintf("%.3f ms", float64(d)/float64(time.Millisecond))
}
