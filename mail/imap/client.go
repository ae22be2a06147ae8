package imap

// Client is applayer's IMAP4rev1 client (RFC 3501), used by `applayer mail
// read` and the webmail. It speaks STARTTLS (RFC 3501 section 6.2.1),
// LOGIN, AUTHENTICATE PLAIN with SASL-IR (RFC 4959), LITERAL+ (RFC 7888),
// UIDPLUS (RFC 4315), MOVE (RFC 6851, falling back to COPY, STORE \Deleted
// and EXPUNGE) and IDLE (RFC 2177).

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/applayer/applayer/internal/lifecycle"
	"github.com/applayer/applayer/internal/tlsutil"
	"github.com/applayer/applayer/internal/transcript"
)

// DefaultClientTimeout bounds each command's exchange when
// ClientOptions.Timeout is 0.
const DefaultClientTimeout = time.Minute

// ClientOptions configure a Client.
type ClientOptions struct {
	// Timeout bounds each command's exchange (default DefaultClientTimeout).
	Timeout time.Duration
	// Trace records the dialogue; nil records nothing. Passwords are
	// redacted unless the Recorder shows secrets.
	Trace *transcript.Recorder
	// TLSConfig is used by DialTLS and StartTLS (nil: verify against the
	// system's roots, ServerName from the address).
	TLSConfig *tls.Config
	// MaxLiteral bounds one literal the server sends (default
	// DefaultClientMaxLiteral); MaxResponse bounds one response, literals
	// included (default MaxLiteral + 1 MiB).
	MaxLiteral, MaxResponse int64
	// LocalAddr, when set, is the local IP address Dial connects from.
	LocalAddr net.IP
}

// Client is one IMAP connection, used by one goroutine at a time.
type Client struct {
	opts ClientOptions
	conn net.Conn
	br   *bufio.Reader
	bw   *bufio.Writer
	wmu  sync.Mutex // IDLE's DONE is written from another goroutine
	tr   *transcript.Session
	tag  int
	caps map[string]bool
	tls  bool
	host string

	// Greeting is the server's first response.
	Greeting *Response
	// Selected is the selected mailbox, nil when none.
	Selected *MailboxStatus
}

// MailboxStatus is what SELECT, EXAMINE and STATUS report.
type MailboxStatus struct {
	Name                     string
	ReadOnly                 bool
	Flags, PermanentFlags    []string
	Messages, Recent, Unseen uint32
	UIDNext, UIDValidity     uint32
	FirstUnseen              uint32
	HighestModSeq            uint64
}

// CommandError is a tagged NO or BAD.
type CommandError struct {
	Command string
	Resp    *Response
}

func (e *CommandError) Error() string {
	code := ""
	if e.Resp.Code != "" {
		code = "[" + e.Resp.Code + "] "
	}
	return fmt.Sprintf("imap: %s: %s %s%s", e.Command, e.Resp.Kind, code, e.Resp.Text)
}

// ErrBye reports that the server closed the session with BYE.
var ErrBye = errors.New("imap: server said BYE")

// Dial connects to addr (host:port) in clear and reads the greeting.
func Dial(ctx context.Context, addr string, opts ClientOptions) (*Client, error) {
	conn, err := dialTCP(ctx, addr, opts)
	if err != nil {
		return nil, err
	}
	c, err := NewClient(ctx, conn, opts)
	if err != nil {
		conn.Close()
		return nil, err
	}
	c.host = hostPart(addr)
	return c, nil
}

// DialTLS connects to addr with TLS from the first byte (IMAPS, port 993).
func DialTLS(ctx context.Context, addr string, opts ClientOptions) (*Client, error) {
	conn, err := dialTCP(ctx, addr, opts)
	if err != nil {
		return nil, err
	}
	tc := tls.Client(conn, tlsutil.ClientConfig(opts.TLSConfig, addr))
	hctx, cancel := context.WithTimeout(ctx, clientTimeout(opts))
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("imap: TLS handshake: %w", err)
	}
	c, err := NewClient(ctx, tc, opts)
	if err != nil {
		conn.Close()
		return nil, err
	}
	c.tls, c.host = true, hostPart(addr)
	return c, nil
}

func dialTCP(ctx context.Context, addr string, opts ClientOptions) (net.Conn, error) {
	d := net.Dialer{Timeout: clientTimeout(opts)}
	if opts.LocalAddr != nil {
		d.LocalAddr = &net.TCPAddr{IP: opts.LocalAddr}
	}
	return d.DialContext(ctx, "tcp", addr)
}

