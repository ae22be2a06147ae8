package ftp

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/applayer/applayer/internal/authlimit"
	"github.com/applayer/applayer/internal/lifecycle"
	"github.com/applayer/applayer/internal/textline"
	"github.com/applayer/applayer/internal/transcript"
)

// state is where a session stands in RFC 959 section 6's login sequence.
type state uint8

const (
	stateUser  state = iota // greeted; waiting for USER
	statePass               // USER accepted; waiting for PASS
	stateReady              // logged in
)

func (st state) String() string { return [...]string{"user", "pass", "ready"}[st] }

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

var (
	anyState = in(stateUser, statePass, stateReady)
	loggedIn = in(stateReady)
)

// command is one row of the dispatch table: its handler, the states in
// which it is legal (elsewhere: 530 before login, 503 after), and whether
// it may run while a transfer is in progress (otherwise it waits for the
// transfer's end).
type command struct {
	run            func(*session, string) Reply
	legal          states
	duringTransfer bool
	help           string
}

// commands is the dispatch table. It is built once and never written.
var commands map[string]command

func init() {
	commands = map[string]command{
		"USER": {run: (*session).userCmd, legal: anyState, help: "USER name"},
		"PASS": {run: (*session).passCmd, legal: anyState, help: "PASS password"},
		"ACCT": {run: (*session).acct, legal: anyState},
		"QUIT": {run: (*session).quit, legal: anyState, duringTransfer: true},
		"NOOP": {run: (*session).noop, legal: anyState, duringTransfer: true},
		"SYST": {run: (*session).syst, legal: anyState},
		"FEAT": {run: (*session).feat, legal: anyState},
		"HELP": {run: (*session).help, legal: anyState},
		"OPTS": {run: (*session).opts, legal: anyState},
		"AUTH": {run: (*session).auth, legal: in(stateUser, statePass)},
		"PBSZ": {run: (*session).pbszCmd, legal: anyState},
		"PROT": {run: (*session).prot, legal: anyState},
		"ABOR": {run: (*session).abor, legal: loggedIn, duringTransfer: true},
		"STAT": {run: (*session).stat, legal: loggedIn, duringTransfer: true},
		"PWD":  {run: (*session).pwd, legal: loggedIn},
		"XPWD": {run: (*session).pwd, legal: loggedIn},
		"CWD":  {run: (*session).cwdCmd, legal: loggedIn},
		"XCWD": {run: (*session).cwdCmd, legal: loggedIn},
		"CDUP": {run: (*session).cdup, legal: loggedIn},
		"XCUP": {run: (*session).cdup, legal: loggedIn},
		"MKD":  {run: (*session).mkd, legal: loggedIn},
		"XMKD": {run: (*session).mkd, legal: loggedIn},
		"RMD":  {run: (*session).rmd, legal: loggedIn},
		"XRMD": {run: (*session).rmd, legal: loggedIn},
		"DELE": {run: (*session).dele, legal: loggedIn},
		"RNFR": {run: (*session).rnfrCmd, legal: loggedIn},
		"RNTO": {run: (*session).rnto, legal: loggedIn},
		"TYPE": {run: (*session).typ, legal: loggedIn},
		"MODE": {run: (*session).mode, legal: loggedIn},
		"STRU": {run: (*session).stru, legal: loggedIn},
		"ALLO": {run: (*session).allo, legal: loggedIn},
		"REST": {run: (*session).restCmd, legal: loggedIn},
		"PORT": {run: (*session).port, legal: loggedIn},
		"EPRT": {run: (*session).eprt, legal: loggedIn},
		"PASV": {run: (*session).pasvCmd, legal: loggedIn},
		"EPSV": {run: (*session).epsv, legal: loggedIn},
		"SIZE": {run: (*session).size, legal: loggedIn},
		"MDTM": {run: (*session).mdtm, legal: loggedIn},
		"MLST": {run: (*session).mlst, legal: loggedIn},
		"SITE": {run: (*session).site, legal: loggedIn},
		"RETR": {run: (*session).retr, legal: loggedIn},
		"STOR": {run: (*session).stor, legal: loggedIn},
		"APPE": {run: (*session).appe, legal: loggedIn},
		"STOU": {run: (*session).stou, legal: loggedIn},
		"LIST": {run: (*session).list, legal: loggedIn},
		"NLST": {run: (*session).nlst, legal: loggedIn},
		"MLSD": {run: (*session).mlsd, legal: loggedIn},
	}
}

