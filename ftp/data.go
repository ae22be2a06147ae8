package ftp

import (
	"bufio"
	"cmp"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/applayer/applayer/internal/lifecycle"
)

// --- data connection setup ---

func (ss *session) port(arg string) Reply {
	if ss.epsvAll {
		return Reply{503, "PORT not allowed after EPSV ALL."}
	}
	ap, err := ParseHostPort(arg)
	if err != nil {
		return Reply{501, "Illegal PORT command."}
	}
	return ss.setActive(ap)
}

func (ss *session) eprt(arg string) Reply {
	if ss.epsvAll {
		return Reply{503, "EPRT not allowed after EPSV ALL."}
	}
	ap, err := ParseEPRT(arg)
	if err != nil {
		return Reply{501, "Illegal EPRT command."}
	}
	return ss.setActive(ap)
}

// setActive accepts an active-mode address only on the client's own address
// and an unprivileged port: no FTP bounce (RFC 2577 section 3).
func (ss *session) setActive(ap netip.AddrPort) Reply {
	if ap.Addr().Unmap() != ss.clientAddr() {
		ss.tr.Note("PORT to another host refused: " + ap.String())
		return Reply{500, "Illegal PORT command: not your address."}
	}
	if ap.Port() < 1024 {
		return Reply{500, "Illegal PORT command: privileged port."}
	}
	ss.closePasv()
	ss.active = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	return Reply{200, "PORT command successful. Consider using PASV."}
}

func (ss *session) listenPasv() (net.Listener, error) {
	ss.closePasv()
	ss.active = netip.AddrPort{}
	host := ss.localAddr()
	lo, hi := ss.srv.PasvMinPort, ss.srv.PasvMaxPort
	if lo <= 0 || hi < lo || hi > 65535 {
		return net.Listen("tcp", netip.AddrPortFrom(host, 0).String())
	}
	// Start at a random port of the range, then walk it.
	n := hi - lo + 1
	start := rand.IntN(n)
	var err error
	for i := 0; i < n && i < 256; i++ {
		p := lo + (start+i)%n
		var l net.Listener
		if l, err = net.Listen("tcp", netip.AddrPortFrom(host, uint16(p)).String()); err == nil {
			return l, nil
		}
	}
	return nil, err
}

func (ss *session) pasvCmd(string) Reply {
	if ss.epsvAll {
		return Reply{503, "PASV not allowed after EPSV ALL."}
	}
	if !ss.localAddr().Is4() {
		return Reply{425, "PASV needs IPv4; use EPSV."}
	}
	l, err := ss.listenPasv()
	if err != nil {
		return Reply{425, "Can't open passive connection."}
	}
	ss.pasv = l
	port := l.Addr().(*net.TCPAddr).Port
	host := ss.localAddr()
	if a := ss.srv.PasvAddress; a.IsValid() && a.Unmap().Is4() {
		host = a.Unmap()
	}
	return Reply{227, "Entering Passive Mode (" + FormatHostPort(netip.AddrPortFrom(host, uint16(port))) + ")."}
}

func (ss *session) epsv(arg string) Reply {
	arg = strings.TrimSpace(arg)
	switch {
	case strings.EqualFold(arg, "ALL"):
		ss.epsvAll = true
		return Reply{200, "EPSV ALL ok."}
	case arg == "":
	case arg == "1" && ss.localAddr().Is4(), arg == "2" && ss.localAddr().Is6():
	case arg == "1" || arg == "2":
		if ss.localAddr().Is4() {
			return Reply{522, "Network protocol not supported, use (1)"}
		}
		return Reply{522, "Network protocol not supported, use (2)"}
	default:
		return Reply{501, "Bad EPSV argument."}
	}
	l, err := ss.listenPasv()
	if err != nil {
		return Reply{425, "Can't open passive connection."}
	}
	ss.pasv = l
	return Reply{229, fmt.Sprintf("Entering Extended Passive Mode (|||%d|)", l.Addr().(*net.TCPAddr).Port)}
}

// transfer is a data transfer running on its own goroutine.
type transfer struct {
	done    chan struct{}
	aborted atomic.Bool
	n       atomic.Int64

	mu   sync.Mutex
	ln   net.Listener
	data net.Conn
}

