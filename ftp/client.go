package ftp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/applayer/applayer/internal/deadline"
	"github.com/applayer/applayer/internal/lifecycle"
	"github.com/applayer/applayer/internal/textline"
	"github.com/applayer/applayer/internal/transcript"
)

// DefaultClientTimeout bounds each read and write of the client, on the
// control connection and the data connections (moved before each one, so
// a long transfer that keeps moving is never cut).
const DefaultClientTimeout = 30 * time.Second

// Options configure a client connection.
type Options struct {
	// Timeout bounds each read and write (default DefaultClientTimeout).
	Timeout time.Duration
	// Trace records the control dialogue and notes on each data
	// connection; nil records nothing.
	Trace *transcript.Recorder
	// TLS, when set, makes the session explicit FTPS (RFC 4217): AUTH TLS
	// right after the greeting, then PBSZ 0 and PROT P after login, and
	// every data connection resumes the control connection's TLS session.
	// ServerName defaults to the host dialed; a ClientSessionCache is
	// added when it has none.
	TLS *tls.Config
	// Active makes the server connect to the client (EPRT, or PORT for
	// IPv4) instead of the client to the server (EPSV, then PASV).
	Active bool
}

// Error is a reply the client did not expect, with the command it answered.
type Error struct {
	Reply
	Command string // the command's verb and argument (PASS's argument left out)
}

func (e *Error) Error() string {
	if e.Command == "" {
		return "ftp: server said " + e.Reply.String()
	}
	return "ftp: " + e.Command + ": " + e.Reply.String()
}

// ErrProtocol reports a reply that is not FTP.
var ErrProtocol = errors.New("ftp: malformed reply")

// Conn is a client's control connection.
type Conn struct {
	opts  Options
	raw   net.Conn
	dc    *deadline.Conn
	conn  net.Conn // dc or a TLS connection over it
	tl    *textline.Reader
	tr    *transcript.Session
	host  string
	tls   *tls.Config
	feat  map[string]string
	ascii bool
	// Greeting is the server's 220 reply.
	Greeting Reply
}

// Dial connects to addr (host:port), reads the greeting and, with
// Options.TLS, starts TLS.
func Dial(ctx context.Context, addr string, opts Options) (*Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("ftp: %w", err)
	}
	d := net.Dialer{Timeout: lifecycle.OrDefault(opts.Timeout, DefaultClientTimeout)}
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &Conn{opts: opts, raw: raw, host: host, tr: opts.Trace.Session("ftp", raw.RemoteAddr().String())}
	c.dc = deadline.New(raw, lifecycle.OrDefault(opts.Timeout, DefaultClientTimeout))
	c.conn = c.dc
	c.tl = textline.NewReader(c.conn, 64<<10)
	c.tr.Note("control connection to " + raw.RemoteAddr().String())
	stop := context.AfterFunc(ctx, func() { c.dc.SetLimit(time.Unix(1, 0)) })
	defer stop()
	r, err := c.readReply()
	if err != nil {
		raw.Close()
		return nil, err
	}
	if r.Code != 220 {
		raw.Close()
		return nil, &Error{Reply: r}
	}
	c.Greeting = r
	if opts.TLS != nil {
		if err := c.startTLS(); err != nil {
			raw.Close()
			return nil, err
		}
	}
	return c, nil
}

func (c *Conn) startTLS() error {
	if _, err := c.expect(234, "AUTH TLS"); err != nil {
		return err
	}
	cfg := c.opts.TLS.Clone()
	if cfg.ServerName == "" {
		// Also the session cache's key: the data connections, to other
		// ports, find the control connection's session under it.
		cfg.ServerName = c.host
	}
	if cfg.ClientSessionCache == nil {
		cfg.ClientSessionCache = tls.NewLRUClientSessionCache(8)
	}
	tc := tls.Client(c.dc, cfg)
	if err := tc.Handshake(); err != nil {
		return fmt.Errorf("ftp: TLS: %w", err)
	}
	c.tls = cfg
	c.conn = tc
	c.tl = textline.NewReader(tc, 64<<10)
	c.tr.Note("TLS " + tls.VersionName(tc.ConnectionState().Version))
	return nil
}

// readReply reads one reply, single or multi-line (RFC 959 section 4.2).
func (c *Conn) readReply() (Reply, error) {
	r, err := ReadReply(c.tl, func(line []byte) { c.tr.Server(string(line)) })
	return r, err
}

