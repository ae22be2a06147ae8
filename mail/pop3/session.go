package pop3

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/subtle"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/applayer/applayer/internal/authlimit"
	"github.com/applayer/applayer/internal/lifecycle"
	"github.com/applayer/applayer/internal/netprefix"
	"github.com/applayer/applayer/internal/textline"
	"github.com/applayer/applayer/internal/transcript"
	"github.com/applayer/applayer/mail/maildir"
)

// state is where a session stands (RFC 1939 section 3).
type state uint8

const (
	stateAuthorization state = iota // greeted; the client identifies itself
	stateTransaction                // the maildrop is locked; requests on it
	stateUpdate                     // after QUIT: deletions, then the end
)

func (st state) String() string {
	return [...]string{"AUTHORIZATION", "TRANSACTION", "UPDATE"}[st]
}

type states uint8

func in(sts ...state) states {
	var s states
	for _, st := range sts {
		s |= 1 << st
	}
	return s
}

func (s states) has(st state) bool { return s&(1<<st) != 0 }

// command is one row of the dispatch table: the handler and the states in
// which the command is legal (elsewhere it gets -ERR).
type command struct {
	run   func(*session, Command) reply
	legal states
}

var (
	authz = in(stateAuthorization)
	trans = in(stateTransaction)
	both  = in(stateAuthorization, stateTransaction)
)

// commands is the dispatch table, built once and never written.
var commands = map[string]command{
	"USER": {(*session).user, authz}, // RFC 1939 section 7
	"PASS": {(*session).pass, authz}, // RFC 1939 section 7
	"APOP": {(*session).apop, authz}, // RFC 1939 section 7
	"AUTH": {(*session).auth, authz}, // RFC 5034 section 4
	"STLS": {(*session).stls, authz}, // RFC 2595 section 4
	"CAPA": {(*session).capa, both},  // RFC 2449 section 5
	"QUIT": {(*session).quit, both},  // RFC 1939 sections 4 and 6
	"STAT": {(*session).stat, trans}, // RFC 1939 section 5
	"LIST": {(*session).list, trans}, // RFC 1939 section 5
	"RETR": {(*session).retr, trans}, // RFC 1939 section 5
	"DELE": {(*session).dele, trans}, // RFC 1939 section 5
	"NOOP": {(*session).noop, trans}, // RFC 1939 section 5
	"RSET": {(*session).rset, trans}, // RFC 1939 section 5
	"TOP":  {(*session).top, trans},  // RFC 1939 section 7
	"UIDL": {(*session).uidl, trans}, // RFC 1939 section 7
}

// reply is one response: "+OK text" or "-ERR [CODE] text", and for a
// multi-line response its lines (dot-stuffed when written).
type reply struct {
	ok    bool
	code  string // RFC 2449 section 8 response code, or ""
	text  string
	lines []string
	multi bool
	none  bool // the handler wrote its response itself
}

func ok(text string) reply             { return reply{ok: true, text: text} }
func errReply(code, text string) reply { return reply{code: code, text: text} }
func okLines(text string, l []string) reply {
	return reply{ok: true, text: text, lines: l, multi: true}
}

// message is one message of the locked maildrop.
type message struct {
	maildir.Entry
	size    int64 // CRLF octets; -1 until known
	deleted bool
}

type session struct {
	srv  *Server
	conn net.Conn
	tr   *transcript.Session
	r    *reader
	br   *bufio.Reader
	tl   *textline.Reader
	bw   *bufio.Writer

	st       state
	tls      bool
	greeting string // the APOP timestamp, or ""
	userArg  string // USER's argument, waiting for PASS
	authed   string // the authenticated user
	errors   int
	fails    int
	closed   bool

	folder   maildir.Folder
	unlock   func()
	validity uint32
	msgs     []message
}

// reader applies the command timeout to every read and gives up when the
// server shuts down or evicts the idle session.
type reader struct {
	s       *session
	timeout time.Duration
}

var errShutdown = errors.New("pop3: shutting down")