func (x *transfer) finished() bool {
	select {
	case <-x.done:
		return true
	default:
		return false
	}
}

// stop aborts the transfer: its sockets are closed, which wakes it.
func (x *transfer) stop() {
	x.aborted.Store(true)
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.ln != nil {
		x.ln.Close()
	}
	if x.data != nil {
		x.data.Close()
	}
}

func (x *transfer) setData(c net.Conn) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.data = c
	return !x.aborted.Load()
}

// errDataConn is a data connection that could not be made.
var errDataConn = errors.New("ftp: no data connection")

// openData waits for (passive) or makes (active) the data connection, and
// starts TLS on it under PROT P. Passive connections from any address but
// the client's are closed, and the wait goes on.
func (ss *session) openData(x *transfer, ln net.Listener, active netip.AddrPort) (net.Conn, *net.TCPConn, error) {
	dt := lifecycle.OrDefault(ss.srv.DataTimeout, DefaultDataTimeout)
	var c net.Conn
	switch {
	case ln != nil:
		defer ln.Close()
		deadline := time.Now().Add(dt)
		ln.(*net.TCPListener).SetDeadline(deadline)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return nil, nil, errDataConn
			}
			if ap, err := netip.ParseAddrPort(conn.RemoteAddr().String()); err != nil || ap.Addr().Unmap() != ss.clientAddr() {
				ss.tr.Note("data connection from another address refused: " + conn.RemoteAddr().String())
				conn.Close()
				continue
			}
			c = conn
			break
		}
	case active.IsValid():
		d := net.Dialer{Timeout: dt, LocalAddr: &net.TCPAddr{IP: ss.localAddr().AsSlice()}}
		conn, err := d.Dial("tcp", active.String())
		if err != nil {
			return nil, nil, errDataConn
		}
		c = conn
	default:
		return nil, nil, errDataConn
	}
	ss.tr.Note("data connection " + c.LocalAddr().String() + " <-> " + c.RemoteAddr().String())
	tcp, _ := c.(*net.TCPConn)
	if !x.setData(c) {
		c.Close()
		return nil, nil, errDataConn
	}
	return c, tcp, nil
}

// startTLS protects a data connection (PROT P) once the 150 is sent, which
// is when clients (Python's ftplib) begin the handshake. Unless
// NoTLSResumption, the client must resume this control connection's TLS
// session (see sessionTLSConfig).
func (ss *session) startTLS(x *transfer, c net.Conn) (net.Conn, error) {
	dt := lifecycle.OrDefault(ss.srv.DataTimeout, DefaultDataTimeout)
	tc := tls.Server(c, ss.tlsCfg)
	c.SetDeadline(time.Now().Add(dt))
	if err := tc.Handshake(); err != nil {
		ss.tr.Note("data TLS handshake failed: " + err.Error())
		c.Close()
		return nil, errTLSData
	}
	c.SetDeadline(time.Time{})
	if !tc.ConnectionState().DidResume && !ss.srv.NoTLSResumption {
		ss.tr.Note("data connection did not resume the control connection's TLS session")
		tc.Close()
		return nil, errTLSReuse
	}
	x.setData(tc)
	return tc, nil
}

var (
	errTLSData  = errors.New("ftp: data TLS handshake failed")
	errTLSReuse = errors.New("ftp: TLS session not resumed")
)

// startTransfer sends 150 once the data connection is there, runs fn on it
// and answers 226, or 425/426/451/552 when it could not be done. It runs on
// its own goroutine so that ABOR and STAT are read meanwhile.
func (ss *session) startTransfer(what string, fn func(c net.Conn, tcp *net.TCPConn, x *transfer) error, cleanup func(ok bool) bool) Reply {
	if ss.pasv == nil && !ss.active.IsValid() {
		if cleanup != nil {
			cleanup(false)
		}
		return Reply{425, "Use PORT, PASV or EPSV first."}
	}
	if ss.srv.RequireTLS && !ss.anon && !ss.protP {
		ss.closePasv()
		if cleanup != nil {
			cleanup(false)
		}
		return Reply{521, "Data connections must be encrypted (PROT P)."}
	}
	x := &transfer{done: make(chan struct{}), ln: ss.pasv}
	ln, active := ss.pasv, ss.active
	ss.pasv, ss.active = nil, netip.AddrPort{}
	ss.xfer = x
	go func() {
		// Close (or a Shutdown whose context ended) aborts transfers.
		select {
		case <-x.done:
		case <-ss.srv.closing():
			x.stop()
		}
	}()
	go func() {
		defer close(x.done)
		r := ss.runTransfer(x, ln, active, what, fn)
		if cleanup != nil {
			// Before the reply: a 226 for an upload means the file is
			// in place under its name.
			if !cleanup(r.Code == 226) && r.Code == 226 {
				r = Reply{451, "Local error in processing."}
			}
		}
		ss.reply(r)
	}()
	return Reply{}
}

