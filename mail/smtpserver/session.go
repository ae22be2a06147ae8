package smtpserver

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/applayer/applayer/internal/lifecycle"
	"github.com/applayer/applayer/internal/textline"
	"github.com/applayer/applayer/internal/transcript"
	"github.com/applayer/applayer/mail/smtp"
)

// state is where a session stands in the RFC 5321 section 4.1.4 sequence.
type state uint8

const (
	stateInit  state = iota // greeted; waiting for HELO or EHLO
	stateReady              // HELO/EHLO done; no transaction
	stateMail               // MAIL accepted; waiting for RCPT
	stateRcpt               // at least one RCPT accepted; DATA allowed
	stateBdat               // BDAT chunks arriving (RFC 3030); more BDAT or RSET
)

func (st state) String() string {
	return [...]string{"init", "ready", "mail", "rcpt", "bdat"}[st]
}

// states is a set of states.
type states uint8

func in(sts ...state) states {
	var s states
	for _, st := range sts {
		s |= 1 << st
	}
	return s
}

func (s states) has(st state) bool { return s&(1<<st) != 0 }

var anyState = in(stateInit, stateReady, stateMail, stateRcpt, stateBdat)

// command is one row of the dispatch table: the handler and the states in
// which the command is legal (elsewhere it gets 503).
type command struct {
	run   func(*session, string) *smtp.Reply
	legal states
}

// commands is the dispatch table. It is built once and never written.
var commands = map[string]command{
	"HELO":     {(*session).helo, anyState},                 // 4.1.1.1
	"EHLO":     {(*session).ehlo, anyState},                 // 4.1.1.1
	"MAIL":     {(*session).mail, in(stateReady)},           // 4.1.1.2
	"RCPT":     {(*session).rcpt, in(stateMail, stateRcpt)}, // 4.1.1.3
	"DATA":     {(*session).data, in(stateRcpt)},            // 4.1.1.4
	"BDAT":     {(*session).bdat, anyState},                 // RFC 3030 section 2; checks its own state
	"RSET":     {(*session).rset, anyState},                 // 4.1.1.5
	"VRFY":     {(*session).vrfy, anyState},                 // 4.1.1.6, 3.5.3
	"EXPN":     {(*session).expn, anyState},                 // 4.1.1.7
	"HELP":     {(*session).help, anyState},                 // 4.1.1.8
	"NOOP":     {(*session).noop, anyState},                 // 4.1.1.9
	"QUIT":     {(*session).quit, anyState},                 // 4.1.1.10
	"STARTTLS": {(*session).starttls, in(stateReady)},       // RFC 3207 section 4
	"AUTH":     {(*session).auth, in(stateReady)},           // RFC 4954 section 4
}

type session struct {
	srv  *Server
	conn net.Conn
	info Session
	tr   *transcript.Session

	r   *reader
	br  *bufio.Reader
	tl  *textline.Reader
	bw  *bufio.Writer
	st  state
	env Envelope

	chunks *chunking // the message being received by BDAT, or nil

	errors int
	auths  int
	closed bool // QUIT or a fatal error: stop after this reply
	linger bool // closed with client data unread: drain a little first
}

// reader applies the current timeout to every read (cut under load) and
// gives up when the server shuts down or evicts the idle session
// (lifecycle.Tracker.ReadDeadline); an evicted session is told 421 4.4.2
// as one that timed out.
type reader struct {
	s       *session
	timeout time.Duration
}

var errShutdown = errors.New("smtpserver: shutting down")