func hostPart(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

func clientTimeout(o ClientOptions) time.Duration {
	return lifecycle.OrDefault(o.Timeout, DefaultClientTimeout)
}

// NewClient starts a session on conn: it reads the greeting (OK or
// PREAUTH; BYE is an error).
func NewClient(ctx context.Context, conn net.Conn, opts ClientOptions) (*Client, error) {
	if opts.MaxLiteral <= 0 {
		opts.MaxLiteral = DefaultClientMaxLiteral
	}
	if opts.MaxResponse <= 0 {
		opts.MaxResponse = opts.MaxLiteral + 1<<20
	}
	c := &Client{opts: opts, tr: opts.Trace.Session("imap", conn.RemoteAddr().String())}
	c.setConn(conn)
	_, c.tls = conn.(*tls.Conn)
	c.tr.Note("connected to " + conn.RemoteAddr().String())
	c.deadline(ctx)
	r, err := c.readResponse()
	if err != nil {
		return nil, err
	}
	if r.Tag != "*" || (r.Kind != "OK" && r.Kind != "PREAUTH") {
		return nil, fmt.Errorf("imap: greeting %s %s", r.Kind, r.Text)
	}
	c.Greeting = r
	if r.Code == "CAPABILITY" {
		c.setCaps(r.CodeArgs)
	}
	return c, nil
}

func (c *Client) setConn(conn net.Conn) {
	c.conn = conn
	c.br = bufio.NewReaderSize(conn, 16<<10)
	c.bw = bufio.NewWriterSize(conn, 16<<10)
}

func (c *Client) deadline(ctx context.Context) {
	dl := time.Now().Add(clientTimeout(c.opts))
	if d, ok := ctx.Deadline(); ok && d.Before(dl) {
		dl = d
	}
	c.conn.SetDeadline(dl)
}

// maxTracedLiteralLines bounds how much of a literal the transcript shows.
const maxTracedLiteralLines = 40

func (c *Client) readResponse() (*Response, error) {
	var onLine, onLit func([]byte)
	if c.tr.Enabled() {
		onLine = func(l []byte) { c.tr.Server(string(l)) }
		onLit = func(b []byte) {
			lines := strings.SplitAfter(string(b), "\n")
			for i, l := range lines {
				if i == maxTracedLiteralLines {
					c.tr.Note(fmt.Sprintf("… %d more lines of the literal", len(lines)-i))
					break
				}
				if l = strings.TrimRight(l, "\r\n"); l != "" || i < len(lines)-1 {
					c.tr.Server(l)
				}
			}
		}
	}
	raw, err := readRawResponse(c.br, c.opts.MaxLiteral, c.opts.MaxResponse, onLine, onLit)
	if err != nil {
		return nil, err
	}
	r, err := ParseResponse(raw)
	if err != nil {
		if len(raw) > 300 {
			raw = raw[:300]
		}
		return nil, fmt.Errorf("%w in %q", err, raw)
	}
	return r, nil
}

// Capabilities returns the server's capabilities, asking for them when
// they are not known yet.
func (c *Client) Capabilities(ctx context.Context) (map[string]bool, error) {
	if c.caps == nil {
		if _, err := c.Execute(ctx, "CAPABILITY"); err != nil {
			return nil, err
		}
	}
	return c.caps, nil
}

// Has reports whether the server announced a capability (upper case, e.g.
// "IDLE", "AUTH=PLAIN"). Call Capabilities first.
func (c *Client) Has(capability string) bool { return c.caps[strings.ToUpper(capability)] }

func (c *Client) setCaps(list string) {
	c.caps = map[string]bool{}
	for _, f := range strings.Fields(list) {
		c.caps[strings.ToUpper(f)] = true
	}
}

// TLS reports whether the connection is encrypted.
func (c *Client) TLS() bool { return c.tls }

// arg is one piece of a command: text, or a literal.
type arg struct {
	text    string
	literal []byte
	isLit   bool
	secret  bool // text or literal is a credential: redacted in the trace
}

func (c *Client) nextTag() string {
	c.tag++
	return "A" + strconv.Itoa(c.tag)
}

// Quote returns s as an IMAP astring argument: an atom when it is one, a
// quoted string when it can be, a literal otherwise.
func quoteArg(s string) arg {
	if s != "" && isSafeAtom(s) {
		return arg{text: s}
	}
	for i := 0; i < len(s); i++ {
		if s[i] == '\r' || s[i] == '\n' || s[i] == 0 || s[i] >= 0x80 {
			return arg{literal: []byte(s), isLit: true}
		}
	}
	return arg{text: `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`}
}

func isSafeAtom(s string) bool {
	if strings.EqualFold(s, "NIL") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`(){%*"\]`, c) >= 0 {
			return false
		}
	}
	return true
}