func (ss *session) runTransfer(x *transfer, ln net.Listener, active netip.AddrPort, what string, fn func(c net.Conn, tcp *net.TCPConn, x *transfer) error) Reply {
	c, tcp, err := ss.openData(x, ln, active)
	if err != nil {
		if x.aborted.Load() {
			return Reply{426, "Connection closed; transfer aborted."}
		}
		return Reply{425, "Can't open data connection."}
	}
	ss.reply(Reply{150, what})
	if ss.protP {
		tcp = nil
		if c, err = ss.startTLS(x, c); err != nil {
			switch {
			case x.aborted.Load():
				return Reply{426, "Connection closed; transfer aborted."}
			case errors.Is(err, errTLSReuse):
				return Reply{522, "TLS session of data connection not resumed."}
			}
			return Reply{522, "TLS negotiation failed on the data connection."}
		}
	}
	err = fn(c, tcp, x)
	if cerr := c.Close(); err == nil && cerr != nil {
		err = cerr
	}
	switch {
	case x.aborted.Load():
		return Reply{426, "Connection closed; transfer aborted."}
	case errors.Is(err, errTooBig):
		return Reply{552, "Exceeded storage allocation."}
	case errors.Is(err, errLocal):
		return Reply{451, "Local error in processing."}
	case err != nil:
		return Reply{426, "Connection closed; transfer aborted."}
	}
	return Reply{226, "Transfer complete."}
}

// errLocal marks a failure on the server's side (disk) rather than the
// connection's; errTooBig an upload over MaxUploadBytes.
var (
	errLocal  = errors.New("ftp: local error")
	errTooBig = errors.New("ftp: upload too big")
)

func (ss *session) abor(string) Reply {
	if ss.xfer == nil || ss.xfer.finished() {
		ss.waitTransfer()
		ss.closePasv()
		return Reply{225, "No transfer to ABOR."}
	}
	ss.xfer.stop()
	ss.waitTransfer()
	return Reply{226, "ABOR successful."}
}

// --- transfers ---

const sendChunk = 32 << 20 // bytes per sendfile call, between deadline moves

func (ss *session) retr(arg string) Reply {
	rest := ss.rest
	ss.rest = 0
	_, rel, err := ss.resolve(arg)
	if err != nil {
		return fsError(err)
	}
	f, err := ss.root.Open(rel)
	if err != nil {
		return fsError(err)
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return Reply{550, "Not a plain file."}
	}
	if rest > 0 {
		if _, err := f.Seek(rest, io.SeekStart); err != nil {
			f.Close()
			return Reply{554, "Invalid REST position."}
		}
	}
	mode := "ASCII"
	if ss.binary {
		mode = "BINARY"
	}
	what := fmt.Sprintf("Opening %s mode data connection for %s (%d bytes).", mode, path.Base("/"+arg), fi.Size())
	dt := lifecycle.OrDefault(ss.srv.DataTimeout, DefaultDataTimeout)
	binary := ss.binary
	return ss.startTransfer(what, func(c net.Conn, tcp *net.TCPConn, x *transfer) error {
		if binary && tcp != nil {
			// sendfile(2): io.Copy from *os.File (under a LimitedReader)
			// to *net.TCPConn, a chunk per write deadline.
			for {
				tcp.SetWriteDeadline(time.Now().Add(dt))
				n, err := io.CopyN(tcp, f, sendChunk)
				x.n.Add(n)
				if err == io.EOF {
					return nil
				}
				if err != nil {
					return err
				}
			}
		}
		w := io.Writer(&deadlineWriter{c: c, d: dt, n: &x.n})
		if !binary {
			w = &crlfWriter{w: w}
		}
		buf := make([]byte, 256<<10)
		_, err := io.CopyBuffer(w, onlyReader{f}, buf)
		return err
	}, func(bool) bool { f.Close(); return true })
}

