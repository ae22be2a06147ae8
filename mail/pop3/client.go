package pop3

// Client is applayer's POP3 client (RFC 1939), used by `applayer mail
// read`: USER/PASS, STLS (RFC 2595), CAPA (RFC 2449), STAT, LIST, UIDL,
// RETR, TOP, DELE, RSET, NOOP, QUIT. Multi-line replies are read with a
// bound on line length, line count and total size, and un-dot-stuffed.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/applayer/applayer/internal/lifecycle"
	"github.com/applayer/applayer/internal/textline"
	"github.com/applayer/applayer/internal/tlsutil"
	"github.com/applayer/applayer/internal/transcript"
)

// DefaultClientTimeout bounds each command's exchange when
// ClientOptions.Timeout is 0.
const DefaultClientTimeout = time.Minute

// DefaultClientMaxMessage bounds one multi-line reply (a RETR).
const DefaultClientMaxMessage = 64 << 20

// ClientOptions configure a Client.
type ClientOptions struct {
	Timeout time.Duration
	// Trace records the dialogue; the password is redacted unless the
	// Recorder shows secrets.
	Trace *transcript.Recorder
	// TLSConfig is used by DialTLS and StartTLS.
	TLSConfig *tls.Config
	// MaxMessage bounds one multi-line reply (default
	// DefaultClientMaxMessage).
	MaxMessage int64
}

// Client is one POP3 connection, used by one goroutine.
type Client struct {
	opts ClientOptions
	conn net.Conn
	tl   *textline.Reader
	bw   *bufio.Writer
	tr   *transcript.Session
	host string
	tls  bool
	// Greeting is the text of the server's +OK greeting.
	Greeting string
}

// ReplyError is a -ERR reply.
type ReplyError struct {
	Command string
	Text    string
}

func (e *ReplyError) Error() string { return "pop3: " + e.Command + ": -ERR " + e.Text }

// ErrReply reports a reply that is neither +OK nor -ERR, or over a limit.
var ErrReply = errors.New("pop3: malformed reply")

// Dial connects in clear and reads the greeting.
func Dial(ctx context.Context, addr string, opts ClientOptions) (*Client, error) {
	return dial(ctx, addr, opts, false)
}

// DialTLS connects with TLS from the first byte (POP3S, port 995).
func DialTLS(ctx context.Context, addr string, opts ClientOptions) (*Client, error) {
	return dial(ctx, addr, opts, true)
}

func dial(ctx context.Context, addr string, opts ClientOptions, useTLS bool) (*Client, error) {
	d := net.Dialer{Timeout: clientTimeout(opts)}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	host, _, _ := net.SplitHostPort(addr)
	if useTLS {
		tc := tls.Client(conn, tlsutil.ClientConfig(opts.TLSConfig, host))
		conn.SetDeadline(time.Now().Add(clientTimeout(opts)))
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("pop3: TLS handshake: %w", err)
		}
		conn = tc
	}
	c, err := NewClient(ctx, conn, opts)
	if err != nil {
		conn.Close()
		return nil, err
	}
	c.host, c.tls = host, useTLS
	return c, nil
}

func clientTimeout(o ClientOptions) time.Duration {
	return lifecycle.OrDefault(o.Timeout, DefaultClientTimeout)
}

// NewClient starts a session on conn and reads the greeting.
func NewClient(ctx context.Context, conn net.Conn, opts ClientOptions) (*Client, error) {
	if opts.MaxMessage <= 0 {
		opts.MaxMessage = DefaultClientMaxMessage
	}
	c := &Client{opts: opts, tr: opts.Trace.Session("pop3", conn.RemoteAddr().String())}
	c.setConn(conn)
	c.tr.Note("connected to " + conn.RemoteAddr().String())
	c.deadline(ctx)
	text, err := c.status("greeting")
	if err != nil {
		return nil, err
	}
	c.Greeting = text
	return c, nil
}

func (c *Client) setConn(conn net.Conn) {
	c.conn = conn
	// RFC 2449 section 4 allows 512 octets; messages have longer lines.
	c.tl = textline.NewReader(bufio.NewReaderSize(conn, 8192), 64<<10)
	c.bw = bufio.NewWriter(conn)
}