// maxAuthFailures closes a session after this many wrong passwords.
const maxAuthFailures = 3

// tmpPrefix names the hidden files uploads are written to before the rename.
const tmpPrefix = ".applayer-ftp-"

type session struct {
	srv  *Server
	raw  net.Conn // the tracked TCP connection
	conn net.Conn // raw, or the TLS connection over it
	tl   *textline.Reader
	tr   *transcript.Session
	root *os.Root
	// userRoot is the user's own directory under the root (UserDirs),
	// closed with the session.
	userRoot *os.Root

	wmu  sync.Mutex
	wbuf []byte

	state  state
	user   string
	anon   bool
	cwd    string // virtual, clean, starting with "/"
	binary bool
	rest   int64
	rnfr   string // virtual path given to RNFR, or ""

	pasv    net.Listener   // passive socket waiting for the data connection
	active  netip.AddrPort // PORT/EPRT address, when valid
	epsvAll bool

	tlsCfg *tls.Config // per session: tickets bound to this session
	tlsOn  bool
	pbsz   bool
	protP  bool

	xfer *transfer

	errors int
	auths  int
	closed bool
}

func (s *Server) serveConn(c net.Conn) {
	root, err := s.openRoot()
	if err != nil {
		return
	}
	ss := &session{
		srv:    s,
		raw:    c,
		conn:   c,
		root:   root,
		cwd:    "/",
		binary: false,
		tr:     s.Trace.Session("ftp", c.RemoteAddr().String()),
	}
	oobInline(c)
	ss.tl = textline.NewReader(c, lifecycle.OrDefault(s.MaxLine, DefaultMaxLine))
	defer ss.cleanup()
	ss.reply(Reply{220, "applayer FTP server ready."})
	for !ss.closed {
		line, err := ss.readLine()
		if err != nil {
			return
		}
		if line == nil {
			continue
		}
		ss.handle(line)
	}
}

// readLine waits for the next command line. It returns nil, nil for a line
// that was answered already (too long) or a wait that should be retried.
func (ss *session) readLine() ([]byte, error) {
	t := ss.srv.tracker()
	idle := t.Timeout(lifecycle.OrDefault(ss.srv.IdleTimeout, DefaultIdleTimeout))
	if ss.xfer != nil && ss.xfer.finished() {
		ss.waitTransfer()
	}
	if ss.xfer != nil {
		// A transfer is running: the session is busy, not idle, and a
		// quiet control connection is expected.
		ss.raw.SetReadDeadline(time.Now().Add(idle))
		if t.ShuttingDown() {
			ss.waitTransfer()
			return nil, nil
		}
	} else if !t.ReadDeadline(ss.raw, idle) {
		ss.reply(Reply{421, "Server shutting down, closing control connection."})
		ss.closed = true
		return nil, io.EOF
	}
	line, err := ss.tl.ReadLine()
	switch {
	case err == nil:
		t.Busy(ss.raw)
		return line, nil
	case errors.Is(err, textline.ErrLineTooLong):
		ss.reply(Reply{500, "Command line too long."})
		ss.refused()
		return nil, nil
	case errors.Is(err, os.ErrDeadlineExceeded):
		if ss.xfer != nil && !ss.xfer.finished() {
			return nil, nil
		}
		if ss.xfer != nil {
			ss.waitTransfer()
			return nil, nil
		}
		if t.ShuttingDown() {
			ss.reply(Reply{421, "Server shutting down, closing control connection."})
		} else {
			ss.reply(Reply{421, "Timeout."})
		}
		ss.tr.Note("idle timeout or shutdown; closing")
		return nil, err
	default:
		ss.tr.Note("control connection: " + err.Error())
		return nil, err
	}
}

