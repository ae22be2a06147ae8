// Package smtpclient is applayer's SMTP client (RFC 5321), used both by the
// mail transfer agent to relay to other exchangers and by `applayer mail
// send` to submit. It speaks EHLO (falling back to HELO), STARTTLS (RFC
// 3207), AUTH PLAIN (RFC 4616) and LOGIN (RFC 4954), SIZE (RFC 1870) and
// 8BITMIME (RFC 6152), and reports every refusal as a *smtp.Reply so the
// caller can tell a temporary failure (4yz) from a permanent one (5yz).
//
// One Client is one connection, used by one goroutine. Every exchange is
// bounded by the context's deadline and by Client.Timeout.
package smtpclient

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/applayer/applayer/internal/textline"
	"github.com/applayer/applayer/internal/transcript"
	"github.com/applayer/applayer/mail/smtp"
)

// DefaultTimeout bounds each command's exchange when Options.Timeout is 0
// (RFC 5321 section 4.5.3.2 suggests 5 minutes for most commands; a lab and
// a user at a terminal want less).
const DefaultTimeout = 2 * time.Minute

// Options configure a Client.
type Options struct {
	// LocalName is the name sent in EHLO/HELO (default "localhost").
	LocalName string
	// Timeout bounds each command's exchange (default DefaultTimeout).
	Timeout time.Duration
	// Trace records the dialogue; nil records nothing.
	Trace *transcript.Recorder
	// NoPipelining sends one command at a time even to a server that
	// offers PIPELINING, so a trace reads like the textbook's dialogue.
	NoPipelining bool
	// LocalAddr, when set, is the local IP address Dial connects from
	// (a lab host's own loopback address); port 0 lets the kernel choose.
	LocalAddr net.IP
}

// Client is one SMTP connection.
type Client struct {
	opts  Options
	conn  net.Conn
	tl    *textline.Reader
	bw    *bufio.Writer
	tr    *transcript.Session
	ext   map[string]string // EHLO keywords, upper case -> parameters
	esmtp bool
	tls   bool
	// Greeting is the server's 220 reply.
	Greeting *smtp.Reply
}

// ErrProtocol reports a reply that is not SMTP.
var ErrProtocol = errors.New("smtpclient: malformed reply")

// Dial connects to addr (host:port) and reads the greeting.
func Dial(ctx context.Context, addr string, opts Options) (*Client, error) {
	var d net.Dialer
	if opts.Timeout > 0 {
		d.Timeout = opts.Timeout
	}
	if opts.LocalAddr != nil {
		d.LocalAddr = &net.TCPAddr{IP: opts.LocalAddr}
	}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c, err := NewClient(ctx, conn, opts)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

// NewClient starts a session on conn: it reads the 220 greeting.
func NewClient(ctx context.Context, conn net.Conn, opts Options) (*Client, error) {
	c := &Client{opts: opts, tr: opts.Trace.Session("smtp", conn.RemoteAddr().String())}
	c.setConn(conn)
	c.tr.Note("connected to " + conn.RemoteAddr().String())
	r, err := c.exchange(ctx, "")
	if err != nil {
		return nil, err
	}
	if r.Code != 220 {
		return nil, r
	}
	c.Greeting = r
	return c, nil
}

func (c *Client) setConn(conn net.Conn) {
	c.conn = conn
	c.tl = textline.NewReader(bufio.NewReaderSize(conn, 4096), 4096)
	c.bw = bufio.NewWriterSize(conn, 4096)
}

func (c *Client) timeout() time.Duration {
	if c.opts.Timeout > 0 {
		return c.opts.Timeout
	}
	return DefaultTimeout
}

func (c *Client) deadline(ctx context.Context) {
	dl := time.Now().Add(c.timeout())
	if d, ok := ctx.Deadline(); ok && d.Before(dl) {
		dl = d
	}
	c.conn.SetDeadline(dl)
}

// exchange sends line (unless empty) and reads one reply.
func (c *Client) exchange(ctx context.Context, line string) (*smtp.Reply, error) {
	c.deadline(ctx)
	if line != "" {
		c.tr.Client(line)
		if err := c.writeLine(line); err != nil {
			return nil, err
		}
	}
	return c.readReply()
}

// secretExchange is exchange for a line that carries a credential.
func (c *Client) secretExchange(ctx context.Context, prefix, secret string) (*smtp.Reply, error) {
	c.deadline(ctx)
	c.tr.ClientSecret(prefix, secret)
	if err := c.writeLine(prefix + secret); err != nil {
		return nil, err
	}
	return c.readReply()
}

func (c *Client) writeLine(line string) error {
	c.bw.WriteString(line)
	c.bw.WriteString("\r\n")
	return c.bw.Flush()
}

// readReply reads a possibly multi-line reply (RFC 5321 section 4.2.1).
func (c *Client) readReply() (*smtp.Reply, error) {
	r := &smtp.Reply{}
	for i := 0; ; i++ {
		line, err := c.tl.ReadLine()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("smtpclient: reading reply: %w", err)
		}
		c.tr.Server(string(line))
		code, more, text, ok := smtp.ParseReplyLine(string(line))
		if !ok || (i > 0 && code != r.Code) || i > 100 {
			return nil, fmt.Errorf("%w: %q", ErrProtocol, line)
		}
		r.Code = code
		r.Lines = append(r.Lines, text)
		if !more {
			break
		}
	}
	if e, text := smtp.SplitEnhanced(r.Code, r.Lines[0]); e != (smtp.EnhancedCode{}) {
		r.Enhanced = e
		r.Lines[0] = text
		for i := 1; i < len(r.Lines); i++ {
			if _, t := smtp.SplitEnhanced(r.Code, r.Lines[i]); true {
				r.Lines[i] = t
			}
		}
	}
	return r, nil
}