// Execute sends a command whose arguments are already IMAP syntax (the
// caller quotes) and returns the untagged responses it brought; a NO or
// BAD is a *CommandError.
func (c *Client) Execute(ctx context.Context, command string) ([]*Response, error) {
	return c.run(ctx, nil, arg{text: command})
}

// run sends tag + args, collects untagged responses until the tagged one,
// and calls each on the way when non-nil.
func (c *Client) run(ctx context.Context, each func(*Response), args ...arg) ([]*Response, error) {
	tag := c.nextTag()
	name := strings.ToUpper(strings.SplitN(args[0].text, " ", 2)[0])
	if name == "UID" {
		f := strings.Fields(args[0].text)
		if len(f) > 1 {
			name = "UID " + strings.ToUpper(f[1])
		}
	}
	c.deadline(ctx)
	var untagged []*Response
	collect := func(r *Response) error {
		c.absorb(r)
		if r.Kind == "BYE" {
			return fmt.Errorf("%w: %s", ErrBye, r.Text)
		}
		if each != nil {
			each(r)
		}
		untagged = append(untagged, r)
		if len(untagged) > maxValues {
			return respErr("too many responses")
		}
		return nil
	}
	if err := c.send(ctx, tag, args, collect); err != nil {
		return untagged, err
	}
	for {
		r, err := c.readResponse()
		if err != nil {
			return untagged, err
		}
		switch {
		case r.Tag == tag:
			c.absorb(r)
			if r.Kind != "OK" {
				return untagged, &CommandError{Command: name, Resp: r}
			}
			untagged = append(untagged, r) // the tagged OK last: its code (APPENDUID, COPYUID) matters
			return untagged, nil
		case r.Tag == "*":
			if err := collect(r); err != nil && !(r.Kind == "BYE" && name == "LOGOUT") {
				return untagged, err
			}
		case r.Tag == "+":
			return untagged, respErr("unexpected continuation")
		default:
			return untagged, respErr("response for unknown tag %q", r.Tag)
		}
	}
}

// send writes a command, waiting for the server's "+" before each
// synchronising literal (RFC 3501 section 7.5) unless LITERAL+ lets it go
// on (RFC 7888).
func (c *Client) send(ctx context.Context, tag string, args []arg, untagged func(*Response) error) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	var line strings.Builder
	var traced strings.Builder
	secret := ""
	line.WriteString(tag)
	traced.WriteString(tag)
	for _, a := range args {
		line.WriteByte(' ')
		traced.WriteByte(' ')
		if !a.isLit {
			line.WriteString(a.text)
			if a.secret {
				secret = a.text // the last argument, as LOGIN's password and PLAIN's token are
			} else {
				traced.WriteString(a.text)
			}
			continue
		}
		plus := c.caps["LITERAL+"] || (c.caps["LITERAL-"] && len(a.literal) <= 4096)
		mark := "{" + strconv.Itoa(len(a.literal))
		if plus {
			mark += "+"
		}
		mark += "}"
		line.WriteString(mark)
		traced.WriteString(mark)
		c.tr.Client(traced.String())
		traced.Reset()
		if _, err := c.bw.WriteString(line.String() + "\r\n"); err != nil {
			return err
		}
		line.Reset()
		if !plus {
			if err := c.bw.Flush(); err != nil {
				return err
			}
			if err := c.waitContinuation(untagged); err != nil {
				return err
			}
		}
		c.deadline(ctx)
		if a.secret {
			c.tr.ClientSecret("", string(a.literal))
		} else {
			c.tr.Note(fmt.Sprintf("<literal of %d octets>", len(a.literal)))
		}
		if _, err := c.bw.Write(a.literal); err != nil {
			return err
		}
	}
	if secret != "" {
		c.tr.ClientSecret(traced.String(), secret)
	} else {
		c.tr.Client(traced.String())
	}
	line.WriteString("\r\n")
	if _, err := c.bw.WriteString(line.String()); err != nil {
		return err
	}
	return c.bw.Flush()
}