func (r *reader) Read(p []byte) (int, error) {
	t := r.s.srv.tracker()
	if !t.ReadDeadline(r.s.conn, r.timeout) {
		if !t.ShuttingDown() {
			return 0, os.ErrDeadlineExceeded // evicted while idle
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
	ss := &session{
		srv:  s,
		conn: c,
		info: Session{RemoteAddr: c.RemoteAddr(), Submission: s.Submission},
		tr:   s.Trace.Session(s.tracker().Name, c.RemoteAddr().String()),
	}
	ss.r = &reader{s: ss, timeout: lifecycle.OrDefault(s.CommandTimeout, DefaultCommandTimeout)}
	ss.setConn(c)
	ss.tr.Note("connection accepted")
	ss.serve()
	if ss.linger {
		ss.drain()
	}
	ss.abortChunks() // a client gone mid-BDAT loses that message
	ss.tr.Note("connection closed")
}

// drain ends a session closed while the client was still sending (a BDAT
// chunk refused unread): our side is shut for writing and what arrives
// within a second, up to 256 KiB, is read and dropped, so that the close
// does not reset the connection before the client has read our last reply
// (the lingering close of HTTP servers).
func (ss *session) drain() {
	if cw, ok := ss.conn.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	ss.conn.SetReadDeadline(time.Now().Add(time.Second))
	io.CopyN(io.Discard, ss.conn, 256<<10)
}

func (ss *session) setConn(c net.Conn) {
	ss.conn = c
	ss.br = bufio.NewReaderSize(ss.r, 4096)
	ss.tl = textline.NewReader(ss.br, smtp.MaxCommandLine)
	ss.bw = bufio.NewWriterSize(c, 4096)
}

func (ss *session) serve() {
	s := ss.srv
	if !ss.greet() {
		return
	}
	maxErr := lifecycle.OrDefault(s.MaxErrors, DefaultMaxErrors)
	cmdTimeout := lifecycle.OrDefault(s.CommandTimeout, DefaultCommandTimeout)
	for !ss.closed {
		ss.r.timeout = cmdTimeout
		line, err := ss.tl.ReadLine()
		switch {
		case errors.Is(err, textline.ErrLineTooLong):
			ss.tr.Client("<line over 512 octets, discarded>")
			ss.fail(smtp.R(500, smtp.CodeSyntax, "Line too long"))
		case err != nil:
			ss.readFailed(err)
			return
		default:
			ss.command(string(line))
		}
		if ss.errors >= maxErr && !ss.closed {
			ss.reply(smtp.R(421, smtp.EnhancedCode{4, 7, 0}, s.hostname()+" Too many errors, closing connection"))
			ss.closed = true
		}
		if !textline.LineWaiting(ss.br) || ss.closed {
			if !ss.flush() {
				return
			}
		}
	}
}

// pregreetTTL is how long a client that waited for the greeting is not
// made to wait again (postscreen_greet_ttl), and pregreetMax how many such
// clients are remembered.
const (
	pregreetTTL = 24 * time.Hour
	pregreetMax = 100_000
)

// greet sends the 220 greeting. On a mail exchanger, to a client not seen
// waiting for it lately, the greeting is sent in two lines: "220-" first,
// then, PregreetWait later, the last line. A client that follows RFC 5321
// waits for the last line of a reply before it speaks (section 4.2); one
// that talks in between is a spam engine in a hurry, and is dropped
// (Postfix's postscreen pregreet test). Honest clients pay the wait once a
// day per address, submission clients never.
func (ss *session) greet() bool {
	s := ss.srv
	banner := s.hostname() + " ESMTP applayer"
	client := clientPrefix(ss.info.RemoteAddr)
	wait := s.PregreetWait
	if wait == 0 {
		wait = DefaultPregreetWait
	}
	if s.Submission || wait < 0 || s.greetedRecently(client) {
		ss.reply(smtp.R(220, smtp.EnhancedCode{}, banner))
		return ss.flush()
	}
	first := "220-" + banner
	ss.tr.Server(first)
	ss.bw.WriteString(first + "\r\n")
	if !ss.flush() {
		return false
	}
	ss.r.timeout = wait
	_, err := ss.br.Peek(1)
	var ne net.Error
	switch {
	case err == nil:
		ss.tr.Note("client talked before the greeting")
		ss.reply(smtp.R(521, smtp.EnhancedCode{5, 5, 1}, s.hostname()+" Protocol error: talked before the greeting"))
		ss.flush()
		ss.closed = true
		return false
	case errors.As(err, &ne) && ne.Timeout() && !s.tracker().ShuttingDown():
		s.greeted(client)
	default:
		ss.readFailed(err)
		return false
	}
	ss.reply(smtp.R(220, smtp.EnhancedCode{}, banner))
	return ss.flush()
}

// clientPrefix is what the greeting remembers a client by: its IPv4
// address, or its IPv6 /64; the zero Prefix for a connection without an
// address.
func clientPrefix(a net.Addr) netip.Prefix {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Prefix{}
	}
	ip := ap.Addr().Unmap().WithZone("")
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, _ := ip.Prefix(bits)
	return p
}

func (s *Server) greetedRecently(p netip.Prefix) bool {
	if !p.IsValid() {
		return false
	}
	s.passedMu.Lock()
	defer s.passedMu.Unlock()
	t, ok := s.passed[p]
	return ok && time.Since(t) < pregreetTTL
}

func (s *Server) greeted(p netip.Prefix) {
	if !p.IsValid() {
		return
	}
	s.passedMu.Lock()
	defer s.passedMu.Unlock()
	if s.passed == nil {
		s.passed = map[netip.Prefix]time.Time{}
	}
	if len(s.passed) >= pregreetMax {
		for k, t := range s.passed {
			if time.Since(t) >= pregreetTTL || len(s.passed) >= pregreetMax {
				delete(s.passed, k)
			}
			if len(s.passed) < pregreetMax/2 {
				break
			}
		}
	}
	s.passed[p] = time.Now()
}

// readFailed ends a session whose client went away, timed out, or was cut
// off by a shutdown; the last two are told why when possible.
func (ss *session) readFailed(err error) {
	var ne net.Error
	switch {
	case errors.Is(err, errShutdown) || ss.srv.tracker().ShuttingDown():
		ss.reply(smtp.R(421, smtp.EnhancedCode{4, 3, 2}, ss.srv.hostname()+" Service shutting down, closing connection"))
		ss.flush()
	case errors.As(err, &ne) && ne.Timeout():
		ss.tr.Note("timeout")
		ss.reply(smtp.R(421, smtp.EnhancedCode{4, 4, 2}, ss.srv.hostname()+" Timeout, closing connection"))
		ss.flush()
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		ss.tr.Note("client closed the connection")
	default:
		ss.tr.Note("read failed: " + err.Error())
	}
}

func (ss *session) command(line string) {
	cmd, err := smtp.ParseCommand(line)
	if cmd.Verb == "AUTH" {
		if mech, ir, ok := strings.Cut(cmd.Arg, " "); ok {
			ss.tr.ClientSecret("AUTH "+mech+" ", ir)
		} else {
			ss.tr.Client(line)
		}
	} else {
		ss.tr.Client(line)
	}
	if err != nil {
		ss.fail(smtp.R(500, smtp.CodeSyntax, "Syntax error, command unrecognized"))
		return
	}
	c, ok := commands[cmd.Verb]
	if !ok {
		ss.fail(smtp.R(500, smtp.CodeSyntax, "Command unrecognized: "+cmd.Verb))
		return
	}
	if !c.legal.has(ss.st) {
		ss.fail(ss.sequenceError(cmd.Verb))
		return
	}
	if r := c.run(ss, cmd.Arg); r != nil {
		// 452 (too many recipients) is the client's doing too: without
		// counting it, RCPT could be repeated forever.
		if r.Code >= 500 || r.Code == 452 {
			ss.errors++
		}
		ss.reply(r)
	}
}

func (ss *session) sequenceError(verb string) *smtp.Reply {
	msg := "Bad sequence of commands"
	switch {
	case ss.st == stateInit:
		msg = "Send HELO or EHLO first"
	case ss.st == stateBdat && verb != "DATA":
		msg = "BDAT transfer in progress; send BDAT LAST or RSET"
	case verb == "MAIL":
		msg = "Sender already specified"
	case verb == "RCPT":
		msg = "Need MAIL before RCPT"
	case verb == "DATA" && ss.st == stateMail:
		msg = "Need RCPT before DATA"
	case verb == "DATA" && ss.st == stateBdat:
		msg = "DATA not allowed after BDAT"
	case verb == "DATA" || verb == "BDAT":
		msg = "Need MAIL and RCPT first"
	case verb == "STARTTLS" || verb == "AUTH":
		msg = "Not allowed during a mail transaction"
	}
	return smtp.R(503, smtp.CodeInvalidCmd, msg)
}

func (ss *session) fail(r *smtp.Reply) {
	ss.errors++
	ss.reply(r)
}

// reply queues r; it goes out at the next flush. Enhanced codes are left
// out for a client that said HELO (RFC 2034 section 3: only after EHLO
// announced ENHANCEDSTATUSCODES).
func (ss *session) reply(r *smtp.Reply) {
	if !ss.info.ESMTP && r.Enhanced != (smtp.EnhancedCode{}) {
		c := *r
		c.Enhanced = smtp.EnhancedCode{}
		r = &c
	}
	for _, l := range r.WireLines() {
		ss.tr.Server(l)
		ss.bw.WriteString(l)
		ss.bw.WriteString("\r\n")
	}
	if r.Code == 421 || r.Code == 221 {
		ss.closed = true
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

func (ss *session) resetTransaction() {
	ss.env = Envelope{}
	ss.abortChunks()
	if ss.st != stateInit {
		ss.st = stateReady
	}
}

// helo: RFC 5321 section 4.1.1.1. HELO or EHLO also resets any transaction.
func (ss *session) helo(arg string) *smtp.Reply {
	if arg == "" {
		return smtp.R(501, smtp.CodeSyntax, "HELO requires a domain name")
	}
	ss.info.Helo, ss.info.ESMTP = firstWord(arg), false
	ss.abortChunks()
	ss.st = stateReady
	ss.env = Envelope{}
	return smtp.R(250, smtp.EnhancedCode{}, ss.srv.hostname()+" Hello "+ss.info.Helo+", pleased to meet you")
}

func (ss *session) ehlo(arg string) *smtp.Reply {
	if arg == "" {
		return smtp.R(501, smtp.CodeSyntax, "EHLO requires a domain name")
	}
	ss.info.Helo, ss.info.ESMTP = firstWord(arg), true
	ss.abortChunks()
	ss.st = stateReady
	ss.env = Envelope{}
	lines := []string{
		ss.srv.hostname() + " Hello " + ss.info.Helo + ", pleased to meet you",
		"PIPELINING",
		"SIZE " + strconv.FormatInt(ss.srv.maxBytes(), 10),
		"8BITMIME",
		"ENHANCEDSTATUSCODES",
		"CHUNKING",
	}
	if ss.srv.TLSConfig != nil && !ss.info.TLS {
		lines = append(lines, "STARTTLS")
	}
	if ss.authOffered() {
		lines = append(lines, "AUTH PLAIN LOGIN")
	}
	lines = append(lines, "HELP")
	return &smtp.Reply{Code: 250, Lines: lines}
}

func firstWord(s string) string {
	w, _, _ := strings.Cut(s, " ")
	return w
}

// mail: RFC 5321 section 4.1.1.2, with SIZE (RFC 1870 section 6) and BODY
// (RFC 6152 section 3).
func (ss *session) mail(arg string) *smtp.Reply {
	if ss.srv.Submission && ss.info.User == "" {
		return smtp.R(530, smtp.CodeAuthRequired, "Authentication required")
	}
	from, params, err := smtp.ParseMailArg(arg, "FROM")
	if err != nil {
		return smtp.R(501, smtp.CodeBadSender, "Syntax error in MAIL FROM: "+strings.TrimPrefix(err.Error(), "smtp: "))
	}
	env := Envelope{From: from}
	for _, p := range params {
		switch p.Key {
		case "SIZE":
			n, err := strconv.ParseInt(p.Value, 10, 64)
			if err != nil || n < 0 {
				return smtp.R(501, smtp.CodeBadParam, "Bad SIZE value")
			}
			if n > ss.srv.maxBytes() {
				return smtp.R(552, smtp.CodeTooBig, "Message size exceeds fixed maximum message size")
			}
			env.Size = n
		case "BODY":
			switch strings.ToUpper(p.Value) {
			case "8BITMIME":
				env.Body8Bit = true
			case "7BIT":
			default:
				return smtp.R(501, smtp.CodeBadParam, "Bad BODY value")
			}
		case "AUTH":
			// RFC 4954 section 5: an AUTH= parameter may be ignored.
		default:
			return smtp.R(555, smtp.CodeBadParam, "MAIL FROM parameter "+p.Key+" not recognized")
		}
	}
	ss.env = env
	ss.st = stateMail
	return smtp.R(250, smtp.CodeSenderOK, from.String()+"... Sender ok")
}

// rcpt: RFC 5321 section 4.1.1.3. The Backend decides; relaying is its call.
func (ss *session) rcpt(arg string) *smtp.Reply {
	to, params, err := smtp.ParseMailArg(arg, "TO")
	if err != nil {
		return smtp.R(501, smtp.CodeBadSyntax, "Syntax error in RCPT TO: "+strings.TrimPrefix(err.Error(), "smtp: "))
	}
	if len(params) > 0 {
		return smtp.R(555, smtp.CodeBadParam, "RCPT TO parameter "+params[0].Key+" not recognized")
	}
	if len(ss.env.To) >= lifecycle.OrDefault(ss.srv.MaxRecipients, DefaultMaxRecipients) {
		// RFC 5321 section 4.5.3.1.10: 452 for too many recipients.
		return smtp.R(452, smtp.CodeTooManyRcpts, "Too many recipients")
	}
	if err := ss.srv.Backend.Rcpt(&ss.info, ss.env.From, to.Mailbox); err != nil {
		return replyOf(err, 451, smtp.CodeSystem)
	}
	ss.env.To = append(ss.env.To, to.Mailbox)
	ss.st = stateRcpt
	return smtp.R(250, smtp.CodeRcptOK, to.String()+"... Recipient ok")
}

// replyOf turns a backend error into a reply: a *smtp.Reply as it is,
// anything else as a temporary failure (the client will retry).
func replyOf(err error, code int, e smtp.EnhancedCode) *smtp.Reply {
	var r *smtp.Reply
	if errors.As(err, &r) {
		return r
	}
	return smtp.R(code, e, "Local error in processing, try again later")
}

// data: RFC 5321 section 4.1.1.4. The body streams into the Backend's
// Delivery; 250 only after Commit.
func (ss *session) data(arg string) *smtp.Reply {
	if arg != "" {
		return smtp.R(501, smtp.CodeSyntax, "DATA takes no argument")
	}
	d, err := ss.srv.Backend.Open(&ss.info, &ss.env)
	if err != nil {
		ss.resetTransaction()
		return replyOf(err, 451, smtp.CodeSystem)
	}
	ss.reply(smtp.R(354, smtp.EnhancedCode{}, "Enter mail, end with \".\" on a line by itself"))
	if !ss.flush() {
		d.Abort()
		return nil
	}
	io.WriteString(d, ss.received(d.ID()))
	var w io.Writer = d
	var lr *lineRecorder
	if ss.tr.Enabled() {
		lr = &lineRecorder{tr: ss.tr}
		w = io.MultiWriter(d, lr)
	}
	ss.r.timeout = lifecycle.OrDefault(ss.srv.DataTimeout, DefaultDataTimeout)
	n, err := smtp.ReadData(ss.br, w, ss.srv.maxBytes())
	if lr != nil {
		lr.end()
	}
	env := ss.env
	ss.resetTransaction()
	switch {
	case errors.Is(err, smtp.ErrTooBig):
		d.Abort()
		return smtp.R(552, smtp.CodeTooBig, "Message exceeds fixed maximum message size")
	case errors.Is(err, smtp.ErrBareLF), errors.Is(err, smtp.ErrBareCR), errors.Is(err, smtp.ErrNULByte):
		d.Abort()
		return lineReply(err)
	case err != nil:
		d.Abort()
		ss.readFailed(err)
		ss.closed = true
		return nil
	}
	if err := d.Commit(); err != nil {
		ss.srv.logger().Error("smtp: message not stored", "id", d.ID(), "err", err)
		return replyOf(err, 451, smtp.CodeSystem)
	}
	ss.srv.logger().Debug("smtp: message accepted", "id", d.ID(), "from", env.From.String(), "rcpts", len(env.To), "bytes", n)
	return smtp.R(250, smtp.CodeOK, "Message accepted for delivery, queued as "+d.ID())
}

// lineReply refuses a body whose lines do not all end in CRLF, or that
// holds NUL bytes (RFC 5321 section 2.3.8). Refused, not repaired: a
// message that one hop normalises and another passes on as it is, is how
// SMTP smuggling gets through (see docs/mail.md).
func lineReply(err error) *smtp.Reply {
	switch {
	case errors.Is(err, smtp.ErrBareLF):
		return smtp.R(550, smtp.EnhancedCode{5, 6, 0}, "Message contains bare LF; lines must end with CRLF")
	case errors.Is(err, smtp.ErrBareCR):
		return smtp.R(550, smtp.EnhancedCode{5, 6, 0}, "Message contains bare CR; lines must end with CRLF")
	default:
		return smtp.R(554, smtp.EnhancedCode{5, 6, 0}, "Message contains NUL bytes")
	}
}

// received builds the trace field every server adds (RFC 5321 section
// 4.4; the "with" keywords are from RFC 3848).
func (ss *session) received(id string) string {
	with := "SMTP"
	if ss.info.ESMTP {
		with = "ESMTP"
		if ss.info.TLS {
			with += "S"
		}
		if ss.info.User != "" {
			with += "A"
		}
	}
	ip := ss.info.RemoteAddr.String()
	if h, _, err := net.SplitHostPort(ip); err == nil {
		ip = h
	}
	var rcpt string
	if len(ss.env.To) == 1 {
		rcpt = "\r\n\tfor " + "<" + ss.env.To[0].String() + ">"
	}
	return fmt.Sprintf("Received: from %s ([%s])\r\n\tby %s (applayer) with %s id %s%s;\r\n\t%s\r\n",
		sanitize(ss.info.Helo), ip, ss.srv.hostname(), with, id, rcpt, time.Now().Format(time.RFC1123Z))
}

// sanitize keeps a client-chosen name from breaking the header.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r <= ' ' || r >= 127 || r == '(' || r == ')' || r == ';' {
			return '_'
		}
		return r
	}, s)
}