// cmd sends a command and wants a reply of class 2 (or code want when
// non-zero); anything else is returned as the error.
func (c *Client) cmd(ctx context.Context, want int, line string) (*smtp.Reply, error) {
	r, err := c.exchange(ctx, line)
	if err != nil {
		return nil, err
	}
	if want != 0 && r.Code != want || want == 0 && r.Code/100 != 2 {
		return r, r
	}
	return r, nil
}

// Hello sends EHLO, or HELO when the server refuses EHLO (RFC 5321
// section 3.2).
func (c *Client) Hello(ctx context.Context) error {
	name := c.opts.LocalName
	if name == "" {
		name = "localhost"
	}
	r, err := c.exchange(ctx, "EHLO "+name)
	if err != nil {
		return err
	}
	if r.Code == 250 {
		c.esmtp = true
		c.ext = map[string]string{}
		for _, l := range r.Lines[1:] {
			k, v, _ := strings.Cut(l, " ")
			c.ext[strings.ToUpper(k)] = v
		}
		return nil
	}
	if r.Code != 500 && r.Code != 502 && r.Code != 504 && r.Code != 550 {
		return r
	}
	c.esmtp, c.ext = false, nil
	_, err = c.cmd(ctx, 250, "HELO "+name)
	return err
}

// Extension reports whether the server announced an EHLO keyword, and its
// parameters.
func (c *Client) Extension(name string) (bool, string) {
	v, ok := c.ext[strings.ToUpper(name)]
	return ok, v
}

// TLS reports whether the connection is encrypted.
func (c *Client) TLS() bool { return c.tls }

// StartTLS upgrades the connection (RFC 3207) and says EHLO again.
func (c *Client) StartTLS(ctx context.Context, cfg *tls.Config) error {
	if ok, _ := c.Extension("STARTTLS"); !ok {
		return errors.New("smtpclient: server does not offer STARTTLS")
	}
	if _, err := c.cmd(ctx, 220, "STARTTLS"); err != nil {
		return err
	}
	tc := tls.Client(c.conn, cfg)
	c.deadline(ctx)
	if err := tc.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("smtpclient: TLS handshake: %w", err)
	}
	c.tr.Note("TLS established: " + tls.VersionName(tc.ConnectionState().Version))
	c.setConn(tc)
	c.tls = true
	return c.Hello(ctx)
}

