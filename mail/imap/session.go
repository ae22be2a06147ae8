package imap

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
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
)

// state is a connection state of RFC 3501 section 3.
type state uint8

const (
	stateNotAuth  state = iota // section 3.1: greeted, not logged in
	stateAuth                  // section 3.2: logged in, no mailbox selected
	stateSelected              // section 3.3: a mailbox is selected
	stateLogout                // section 3.4: the connection is ending
)

func (st state) String() string {
	return [...]string{"not authenticated", "authenticated", "selected", "logout"}[st]
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

var (
	anyState = in(stateNotAuth, stateAuth, stateSelected)
	notAuth  = in(stateNotAuth)
	authed   = in(stateAuth, stateSelected) // section 6.3 commands are valid in both
	selected = in(stateSelected)
)

// status is a command's tagged completion (section 7.1).
type status struct {
	kind string // OK, NO, BAD
	code string // response code without brackets, or ""
	text string
}

func ok(text string) status           { return status{"OK", "", text} }
func okCode(code, text string) status { return status{"OK", code, text} }
func no(text string) status           { return status{"NO", "", text} }
func noCode(code, text string) status { return status{"NO", code, text} }
func bad(text string) status          { return status{"BAD", "", text} }

// command is one row of the dispatch table: the handler, the states in
// which it is legal, and whether it takes the UID prefix (section 6.4.8).
type command struct {
	run   func(ss *session, p *parser, uid bool) status
	legal states
	uid   bool
}

// commands is the dispatch table, built once and never written. Each row
// names the section that defines the command.
var commands map[string]command

func init() {
	commands = map[string]command{
		"CAPABILITY":   {(*session).capability, anyState, false},  // RFC 3501 6.1.1
		"NOOP":         {(*session).noop, anyState, false},        // 6.1.2
		"LOGOUT":       {(*session).logout, anyState, false},      // 6.1.3
		"ID":           {(*session).id, anyState, false},          // RFC 2971
		"STARTTLS":     {(*session).starttls, notAuth, false},     // 6.2.1
		"AUTHENTICATE": {(*session).authenticate, notAuth, false}, // 6.2.2, SASL-IR (RFC 4959)
		"LOGIN":        {(*session).login, notAuth, false},        // 6.2.3
		"ENABLE":       {(*session).enable, authed, false},        // RFC 5161
		"SELECT":       {(*session).selectCmd, authed, false},     // 6.3.1
		"EXAMINE":      {(*session).examine, authed, false},       // 6.3.2
		"CREATE":       {(*session).create, authed, false},        // 6.3.3
		"DELETE":       {(*session).deleteCmd, authed, false},     // 6.3.4
		"RENAME":       {(*session).rename, authed, false},        // 6.3.5
		"SUBSCRIBE":    {(*session).subscribe, authed, false},     // 6.3.6
		"UNSUBSCRIBE":  {(*session).unsubscribe, authed, false},   // 6.3.7
		"LIST":         {(*session).list, authed, false},          // 6.3.8, RFC 5258, 5819, 6154
		"LSUB":         {(*session).lsub, authed, false},          // 6.3.9
		"STATUS":       {(*session).statusCmd, authed, false},     // 6.3.10
		"APPEND":       {(*session).appendCmd, authed, false},     // 6.3.11, RFC 4315 APPENDUID
		"NAMESPACE":    {(*session).namespace, authed, false},     // RFC 2342
		"IDLE":         {(*session).idle, authed, false},          // RFC 2177
		"CHECK":        {(*session).check, selected, false},       // 6.4.1
		"CLOSE":        {(*session).closeCmd, selected, false},    // 6.4.2
		"UNSELECT":     {(*session).unselect, selected, false},    // RFC 3691
		"EXPUNGE":      {(*session).expunge, selected, true},      // 6.4.3; UID EXPUNGE: RFC 4315
		"SEARCH":       {(*session).search, selected, true},       // 6.4.4
		"FETCH":        {(*session).fetch, selected, true},        // 6.4.5
		"STORE":        {(*session).store, selected, true},        // 6.4.6
		"COPY":         {(*session).copyCmd, selected, true},      // 6.4.7
		"MOVE":         {(*session).move, selected, true},         // RFC 6851
	}
}

// capabilities lists what the server offers (section 6.1.1).
func (ss *session) capabilities() string {
	caps := []string{"IMAP4rev1", "LITERAL+", "SASL-IR", "ID", "ENABLE", "IDLE", "UIDPLUS", "MOVE", "NAMESPACE",
		"UNSELECT", "CHILDREN", "SPECIAL-USE", "LIST-EXTENDED", "LIST-STATUS"}
	if ss.st == stateNotAuth {
		if ss.srv.TLSConfig != nil && !ss.tls {
			caps = append(caps, "STARTTLS")
		}
		if ss.plainAllowed() {
			caps = append(caps, "AUTH=PLAIN")
		} else {
			caps = append(caps, "LOGINDISABLED")
		}
	}
	return strings.Join(caps, " ")
}

type session struct {
	srv  *Server
	conn net.Conn
	tr   *transcript.Session
	r    *reader
	br   *bufio.Reader
	tl   *textline.Reader
	bw   *bufio.Writer

	st     state
	tls    bool
	user   string
	acct   *account
	mb     *mailbox
	errors int
	fails  int
	closed bool
	tag    string // the command being answered
}

type reader struct {
	s       *session
	timeout time.Duration
}

var errShutdown = errors.New("imap: shutting down")

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

// Line and command limits. RFC 7162 section 4 asks servers to take
// command lines of at least 8192 octets.
const maxLine = 64 << 10

func (s *Server) serveConn(c net.Conn) {
	ss := &session{srv: s, tr: s.Trace.Session("imap", c.RemoteAddr().String())}
	ss.r = &reader{s: ss, timeout: lifecycle.OrDefault(s.Timeout, DefaultTimeout)}
	_, ss.tls = c.(*tls.Conn)
	ss.setConn(c)
	ss.tr.Note("connection accepted")
	defer ss.tr.Note("connection closed")
	if ss.tls {
		tc := c.(*tls.Conn)
		tc.SetDeadline(time.Now().Add(lifecycle.OrDefault(s.Timeout, DefaultTimeout)))
		if err := tc.Handshake(); err != nil {
			ss.tr.Note("TLS handshake failed: " + err.Error())
			return
		}
		tc.SetDeadline(time.Time{})
	}
	ss.serve()
}

func (ss *session) setConn(c net.Conn) {
	ss.conn = c
	ss.br = bufio.NewReaderSize(ss.r, 8192)
	ss.tl = textline.NewReader(ss.br, maxLine)
	ss.bw = bufio.NewWriterSize(c, 32<<10)
}

func (ss *session) serve() {
	ss.untagged("OK [CAPABILITY " + ss.capabilities() + "] " + ss.srv.hostname() + " applayer IMAP4rev1 ready")
	if !ss.flush() {
		return
	}
	maxErr := lifecycle.OrDefault(ss.srv.MaxErrors, DefaultMaxErrors)
	for !ss.closed {
		raw, err := ss.readCommand()
		if err != nil {
			var le *literalError
			switch {
			case errors.As(err, &le):
				ss.errors++
				ss.tagged(le.tag, bad(le.msg))
				if le.fatal {
					ss.untagged("BYE " + le.msg)
					ss.closed = true
				}
			case errors.Is(err, textline.ErrLineTooLong):
				ss.errors++
				ss.tr.Client("<line too long, discarded>")
				ss.untagged("BAD Line too long")
			default:
				ss.readFailed(err)
				return
			}
		} else {
			ss.dispatch(raw)
		}
		if ss.errors >= maxErr && !ss.closed {
			ss.untagged("BYE Too many errors")
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
		ss.untagged("BYE Server shutting down")
		ss.flush()
	case errors.As(err, &ne) && ne.Timeout():
		ss.tr.Note("timeout")
		ss.untagged("BYE Autologout; idle for too long")
		ss.flush()
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		ss.tr.Note("client closed the connection")
	default:
		ss.tr.Note("read failed: " + err.Error())
	}
	ss.closed = true
}

// literalError refuses a literal: a tagged BAD, and for a non-synchronising
// literal (whose octets are already on their way) the end of the session.
type literalError struct {
	tag   string
	msg   string
	fatal bool
}

func (e *literalError) Error() string { return e.msg }

// literalAtEnd finds "{n}" or "{n+}" (or LITERAL-'s) ending a line.
func literalAtEnd(l []byte) (n int64, plus bool, ok bool) {
	if len(l) < 3 || l[len(l)-1] != '}' {
		return 0, false, false
	}
	i := bytes.LastIndexByte(l, '{')
	if i < 0 {
		return 0, false, false
	}
	num := l[i+1 : len(l)-1]
	if len(num) > 0 && num[len(num)-1] == '+' {
		plus, num = true, num[:len(num)-1]
	}
	if len(num) == 0 || len(num) > 12 {
		return 0, false, len(num) > 12
	}
	for _, c := range num {
		if c < '0' || c > '9' {
			return 0, false, false
		}
	}
	v, _ := strconv.ParseInt(string(num), 10, 64)
	return v, plus, true
}

func tagOf(l []byte) string {
	t, _, _ := bytes.Cut(l, []byte(" "))
	return string(t)
}

// readCommand reads one command with its literals (section 4.3): after a
// synchronising literal's "{n}" the server sends a continuation request;
// after LITERAL+'s "{n+}" the octets follow at once.
func (ss *session) readCommand() (*rawCommand, error) {
	raw := &rawCommand{}
	var total int64
	maxLit := ss.srv.MaxLiteral
	if maxLit <= 0 {
		maxLit = DefaultMaxLiteral
	}
	for {
		line, err := ss.tl.ReadLine()
		if err != nil {
			return nil, err
		}
		l := append([]byte(nil), line...)
		raw.lines = append(raw.lines, l)
		ss.tr.Client(logLine(l))
		n, plus, isLit := literalAtEnd(l)
		if !isLit {
			return raw, nil
		}
		tag := tagOf(raw.lines[0])
		total += n
		if n > maxLit || total > 2*maxLit || len(raw.literals) >= 1000 {
			if plus {
				return nil, &literalError{tag, "Literal too large", true}
			}
			return nil, &literalError{tag, "Literal too large", false}
		}
		if !plus {
			ss.line("+ Ready for literal data")
			if !ss.flush() {
				return nil, io.ErrClosedPipe
			}
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(ss.br, buf); err != nil {
			return nil, err
		}
		if ss.tr.Enabled() {
			ss.tr.Note(fmt.Sprintf("<literal of %d octets>", n))
		}
		raw.literals = append(raw.literals, buf)
	}
}

// logLine hides LOGIN's password and AUTHENTICATE's response in
// transcripts.
func logLine(l []byte) string {
	s := string(l)
	f := strings.Fields(s)
	if len(f) >= 3 && strings.EqualFold(f[1], "LOGIN") {
		return strings.Join(f[:3], " ") + " <redacted>"
	}
	if len(f) >= 4 && strings.EqualFold(f[1], "AUTHENTICATE") {
		return strings.Join(f[:3], " ") + " <redacted>"
	}
	return s
}

func (ss *session) dispatch(raw *rawCommand) {
	p := newParser(raw)
	tag, err := p.word("+(){\"\\%*")
	if err != nil || !p.maybeSP() {
		ss.errors++
		ss.untagged("BAD Missing tag or command")
		return
	}
	ss.tag = tag
	name, err := p.atom()
	if err != nil {
		ss.errors++
		ss.tagged(tag, bad("Missing command"))
		return
	}
	name = strings.ToUpper(name)
	uid := false
	if name == "UID" {
		if p.sp() != nil {
			ss.errors++
			ss.tagged(tag, bad("UID needs a command"))
			return
		}
		if name, err = p.atom(); err != nil {
			ss.errors++
			ss.tagged(tag, bad("UID needs a command"))
			return
		}
		name, uid = strings.ToUpper(name), true
	}
	c, found := commands[name]
	if !found || uid && !c.uid {
		ss.errors++
		ss.tagged(tag, bad("Unknown command "+name))
		return
	}
	if !c.legal.has(ss.st) {
		ss.errors++
		ss.tagged(tag, bad(name+" not allowed in the "+ss.st.String()+" state"))
		return
	}
	st := c.run(ss, p, uid)
	if st.kind == "" {
		return // answered already (LOGOUT, a failed STARTTLS)
	}
	if st.kind == "BAD" {
		ss.errors++
	}
	// Tell the client of changes since the last command (section 7):
	// expunges only where section 7.4.1 allows them.
	if ss.mb != nil && st.kind != "BAD" {
		switch name {
		case "FETCH", "STORE", "SEARCH":
			ss.update(false)
		case "LOGOUT", "CLOSE", "UNSELECT", "SELECT", "EXAMINE", "IDLE":
		default:
			ss.update(true)
		}
	}
	ss.tagged(tag, st)
}

func (ss *session) untagged(s string) { ss.line("* " + s) }

func (ss *session) tagged(tag string, st status) {
	s := tag + " " + st.kind
	if st.code != "" {
		s += " [" + st.code + "]"
	}
	if st.text != "" {
		s += " " + st.text
	}
	ss.line(s)
}

// line writes a line (with CRLF); the transcript gets lines of at most
// MaxText, literals shown as their first line.
func (ss *session) line(s string) {
	if ss.tr.Enabled() {
		first, _, _ := strings.Cut(s, "\r\n")
		ss.tr.Server(first)
	}
	ss.bw.WriteString(s)
	ss.bw.WriteString("\r\n")
}

// raw writes response bytes as they are (a FETCH with literals).
func (ss *session) raw(b []byte) {
	if ss.tr.Enabled() {
		first, _, _ := bytes.Cut(b, []byte("\r\n"))
		ss.tr.Server(string(first))
	}
	ss.bw.Write(b)
	if ss.bw.Buffered() > 16<<10 {
		ss.flush()
	}
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

func (ss *session) clientAddr() netip.Addr {
	if ap, err := netip.ParseAddrPort(ss.conn.RemoteAddr().String()); err == nil {
		return ap.Addr()
	}
	return netip.Addr{}
}

func (ss *session) plainAllowed() bool {
	return ss.tls || ss.srv.InsecureAuth || netprefix.IsLoopback(ss.clientAddr())
}

// capability: section 6.1.1.
func (ss *session) capability(p *parser, _ bool) status {
	if err := p.end(); err != nil {
		return bad("CAPABILITY takes no argument")
	}
	ss.untagged("CAPABILITY " + ss.capabilities())
	return ok("CAPABILITY completed")
}

// noop: section 6.1.2; the update after it reports changes.
func (ss *session) noop(p *parser, _ bool) status { return ok("NOOP completed") }

// logout: section 6.1.3.
func (ss *session) logout(p *parser, _ bool) status {
	ss.st = stateLogout
	ss.untagged("BYE " + ss.srv.hostname() + " logging out")
	ss.tagged(ss.tag, ok("LOGOUT completed"))
	ss.closed = true
	return status{}
}

// id: RFC 2971.
func (ss *session) id(p *parser, _ bool) status {
	ss.untagged(`ID ("name" "applayer")`)
	return ok("ID completed")
}

// enable: RFC 5161. Nothing it can enable is offered yet.
func (ss *session) enable(p *parser, _ bool) status {
	ss.untagged("ENABLED")
	return ok("ENABLE completed")
}

// namespace: RFC 2342: one personal namespace, no others.
func (ss *session) namespace(p *parser, _ bool) status {
	ss.untagged(`NAMESPACE (("" "` + delim + `")) NIL NIL`)
	return ok("NAMESPACE completed")
}

// starttls: section 6.2.1; what was pipelined after it is dropped.
func (ss *session) starttls(p *parser, _ bool) status {
	switch {
	case ss.srv.TLSConfig == nil:
		return bad("STARTTLS not available")
	case ss.tls:
		return bad("TLS already active")
	}
	ss.tagged(ss.tag, ok("Begin TLS negotiation now"))
	if !ss.flush() {
		return status{}
	}
	tc := tls.Server(ss.conn, ss.srv.TLSConfig)
	tc.SetDeadline(time.Now().Add(lifecycle.OrDefault(ss.srv.Timeout, DefaultTimeout)))
	if err := tc.Handshake(); err != nil {
		ss.tr.Note("TLS handshake failed: " + err.Error())
		ss.closed = true
		return status{}
	}
	tc.SetDeadline(time.Time{})
	ss.tr.Note("TLS established: " + tls.VersionName(tc.ConnectionState().Version))
	ss.setConn(tc)
	ss.tls = true
	return status{}
}

// login: section 6.2.3.
func (ss *session) login(p *parser, _ bool) status {
	if p.sp() != nil {
		return bad("LOGIN needs a user name and a password")
	}
	user, err := p.astring()
	if err != nil || p.sp() != nil {
		return bad("LOGIN needs a user name and a password")
	}
	pw, err := p.astring()
	if err != nil || p.end() != nil {
		return bad("LOGIN needs a user name and a password")
	}
	if !ss.plainAllowed() {
		return noCode("PRIVACYREQUIRED", "Plaintext login disallowed on non-secure connections; use STARTTLS")
	}
	return ss.checkLogin(user, pw)
}

// authenticate: section 6.2.2 with PLAIN (RFC 4616) and SASL-IR (RFC 4959).
func (ss *session) authenticate(p *parser, _ bool) status {
	if p.sp() != nil {
		return bad("AUTHENTICATE needs a mechanism")
	}
	mech, err := p.atom()
	if err != nil {
		return bad("AUTHENTICATE needs a mechanism")
	}
	if !strings.EqualFold(mech, "PLAIN") {
		return no("Unsupported authentication mechanism")
	}
	if !ss.plainAllowed() {
		return noCode("PRIVACYREQUIRED", "Plaintext authentication disallowed on non-secure connections; use STARTTLS")
	}
	var resp string
	if p.maybeSP() {
		if resp, err = p.atom(); err != nil {
			return bad("Bad initial response")
		}
	} else {
		ss.line("+ ")
		if !ss.flush() {
			return status{}
		}
		l, err := ss.tl.ReadLine()
		if err != nil {
			ss.closed = true
			return status{}
		}
		resp = string(l)
		ss.tr.ClientSecret("", resp)
	}
	if resp == "*" {
		return bad("Authentication cancelled")
	}
	if resp == "=" {
		resp = ""
	}
	b, err := base64.StdEncoding.DecodeString(resp)
	if err != nil {
		return bad("Invalid base64")
	}
	parts := bytes.Split(b, []byte{0})
	if len(parts) != 3 || len(parts[0]) > 0 && string(parts[0]) != string(parts[1]) {
		return bad("Malformed PLAIN response")
	}
	return ss.checkLogin(string(parts[1]), string(parts[2]))
}

func (ss *session) checkLogin(name, pw string) status {
	user := name
	if !strings.Contains(user, "@") && ss.srv.Domain != "" {
		user += "@" + ss.srv.Domain
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-ss.srv.tracker().Done():
		case <-ctx.Done():
		}
		cancel()
	}()
	at, err := ss.srv.lim.Begin(ctx, ss.clientAddr(), user)
	if err != nil {
		if errors.Is(err, authlimit.ErrTooMany) {
			ss.tr.Note(err.Error())
		}
		return ss.authFailed(noCode("UNAVAILABLE", "Too many failed logins, try again later"))
	}
	good := ss.srv.Store.Users().Check(user, pw)
	at.Done(good)
	if !good {
		if d := ss.srv.AuthFailureDelay; d >= 0 {
			time.Sleep(lifecycle.OrDefault(d, DefaultAuthFailureDelay))
		}
		return ss.authFailed(noCode("AUTHENTICATIONFAILED", "Authentication failed"))
	}
	ss.tr.Note("authenticated as " + user)
	ss.user = user
	ss.acct = &account{root: ss.srv.Store.MaildirPath(user)}
	inbox, _ := ss.acct.folder("INBOX")
	if !inbox.Exists() {
		if err := inbox.Create(); err != nil {
			return noCode("SERVERBUG", "Cannot create INBOX")
		}
	}
	ss.st = stateAuth
	return okCode("CAPABILITY "+ss.capabilities(), "Logged in")
}

func (ss *session) authFailed(st status) status {
	ss.fails++
	if ss.fails >= maxAuthFailures {
		ss.tagged(ss.tag, st)
		ss.untagged("BYE Too many failed logins")
		ss.closed = true
		return status{}
	}
	return st
}