func (c *Client) waitContinuation(untagged func(*Response) error) error {
	for {
		r, err := c.readResponse()
		if err != nil {
			return err
		}
		switch r.Tag {
		case "+":
			return nil
		case "*":
			if err := untagged(r); err != nil {
				return err
			}
		default:
			if r.Kind != "OK" {
				return &CommandError{Command: "literal", Resp: r}
			}
			return respErr("command completed before its literal was sent")
		}
	}
}

// absorb keeps what any response says about the session: capabilities and
// the selected mailbox's counts.
func (c *Client) absorb(r *Response) {
	if r.Code == "CAPABILITY" {
		c.setCaps(r.CodeArgs)
	}
	if r.Tag == "*" && r.Kind == "CAPABILITY" {
		var b []string
		for _, f := range r.Fields {
			b = append(b, f.Text())
		}
		c.setCaps(strings.Join(b, " "))
	}
	mb := c.Selected
	if mb == nil {
		return
	}
	switch r.Kind {
	case "EXISTS":
		mb.Messages = r.Num
	case "RECENT":
		mb.Recent = r.Num
	case "EXPUNGE":
		if mb.Messages > 0 {
			mb.Messages--
		}
	case "FLAGS":
		if len(r.Fields) > 0 {
			mb.Flags = atoms(r.Fields[0])
		}
	}
	n, _ := strconv.ParseUint(strings.Fields(r.CodeArgs + " 0")[0], 10, 64)
	switch r.Code {
	case "UIDVALIDITY":
		mb.UIDValidity = uint32(n)
	case "UIDNEXT":
		mb.UIDNext = uint32(n)
	case "UNSEEN":
		mb.FirstUnseen = uint32(n)
	case "HIGHESTMODSEQ":
		mb.HighestModSeq = n
	case "PERMANENTFLAGS":
		mb.PermanentFlags = strings.Fields(strings.Trim(r.CodeArgs, "()"))
	case "READ-ONLY":
		mb.ReadOnly = true
	case "READ-WRITE":
		mb.ReadOnly = false
	}
}

func atoms(v Value) []string {
	var out []string
	for _, e := range v.List {
		out = append(out, e.Text())
	}
	return out
}

// StartTLS upgrades the connection (RFC 3501 section 6.2.1) and forgets the
// capabilities, which the server may change.
func (c *Client) StartTLS(ctx context.Context, cfg *tls.Config) error {
	if cfg == nil {
		cfg = c.opts.TLSConfig
	}
	if _, err := c.Execute(ctx, "STARTTLS"); err != nil {
		return err
	}
	if c.br.Buffered() > 0 {
		return respErr("data after STARTTLS's OK (an injection attempt)")
	}
	tc := tls.Client(c.conn, tlsutil.ClientConfig(cfg, c.host))
	c.deadline(ctx)
	if err := tc.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("imap: TLS handshake: %w", err)
	}
	c.tr.Note("TLS established: " + tls.VersionName(tc.ConnectionState().Version))
	c.setConn(tc)
	c.tls = true
	c.caps = nil
	return nil
}

// Login logs in with LOGIN (RFC 3501 section 6.2.3); the password never
// appears in the transcript.
func (c *Client) Login(ctx context.Context, user, password string) error {
	p := quoteArg(password)
	p.secret = true
	_, err := c.run(ctx, nil, arg{text: "LOGIN"}, quoteArg(user), p)
	if err == nil {
		c.afterAuth(ctx)
	}
	return err
}

// Authenticate logs in with AUTHENTICATE PLAIN (RFC 4616), in one line
// when the server offers SASL-IR (RFC 4959).
func (c *Client) Authenticate(ctx context.Context, user, password string) error {
	tok := base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + password))
	if c.caps["SASL-IR"] {
		_, err := c.run(ctx, nil, arg{text: "AUTHENTICATE PLAIN"}, arg{text: tok, secret: true})
		if err == nil {
			c.afterAuth(ctx)
		}
		return err
	}
	tag := c.nextTag()
	c.deadline(ctx)
	c.wmu.Lock()
	c.tr.Client(tag + " AUTHENTICATE PLAIN")
	c.bw.WriteString(tag + " AUTHENTICATE PLAIN\r\n")
	err := c.bw.Flush()
	c.wmu.Unlock()
	if err != nil {
		return err
	}
	sentToken := false
	for {
		r, err := c.readResponse()
		if err != nil {
			return err
		}
		switch {
		case r.Tag == "+" && !sentToken:
			sentToken = true
			c.tr.ClientSecret("", tok)
			c.wmu.Lock()
			c.bw.WriteString(tok + "\r\n")
			err = c.bw.Flush()
			c.wmu.Unlock()
			if err != nil {
				return err
			}
		case r.Tag == "+":
			c.bw.WriteString("*\r\n") // cancel (RFC 3501 section 6.2.2)
			c.bw.Flush()
		case r.Tag == tag:
			c.absorb(r)
			if r.Kind != "OK" {
				return &CommandError{Command: "AUTHENTICATE", Resp: r}
			}
			c.afterAuth(ctx)
			return nil
		case r.Tag == "*":
			c.absorb(r)
		default:
			return respErr("response for unknown tag %q", r.Tag)
		}
	}
}