func (r *reader) Read(p []byte) (int, error) {
	t := r.s.srv.tracker()
	if !t.ReadDeadline(r.s.conn, r.timeout) {
		if !t.ShuttingDown() {
			return 0, os.ErrDeadlineExceeded
		}
		return 0, errShutdown
	}
	n, err := r.s.conn.Read(p)
	if n > 0 {
		t.Busy(r.s.conn)
	}
	return n, err
}

func (s *Server) serveConn(c net.Conn) {
	ss := &session{srv: s, tr: s.Trace.Session("pop3", c.RemoteAddr().String())}
	ss.r = &reader{s: ss, timeout: lifecycle.OrDefault(s.Timeout, DefaultTimeout)}
	_, ss.tls = c.(*tls.Conn)
	ss.setConn(c)
	ss.tr.Note("connection accepted")
	defer func() {
		if ss.unlock != nil {
			ss.unlock() // a session that did not QUIT deletes nothing
		}
		ss.tr.Note("connection closed")
	}()
	if ss.tls {
		tc := c.(*tls.Conn)
		tc.SetDeadline(time.Now().Add(lifecycle.OrDefault(s.Timeout, DefaultTimeout)))
		if err := tc.Handshake(); err != nil {
			ss.tr.Note("TLS handshake failed: " + err.Error())
			return
		}
		tc.SetDeadline(time.Time{})
		ss.tr.Note("TLS established: " + tls.VersionName(tc.ConnectionState().Version))
	}
	ss.serve()
}

func (ss *session) setConn(c net.Conn) {
	ss.conn = c
	ss.br = bufio.NewReaderSize(ss.r, 4096)
	ss.tl = textline.NewReader(ss.br, MaxLine)
	ss.bw = bufio.NewWriterSize(c, 32<<10)
}

func (ss *session) serve() {
	s := ss.srv
	text := "POP3 server ready"
	if s.APOP != nil {
		// RFC 1939 section 7: the timestamp, unique per greeting.
		ss.greeting = fmt.Sprintf("<%d.%d@%s>", os.Getpid(), time.Now().UnixNano(), s.hostname())
		text += " " + ss.greeting
	}
	ss.write(ok(s.hostname() + " applayer " + text))
	if !ss.flush() {
		return
	}
	maxErr := lifecycle.OrDefault(s.MaxErrors, DefaultMaxErrors)
	for !ss.closed {
		line, err := ss.tl.ReadLine()
		switch {
		case errors.Is(err, textline.ErrLineTooLong):
			ss.tr.Client("<line over " + strconv.Itoa(MaxLine) + " octets, discarded>")
			ss.errors++
			ss.write(errReply("", "Line too long"))
		case err != nil:
			ss.readFailed(err)
			return
		default:
			ss.command(string(line))
		}
		if ss.errors >= maxErr && !ss.closed {
			ss.write(errReply("", "Too many errors, closing connection"))
			ss.closed = true
		}
		if !textline.LineWaiting(ss.br) || ss.closed {
			if !ss.flush() {
				return
			}
		}
	}
}

func (ss *session) readFailed(err error) {
	var ne net.Error
	switch {
	case errors.Is(err, errShutdown) || ss.srv.tracker().ShuttingDown():
		ss.write(errReply("SYS/TEMP", "Server shutting down, nothing deleted"))
		ss.flush()
	case errors.As(err, &ne) && ne.Timeout():
		ss.tr.Note("timeout")
		ss.write(errReply("", "Autologout: idle for too long, nothing deleted"))
		ss.flush()
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		ss.tr.Note("client closed the connection")
	default:
		ss.tr.Note("read failed: " + err.Error())
	}
}

func (ss *session) command(line string) {
	cmd, err := ParseCommand(line)
	switch cmd.Verb {
	case "PASS":
		ss.tr.ClientSecret("PASS ", cmd.Rest)
	case "AUTH":
		if len(cmd.Args) > 1 {
			ss.tr.ClientSecret("AUTH "+cmd.Args[0]+" ", cmd.Args[1])
		} else {
			ss.tr.Client(line)
		}
	default:
		ss.tr.Client(line)
	}
	if err != nil {
		ss.errors++
		ss.write(errReply("", "Syntax error"))
		return
	}
	c, found := commands[cmd.Verb]
	if !found {
		ss.errors++
		ss.write(errReply("", "Unknown command: "+cmd.Verb))
		return
	}
	if !c.legal.has(ss.st) {
		ss.errors++
		ss.write(errReply("", cmd.Verb+" not allowed in the "+ss.st.String()+" state"))
		return
	}
	r := c.run(ss, cmd)
	if r.none {
		return
	}
	if !r.ok && r.code == "" {
		ss.errors++
	}
	ss.write(r)
}