func (ss *session) handle(line []byte) {
	cmd, err := ParseCommand(line)
	if cmd.Verb == "PASS" {
		ss.tr.ClientSecret("PASS ", cmd.Arg)
	} else {
		ss.tr.ClientBytes(append(line, '\r', '\n'))
	}
	if err != nil {
		if errors.Is(err, ErrEmptyCommand) {
			ss.reply(Reply{500, "Empty command."})
		} else {
			ss.reply(Reply{500, "Syntax error, command unrecognized."})
		}
		ss.refused()
		return
	}
	c, ok := commands[cmd.Verb]
	if !ok {
		ss.reply(Reply{502, "Command not implemented."})
		ss.refused()
		return
	}
	if ss.xfer != nil && !c.duringTransfer {
		ss.waitTransfer()
	}
	if !c.legal.has(ss.state) {
		if ss.state != stateReady {
			ss.reply(Reply{530, "Please login with USER and PASS."})
		} else {
			ss.reply(Reply{503, "Bad sequence of commands."})
		}
		ss.refused()
		return
	}
	if cmd.Verb != "RNTO" && cmd.Verb != "RNFR" {
		ss.rnfr = ""
	}
	r := c.run(ss, cmd.Arg)
	if r.Code != 0 {
		ss.reply(r)
		if r.Code >= 500 && r.Code != 550 {
			ss.refused()
		}
	}
}

// refused counts a refused command and closes the session at MaxErrors.
func (ss *session) refused() {
	ss.errors++
	if ss.errors >= lifecycle.OrDefault(ss.srv.MaxErrors, DefaultMaxErrors) {
		ss.reply(Reply{421, "Too many errors, closing control connection."})
		ss.closed = true
	}
}

// reply writes r on the control connection; the transfer goroutine and the
// session's own goroutine share it.
func (ss *session) reply(r Reply) {
	ss.wmu.Lock()
	defer ss.wmu.Unlock()
	ss.wbuf = r.Append(ss.wbuf[:0])
	ss.raw.SetWriteDeadline(time.Now().Add(lifecycle.OrDefault(ss.srv.WriteTimeout, DefaultWriteTimeout)))
	if _, err := ss.conn.Write(ss.wbuf); err != nil {
		ss.tr.Note("write failed: " + err.Error())
		ss.raw.Close()
		return
	}
	ss.tr.ServerBytes(ss.wbuf)
	if r.Code == 421 {
		ss.closed = true
	}
}

func (ss *session) cleanup() {
	if ss.xfer != nil {
		ss.xfer.stop()
		<-ss.xfer.done
		ss.xfer = nil
	}
	ss.closePasv()
	if ss.userRoot != nil {
		ss.userRoot.Close()
	}
}

// validUserDir reports whether a user name can name a directory of the root.
func validUserDir(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, "/\\\x00") && !strings.HasPrefix(name, tmpPrefix)
}

func (ss *session) closePasv() {
	if ss.pasv != nil {
		ss.pasv.Close()
		ss.pasv = nil
	}
}

func (ss *session) waitTransfer() {
	if ss.xfer == nil {
		return
	}
	<-ss.xfer.done
	ss.xfer = nil
}