// Auth authenticates with PLAIN, or LOGIN when the server offers only that.
func (c *Client) Auth(ctx context.Context, user, password string) error {
	ok, mechs := c.Extension("AUTH")
	if !ok {
		if !c.tls {
			return errors.New("smtpclient: server offers no AUTH without TLS (use STARTTLS)")
		}
		return errors.New("smtpclient: server does not offer AUTH")
	}
	offered := strings.Fields(strings.ToUpper(mechs))
	has := func(m string) bool {
		for _, o := range offered {
			if o == m {
				return true
			}
		}
		return false
	}
	switch {
	case has("PLAIN"):
		tok := base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + password))
		r, err := c.secretExchange(ctx, "AUTH PLAIN ", tok)
		if err != nil {
			return err
		}
		if r.Code != 235 {
			return r
		}
		return nil
	case has("LOGIN"):
		if _, err := c.cmd(ctx, 334, "AUTH LOGIN"); err != nil {
			return err
		}
		if _, err := c.secretExchange(ctx, "", base64.StdEncoding.EncodeToString([]byte(user))); err != nil {
			return err
		}
		r, err := c.secretExchange(ctx, "", base64.StdEncoding.EncodeToString([]byte(password)))
		if err != nil {
			return err
		}
		if r.Code != 235 {
			return r
		}
		return nil
	}
	return fmt.Errorf("smtpclient: no supported AUTH mechanism in %q", mechs)
}

// Mail starts a transaction. size (when positive and the server offers
// SIZE) and body8bit (BODY=8BITMIME when offered) become parameters.
func (c *Client) Mail(ctx context.Context, from smtp.Path, size int64, body8bit bool) error {
	_, err := c.cmd(ctx, 0, c.mailLine(from, size, body8bit))
	return err
}

// Rcpt adds a recipient. A refusal is a *smtp.Reply.
func (c *Client) Rcpt(ctx context.Context, to smtp.Address) error {
	_, err := c.cmd(ctx, 0, "RCPT TO:<"+to.String()+">")
	return err
}

// Data sends the message, dot-stuffed, and returns the server's final
// reply (a *smtp.Reply error when it is not 250).
func (c *Client) Data(ctx context.Context, msg io.Reader) (*smtp.Reply, error) {
	if _, err := c.cmd(ctx, 354, "DATA"); err != nil {
		return nil, err
	}
	return c.body(ctx, msg)
}

// body sends the message after a 354 and reads the final reply.
func (c *Client) body(ctx context.Context, msg io.Reader) (*smtp.Reply, error) {
	c.deadline(ctx)
	dw := smtp.DotWriter(c.bw)
	var w io.Writer = dw
	var lr *lineTrace
	if c.tr.Enabled() {
		lr = &lineTrace{tr: c.tr}
		w = io.MultiWriter(dw, lr)
	}
	if _, err := io.Copy(&deadlineWriter{c: c, ctx: ctx, w: w}, msg); err != nil {
		return nil, err
	}
	if err := dw.Close(); err != nil {
		return nil, err
	}
	if lr != nil {
		lr.end()
	}
	if err := c.bw.Flush(); err != nil {
		return nil, err
	}
	c.deadline(ctx)
	r, err := c.readReply()
	if err != nil {
		return nil, err
	}
	if r.Code != 250 {
		return r, r
	}
	return r, nil
}

// deadlineWriter extends the connection's deadline as a long body goes out.
type deadlineWriter struct {
	c   *Client
	ctx context.Context
	w   io.Writer
}

func (d *deadlineWriter) Write(p []byte) (int, error) {
	d.c.deadline(d.ctx)
	return d.w.Write(p)
}

// Reset aborts the transaction (RSET).
func (c *Client) Reset(ctx context.Context) error {
	_, err := c.cmd(ctx, 250, "RSET")
	return err
}

// Noop sends NOOP.
func (c *Client) Noop(ctx context.Context) error {
	_, err := c.cmd(ctx, 250, "NOOP")
	return err
}

// Quit says QUIT and closes the connection.
func (c *Client) Quit(ctx context.Context) error {
	_, err := c.cmd(ctx, 221, "QUIT")
	c.conn.Close()
	return err
}

// Close closes the connection without QUIT.
func (c *Client) Close() error { return c.conn.Close() }

// lineTrace records the body line by line.
type lineTrace struct {
	tr  *transcript.Session
	buf []byte
}

func (l *lineTrace) Write(p []byte) (int, error) {
	for _, b := range p {
		if b == '\n' {
			l.tr.Client(strings.TrimSuffix(string(l.buf), "\r"))
			l.buf = l.buf[:0]
		} else if len(l.buf) <= transcript.MaxText {
			l.buf = append(l.buf, b)
		}
	}
	return len(p), nil
}

func (l *lineTrace) end() {
	if len(l.buf) > 0 {
		l.tr.Client(string(l.buf))
	}
	l.tr.Client(".")
}