// write queues a response; it goes out at the next flush.
func (ss *session) write(r reply) {
	var b strings.Builder
	if r.ok {
		b.WriteString("+OK")
	} else {
		b.WriteString("-ERR")
	}
	if r.code != "" {
		b.WriteString(" [" + r.code + "]")
	}
	if r.text != "" {
		b.WriteString(" " + r.text)
	}
	ss.line(b.String())
	if !r.multi {
		return
	}
	for _, l := range r.lines {
		if strings.HasPrefix(l, ".") {
			l = "." + l
		}
		ss.line(l)
	}
	ss.line(".")
}

func (ss *session) line(l string) {
	ss.tr.Server(l)
	ss.bw.WriteString(l)
	ss.bw.WriteString("\r\n")
}

func (ss *session) flush() bool {
	if ss.bw.Buffered() == 0 {
		return true
	}
	ss.conn.SetWriteDeadline(time.Now().Add(lifecycle.OrDefault(ss.srv.WriteTimeout, DefaultWriteTimeout)))
	if err := ss.bw.Flush(); err != nil {
		ss.tr.Note("write failed: " + err.Error())
		ss.closed = true
		return false
	}
	return true
}

// plainAllowed reports whether a password may be sent in clear now: under
// TLS, from a loopback client, or when the server allows it everywhere.
func (ss *session) plainAllowed() bool {
	return ss.tls || ss.srv.InsecureAuth || netprefix.IsLoopback(ss.clientAddr())
}

func (ss *session) clientAddr() netip.Addr {
	if ap, err := netip.ParseAddrPort(ss.conn.RemoteAddr().String()); err == nil {
		return ap.Addr()
	}
	return netip.Addr{}
}

var errPlain = errReply("AUTH", "Plaintext authentication disallowed on non-secure connections; use STLS first")

// capa: RFC 2449 section 5. The list depends on the state: the login
// capabilities only before login, STLS only before TLS.
func (ss *session) capa(Command) reply {
	l := []string{"TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"}
	if ss.st == stateAuthorization {
		if ss.plainAllowed() {
			l = append(l, "USER", "SASL PLAIN")
		}
		if ss.srv.TLSConfig != nil && !ss.tls {
			l = append(l, "STLS")
		}
	}
	l = append(l, "IMPLEMENTATION applayer")
	return okLines("Capability list follows", l)
}

// user: RFC 1939 section 7. The name is only remembered; whether it
// exists is told by PASS, together with the password, so that USER does
// not reveal who has a maildrop.
func (ss *session) user(c Command) reply {
	if !ss.plainAllowed() {
		return errPlain
	}
	if len(c.Args) != 1 {
		return errReply("", "USER takes one argument")
	}
	ss.userArg = c.Args[0]
	return ok("Send PASS")
}

// pass: RFC 1939 section 7; the password is the rest of the line.
func (ss *session) pass(c Command) reply {
	if ss.userArg == "" {
		return errReply("", "Send USER first")
	}
	if c.Rest == "" {
		return errReply("", "PASS takes the password")
	}
	name := ss.userArg
	ss.userArg = ""
	return ss.login(name, func(user string) bool { return ss.srv.Store.Users().Check(user, c.Rest) })
}

// apop: RFC 1939 section 7: the digest is MD5(timestamp secret) in lower
// case hexadecimal.
func (ss *session) apop(c Command) reply {
	if ss.srv.APOP == nil {
		return errReply("", "APOP not available")
	}
	if len(c.Args) != 2 {
		return errReply("", "APOP takes a name and a digest")
	}
	digest := strings.ToLower(c.Args[1])
	return ss.login(c.Args[0], func(user string) bool {
		secret, found := ss.srv.APOP(user)
		if !found {
			secret = "\x00no such user\x00" // the same work for a stranger
		}
		sum := md5.Sum([]byte(ss.greeting + secret))
		want := hex.EncodeToString(sum[:])
		return subtle.ConstantTimeCompare([]byte(want), []byte(digest)) == 1 && found
	})
}