// clientAddr is the client's IP address.
func (ss *session) clientAddr() netip.Addr {
	if ap, err := netip.ParseAddrPort(ss.raw.RemoteAddr().String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

func (ss *session) localAddr() netip.Addr {
	if ap, err := netip.ParseAddrPort(ss.raw.LocalAddr().String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// writable reports whether the session may change the tree.
func (ss *session) writable() bool { return !ss.anon && !ss.srv.ReadOnly }

var errDenied = Reply{550, "Permission denied."}

// --- login (RFC 959 section 4.1.1) ---

func isAnonymousName(u string) bool {
	u = strings.ToLower(u)
	return u == "anonymous" || u == "ftp"
}

func (ss *session) userCmd(arg string) Reply {
	if ss.state == stateReady {
		// RFC 959 allows a change of user; keep it simple and honest.
		return Reply{530, "Can't change to another user."}
	}
	if arg == "" {
		return Reply{501, "USER needs a name."}
	}
	if ss.srv.RequireTLS && !ss.tlsOn && !(ss.srv.Anonymous && isAnonymousName(arg)) {
		return Reply{530, "Non-anonymous sessions must use encryption (AUTH TLS)."}
	}
	ss.user = arg
	ss.state = statePass
	if ss.srv.Anonymous && isAnonymousName(arg) {
		return Reply{331, "Anonymous login ok, send your e-mail address as password."}
	}
	return Reply{331, "Please specify the password."}
}

func (ss *session) passCmd(arg string) Reply {
	if ss.state != statePass {
		if ss.state == stateReady {
			return Reply{230, "Already logged in."}
		}
		return Reply{503, "Login with USER first."}
	}
	if ss.srv.Anonymous && isAnonymousName(ss.user) {
		ss.state, ss.anon = stateReady, true
		ss.tr.Note("anonymous login")
		return Reply{230, "Login successful (anonymous, read only)."}
	}
	ctx, cancel := ss.shutdownContext()
	defer cancel()
	at, err := ss.srv.lim.Begin(ctx, ss.clientAddr(), ss.user)
	good := false
	if err == nil {
		good = ss.srv.Users != nil && ss.srv.Users.Check(ss.user, arg)
		at.Done(good)
	} else if errors.Is(err, authlimit.ErrTooMany) {
		ss.tr.Note(err.Error())
	}
	if !good {
		if d := ss.srv.AuthFailureDelay; d >= 0 && err == nil {
			select {
			case <-time.After(lifecycle.OrDefault(d, time.Second)):
			case <-ctx.Done():
			}
		}
		ss.state = stateUser
		ss.auths++
		if ss.auths >= maxAuthFailures {
			ss.reply(Reply{530, "Login incorrect."})
			return Reply{421, "Too many failed logins, closing control connection."}
		}
		if err != nil {
			return Reply{421, "Too many failed logins, try again later."}
		}
		return Reply{530, "Login incorrect."}
	}
	if ss.srv.UserDirs {
		// The user's own directory, opened under the root: a jail
		// inside the jail.
		if !validUserDir(ss.user) {
			ss.state = stateUser
			return Reply{530, "Login incorrect."}
		}
		r, err := ss.root.OpenRoot(ss.user)
		if err != nil {
			ss.state = stateUser
			ss.tr.Note("no directory for " + ss.user + ": " + err.Error())
			return Reply{530, "Login incorrect: no home directory."}
		}
		ss.userRoot = r
		ss.root = r
	}
	ss.state = stateReady
	ss.tr.Note("logged in as " + ss.user)
	return Reply{230, "Login successful."}
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

func (ss *session) acct(string) Reply { return Reply{202, "ACCT not needed."} }

func (ss *session) quit(string) Reply {
	if ss.xfer != nil {
		ss.xfer.stop()
		ss.waitTransfer()
	}
	ss.reply(Reply{221, "Goodbye."})
	ss.closed = true
	return Reply{}
}

func (ss *session) noop(string) Reply { return Reply{200, "NOOP ok."} }
func (ss *session) syst(string) Reply { return Reply{215, "UNIX Type: L8"} }

func (ss *session) feat(string) Reply {
	lines := []string{"Features:"}
	if ss.srv.TLSConfig != nil {
		lines = append(lines, "AUTH TLS", "PBSZ", "PROT")
	}
	lines = append(lines, "EPRT", "EPSV", "MDTM", "MLST type*;size*;modify*;perm*;UNIX.mode*;",
		"PASV", "REST STREAM", "SIZE", "TVFS", "UTF8", "End")
	return Reply{211, strings.Join(lines, "\n")}
}

func (ss *session) help(arg string) Reply {
	if arg != "" {
		if c, ok := commands[strings.ToUpper(arg)]; ok {
			h := c.help
			if h == "" {
				h = strings.ToUpper(arg)
			}
			return Reply{214, "Syntax: " + h}
		}
		return Reply{502, "Unknown command " + strings.ToUpper(arg) + "."}
	}
	var names []string
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	lines := []string{"The following commands are recognized."}
	for i := 0; i < len(names); i += 12 {
		lines = append(lines, strings.Join(names[i:min(i+12, len(names))], " "))
	}
	lines = append(lines, "Help OK.")
	return Reply{214, strings.Join(lines, "\n")}
}

func (ss *session) opts(arg string) Reply {
	name, val, _ := strings.Cut(arg, " ")
	switch strings.ToUpper(name) {
	case "UTF8", "UTF-8":
		// RFC 2640: path names are UTF-8 always; ON and OFF change nothing.
		if v := strings.ToUpper(val); v == "ON" || v == "" || v == "OFF" {
			return Reply{200, "Always in UTF8 mode."}
		}
		return Reply{501, "OPTS UTF8 takes ON or OFF."}
	case "MLST":
		return Reply{200, "MLST OPTS type;size;modify;perm;UNIX.mode;"}
	}
	return Reply{501, "Option not understood."}
}

// --- RFC 4217 ---

func (ss *session) auth(arg string) Reply {
	if ss.srv.TLSConfig == nil {
		return Reply{502, "AUTH not available."}
	}
	if ss.tlsOn {
		return Reply{503, "Already using TLS."}
	}
	if m := strings.ToUpper(strings.TrimSpace(arg)); m != "TLS" && m != "TLS-C" && m != "SSL" {
		return Reply{504, "Unknown AUTH type."}
	}
	if ss.tl.Buffered() > 0 {
		// Commands pipelined before the handshake would be read as if
		// they came through it (the STARTTLS injection of CVE-2011-0411).
		return Reply{503, "Commands pipelined after AUTH."}
	}
	ss.reply(Reply{234, "Proceed with negotiation."})
	ss.tlsCfg = ss.sessionTLSConfig()
	tc := tls.Server(ss.raw, ss.tlsCfg)
	ss.raw.SetDeadline(time.Now().Add(lifecycle.OrDefault(ss.srv.DataTimeout, DefaultDataTimeout)))
	err := tc.Handshake()
	ss.raw.SetDeadline(time.Time{})
	if err != nil {
		ss.tr.Note("TLS handshake failed: " + err.Error())
		ss.closed = true
		ss.raw.Close()
		return Reply{}
	}
	ss.wmu.Lock()
	ss.conn = tc
	ss.wmu.Unlock()
	ss.tl = textline.NewReader(tc, lifecycle.OrDefault(ss.srv.MaxLine, DefaultMaxLine))
	ss.tlsOn = true
	ss.state, ss.user = stateUser, ""
	ss.tr.Note("TLS " + tls.VersionName(tc.ConnectionState().Version))
	return Reply{}
}

// sessionTLSConfig clones the server's TLS configuration for one session,
// with session tickets that carry the session's random identity, so that a
// data connection is accepted only when it resumes a TLS session of this
// control connection.
func (ss *session) sessionTLSConfig() *tls.Config {
	cfg := ss.srv.TLSConfig.Clone()
	id := make([]byte, 16)
	rand.Read(id)
	tag := append([]byte("applayer-ftp-session:"), id...)
	cfg.WrapSession = func(cs tls.ConnectionState, st *tls.SessionState) ([]byte, error) {
		st.Extra = append(st.Extra, tag)
		return cfg.EncryptTicket(cs, st)
	}
	cfg.UnwrapSession = func(identity []byte, cs tls.ConnectionState) (*tls.SessionState, error) {
		st, err := cfg.DecryptTicket(identity, cs)
		if err != nil || st == nil {
			return nil, nil
		}
		for _, e := range st.Extra {
			if bytes.Equal(e, tag) {
				return st, nil
			}
		}
		return nil, nil
	}
	return cfg
}

func (ss *session) pbszCmd(arg string) Reply {
	if !ss.tlsOn {
		return Reply{503, "PBSZ needs AUTH TLS first."}
	}
	ss.pbsz = true
	// RFC 4217 section 8: 0 is the only size for a streaming protocol.
	return Reply{200, "PBSZ=0"}
}

func (ss *session) prot(arg string) Reply {
	if !ss.tlsOn {
		return Reply{503, "PROT needs AUTH TLS first."}
	}
	if !ss.pbsz {
		return Reply{503, "PROT needs PBSZ first."}
	}
	switch strings.ToUpper(strings.TrimSpace(arg)) {
	case "P":
		ss.protP = true
		return Reply{200, "PROT now Private."}
	case "C":
		if ss.srv.RequireTLS && !ss.anon && ss.state == stateReady {
			return Reply{534, "PROT C refused: data must be protected."}
		}
		ss.protP = false
		return Reply{200, "PROT now Clear."}
	case "S", "E":
		return Reply{536, "PROT level not supported."}
	}
	return Reply{504, "Unknown PROT level."}
}

// --- paths (every one resolved inside the root) ---

// errBadPath refuses a path the root could never hold.
var errBadPath = errors.New("ftp: bad path")

// resolve turns a client's path into the session's clean virtual path and
// the root-relative name os.Root opens ("." for the root). ".." cannot climb
// above "/": path.Clean of "/.." is "/".
func (ss *session) resolve(arg string) (virt, rel string, err error) {
	if strings.ContainsRune(arg, 0) || len(arg) > 4096 {
		return "", "", errBadPath
	}
	p := arg
	if !strings.HasPrefix(p, "/") {
		p = ss.cwd + "/" + p
	}
	virt = path.Clean("/" + p)
	if strings.HasPrefix(path.Base(virt), tmpPrefix) {
		// Uploads in progress are nobody's to read, rename or delete.
		return "", "", errBadPath
	}
	rel = strings.TrimPrefix(virt, "/")
	if rel == "" {
		rel = "."
	}
	return virt, rel, nil
}

// fsError maps a file-system error to its reply without naming host paths.
func fsError(err error) Reply {
	switch {
	case errors.Is(err, os.ErrNotExist):
		return Reply{550, "No such file or directory."}
	case errors.Is(err, os.ErrExist):
		return Reply{550, "File exists."}
	default:
		// Permission, escapes from the root, symlink loops, not a
		// directory: all the same to the client.
		return errDenied
	}
}

func (ss *session) pwd(string) Reply {
	return Reply{257, quote(ss.cwd) + " is the current directory."}
}

func (ss *session) cwdCmd(arg string) Reply {
	if arg == "" {
		arg = "/"
	}
	virt, rel, err := ss.resolve(arg)
	if err != nil {
		return fsError(err)
	}
	fi, err := ss.root.Stat(rel)
	if err != nil {
		return fsError(err)
	}
	if !fi.IsDir() {
		return Reply{550, "Not a directory."}
	}
	ss.cwd = virt
	return Reply{250, "Directory successfully changed."}
}

func (ss *session) cdup(string) Reply { return ss.cwdCmd("..") }

func (ss *session) mkd(arg string) Reply {
	if !ss.writable() {
		return errDenied
	}
	virt, rel, err := ss.resolve(arg)
	if err != nil || rel == "." {
		return Reply{550, "Create directory operation failed."}
	}
	if err := ss.root.Mkdir(rel, 0o755); err != nil {
		return fsError(err)
	}
	return Reply{257, quote(virt) + " created."}
}

func (ss *session) rmd(arg string) Reply {
	if !ss.writable() {
		return errDenied
	}
	_, rel, err := ss.resolve(arg)
	if err != nil || rel == "." {
		return errDenied
	}
	fi, err := ss.root.Lstat(rel)
	if err != nil {
		return fsError(err)
	}
	if !fi.IsDir() {
		return Reply{550, "Not a directory."}
	}
	if err := ss.root.Remove(rel); err != nil {
		return fsError(err)
	}
	return Reply{250, "Remove directory operation successful."}
}

func (ss *session) dele(arg string) Reply {
	if !ss.writable() {
		return errDenied
	}
	_, rel, err := ss.resolve(arg)
	if err != nil || rel == "." {
		return errDenied
	}
	fi, err := ss.root.Lstat(rel)
	if err != nil {
		return fsError(err)
	}
	if fi.IsDir() {
		return Reply{550, "Is a directory; use RMD."}
	}
	if err := ss.root.Remove(rel); err != nil {
		return fsError(err)
	}
	return Reply{250, "Delete operation successful."}
}

func (ss *session) rnfrCmd(arg string) Reply {
	ss.rnfr = ""
	if !ss.writable() {
		return errDenied
	}
	virt, rel, err := ss.resolve(arg)
	if err != nil || rel == "." {
		return errDenied
	}
	if _, err := ss.root.Lstat(rel); err != nil {
		return fsError(err)
	}
	ss.rnfr = virt
	return Reply{350, "Ready for RNTO."}
}

func (ss *session) rnto(arg string) Reply {
	from := ss.rnfr
	ss.rnfr = ""
	if from == "" {
		return Reply{503, "RNFR required first."}
	}
	_, rel, err := ss.resolve(arg)
	if err != nil || rel == "." {
		return errDenied
	}
	_, fromRel, _ := ss.resolve(from)
	if err := ss.root.Rename(fromRel, rel); err != nil {
		return fsError(err)
	}
	return Reply{250, "Rename successful."}
}

func (ss *session) typ(arg string) Reply {
	f := strings.Fields(strings.ToUpper(arg))
	switch {
	case len(f) >= 1 && f[0] == "I", len(f) == 2 && f[0] == "L" && f[1] == "8":
		ss.binary = true
		return Reply{200, "Switching to Binary mode."}
	case len(f) >= 1 && f[0] == "A" && (len(f) == 1 || f[1] == "N"):
		ss.binary = false
		return Reply{200, "Switching to ASCII mode."}
	case len(f) == 0:
		return Reply{501, "TYPE needs an argument."}
	}
	return Reply{504, "Type not supported."}
}

func (ss *session) mode(arg string) Reply {
	if strings.EqualFold(strings.TrimSpace(arg), "S") {
		return Reply{200, "Mode set to S."}
	}
	return Reply{504, "Only stream mode is supported."}
}

func (ss *session) stru(arg string) Reply {
	if strings.EqualFold(strings.TrimSpace(arg), "F") {
		return Reply{200, "Structure set to F."}
	}
	return Reply{504, "Only file structure is supported."}
}

func (ss *session) allo(string) Reply { return Reply{202, "ALLO not needed."} }

func (ss *session) restCmd(arg string) Reply {
	n, err := strconv.ParseInt(strings.TrimSpace(arg), 10, 64)
	if err != nil || n < 0 {
		return Reply{501, "REST needs a byte count."}
	}
	ss.rest = n
	return Reply{350, fmt.Sprintf("Restart position accepted (%d).", n)}
}

func (ss *session) size(arg string) Reply {
	_, rel, err := ss.resolve(arg)
	if err != nil {
		return fsError(err)
	}
	fi, err := ss.root.Stat(rel)
	if err != nil {
		return fsError(err)
	}
	if !fi.Mode().IsRegular() {
		return Reply{550, "Could not get file size."}
	}
	return Reply{213, strconv.FormatInt(fi.Size(), 10)}
}

func (ss *session) mdtm(arg string) Reply {
	_, rel, err := ss.resolve(arg)
	if err != nil {
		return fsError(err)
	}
	fi, err := ss.root.Stat(rel)
	if err != nil {
		return fsError(err)
	}
	if !fi.Mode().IsRegular() {
		return Reply{550, "Could not get file modification time."}
	}
	return Reply{213, mlsxTime(fi.ModTime())}
}

func (ss *session) mlst(arg string) Reply {
	virt, rel, err := ss.resolve(arg)
	if err != nil {
		return fsError(err)
	}
	fi, err := ss.root.Stat(rel)
	if err != nil {
		return fsError(err)
	}
	return Reply{250, "Listing " + virt + "\n" + factLine(fi, virt, "", ss.writable()) + "\nEnd"}
}

func (ss *session) site(arg string) Reply {
	w, _, _ := strings.Cut(arg, " ")
	if strings.EqualFold(w, "HELP") {
		return Reply{214, "SITE HELP: no SITE commands are offered."}
	}
	return Reply{504, "SITE command not supported."}
}

// stat without an argument reports the session (RFC 959 section 4.1.3),
// during a transfer its progress, and with a path lists it on the control
// connection.
func (ss *session) stat(arg string) Reply {
	if ss.xfer != nil && !ss.xfer.finished() {
		return Reply{213, fmt.Sprintf("Status: %d bytes transferred.", ss.xfer.n.Load())}
	}
	if arg == "" {
		typ := "ASCII"
		if ss.binary {
			typ = "BINARY"
		}
		who := ss.user
		if ss.anon {
			who = "anonymous"
		}
		return Reply{211, strings.Join([]string{
			"FTP server status:",
			"Connected to " + ss.localAddr().String() + " from " + ss.clientAddr().String(),
			"Logged in as " + who,
			"TYPE: " + typ + ", STRUcture: File, MODE: Stream",
			fmt.Sprintf("Control connection TLS: %v, data protection: %v", ss.tlsOn, ss.protP),
			"End of status"}, "\n")}
	}
	var b bytes.Buffer
	b.WriteString("Status of " + arg + ":\n")
	if err := ss.writeListing(&b, arg, listLong); err != nil {
		return fsError(err)
	}
	b.WriteString("End of status")
	return Reply{213, strings.ReplaceAll(b.String(), "\r\n", "\n")}
}

// newTmpName returns a hidden name beside rel for an upload in progress.
func newTmpName(rel string) string {
	b := make([]byte, 8)
	rand.Read(b)
	return path.Join(path.Dir(rel), tmpPrefix+hex.EncodeToString(b)+".part")
}
