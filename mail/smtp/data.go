package smtp

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// Errors reported by ReadData. After each of them except a read error the
// body has been consumed up to and including the terminating CRLF.CRLF, so
// the session can answer and go on.
var (
	ErrTooBig  = errors.New("smtp: message exceeds the size limit")
	ErrBareLF  = errors.New("smtp: bare LF in message (RFC 5321 section 2.3.8)")
	ErrBareCR  = errors.New("smtp: bare CR in message (RFC 5321 section 2.3.8)")
	ErrNULByte = errors.New("smtp: NUL byte in message")
)

// ReadData reads a DATA body (RFC 5321 section 4.1.1.4) from r up to and
// including the line "." and writes it to w with the dot-stuffing removed
// (section 4.5.2) and every line ending in CRLF. The end is recognised only
// as CRLF "." CRLF: neither a "." line ended by a bare LF nor one that
// follows a line ended by a bare LF ("\n.\r\n") ends the body, which closes
// the door on SMTP smuggling (a relay that passes such a sequence on must
// not make us read the rest of its message as commands).
//
// A CR not followed by LF (a bare CR) is refused like a bare LF: a body
// that holds "\r.\r" or "\n.\n" is never accepted, so it can never be
// relayed byte for byte to a server that might take it for the end of
// data (the SMTP smuggling family of 2023).
//
// At most max bytes are written (max <= 0: no limit). A larger body, or one
// with a bare LF, a bare CR or a NUL byte, is still read to its end so the dialogue
// stays in step, but nothing more is written and the first such problem is
// returned. Lines are not held in memory whole: a line longer than r's
// buffer streams through.
//
// It returns the number of bytes written.
func ReadData(r *bufio.Reader, w io.Writer, max int64) (int64, error) {
	var (
		n       int64
		problem error
		bol     = true // at the beginning of a line
		crlfEnd = true // and the line before ended with CRLF (or there was none)
		prevCR  bool   // the previous partial chunk ended with CR
	)
	write := func(b []byte) error {
		if problem != nil {
			return nil
		}
		if max > 0 && n+int64(len(b)) > max {
			problem = ErrTooBig
			return nil
		}
		k, err := w.Write(b)
		n += int64(k)
		return err
	}
	for {
		chunk, err := r.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return n, err
		}
		full := err == nil // chunk ends with LF
		if problem == nil && bytes.IndexByte(chunk, 0) >= 0 {
			problem = ErrNULByte
		}
		if problem == nil && (prevCR && (len(chunk) == 0 || chunk[0] != '\n') || bareCR(chunk)) {
			problem = ErrBareCR
		}
		if bol && len(chunk) > 0 && chunk[0] == '.' {
			if full && len(chunk) == 3 && chunk[1] == '\r' && crlfEnd {
				return n, problem // CRLF.CRLF
			}
			chunk = chunk[1:] // transparency: drop the stuffed dot
		}
		if full {
			crlf := len(chunk) >= 2 && chunk[len(chunk)-2] == '\r' || len(chunk) == 1 && prevCR
			if !crlf {
				if problem == nil {
					problem = ErrBareLF
				}
			}
			if werr := write(chunk); werr != nil {
				return n, werr
			}
			bol, crlfEnd, prevCR = true, crlf, false
			continue
		}
		// A partial line: a CR at its end may belong to the next chunk's
		// CRLF, which is fine either way since we copy bytes as they come.
		if werr := write(chunk); werr != nil {
			return n, werr
		}
		bol = false
		prevCR = len(chunk) > 0 && chunk[len(chunk)-1] == '\r'
	}
}

// bareCR reports whether b holds a CR followed by anything but LF. A CR
// that ends b is the caller's to judge against what comes next.
func bareCR(b []byte) bool {
	for {
		i := bytes.IndexByte(b, '\r')
		if i < 0 || i == len(b)-1 {
			return false
		}
		if b[i+1] != '\n' {
			return true
		}
		b = b[i+2:]
	}
}

// CheckLines returns a writer that passes everything to w and remembers
// the first bare CR, bare LF or NUL byte in what went through (RFC 5321
// section 2.3.8: lines end in CRLF and nowhere else). It is for a body
// that arrives without dot-stuffing, as BDAT chunks do (RFC 3030).
func CheckLines(w io.Writer) *LineChecker { return &LineChecker{w: w} }

// LineChecker is the writer returned by CheckLines.
type LineChecker struct {
	w      io.Writer
	prevCR bool
	err    error
}

func (c *LineChecker) Write(p []byte) (int, error) {
	if c.err == nil && len(p) > 0 {
		switch {
		case bytes.IndexByte(p, 0) >= 0:
			c.err = ErrNULByte
		case c.prevCR && p[0] != '\n' || bareCR(p):
			c.err = ErrBareCR
		default:
			for i, b := range p {
				if b == '\n' && (i == 0 && !c.prevCR || i > 0 && p[i-1] != '\r') {
					c.err = ErrBareLF
					break
				}
			}
		}
		c.prevCR = p[len(p)-1] == '\r'
	}
	return c.w.Write(p)
}

// Err returns the first problem seen, counting a CR at the very end as
// bare: call it once the whole body has been written.
func (c *LineChecker) Err() error {
	if c.err == nil && c.prevCR {
		return ErrBareCR
	}
	return c.err
}

// DotWriter returns a writer that sends a DATA body to w: it stuffs a dot
// before every line that starts with one, turns every bare LF and every
// bare CR into CRLF (so that whatever the body holds, only canonical lines
// leave: nothing the next hop could take for an end of data other than
// ours), and on Close ends the body with CRLF "." CRLF (adding a CRLF
// first when the body did not end with one). It does not close w.
func DotWriter(w *bufio.Writer) io.WriteCloser { return &dotWriter{w: w, bol: true} }

type dotWriter struct {
	w         *bufio.Writer
	bol       bool
	pendingCR bool // a CR was read; the CRLF is written when we see what follows
}

func (d *dotWriter) Write(p []byte) (int, error) {
	for i, c := range p {
		if d.pendingCR {
			d.pendingCR = false
			d.w.WriteString("\r\n")
			d.bol = true
			if c == '\n' {
				continue
			}
		}
		switch c {
		case '\r':
			d.pendingCR = true
			continue
		case '\n':
			d.w.WriteString("\r\n")
			d.bol = true
			continue
		}
		if d.bol && c == '.' {
			d.w.WriteByte('.')
		}
		if err := d.w.WriteByte(c); err != nil {
			return i, err
		}
		d.bol = false
	}
	return len(p), nil
}

func (d *dotWriter) Close() error {
	if d.pendingCR || !d.bol {
		d.w.WriteString("\r\n")
	}
	_, err := d.w.WriteString(".\r\n")
	return err
}