// auth: RFC 5034 section 4, mechanism PLAIN (RFC 4616). "AUTH" alone
// lists the mechanisms, as RFC 1734 servers did and clients still ask.
func (ss *session) auth(c Command) reply {
	if len(c.Args) == 0 {
		if !ss.plainAllowed() {
			return okLines("No mechanisms without TLS", nil)
		}
		return okLines("Mechanisms follow", []string{"PLAIN"})
	}
	if !strings.EqualFold(c.Args[0], "PLAIN") {
		return errReply("", "Unrecognized authentication mechanism")
	}
	if !ss.plainAllowed() {
		return errPlain
	}
	resp := ""
	if len(c.Args) > 1 {
		resp = c.Args[1]
	} else {
		ss.line("+ ")
		if !ss.flush() {
			return reply{none: true}
		}
		l, err := ss.tl.ReadLine()
		if err != nil {
			ss.closed = true
			return reply{none: true}
		}
		resp = string(l)
		ss.tr.ClientSecret("", resp)
	}
	if resp == "*" {
		return errReply("", "Authentication cancelled") // RFC 5034 section 4
	}
	if resp == "=" {
		resp = ""
	}
	b, err := base64.StdEncoding.DecodeString(resp)
	if err != nil {
		return errReply("", "Invalid base64 in the response")
	}
	parts := bytes.Split(b, []byte{0})
	if len(parts) != 3 || len(parts[0]) > 0 && string(parts[0]) != string(parts[1]) {
		return errReply("", "Malformed PLAIN response")
	}
	user, pw := string(parts[1]), string(parts[2])
	return ss.login(user, func(u string) bool { return ss.srv.Store.Users().Check(u, pw) })
}

// login checks credentials through the login limiter and, on success,
// opens the maildrop and enters TRANSACTION.
func (ss *session) login(name string, check func(user string) bool) reply {
	user := name
	if !strings.Contains(user, "@") && ss.srv.Domain != "" {
		user += "@" + ss.srv.Domain
	}
	ctx, cancel := ss.shutdownContext()
	defer cancel()
	at, err := ss.srv.lim.Begin(ctx, ss.clientAddr(), user)
	if err != nil {
		if errors.Is(err, authlimit.ErrTooMany) {
			ss.tr.Note(err.Error())
		}
		return ss.authFailed("SYS/TEMP", "Too many failed logins, try again later")
	}
	good := check(user)
	at.Done(good)
	if !good {
		if d := ss.srv.AuthFailureDelay; d >= 0 {
			time.Sleep(lifecycle.OrDefault(d, DefaultAuthFailureDelay))
		}
		return ss.authFailed("AUTH", "Authentication failed")
	}
	ss.tr.Note("authenticated as " + user)
	if r, opened := ss.openMaildrop(user); !opened {
		return r
	}
	ss.authed = user
	ss.st = stateTransaction
	n, size := ss.totals()
	return ok(fmt.Sprintf("Logged in, %d messages (%d octets)", n, size))
}

func (ss *session) authFailed(code, text string) reply {
	ss.fails++
	if ss.fails >= maxAuthFailures {
		ss.closed = true
		return errReply(code, text+"; closing connection")
	}
	return errReply(code, text)
}

// shutdownContext ends when the server shuts down, so that a login held
// back by the limiter does not hold the shutdown too.
func (ss *session) shutdownContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	done := ss.srv.tracker().Done()
	go func() {
		select {
		case <-done:
		case <-ctx.Done():
		}
		cancel()
	}()
	return ctx, cancel
}