func (c *Client) deadline(ctx context.Context) {
	dl := time.Now().Add(clientTimeout(c.opts))
	if d, ok := ctx.Deadline(); ok && d.Before(dl) {
		dl = d
	}
	c.conn.SetDeadline(dl)
}

func (c *Client) status(cmd string) (string, error) {
	line, err := c.tl.ReadLine()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return "", fmt.Errorf("pop3: reading reply: %w", err)
	}
	c.tr.Server(string(line))
	s := string(line)
	switch {
	case s == "+OK" || strings.HasPrefix(s, "+OK "):
		return strings.TrimPrefix(strings.TrimPrefix(s, "+OK"), " "), nil
	case s == "-ERR" || strings.HasPrefix(s, "-ERR "):
		return "", &ReplyError{Command: cmd, Text: strings.TrimPrefix(strings.TrimPrefix(s, "-ERR"), " ")}
	}
	return "", fmt.Errorf("%w: %q", ErrReply, s)
}

func (c *Client) send(ctx context.Context, line string, secretFrom int) error {
	c.deadline(ctx)
	if secretFrom > 0 {
		c.tr.ClientSecret(line[:secretFrom], line[secretFrom:])
	} else {
		c.tr.Client(line)
	}
	c.bw.WriteString(line + "\r\n")
	return c.bw.Flush()
}

// cmd sends a command and reads its status line.
func (c *Client) cmd(ctx context.Context, line string) (string, error) {
	if err := c.send(ctx, line, 0); err != nil {
		return "", err
	}
	return c.status(strings.Fields(line + " ")[0])
}

// multi reads the lines of a multi-line reply up to the "." (RFC 1939
// section 3), dot-unstuffed, with CRLF line ends.
func (c *Client) multi(ctx context.Context, traceLines bool) ([]byte, error) {
	var out bytes.Buffer
	for n := 0; ; n++ {
		c.deadline(ctx)
		line, err := c.tl.ReadLine()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("pop3: reading multi-line reply: %w", err)
		}
		if traceLines || n < 40 {
			c.tr.Server(string(line))
		} else if n == 40 {
			c.tr.Note("… (further lines not shown)")
		}
		if len(line) == 1 && line[0] == '.' {
			if n >= 40 && !traceLines {
				c.tr.Server(".")
			}
			return out.Bytes(), nil
		}
		if len(line) > 0 && line[0] == '.' {
			line = line[1:]
		}
		if int64(out.Len()+len(line)+2) > c.opts.MaxMessage {
			return nil, fmt.Errorf("%w: reply over %d octets", ErrReply, c.opts.MaxMessage)
		}
		out.Write(line)
		out.WriteString("\r\n")
	}
}

// Capabilities sends CAPA (RFC 2449) and returns the capability lines
// keyed by their first word, upper case.
func (c *Client) Capabilities(ctx context.Context) (map[string]string, error) {
	if _, err := c.cmd(ctx, "CAPA"); err != nil {
		return nil, err
	}
	b, err := c.multi(ctx, true)
	if err != nil {
		return nil, err
	}
	caps := map[string]string{}
	for _, l := range strings.Split(string(b), "\r\n") {
		if k, v, _ := strings.Cut(l, " "); k != "" {
			caps[strings.ToUpper(k)] = v
		}
	}
	return caps, nil
}

// StartTLS upgrades the connection with STLS (RFC 2595 section 4).
func (c *Client) StartTLS(ctx context.Context, cfg *tls.Config) error {
	if cfg == nil {
		cfg = c.opts.TLSConfig
	}
	if _, err := c.cmd(ctx, "STLS"); err != nil {
		return err
	}
	if c.tl.R.Buffered() > 0 {
		return fmt.Errorf("%w: data after STLS's +OK", ErrReply)
	}
	tc := tls.Client(c.conn, tlsutil.ClientConfig(cfg, c.host))
	c.deadline(ctx)
	if err := tc.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("pop3: TLS handshake: %w", err)
	}
	c.tr.Note("TLS established: " + tls.VersionName(tc.ConnectionState().Version))
	c.setConn(tc)
	c.tls = true
	return nil
}

