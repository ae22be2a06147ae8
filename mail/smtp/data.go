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
// At most max bytes are written (max <= 0: no limit). A larger body, or one
// with a bare LF or a NUL byte, is still read to its end so the dialogue
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

// DotWriter returns a writer that sends a DATA body to w: it stuffs a dot
// before every line that starts with one, turns bare LF into CRLF, and on
// Close ends the body with CRLF "." CRLF (adding a CRLF first when the body
// did not end with one). It does not close w.
func DotWriter(w *bufio.Writer) io.WriteCloser { return &dotWriter{w: w, bol: true} }

type dotWriter struct {
	w      *bufio.Writer
	bol    bool
	lastCR bool
}

func (d *dotWriter) Write(p []byte) (int, error) {
	for i, c := range p {
		if d.bol && c == '.' {
			d.w.WriteByte('.')
		}
		if c == '\n' && !d.lastCR {
			d.w.WriteByte('\r')
		}
		if err := d.w.WriteByte(c); err != nil {
			return i, err
		}
		d.bol = c == '\n'
		d.lastCR = c == '\r'
	}
	return len(p), nil
}

func (d *dotWriter) Close() error {
	if !d.bol {
		if !d.lastCR {
			d.w.WriteByte('\r')
		}
		d.w.WriteByte('\n')
	}
	_, err := d.w.WriteString(".\r\n")
	return err
}