// openMaildrop locks the user's INBOX and fixes its list of messages for
// the session (RFC 1939 section 4).
func (ss *session) openMaildrop(user string) (reply, bool) {
	f := maildir.Folder{Path: ss.srv.Store.MaildirPath(user)}
	if !f.Exists() {
		if err := f.Create(); err != nil {
			ss.srv.logger().Error("pop3: cannot create maildrop", "user", user, "err", err)
			return errReply("SYS/TEMP", "Cannot open the maildrop"), false
		}
	}
	unlock, err := f.TryLock(lockName)
	if errors.Is(err, maildir.ErrLocked) {
		return errReply("IN-USE", "Maildrop already in use by another session"), false
	}
	if err != nil {
		ss.srv.logger().Error("pop3: cannot lock maildrop", "user", user, "err", err)
		return errReply("SYS/TEMP", "Cannot lock the maildrop"), false
	}
	snap, err := f.Sync(false)
	if err != nil {
		unlock()
		ss.srv.logger().Error("pop3: cannot read maildrop", "user", user, "err", err)
		return errReply("SYS/TEMP", "Cannot read the maildrop"), false
	}
	ss.folder, ss.unlock, ss.validity = f, unlock, snap.UIDValidity
	ss.msgs = make([]message, len(snap.Entries))
	for i, e := range snap.Entries {
		ss.msgs[i] = message{Entry: e, size: -1}
	}
	return reply{}, true
}

// sizeOf is the message's size with CRLF line ends, from the file name's
// ",W=" when it has one (Dovecot's), else computed once.
func (ss *session) sizeOf(m *message) int64 {
	if m.size >= 0 {
		return m.size
	}
	if i := strings.Index(m.Base, ",W="); i >= 0 {
		v := m.Base[i+3:]
		if j := strings.IndexAny(v, ",:"); j >= 0 {
			v = v[:j]
		}
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			m.size = n
			return n
		}
	}
	if n, found := ss.srv.sizes.get(m.Base); found {
		m.size = n
		return n
	}
	n, err := maildir.CRLFSize(ss.path(m))
	if err != nil {
		return 0
	}
	ss.srv.sizes.put(m.Base, n)
	m.size = n
	return n
}

// path is where the message is now: an IMAP session may have moved it to
// cur/ or changed its flags since the maildrop was opened.
func (ss *session) path(m *message) string {
	if _, err := os.Stat(m.Path); err == nil {
		return m.Path
	}
	if p, err := ss.folder.Find(m.Base); err == nil {
		m.Path = p
	}
	return m.Path
}

func (ss *session) totals() (n int, size int64) {
	for i := range ss.msgs {
		if !ss.msgs[i].deleted {
			n++
			size += ss.sizeOf(&ss.msgs[i])
		}
	}
	return n, size
}

// msg resolves a message-number argument; deleted messages are gone.
func (ss *session) msg(arg string) (*message, int, *reply) {
	n, valid := parseMsgNum(arg)
	if !valid {
		r := errReply("", "Invalid message number")
		return nil, 0, &r
	}
	if n > len(ss.msgs) || ss.msgs[n-1].deleted {
		r := errReply("", "No such message")
		return nil, 0, &r
	}
	return &ss.msgs[n-1], n, nil
}

// stat: RFC 1939 section 5.
func (ss *session) stat(c Command) reply {
	if len(c.Args) != 0 {
		return errReply("", "STAT takes no argument")
	}
	n, size := ss.totals()
	return ok(fmt.Sprintf("%d %d", n, size))
}

// list: RFC 1939 section 5.
func (ss *session) list(c Command) reply {
	switch len(c.Args) {
	case 0:
		var l []string
		for i := range ss.msgs {
			if !ss.msgs[i].deleted {
				l = append(l, fmt.Sprintf("%d %d", i+1, ss.sizeOf(&ss.msgs[i])))
			}
		}
		n, size := ss.totals()
		return okLines(fmt.Sprintf("%d messages (%d octets)", n, size), l)
	case 1:
		m, n, r := ss.msg(c.Args[0])
		if r != nil {
			return *r
		}
		return ok(fmt.Sprintf("%d %d", n, ss.sizeOf(m)))
	}
	return errReply("", "LIST takes at most one argument")
}

