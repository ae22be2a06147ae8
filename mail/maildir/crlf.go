package maildir

import (
	"bufio"
	"bytes"
	"io"
	"os"
)

// CRLFReader reads a stored message as POP3 and IMAP send it: every line
// ending in CRLF. A bare LF (a message stored by a program that writes
// LF, as Dovecot's LDA does) becomes CRLF, and a last line without a line
// end gets one. The messages applayer's SMTP server stores already end
// every line in CRLF and pass through unchanged.
func CRLFReader(r io.Reader) io.Reader {
	return &crlfReader{r: bufio.NewReaderSize(r, 32<<10)}
}

type crlfReader struct {
	r       *bufio.Reader
	prevCR  bool // the last byte given out was CR
	any     bool // something was given out
	lastLF  bool // the last byte given out was LF
	pending []byte
	eof     bool
}

func (c *crlfReader) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	if c.eof {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) {
		chunk, err := c.r.Peek(min(c.r.Buffered(), len(p)-n))
		if len(chunk) == 0 {
			if _, err = c.r.Peek(1); err != nil {
				if n > 0 {
					return n, nil
				}
				if err == io.EOF {
					c.eof = true
					if c.any && !c.lastLF {
						if c.prevCR {
							c.pending = []byte("\n")
						} else {
							c.pending = []byte("\r\n")
						}
						return c.Read(p)
					}
				}
				return 0, err
			}
			continue
		}
		i := bytes.IndexByte(chunk, '\n')
		if i < 0 {
			m := copy(p[n:], chunk)
			c.r.Discard(m)
			n += m
			c.note(p[n-1])
			continue
		}
		// Copy up to the LF, then the LF with a CR before it if needed.
		crBefore := i > 0 && chunk[i-1] == '\r' || i == 0 && c.prevCR
		need := i + 1
		if !crBefore {
			need++
		}
		if n+need > len(p) {
			if n > 0 {
				return n, nil
			}
			// p is too small for this line's end: give the part before.
			if i > 0 {
				m := copy(p, chunk[:i])
				c.r.Discard(m)
				c.note(p[m-1])
				return m, nil
			}
			// The LF itself, with its CR, through pending.
			c.r.Discard(1)
			if crBefore {
				c.pending = []byte("\n")
			} else {
				c.pending = []byte("\r\n")
			}
			c.prevCR, c.lastLF, c.any = false, true, true
			return c.Read(p)
		}
		copy(p[n:], chunk[:i])
		n += i
		if !crBefore {
			p[n] = '\r'
			n++
		}
		p[n] = '\n'
		n++
		c.r.Discard(i + 1)
		c.note('\n')
	}
	return n, nil
}

func (c *crlfReader) note(b byte) {
	c.any = true
	c.prevCR = b == '\r'
	c.lastLF = b == '\n'
}

// CRLFSize is the size of the message at path as CRLFReader gives it.
func CRLFSize(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return io.Copy(io.Discard, CRLFReader(f))
}

// ReadCRLF returns the whole message at path with CRLF line ends.
func ReadCRLF(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var b bytes.Buffer
	if st, err := f.Stat(); err == nil {
		b.Grow(int(st.Size()) + 512)
	}
	_, err = io.Copy(&b, CRLFReader(f))
	return b.Bytes(), err
}