func (ss *session) rset(arg string) *smtp.Reply {
	ss.resetTransaction()
	return smtp.R(250, smtp.CodeOK, "Reset state")
}

// vrfy answers 252: cannot verify, but will accept and attempt delivery
// (RFC 5321 section 3.5.3), so VRFY leaks no user list.
func (ss *session) vrfy(arg string) *smtp.Reply {
	return smtp.R(252, smtp.EnhancedCode{2, 5, 0}, "Cannot VRFY user, but will accept message and attempt delivery")
}

func (ss *session) expn(arg string) *smtp.Reply {
	return smtp.R(502, smtp.CodeInvalidCmd, "EXPN not implemented")
}

func (ss *session) help(arg string) *smtp.Reply {
	return smtp.R(214, smtp.EnhancedCode{2, 0, 0}, "Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP VRFY QUIT STARTTLS AUTH HELP")
}

func (ss *session) noop(arg string) *smtp.Reply { return smtp.R(250, smtp.CodeOK, "OK") }

func (ss *session) quit(arg string) *smtp.Reply {
	return smtp.R(221, smtp.EnhancedCode{2, 0, 0}, ss.srv.hostname()+" closing connection")
}

// starttls: RFC 3207 section 4. Anything the client pipelined after the
// command is discarded with the plaintext buffer (section 4.2 and the
// command-injection lesson of CVE-2011-0411), and the session starts over.
func (ss *session) starttls(arg string) *smtp.Reply {
	if ss.srv.TLSConfig == nil {
		return smtp.R(502, smtp.CodeInvalidCmd, "STARTTLS not available")
	}
	if ss.info.TLS {
		return smtp.R(503, smtp.CodeInvalidCmd, "TLS already active")
	}
	if arg != "" {
		return smtp.R(501, smtp.CodeSyntax, "STARTTLS takes no argument")
	}
	ss.reply(smtp.R(220, smtp.EnhancedCode{2, 0, 0}, "Ready to start TLS"))
	if !ss.flush() {
		return nil
	}
	tc := tls.Server(ss.conn, ss.srv.TLSConfig)
	tc.SetDeadline(time.Now().Add(lifecycle.OrDefault(ss.srv.CommandTimeout, DefaultCommandTimeout)))
	if err := tc.Handshake(); err != nil {
		ss.tr.Note("TLS handshake failed: " + err.Error())
		ss.closed = true
		return nil
	}
	tc.SetDeadline(time.Time{})
	ss.tr.Note("TLS established: " + tls.VersionName(tc.ConnectionState().Version))
	ss.setConn(tc)
	ss.info = Session{RemoteAddr: ss.info.RemoteAddr, Submission: ss.srv.Submission, TLS: true}
	ss.st = stateInit
	ss.env = Envelope{}
	return nil
}

// lineRecorder records the DATA body line by line in the transcript.
type lineRecorder struct {
	tr  *transcript.Session
	buf []byte
}

func (l *lineRecorder) Write(p []byte) (int, error) {
	for _, c := range p {
		if c == '\n' {
			l.tr.Client(strings.TrimSuffix(string(l.buf), "\r"))
			l.buf = l.buf[:0]
			continue
		}
		if len(l.buf) < transcript.MaxText+1 {
			l.buf = append(l.buf, c)
		}
	}
	return len(p), nil
}

func (l *lineRecorder) end() {
	if len(l.buf) > 0 {
		l.tr.Client(string(l.buf))
	}
	l.tr.Client(".")
}