// LoginAny logs in with AUTHENTICATE PLAIN when offered, else LOGIN.
func (c *Client) LoginAny(ctx context.Context, user, password string) error {
	if _, err := c.Capabilities(ctx); err != nil {
		return err
	}
	if c.caps["AUTH=PLAIN"] {
		return c.Authenticate(ctx, user, password)
	}
	if c.caps["LOGINDISABLED"] {
		return errors.New("imap: server refuses LOGIN here (LOGINDISABLED): use STARTTLS or IMAPS")
	}
	return c.Login(ctx, user, password)
}

// afterAuth learns the capabilities again when the OK did not carry them
// (they often change at login).
func (c *Client) afterAuth(ctx context.Context) {
	c.caps = nil
	c.Capabilities(ctx)
}

// Logout says LOGOUT and closes the connection.
func (c *Client) Logout(ctx context.Context) error {
	_, err := c.Execute(ctx, "LOGOUT")
	c.conn.Close()
	if errors.Is(err, ErrBye) {
		err = nil
	}
	return err
}

// Close closes the connection without LOGOUT.
func (c *Client) Close() error { return c.conn.Close() }

// Noop sends NOOP, which lets the server report changes.
func (c *Client) Noop(ctx context.Context) ([]*Response, error) {
	return c.Execute(ctx, "NOOP")
}

// MailboxInfo is one LIST response.
type MailboxInfo struct {
	// Name is in UTF-8 (decoded from modified UTF-7); every method that
	// takes a mailbox name takes it in UTF-8 too.
	Name  string
	Delim string
	Attrs []string // as sent: \HasNoChildren, \Sent, \Trash ...
	// Status is filled by ListStatus.
	Status *MailboxStatus
}

// HasAttr reports an attribute, ignoring case.
func (m MailboxInfo) HasAttr(a string) bool {
	for _, x := range m.Attrs {
		if strings.EqualFold(x, a) {
			return true
		}
	}
	return false
}

// List lists the mailboxes matching pattern under ref (RFC 3501 section
// 6.3.8).
func (c *Client) List(ctx context.Context, ref, pattern string) ([]MailboxInfo, error) {
	rs, err := c.run(ctx, nil, arg{text: "LIST"}, quoteArg(EncodeMailboxName(ref)), quoteArgPattern(EncodeMailboxName(pattern)))
	if err != nil {
		return nil, err
	}
	var out []MailboxInfo
	for _, r := range rs {
		if r.Kind != "LIST" || len(r.Fields) < 3 {
			continue
		}
		out = append(out, MailboxInfo{Attrs: atoms(r.Fields[0]), Delim: r.Fields[1].Text(), Name: DecodeMailboxName(r.Fields[2].Text())})
	}
	return out, nil
}

func quoteArgPattern(p string) arg {
	if p != "" && strings.Trim(p, "*%") == "" {
		return arg{text: p}
	}
	return quoteArg(p)
}

// ListStatus lists every mailbox with its message, unseen, UIDNEXT and
// UIDVALIDITY counts, by LIST and one STATUS per mailbox (which every
// server has; LIST-STATUS is not needed).
func (c *Client) ListStatus(ctx context.Context) ([]MailboxInfo, error) {
	l, err := c.List(ctx, "", "*")
	if err != nil {
		return nil, err
	}
	for i := range l {
		if l[i].HasAttr(`\Noselect`) || l[i].HasAttr(`\NonExistent`) {
			continue
		}
		st, err := c.Status(ctx, l[i].Name)
		if err != nil {
			var ce *CommandError
			if errors.As(err, &ce) {
				continue
			}
			return nil, err
		}
		l[i].Status = st
	}
	return l, nil
}

