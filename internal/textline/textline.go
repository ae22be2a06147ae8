// Package textline reads the CRLF-terminated lines of the Internet's text
// protocols (SMTP, POP3, IMAP, FTP) with a hard bound on line length.
//
// A line longer than the bound is not buffered whole: the reader keeps only
// the bytes its bufio.Reader already holds, discards the rest of the line as
// it arrives, and reports [ErrLineTooLong] once the line has ended, so that
// the protocol can answer with its "line too long" reply and carry on with
// the next line. A gigabyte without a newline therefore costs no more memory
// than the bufio buffer (it does cost time, which the caller bounds with a
// read deadline).
//
// RFC 5321 section 2.3.8 and RFC 3501 section 2.2 require CRLF; a bare LF is
// accepted as a line end (as most servers do for commands) and reported
// through [Reader.BareLF], so that a protocol that must refuse it can.
package textline

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// ErrLineTooLong is returned by ReadLine for a line over the limit. The whole
// line has been consumed; the next ReadLine starts at the following line.
var ErrLineTooLong = errors.New("textline: line too long")

// Reader reads bounded lines. It is not safe for concurrent use.
type Reader struct {
	// R is the buffered source. Its buffer size need not exceed Max.
	R *bufio.Reader
	// Max is the longest line accepted, line terminator included.
	Max int

	line   []byte
	bareLF bool
}

// NewReader returns a Reader over r with a bufio buffer of at least 4 KiB and
// a line limit of max bytes.
func NewReader(r io.Reader, max int) *Reader {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 4096)
	}
	return &Reader{R: br, Max: max}
}

// ReadLine returns the next line without its terminator (CRLF or bare LF).
// The returned slice is valid until the next call. At the end of input, a
// final line without terminator is returned with io.ErrUnexpectedEOF; an
// empty end gives io.EOF.
func (r *Reader) ReadLine() ([]byte, error) {
	r.line = r.line[:0]
	tooLong := false
	for {
		chunk, err := r.R.ReadSlice('\n')
		if !tooLong {
			if len(r.line)+len(chunk) > r.Max {
				tooLong = true
				r.line = r.line[:0]
			} else {
				r.line = append(r.line, chunk...)
			}
		}
		switch {
		case err == nil:
			if tooLong {
				return nil, ErrLineTooLong
			}
			return r.trim(), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if len(r.line) == 0 && !tooLong {
				return nil, io.EOF
			}
			return nil, io.ErrUnexpectedEOF
		default:
			return nil, err
		}
	}
}

func (r *Reader) trim() []byte {
	l := r.line[:len(r.line)-1] // the LF
	r.bareLF = true
	if n := len(l); n > 0 && l[n-1] == '\r' {
		l = l[:n-1]
		r.bareLF = false
	}
	return l
}

// BareLF reports whether the last line returned ended with LF alone.
func (r *Reader) BareLF() bool { return r.bareLF }

// Buffered reports how many bytes are waiting in the buffer: a server that
// supports pipelining (RFC 2920) flushes its replies only when this is zero.
func (r *Reader) Buffered() int { return r.R.Buffered() }

// LineWaiting reports whether a whole line is already buffered in br: a
// pipelining server holds its replies back only then (RFC 2920 §3.1, RFC
// 2449 §6.6), never for a partial line, whose end may wait for them.
func LineWaiting(br *bufio.Reader) bool {
	n := br.Buffered()
	if n == 0 {
		return false
	}
	b, _ := br.Peek(n)
	return bytes.IndexByte(b, '\n') >= 0
}