// ReadReply reads one reply from r; each line read is passed to seen (which
// may be nil). Lines of a multi-line reply are joined with "\n", the code
// and separators removed from its first and last lines.
func ReadReply(r *textline.Reader, seen func([]byte)) (Reply, error) {
	line, err := r.ReadLine()
	if err != nil {
		return Reply{}, replyErr(err)
	}
	if seen != nil {
		seen(line)
	}
	code, sep, ok := replyStart(line)
	if !ok {
		return Reply{}, fmt.Errorf("%w: %q", ErrProtocol, line)
	}
	text := []string{replyText(line)}
	if sep == ' ' {
		return Reply{code, text[0]}, nil
	}
	for n := 0; n < 10000; n++ {
		line, err := r.ReadLine()
		if err != nil {
			return Reply{}, replyErr(err)
		}
		if seen != nil {
			seen(line)
		}
		if c2, sep, ok := replyStart(line); ok && c2 == code && sep == ' ' {
			text = append(text, replyText(line))
			return Reply{code, strings.Join(text, "\n")}, nil
		}
		text = append(text, strings.TrimPrefix(string(line), " "))
	}
	return Reply{}, fmt.Errorf("%w: endless multi-line reply", ErrProtocol)
}

func replyErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("ftp: connection closed by server: %w", io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("ftp: %w", err)
}

func replyText(line []byte) string {
	if len(line) <= 4 {
		return ""
	}
	return string(line[4:])
}

func replyStart(line []byte) (code int, sep byte, ok bool) {
	if len(line) < 3 {
		return 0, 0, false
	}
	for _, b := range line[:3] {
		if b < '0' || b > '9' {
			return 0, 0, false
		}
	}
	code = int(line[0]-'0')*100 + int(line[1]-'0')*10 + int(line[2]-'0')
	if code < 100 || code > 599 {
		return 0, 0, false
	}
	if len(line) == 3 {
		// "200" alone: tolerated as a one-line reply.
		return code, ' ', true
	}
	if line[3] != ' ' && line[3] != '-' {
		return 0, 0, false
	}
	return code, line[3], true
}

// send writes one command line.
func (c *Conn) send(line string) error {
	if v, a, _ := strings.Cut(line, " "); strings.EqualFold(v, "PASS") {
		c.tr.ClientSecret("PASS ", a)
	} else {
		c.tr.Client(line)
	}
	if strings.ContainsAny(line, "\r\n") {
		return fmt.Errorf("ftp: line break in command %q", line)
	}
	_, err := io.WriteString(c.conn, line+"\r\n")
	return err
}

// Cmd sends a command line and returns the server's reply, whatever its
// code.
func (c *Conn) Cmd(ctx context.Context, line string) (Reply, error) {
	stop := context.AfterFunc(ctx, func() { c.dc.SetLimit(time.Unix(1, 0)) })
	defer stop()
	if err := c.send(line); err != nil {
		return Reply{}, err
	}
	return c.readReply()
}

func (c *Conn) expect(code int, line string) (Reply, error) {
	if err := c.send(line); err != nil {
		return Reply{}, err
	}
	r, err := c.readReply()
	if err != nil {
		return r, err
	}
	if r.Code != code && !(code < 10 && r.Code/100 == code) {
		return r, &Error{r, redact(line)}
	}
	return r, nil
}