// Status asks for a mailbox's MESSAGES, RECENT, UIDNEXT, UIDVALIDITY and
// UNSEEN (RFC 3501 section 6.3.10).
func (c *Client) Status(ctx context.Context, name string) (*MailboxStatus, error) {
	rs, err := c.run(ctx, nil, arg{text: "STATUS"}, quoteArg(EncodeMailboxName(name)), arg{text: "(MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN)"})
	if err != nil {
		return nil, err
	}
	st := &MailboxStatus{Name: name}
	for _, r := range rs {
		if r.Kind != "STATUS" || len(r.Fields) < 2 || r.Fields[1].Kind != List {
			continue
		}
		l := r.Fields[1].List
		for i := 0; i+1 < len(l); i += 2 {
			n, _ := l[i+1].Number()
			switch strings.ToUpper(l[i].Text()) {
			case "MESSAGES":
				st.Messages = n
			case "RECENT":
				st.Recent = n
			case "UIDNEXT":
				st.UIDNext = n
			case "UIDVALIDITY":
				st.UIDValidity = n
			case "UNSEEN":
				st.Unseen = n
			}
		}
	}
	return st, nil
}

// Select opens a mailbox read-write (SELECT) or read-only (EXAMINE).
func (c *Client) Select(ctx context.Context, name string, readOnly bool) (*MailboxStatus, error) {
	cmd := "SELECT"
	if readOnly {
		cmd = "EXAMINE"
	}
	c.Selected = &MailboxStatus{Name: name, ReadOnly: readOnly}
	if _, err := c.run(ctx, nil, arg{text: cmd}, quoteArg(EncodeMailboxName(name))); err != nil {
		c.Selected = nil
		return nil, err
	}
	st := *c.Selected
	return &st, nil
}

// Create makes a mailbox.
func (c *Client) Create(ctx context.Context, name string) error {
	_, err := c.run(ctx, nil, arg{text: "CREATE"}, quoteArg(EncodeMailboxName(name)))
	return err
}

// Message is what a FETCH response says of one message.
type Message struct {
	SeqNum        uint32
	UID           uint32
	Flags         []string
	HasFlags      bool
	Size          uint32
	InternalDate  time.Time
	Envelope      *Envelope
	BodyStructure *BodyPart
	// Sections holds BODY[...] data by section as the server names it
	// ("", "HEADER", "1", "HEADER.FIELDS (SUBJECT)"), origin stripped.
	Sections map[string][]byte
}

// HasFlag reports a flag, ignoring case.
func (m *Message) HasFlag(f string) bool {
	for _, x := range m.Flags {
		if strings.EqualFold(x, f) {
			return true
		}
	}
	return false
}

func parseFetch(r *Response) (*Message, error) {
	if !r.HasNum || len(r.Fields) < 1 || r.Fields[0].Kind != List {
		return nil, respErr("bad FETCH")
	}
	m := &Message{SeqNum: r.Num, Sections: map[string][]byte{}}
	l := r.Fields[0].List
	for i := 0; i+1 < len(l); i += 2 {
		key, v := strings.ToUpper(l[i].Text()), l[i+1]
		switch {
		case key == "UID":
			m.UID, _ = v.Number()
		case key == "FLAGS":
			m.Flags, m.HasFlags = atoms(v), true
		case key == "RFC822.SIZE":
			m.Size, _ = v.Number()
		case key == "INTERNALDATE":
			m.InternalDate, _ = time.Parse("02-Jan-2006 15:04:05 -0700", strings.TrimSpace(v.Text()))
		case key == "ENVELOPE":
			e, err := parseEnvelope(v)
			if err != nil {
				return nil, err
			}
			m.Envelope = e
		case key == "BODYSTRUCTURE" || key == "BODY" && v.Kind == List:
			b, err := parseBodyStructure(v, "", 0)
			if err != nil {
				return nil, err
			}
			m.BodyStructure = b
		case strings.HasPrefix(key, "BODY[") || strings.HasPrefix(key, "BINARY["):
			k := l[i].Text()
			open := strings.IndexByte(k, '[')
			sec := k[open+1:]
			if j := strings.LastIndexByte(sec, ']'); j >= 0 {
				sec = sec[:j]
			}
			m.Sections[strings.ToUpper(sec)] = v.Str
		case key == "RFC822":
			m.Sections[""] = v.Str
		case key == "RFC822.HEADER":
			m.Sections["HEADER"] = v.Str
		}
	}
	return m, nil
}