// uidl: RFC 1939 section 7. The unique-id is UID and UIDVALIDITY in hex,
// Dovecot's default pop3_uidl_format "%08Xu%08Xv".
func (ss *session) uidl(c Command) reply {
	id := func(m *message) string { return fmt.Sprintf("%08X%08X", m.UID, ss.validity) }
	switch len(c.Args) {
	case 0:
		var l []string
		for i := range ss.msgs {
			if !ss.msgs[i].deleted {
				l = append(l, fmt.Sprintf("%d %s", i+1, id(&ss.msgs[i])))
			}
		}
		return okLines("Unique-ID listing follows", l)
	case 1:
		m, n, r := ss.msg(c.Args[0])
		if r != nil {
			return *r
		}
		return ok(fmt.Sprintf("%d %s", n, id(m)))
	}
	return errReply("", "UIDL takes at most one argument")
}

// retr: RFC 1939 section 5.
func (ss *session) retr(c Command) reply {
	if len(c.Args) != 1 {
		return errReply("", "RETR takes a message number")
	}
	m, _, r := ss.msg(c.Args[0])
	if r != nil {
		return *r
	}
	return ss.send(m, -1)
}

// top: RFC 1939 section 7: the header, the blank line, and n lines of
// the body.
func (ss *session) top(c Command) reply {
	if len(c.Args) != 2 {
		return errReply("", "TOP takes a message number and a line count")
	}
	m, _, r := ss.msg(c.Args[0])
	if r != nil {
		return *r
	}
	n, valid := parseCount(c.Args[1])
	if !valid {
		return errReply("", "Invalid line count")
	}
	return ss.send(m, n)
}

// send writes a message (bodyLines < 0) or its header and that many body
// lines, dot-stuffed, as a multi-line response.
func (ss *session) send(m *message, bodyLines int) reply {
	f, err := os.Open(ss.path(m))
	if err != nil {
		ss.srv.logger().Error("pop3: cannot read message", "path", m.Path, "err", err)
		return errReply("SYS/TEMP", "Cannot read the message")
	}
	defer f.Close()
	head := "+OK"
	if bodyLines < 0 {
		head = fmt.Sprintf("+OK %d octets", ss.sizeOf(m))
	} else {
		head = "+OK Top of message follows"
	}
	ss.line(head)
	var rec *lineRecorder
	var w io.Writer = ss.bw
	if ss.tr.Enabled() {
		rec = &lineRecorder{tr: ss.tr}
		w = io.MultiWriter(ss.bw, rec)
	}
	ss.conn.SetWriteDeadline(time.Now().Add(lifecycle.OrDefault(ss.srv.WriteTimeout, DefaultWriteTimeout)))
	if err := writeMessage(w, maildir.CRLFReader(f), bodyLines, func() {
		ss.conn.SetWriteDeadline(time.Now().Add(lifecycle.OrDefault(ss.srv.WriteTimeout, DefaultWriteTimeout)))
	}); err != nil {
		// The response is cut: the client cannot be kept in step.
		ss.tr.Note("message not sent whole: " + err.Error())
		ss.closed = true
		return reply{none: true}
	}
	ss.bw.WriteString(".\r\n")
	ss.tr.Server(".")
	return reply{none: true}
}

// writeMessage copies a CRLF message to w, dot-stuffed (RFC 1939 section
// 3): a line that begins with "." gets another. With bodyLines >= 0 it
// stops after the header, the empty line and that many body lines.
// progress is called every chunk, to move the write deadline.
func writeMessage(w io.Writer, r io.Reader, bodyLines int, progress func()) error {
	br := bufio.NewReaderSize(r, 32<<10)
	lineStart, inHeader, n := true, true, 0
	for {
		chunk, err := br.ReadSlice('\n')
		if len(chunk) > 0 {
			if lineStart {
				if bodyLines >= 0 && !inHeader {
					if n >= bodyLines {
						return nil
					}
					n++
				}
				if inHeader && (string(chunk) == "\r\n" || string(chunk) == "\n") {
					inHeader = false
				}
				if chunk[0] == '.' {
					if _, err := w.Write([]byte{'.'}); err != nil {
						return err
					}
				}
			}
			if _, werr := w.Write(chunk); werr != nil {
				return werr
			}
			lineStart = chunk[len(chunk)-1] == '\n'
			if progress != nil && br.Buffered() == 0 {
				progress()
			}
		}
		switch {
		case err == nil || errors.Is(err, bufio.ErrBufferFull):
		case errors.Is(err, io.EOF):
			if !lineStart {
				_, err := w.Write([]byte("\r\n"))
				return err
			}
			return nil
		default:
			return err
		}
	}
}