// TLS reports whether the connection is encrypted.
func (c *Client) TLS() bool { return c.tls }

// Login sends USER and PASS (RFC 1939 section 7); the password is redacted
// in the transcript.
func (c *Client) Login(ctx context.Context, user, password string) error {
	if strings.ContainsAny(user, "\r\n") || strings.ContainsAny(password, "\r\n") {
		return errors.New("pop3: user or password contains a line break")
	}
	if _, err := c.cmd(ctx, "USER "+user); err != nil {
		return err
	}
	if err := c.send(ctx, "PASS "+password, len("PASS ")); err != nil {
		return err
	}
	_, err := c.status("PASS")
	return err
}

// Stat returns the number of messages and their total size.
func (c *Client) Stat(ctx context.Context) (count int, size int64, err error) {
	text, err := c.cmd(ctx, "STAT")
	if err != nil {
		return 0, 0, err
	}
	f := strings.Fields(text)
	if len(f) < 2 {
		return 0, 0, fmt.Errorf("%w: STAT %q", ErrReply, text)
	}
	count, err1 := strconv.Atoi(f[0])
	size, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil || count < 0 || size < 0 {
		return 0, 0, fmt.Errorf("%w: STAT %q", ErrReply, text)
	}
	return count, size, nil
}

// Entry is one line of a LIST or UIDL reply.
type Entry struct {
	Num  int
	Size int64  // LIST
	UID  string // UIDL
}

func (c *Client) listing(ctx context.Context, cmd string, uidl bool) ([]Entry, error) {
	if _, err := c.cmd(ctx, cmd); err != nil {
		return nil, err
	}
	b, err := c.multi(ctx, false)
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\r\n"), "\r\n") {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		n, err := strconv.Atoi(f[0])
		if err != nil || len(f) < 2 || n <= 0 {
			return nil, fmt.Errorf("%w: %s line %q", ErrReply, cmd, l)
		}
		e := Entry{Num: n}
		if uidl {
			e.UID = f[1]
		} else if e.Size, err = strconv.ParseInt(f[1], 10, 64); err != nil {
			return nil, fmt.Errorf("%w: %s line %q", ErrReply, cmd, l)
		}
		out = append(out, e)
	}
	return out, nil
}

// List returns every message's number and size.
func (c *Client) List(ctx context.Context) ([]Entry, error) { return c.listing(ctx, "LIST", false) }

// UIDL returns every message's number and unique id (RFC 1939 section 7).
func (c *Client) UIDL(ctx context.Context) ([]Entry, error) { return c.listing(ctx, "UIDL", true) }

// Retr returns message n, CRLF line ends, dot-unstuffed.
func (c *Client) Retr(ctx context.Context, n int) ([]byte, error) {
	if _, err := c.cmd(ctx, "RETR "+strconv.Itoa(n)); err != nil {
		return nil, err
	}
	return c.multi(ctx, false)
}

// Top returns message n's header and its first lines of body (TOP n 0 is
// the header alone).
func (c *Client) Top(ctx context.Context, n, lines int) ([]byte, error) {
	if _, err := c.cmd(ctx, "TOP "+strconv.Itoa(n)+" "+strconv.Itoa(lines)); err != nil {
		return nil, err
	}
	return c.multi(ctx, false)
}

// Dele marks message n deleted; it goes at QUIT.
func (c *Client) Dele(ctx context.Context, n int) error {
	_, err := c.cmd(ctx, "DELE "+strconv.Itoa(n))
	return err
}

// Rset unmarks the deleted messages.
func (c *Client) Rset(ctx context.Context) error {
	_, err := c.cmd(ctx, "RSET")
	return err
}

// Noop sends NOOP.
func (c *Client) Noop(ctx context.Context) error {
	_, err := c.cmd(ctx, "NOOP")
	return err
}

// Quit ends the session, which deletes the messages marked with DELE
// (the UPDATE state), and closes the connection.
func (c *Client) Quit(ctx context.Context) error {
	_, err := c.cmd(ctx, "QUIT")
	c.conn.Close()
	return err
}

// Close closes the connection without QUIT: nothing is deleted.
func (c *Client) Close() error { return c.conn.Close() }