// onlyReader hides a reader's other methods (WriteTo), so that io.Copy uses
// the buffer it was given.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// deadlineWriter moves a write deadline before each write and counts bytes.
type deadlineWriter struct {
	c net.Conn
	d time.Duration
	n *atomic.Int64
}

func (w *deadlineWriter) Write(p []byte) (int, error) {
	w.c.SetWriteDeadline(time.Now().Add(w.d))
	n, err := w.c.Write(p)
	w.n.Add(int64(n))
	return n, err
}

// crlfWriter converts LF to CRLF (ASCII type, RFC 959 section 3.1.1.1),
// leaving CRLF as it is.
type crlfWriter struct {
	w   io.Writer
	cr  bool // last byte written was CR
	buf []byte
}

func (c *crlfWriter) Write(p []byte) (int, error) {
	c.buf = c.buf[:0]
	for _, b := range p {
		if b == '\n' && !c.cr {
			c.buf = append(c.buf, '\r')
		}
		c.buf = append(c.buf, b)
		c.cr = b == '\r'
	}
	if _, err := c.w.Write(c.buf); err != nil {
		return 0, err
	}
	return len(p), nil
}

// lfWriter converts CRLF to LF (ASCII uploads); a CR not followed by LF is
// kept.
type lfWriter struct {
	w   io.Writer
	cr  bool // a CR is held back
	buf []byte
}

func (l *lfWriter) Write(p []byte) (int, error) {
	l.buf = l.buf[:0]
	for _, b := range p {
		if l.cr {
			l.cr = false
			if b != '\n' {
				l.buf = append(l.buf, '\r')
			}
		}
		if b == '\r' {
			l.cr = true
			continue
		}
		l.buf = append(l.buf, b)
	}
	if _, err := l.w.Write(l.buf); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (l *lfWriter) flush() error {
	if l.cr {
		l.cr = false
		_, err := l.w.Write([]byte{'\r'})
		return err
	}
	return nil
}

// receive copies the data connection into f, bounded by limit bytes
// (0: no bound).
func (ss *session) receive(c net.Conn, tcp *net.TCPConn, f *os.File, binary bool, x *transfer, limit int64) error {
	dt := lifecycle.OrDefault(ss.srv.DataTimeout, DefaultDataTimeout)
	var total int64
	if binary && tcp != nil {
		// splice(2) from the socket into the file, a chunk per deadline.
		for {
			tcp.SetReadDeadline(time.Now().Add(dt))
			chunk := int64(sendChunk)
			if limit > 0 {
				chunk = min(chunk, limit-total+1)
			}
			n, err := f.ReadFrom(io.LimitReader(tcp, chunk))
			total += n
			x.n.Add(n)
			if limit > 0 && total > limit {
				return errTooBig
			}
			if err != nil {
				return wrapWriteErr(err)
			}
			if n < chunk {
				return nil
			}
		}
	}
	var w io.Writer = f
	var lw *lfWriter
	if !binary {
		lw = &lfWriter{w: f}
		w = lw
	}
	buf := make([]byte, 256<<10)
	for {
		c.SetReadDeadline(time.Now().Add(dt))
		n, err := c.Read(buf)
		if n > 0 {
			total += int64(n)
			x.n.Add(int64(n))
			if limit > 0 && total > limit {
				return errTooBig
			}
			if _, werr := w.Write(buf[:n]); werr != nil {
				return errLocal
			}
		}
		if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
			if lw != nil && lw.flush() != nil {
				return errLocal
			}
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// wrapWriteErr tells a disk error from a network one after File.ReadFrom.
func wrapWriteErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return errLocal
	}
	return err
}

func (ss *session) stor(arg string) Reply { return ss.upload(arg, false) }
func (ss *session) appe(arg string) Reply { return ss.upload(arg, true) }

func (ss *session) upload(arg string, appendTo bool) Reply {
	rest := ss.rest
	ss.rest = 0
	if !ss.writable() {
		return errDenied
	}
	virt, rel, err := ss.resolve(arg)
	if err != nil || rel == "." || strings.HasPrefix(path.Base(rel), tmpPrefix) {
		return errDenied
	}
	var old int64 // the size of the file the upload replaces or extends
	if fi, err := ss.root.Stat(rel); err == nil {
		if !fi.Mode().IsRegular() {
			return Reply{550, "Not a plain file."}
		}
		old = fi.Size()
	}
	limit, over := ss.uploadLimit(appendTo || rest > 0, old)
	if over {
		return Reply{552, "Exceeded storage allocation (quota)."}
	}
	var f *os.File
	var commit func(ok bool) bool
	// keep is the length an upload in place is cut back to when it goes
	// over its limit: what the file held before it.
	keep := int64(-1)
	switch {
	case appendTo:
		f, err = ss.root.OpenFile(rel, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return fsError(err)
		}
		keep = old
		commit = func(bool) bool { return f.Close() == nil }
	case rest > 0:
		// REST STREAM then STOR (RFC 3659 section 5): resume in place.
		f, err = ss.root.OpenFile(rel, os.O_WRONLY, 0)
		if err != nil {
			return fsError(err)
		}
		if _, err := f.Seek(rest, io.SeekStart); err != nil {
			f.Close()
			return Reply{554, "Invalid REST position."}
		}
		keep = min(rest, old)
		commit = func(ok bool) bool {
			if ok {
				if off, err := f.Seek(0, io.SeekCurrent); err == nil {
					f.Truncate(off)
				}
			}
			return f.Close() == nil
		}
	default:
		tmp := newTmpName(rel)
		f, err = ss.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return fsError(err)
		}
		commit = func(ok bool) bool {
			cerr := f.Close()
			if ok && cerr == nil && ss.root.Rename(tmp, rel) == nil {
				return true
			}
			ss.root.Remove(tmp)
			return false
		}
	}
	binary := ss.binary
	what := fmt.Sprintf("Ok to send data for %s.", virt)
	return ss.startTransfer(what, func(c net.Conn, tcp *net.TCPConn, x *transfer) error {
		err := ss.receive(c, tcp, f, binary, x, limit)
		if errors.Is(err, errTooBig) && keep >= 0 {
			f.Truncate(keep)
		}
		return err
	}, commit)
}