// dele: RFC 1939 section 5: marked now, removed in UPDATE.
func (ss *session) dele(c Command) reply {
	if len(c.Args) != 1 {
		return errReply("", "DELE takes a message number")
	}
	m, n, r := ss.msg(c.Args[0])
	if r != nil {
		return *r
	}
	m.deleted = true
	return ok(fmt.Sprintf("Message %d deleted", n))
}

// rset: RFC 1939 section 5.
func (ss *session) rset(Command) reply {
	for i := range ss.msgs {
		ss.msgs[i].deleted = false
	}
	n, size := ss.totals()
	return ok(fmt.Sprintf("Maildrop has %d messages (%d octets)", n, size))
}

func (ss *session) noop(Command) reply { return ok("") }

// quit: RFC 1939 section 4 (in AUTHORIZATION: just the end) and section
// 6 (from TRANSACTION: the UPDATE state, where the marked messages are
// removed).
func (ss *session) quit(Command) reply {
	ss.closed = true
	if ss.st == stateAuthorization {
		return ok(ss.srv.hostname() + " POP3 server signing off")
	}
	ss.st = stateUpdate
	var gone []maildir.Entry
	for i := range ss.msgs {
		if ss.msgs[i].deleted {
			gone = append(gone, ss.msgs[i].Entry)
		}
	}
	var err error
	if len(gone) > 0 {
		err = ss.folder.Remove(gone)
		if err == nil {
			_, err = ss.folder.Sync(false) // forget their UIDs
		}
	}
	ss.unlock()
	ss.unlock = nil
	if err != nil {
		ss.srv.logger().Error("pop3: deleting messages", "user", ss.authed, "err", err)
		return errReply("SYS/TEMP", "Some deleted messages not removed")
	}
	ss.tr.Note(fmt.Sprintf("UPDATE: %d messages removed", len(gone)))
	n, _ := ss.totals()
	return ok(fmt.Sprintf("%s POP3 server signing off (%d messages left)", ss.srv.hostname(), n))
}

// stls: RFC 2595 section 4. Anything pipelined after it is dropped with
// the plaintext buffer, and the session starts over in AUTHORIZATION.
func (ss *session) stls(c Command) reply {
	switch {
	case ss.srv.TLSConfig == nil:
		return errReply("", "STLS not available")
	case ss.tls:
		return errReply("", "TLS already active")
	case len(c.Args) != 0:
		return errReply("", "STLS takes no argument")
	}
	ss.write(ok("Begin TLS negotiation"))
	if !ss.flush() {
		return reply{none: true}
	}
	tc := tls.Server(ss.conn, ss.srv.TLSConfig)
	tc.SetDeadline(time.Now().Add(lifecycle.OrDefault(ss.srv.Timeout, DefaultTimeout)))
	if err := tc.Handshake(); err != nil {
		ss.tr.Note("TLS handshake failed: " + err.Error())
		ss.closed = true
		return reply{none: true}
	}
	tc.SetDeadline(time.Time{})
	ss.tr.Note("TLS established: " + tls.VersionName(tc.ConnectionState().Version))
	ss.setConn(tc)
	ss.tls = true
	ss.userArg = ""
	return reply{none: true}
}

// lineRecorder records a message's lines in the transcript.
type lineRecorder struct {
	tr  *transcript.Session
	buf []byte
}

func (l *lineRecorder) Write(p []byte) (int, error) {
	for _, c := range p {
		if c == '\n' {
			l.tr.Server(strings.TrimSuffix(string(l.buf), "\r"))
			l.buf = l.buf[:0]
			continue
		}
		if len(l.buf) < transcript.MaxText+1 {
			l.buf = append(l.buf, c)
		}
	}
	return len(p), nil
}