// UIDFetch fetches items (IMAP syntax, e.g. "(UID FLAGS ENVELOPE
// BODY.PEEK[HEADER])") of the messages in the UID set (e.g. "1:*",
// "4,7:9") (RFC 3501 section 6.4.8). The messages come in the server's
// order.
func (c *Client) UIDFetch(ctx context.Context, set, items string) ([]*Message, error) {
	if !validSet(set) {
		return nil, fmt.Errorf("imap: bad UID set %q", set)
	}
	var out []*Message
	var perr error
	_, err := c.run(ctx, func(r *Response) {
		if r.Kind != "FETCH" {
			return
		}
		m, err := parseFetch(r)
		if err != nil {
			perr = err
			return
		}
		if m.UID != 0 {
			out = append(out, m)
		}
	}, arg{text: "UID FETCH " + set + " " + items})
	if err == nil {
		err = perr
	}
	return out, err
}

// FetchOne fetches items of one message by UID; it is an error when the
// message is not there.
func (c *Client) FetchOne(ctx context.Context, uid uint32, items string) (*Message, error) {
	ms, err := c.UIDFetch(ctx, strconv.FormatUint(uint64(uid), 10), items)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		if m.UID == uid {
			return m, nil
		}
	}
	return nil, fmt.Errorf("imap: no message with UID %d", uid)
}

func validSet(s string) bool {
	if s == "" || len(s) > 1<<16 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c == ':' || c == ',' || c == '*') {
			return false
		}
	}
	return true
}

// UIDSearch runs UID SEARCH with criteria in IMAP syntax (e.g. "UNSEEN",
// `TEXT "ketchup"`) and returns the UIDs (RFC 3501 section 6.4.4).
func (c *Client) UIDSearch(ctx context.Context, criteria string) ([]uint32, error) {
	return c.uidSearch(ctx, arg{text: "UID SEARCH " + criteria})
}

// UIDSearchText finds the messages whose header or body contains text
// (SEARCH TEXT), sending text as a string or a literal.
func (c *Client) UIDSearchText(ctx context.Context, text string) ([]uint32, error) {
	args := []arg{{text: "UID SEARCH"}}
	if hasNonASCII(text) {
		args = append(args, arg{text: "CHARSET UTF-8"})
	}
	args = append(args, arg{text: "TEXT"}, quoteArg(text))
	return c.uidSearch(ctx, args...)
}

func hasNonASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return true
		}
	}
	return false
}

func (c *Client) uidSearch(ctx context.Context, args ...arg) ([]uint32, error) {
	rs, err := c.run(ctx, nil, args...)
	if err != nil {
		return nil, err
	}
	var out []uint32
	for _, r := range rs {
		if r.Kind != "SEARCH" {
			continue
		}
		for _, f := range r.Fields {
			if n, ok := f.Number(); ok {
				out = append(out, n)
			}
		}
	}
	return out, nil
}