// uploadLimit is how many bytes the next upload may bring: the smaller of
// the user's MaxUploadBytes and what is left of its Quota (counting the
// file a STOR replaces as freed; inPlace uploads keep it). over reports a
// quota already spent. 0 means no bound.
func (ss *session) uploadLimit(inPlace bool, old int64) (limit int64, over bool) {
	maxUp, quota := ss.srv.MaxUploadBytes, ss.srv.Quota
	if l, ok := ss.srv.UserLimits[ss.user]; ok && !ss.anon {
		maxUp, quota = cmp.Or(l.MaxUpload, maxUp), cmp.Or(l.Quota, quota)
	}
	limit = max(maxUp, 0)
	if quota <= 0 {
		return limit, false
	}
	left := quota - ss.usage()
	if !inPlace {
		left += old
	}
	if left <= 0 {
		return 0, true
	}
	if limit == 0 || left < limit {
		limit = left
	}
	return limit, false
}

// usage is the bytes of the regular files under the session's root,
// temporary uploads in progress included; symbolic links are not followed.
func (ss *session) usage() int64 {
	var n int64
	fs.WalkDir(ss.root.FS(), ".", func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// stou stores under a new unique name (RFC 959; RFC 1123 section 4.1.2.9's
// "150 FILE: name").
func (ss *session) stou(arg string) Reply {
	ss.rest = 0
	if !ss.writable() {
		return errDenied
	}
	base := "ftp-upload"
	if arg != "" {
		base = path.Base("/" + arg)
	}
	_, dir, err := ss.resolve(".")
	if err != nil {
		return fsError(err)
	}
	limit, over := ss.uploadLimit(false, 0)
	if over {
		return Reply{552, "Exceeded storage allocation (quota)."}
	}
	var f *os.File
	var name string
	for i := 0; i < 100; i++ {
		name = base
		if i > 0 {
			name = base + "." + strconv.Itoa(i)
		}
		if strings.HasPrefix(name, tmpPrefix) {
			return errDenied
		}
		f, err = ss.root.OpenFile(path.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil || !errors.Is(err, os.ErrExist) {
			break
		}
	}
	if err != nil {
		return fsError(err)
	}
	rel := path.Join(dir, name)
	binary := ss.binary
	return ss.startTransfer("FILE: "+name, func(c net.Conn, tcp *net.TCPConn, x *transfer) error {
		return ss.receive(c, tcp, f, binary, x, limit)
	}, func(ok bool) bool {
		cerr := f.Close()
		if !ok || cerr != nil {
			ss.root.Remove(rel)
			return false
		}
		return true
	})
}

// --- listings ---

type listKind uint8

const (
	listLong  listKind = iota // LIST: ls -l lines
	listNames                 // NLST: names
	listFacts                 // MLSD: RFC 3659 facts
)

// stripListOptions drops ls options ("-la") that clients put before LIST's
// path, as every server does.
func stripListOptions(arg string) string {
	for strings.HasPrefix(arg, "-") {
		_, rest, _ := strings.Cut(arg, " ")
		arg = rest
	}
	return arg
}

func (ss *session) list(arg string) Reply { return ss.listing(stripListOptions(arg), listLong) }
func (ss *session) nlst(arg string) Reply { return ss.listing(stripListOptions(arg), listNames) }
func (ss *session) mlsd(arg string) Reply { return ss.listing(arg, listFacts) }

func (ss *session) listing(arg string, kind listKind) Reply {
	ss.rest = 0
	// Build the listing before the data connection: an error is a 550
	// instead of an empty transfer, and the tree is read once.
	var b strings.Builder
	if err := ss.writeListing(&b, arg, kind); err != nil {
		if errors.Is(err, errNotDir) {
			return Reply{501, "MLSD needs a directory."}
		}
		ss.closePasv()
		return fsError(err)
	}
	out := b.String()
	return ss.startTransfer("Here comes the directory listing.", func(c net.Conn, _ *net.TCPConn, x *transfer) error {
		dt := lifecycle.OrDefault(ss.srv.DataTimeout, DefaultDataTimeout)
		bw := bufio.NewWriterSize(&deadlineWriter{c: c, d: dt, n: &x.n}, 64<<10)
		if _, err := bw.WriteString(out); err != nil {
			return err
		}
		return bw.Flush()
	}, nil)
}

var errNotDir = errors.New("ftp: not a directory")

// writeListing writes the listing of arg (a directory's entries, or one
// file) in CRLF lines.
func (ss *session) writeListing(w io.StringWriter, arg string, kind listKind) error {
	_, rel, err := ss.resolve(arg)
	if err != nil {
		return err
	}
	fi, err := ss.root.Stat(rel)
	if err != nil {
		return err
	}
	now := time.Now()
	if !fi.IsDir() {
		if kind == listFacts {
			return errNotDir
		}
		ss.writeEntry(w, fi, path.Base("/"+rel), arg, kind, now)
		return nil
	}
	d, err := ss.root.Open(rel)
	if err != nil {
		return err
	}
	defer d.Close()
	max := DefaultMaxListEntries
	for max > 0 {
		names, err := d.Readdirnames(1024)
		for _, name := range names {
			if strings.HasPrefix(name, tmpPrefix) {
				continue
			}
			// Lstat through the root, not the directory's path: the
			// entry's metadata cannot come from outside.
			efi, err := ss.root.Lstat(path.Join(rel, name))
			if err != nil {
				continue
			}
			if efi.Mode()&fs.ModeSymlink != 0 && kind != listLong {
				if tfi, err := ss.root.Stat(path.Join(rel, name)); err == nil {
					efi = tfi
				}
			}
			ss.writeEntry(w, efi, name, "", kind, now)
			max--
		}
		if err != nil || len(names) == 0 {
			break
		}
	}
	return nil
}

func (ss *session) writeEntry(w io.StringWriter, fi fs.FileInfo, name, asked string, kind listKind, now time.Time) {
	if strings.ContainsAny(name, "\r\n") {
		return // would break the listing's lines
	}
	switch kind {
	case listLong:
		w.WriteString(listLine(fi, name, now) + "\r\n")
	case listNames:
		if asked != "" {
			name = asked
		}
		w.WriteString(name + "\r\n")
	case listFacts:
		w.WriteString(factLine(fi, name, "", ss.writable()) + "\r\n")
	}
}