// Login sends USER and PASS (an empty user logs in as anonymous), sets the
// binary type and, under TLS, PBSZ 0 and PROT P.
func (c *Conn) Login(ctx context.Context, user, password string) error {
	stop := context.AfterFunc(ctx, func() { c.dc.SetLimit(time.Unix(1, 0)) })
	defer stop()
	if user == "" {
		user, password = "anonymous", cmpOr(password, "applayer@")
	}
	r, err := c.expect(2, "USER "+user)
	if err != nil {
		var fe *Error
		if !errors.As(err, &fe) || fe.Code != 331 {
			return err
		}
		if r, err = c.expect(2, "PASS "+password); err != nil {
			return err
		}
	}
	_ = r
	if _, err := c.expect(200, "TYPE I"); err != nil {
		return err
	}
	if c.tls != nil {
		if _, err := c.expect(200, "PBSZ 0"); err != nil {
			return err
		}
		if _, err := c.expect(200, "PROT P"); err != nil {
			return err
		}
	}
	c.features()
	return nil
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// features reads FEAT once; a server without it has none.
func (c *Conn) features() map[string]string {
	if c.feat != nil {
		return c.feat
	}
	c.feat = map[string]string{}
	r, err := c.expect(211, "FEAT")
	if err != nil {
		return c.feat
	}
	lines := strings.Split(r.Text, "\n")
	for _, l := range lines[1 : len(lines)-1] {
		k, v, _ := strings.Cut(strings.TrimSpace(l), " ")
		c.feat[strings.ToUpper(k)] = v
	}
	return c.feat
}

// Quit ends the session politely and closes the connection.
func (c *Conn) Quit() error {
	_, err := c.expect(221, "QUIT")
	c.raw.Close()
	return err
}

// SetASCII switches the transfer type: ASCII (TYPE A; the client converts
// CRLF to LF on the way in and LF to CRLF on the way out) or binary (TYPE
// I, the default after Login).
func (c *Conn) SetASCII(ctx context.Context, ascii bool) error {
	t := "TYPE I"
	if ascii {
		t = "TYPE A"
	}
	if _, err := c.cmdExpect(ctx, 200, t); err != nil {
		return err
	}
	c.ascii = ascii
	return nil
}

// SetActive switches between active (EPRT/PORT) and passive (EPSV/PASV)
// data connections for the transfers that follow.
func (c *Conn) SetActive(active bool) { c.opts.Active = active }

// Close closes the connection at once.
func (c *Conn) Close() error { return c.raw.Close() }

// Pwd returns the current directory.
func (c *Conn) Pwd(ctx context.Context) (string, error) {
	r, err := c.cmdExpect(ctx, 257, "PWD")
	if err != nil {
		return "", err
	}
	return unquote257(r.Text), nil
}

// unquote257 reads the quoted path of a 257 reply, doubled quotes undone.
func unquote257(s string) string {
	i := strings.IndexByte(s, '"')
	if i < 0 {
		return s
	}
	var b strings.Builder
	for j := i + 1; j < len(s); j++ {
		if s[j] == '"' {
			if j+1 < len(s) && s[j+1] == '"' {
				b.WriteByte('"')
				j++
				continue
			}
			break
		}
		b.WriteByte(s[j])
	}
	return b.String()
}

func (c *Conn) cmdExpect(ctx context.Context, code int, line string) (Reply, error) {
	stop := context.AfterFunc(ctx, func() { c.dc.SetLimit(time.Unix(1, 0)) })
	defer stop()
	return c.expect(code, line)
}

// Cwd changes the current directory.
func (c *Conn) Cwd(ctx context.Context, dir string) error {
	_, err := c.cmdExpect(ctx, 250, "CWD "+dir)
	return err
}

// Mkdir creates a directory.
func (c *Conn) Mkdir(ctx context.Context, dir string) error {
	_, err := c.cmdExpect(ctx, 257, "MKD "+dir)
	return err
}

// Delete removes a file.
func (c *Conn) Delete(ctx context.Context, name string) error {
	_, err := c.cmdExpect(ctx, 250, "DELE "+name)
	return err
}

// Rename renames from to to.
func (c *Conn) Rename(ctx context.Context, from, to string) error {
	if _, err := c.cmdExpect(ctx, 350, "RNFR "+from); err != nil {
		return err
	}
	_, err := c.cmdExpect(ctx, 250, "RNTO "+to)
	return err
}

// Size returns a file's size (SIZE, RFC 3659 section 4).
func (c *Conn) Size(ctx context.Context, name string) (int64, error) {
	r, err := c.cmdExpect(ctx, 213, "SIZE "+name)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(strings.TrimSpace(r.Text), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: SIZE %q", ErrProtocol, r.Text)
	}
	return n, nil
}

// --- data connections ---

// dataConn prepares a data connection and sends the transfer command; it
// returns the connection once the server's 1xx preliminary reply came.
func (c *Conn) dataConn(ctx context.Context, command string) (net.Conn, error) {
	var dial func() (net.Conn, error)
	if c.opts.Active {
		ln, err := net.Listen("tcp", net.JoinHostPort(localIP(c.raw), "0"))
		if err != nil {
			return nil, err
		}
		defer ln.Close()
		ap := netip.MustParseAddrPort(ln.Addr().String())
		if _, err := c.expect(200, "EPRT "+FormatEPRT(ap)); err != nil {
			if !ap.Addr().Unmap().Is4() {
				return nil, err
			}
			if _, err := c.expect(200, "PORT "+FormatHostPort(ap)); err != nil {
				return nil, err
			}
		}
		dial = func() (net.Conn, error) {
			ln.(*net.TCPListener).SetDeadline(time.Now().Add(lifecycle.OrDefault(c.opts.Timeout, DefaultClientTimeout)))
			return ln.Accept()
		}
	} else {
		addr := ""
		r, err := c.expect(229, "EPSV")
		if err == nil {
			port, perr := ParseEPSVReply(r.Text)
			if perr != nil {
				return nil, perr
			}
			addr = net.JoinHostPort(remoteIP(c.raw), strconv.Itoa(int(port)))
		} else {
			var fe *Error
			if !errors.As(err, &fe) {
				return nil, err
			}
			r, err := c.expect(227, "PASV")
			if err != nil {
				return nil, err
			}
			ap, err := ParsePASVReply(r.Text)
			if err != nil {
				return nil, err
			}
			// Connect to the control connection's host whatever the
			// reply says: a PASV address behind NAT is often wrong, and
			// trusting it lets a server aim the client elsewhere.
			addr = net.JoinHostPort(remoteIP(c.raw), strconv.Itoa(int(ap.Port())))
		}
		d := net.Dialer{Timeout: lifecycle.OrDefault(c.opts.Timeout, DefaultClientTimeout)}
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		dial = func() (net.Conn, error) { return conn, nil }
		defer func() {
			if dial != nil {
				conn.Close()
			}
		}()
	}
	if err := c.send(command); err != nil {
		return nil, err
	}
	r, err := c.readReply()
	if err != nil {
		return nil, err
	}
	if r.Code/100 != 1 {
		return nil, &Error{r, command}
	}
	conn, err := dial()
	dial = nil
	if err != nil {
		return nil, err
	}
	dtr := c.opts.Trace.Session("ftp-data", conn.RemoteAddr().String())
	dtr.Note("data connection " + conn.LocalAddr().String() + " <-> " + conn.RemoteAddr().String() + " for " + strings.SplitN(command, " ", 2)[0])
	if c.tls != nil {
		tc := tls.Client(conn, c.tls)
		conn.SetDeadline(time.Now().Add(lifecycle.OrDefault(c.opts.Timeout, DefaultClientTimeout)))
		if err := tc.Handshake(); err != nil {
			conn.Close()
			return nil, fmt.Errorf("ftp: data TLS: %w", err)
		}
		conn.SetDeadline(time.Time{})
		dtr.Note(fmt.Sprintf("TLS, session resumed: %v", tc.ConnectionState().DidResume))
		return tc, nil
	}
	return conn, nil
}

func redact(line string) string {
	if v, _, _ := strings.Cut(line, " "); strings.EqualFold(v, "PASS") {
		return "PASS"
	}
	return line
}

func localIP(c net.Conn) string {
	ap, err := netip.ParseAddrPort(c.LocalAddr().String())
	if err != nil {
		return "127.0.0.1"
	}
	return ap.Addr().Unmap().String()
}

func remoteIP(c net.Conn) string {
	ap, err := netip.ParseAddrPort(c.RemoteAddr().String())
	if err != nil {
		return "127.0.0.1"
	}
	return ap.Addr().Unmap().String()
}

// finish reads the transfer's final reply.
func (c *Conn) finish(n int64, cerr error) (int64, error) {
	r, err := c.readReply()
	if err != nil {
		return n, err
	}
	if r.Code/100 != 2 {
		return n, &Error{Reply: r}
	}
	return n, cerr
}

const clientChunk = 32 << 20

// copyData copies src to dst, moving conn's deadline before each chunk; a
// plain TCP connection and an *os.File copy with sendfile or splice.
func (c *Conn) copyData(dst io.Writer, src io.Reader, conn net.Conn) (int64, error) {
	to := lifecycle.OrDefault(c.opts.Timeout, DefaultClientTimeout)
	var total int64
	for {
		conn.SetDeadline(time.Now().Add(to))
		n, err := io.CopyN(dst, src, clientChunk)
		total += n
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// Retr downloads name into w, from byte offset (REST) when offset > 0.
func (c *Conn) Retr(ctx context.Context, name string, offset int64, w io.Writer) (int64, error) {
	stop := context.AfterFunc(ctx, func() { c.dc.SetLimit(time.Unix(1, 0)) })
	defer stop()
	if offset > 0 {
		if _, err := c.expect(350, "REST "+strconv.FormatInt(offset, 10)); err != nil {
			return 0, err
		}
	}
	conn, err := c.dataConn(ctx, "RETR "+name)
	if err != nil {
		return 0, err
	}
	dstop := context.AfterFunc(ctx, func() { conn.Close() })
	defer dstop()
	var lw *lfWriter
	if c.ascii {
		lw = &lfWriter{w: w}
		w = lw
	}
	n, cerr := c.copyData(w, conn, conn)
	if lw != nil && cerr == nil {
		cerr = lw.flush()
	}
	conn.Close()
	return c.finish(n, cerr)
}

// Stor uploads r as name; with offset > 0 it resumes (REST, then STOR
// writing from that byte); appendTo sends APPE instead.
func (c *Conn) Stor(ctx context.Context, name string, r io.Reader, offset int64, appendTo bool) (int64, error) {
	stop := context.AfterFunc(ctx, func() { c.dc.SetLimit(time.Unix(1, 0)) })
	defer stop()
	verb := "STOR "
	if appendTo {
		verb = "APPE "
	}
	if offset > 0 {
		if _, err := c.expect(350, "REST "+strconv.FormatInt(offset, 10)); err != nil {
			return 0, err
		}
	}
	conn, err := c.dataConn(ctx, verb+name)
	if err != nil {
		return 0, err
	}
	dstop := context.AfterFunc(ctx, func() { conn.Close() })
	defer dstop()
	var dst io.Writer = conn // io.CopyN from *os.File to *net.TCPConn: sendfile
	if c.ascii {
		dst = &crlfWriter{w: conn}
	}
	n, cerr := c.copyData(dst, r, conn)
	if err := conn.Close(); cerr == nil {
		cerr = err
	}
	return c.finish(n, cerr)
}

// List lists a directory: MLSD when the server offers MLST (RFC 3659),
// else LIST in the Unix format (lines that do not parse are left out).
func (c *Conn) List(ctx context.Context, dir string) ([]Entry, error) {
	stop := context.AfterFunc(ctx, func() { c.dc.SetLimit(time.Unix(1, 0)) })
	defer stop()
	_, mlsd := c.features()["MLST"]
	cmd := "LIST"
	if mlsd {
		cmd = "MLSD"
	}
	if dir != "" {
		cmd += " " + dir
	}
	raw, err := c.readListing(ctx, cmd)
	if err != nil {
		return nil, err
	}
	var out []Entry
	now := time.Now()
	for _, line := range strings.Split(raw, "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" {
			continue
		}
		var e Entry
		if mlsd {
			e, err = ParseMLSxLine(line)
			if err == nil && (e.Type == "cdir" || e.Type == "pdir") {
				continue
			}
		} else {
			e, err = ParseListLine(line, now)
		}
		if err == nil {
			out = append(out, e)
		}
	}
	return out, nil
}

// ListRaw returns what LIST (or NLST when names) sends for dir, as text.
func (c *Conn) ListRaw(ctx context.Context, dir string, names bool) (string, error) {
	stop := context.AfterFunc(ctx, func() { c.dc.SetLimit(time.Unix(1, 0)) })
	defer stop()
	cmd := "LIST"
	if names {
		cmd = "NLST"
	}
	if dir != "" {
		cmd += " " + dir
	}
	return c.readListing(ctx, cmd)
}

// maxListing bounds the bytes of one listing the client keeps.
const maxListing = 64 << 20

func (c *Conn) readListing(ctx context.Context, cmd string) (string, error) {
	conn, err := c.dataConn(ctx, cmd)
	if err != nil {
		return "", err
	}
	dstop := context.AfterFunc(ctx, func() { conn.Close() })
	defer dstop()
	var b strings.Builder
	_, cerr := c.copyData(&b, io.LimitReader(conn, maxListing), conn)
	conn.Close()
	_, err = c.finish(0, cerr)
	return b.String(), err
}