// UIDStore changes flags: op is "+FLAGS", "-FLAGS" or "FLAGS" (".SILENT"
// is added) (RFC 3501 section 6.4.6).
func (c *Client) UIDStore(ctx context.Context, set, op string, flags []string) error {
	if !validSet(set) {
		return fmt.Errorf("imap: bad UID set %q", set)
	}
	switch op {
	case "+FLAGS", "-FLAGS", "FLAGS":
	default:
		return fmt.Errorf("imap: bad STORE operation %q", op)
	}
	for _, f := range flags {
		if !isSafeAtom(strings.TrimPrefix(f, `\`)) {
			return fmt.Errorf("imap: bad flag %q", f)
		}
	}
	_, err := c.run(ctx, nil, arg{text: "UID STORE " + set + " " + op + ".SILENT (" + strings.Join(flags, " ") + ")"})
	return err
}

// UIDCopy copies messages to dest and returns the new UIDs when the server
// says them (UIDPLUS COPYUID).
func (c *Client) UIDCopy(ctx context.Context, set, dest string) error {
	if !validSet(set) {
		return fmt.Errorf("imap: bad UID set %q", set)
	}
	_, err := c.run(ctx, nil, arg{text: "UID COPY " + set}, quoteArg(EncodeMailboxName(dest)))
	return err
}

// UIDMove moves messages to dest: UID MOVE (RFC 6851) when offered, else
// COPY, STORE \Deleted and UID EXPUNGE (UIDPLUS) or EXPUNGE.
func (c *Client) UIDMove(ctx context.Context, set, dest string) error {
	if !validSet(set) {
		return fmt.Errorf("imap: bad UID set %q", set)
	}
	if c.caps["MOVE"] {
		_, err := c.run(ctx, nil, arg{text: "UID MOVE " + set}, quoteArg(EncodeMailboxName(dest)))
		return err
	}
	if err := c.UIDCopy(ctx, set, dest); err != nil {
		return err
	}
	if err := c.UIDStore(ctx, set, "+FLAGS", []string{`\Deleted`}); err != nil {
		return err
	}
	if c.caps["UIDPLUS"] {
		_, err := c.Execute(ctx, "UID EXPUNGE "+set)
		return err
	}
	return c.Expunge(ctx)
}

// Expunge removes the messages flagged \Deleted.
func (c *Client) Expunge(ctx context.Context) error {
	_, err := c.Execute(ctx, "EXPUNGE")
	return err
}

// Append adds a message to a mailbox with flags (RFC 3501 section 6.3.11)
// and returns its UID when the server says it (UIDPLUS APPENDUID), else 0.
func (c *Client) Append(ctx context.Context, mailbox string, flags []string, msg []byte) (uint32, error) {
	for _, f := range flags {
		if !isSafeAtom(strings.TrimPrefix(f, `\`)) {
			return 0, fmt.Errorf("imap: bad flag %q", f)
		}
	}
	rs, err := c.run(ctx, nil, arg{text: "APPEND"}, quoteArg(EncodeMailboxName(mailbox)), arg{text: "(" + strings.Join(flags, " ") + ")"}, arg{literal: msg, isLit: true})
	if err != nil {
		return 0, err
	}
	if last := rs[len(rs)-1]; last.Code == "APPENDUID" {
		if f := strings.Fields(last.CodeArgs); len(f) == 2 {
			n, _ := strconv.ParseUint(f[1], 10, 32)
			return uint32(n), nil
		}
	}
	return 0, nil
}

// Idle waits in IDLE (RFC 2177) until ctx is done, calling update for each
// untagged response the server sends meanwhile (EXISTS, EXPUNGE, FETCH);
// then it sends DONE and waits for the command's end. The caller should
// end an IDLE within 29 minutes (RFC 2177) and idle again.
func (c *Client) Idle(ctx context.Context, update func(*Response)) error {
	if !c.caps["IDLE"] {
		return errors.New("imap: server does not offer IDLE")
	}
	tag := c.nextTag()
	c.deadline(context.Background())
	c.wmu.Lock()
	c.tr.Client(tag + " IDLE")
	c.bw.WriteString(tag + " IDLE\r\n")
	err := c.bw.Flush()
	c.wmu.Unlock()
	if err != nil {
		return err
	}
	var once sync.Once
	done := func() {
		once.Do(func() {
			c.wmu.Lock()
			defer c.wmu.Unlock()
			c.conn.SetDeadline(time.Now().Add(clientTimeout(c.opts)))
			c.tr.Client("DONE")
			c.bw.WriteString("DONE\r\n")
			c.bw.Flush()
		})
	}
	for {
		r, err := c.readResponse()
		if err != nil {
			return err
		}
		switch r.Tag {
		case "+":
			// Idling: no deadline but the context's, cut by DONE.
			c.wmu.Lock()
			c.conn.SetDeadline(time.Time{})
			c.wmu.Unlock()
			stop := context.AfterFunc(ctx, done)
			defer stop()
		case "*":
			c.absorb(r)
			if r.Kind == "BYE" {
				return fmt.Errorf("%w: %s", ErrBye, r.Text)
			}
			if update != nil {
				update(r)
			}
		case tag:
			if r.Kind != "OK" {
				return &CommandError{Command: "IDLE", Resp: r}
			}
			return nil
		default:
			return respErr("response for unknown tag %q", r.Tag)
		}
	}
}

// Unselect leaves the selected mailbox without expunging (UNSELECT, RFC
// 3691, when offered; else CLOSE, which expunges).
func (c *Client) Unselect(ctx context.Context) error {
	cmd := "CLOSE"
	if c.caps["UNSELECT"] {
		cmd = "UNSELECT"
	}
	_, err := c.Execute(ctx, cmd)
	c.Selected = nil
	return err
}
