package web

import (
	"bufio"
	"bytes"
	"io"
	"strconv"
)

// chunkState names where a chunked decoder stands in the body
// (RFC 9112 §7.1):
//
//	chunked-body = *chunk last-chunk trailer-section CRLF
//	chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
type chunkState uint8

const (
	chunkSize    chunkState = iota // expecting a chunk-size line
	chunkData                      // inside chunk-data
	chunkDataEnd                   // expecting the CRLF after chunk-data
	chunkTrailer                   // reading trailer fields after the last chunk
	chunkDone                      // the body has ended
)

func (s chunkState) String() string {
	return [...]string{"chunk-size", "chunk-data", "chunk-data-end", "trailer", "done"}[s]
}

// maxChunkLine bounds a chunk-size line with its extensions.
const maxChunkLine = 4096

// Framing bytes (size lines with their extensions, and the CRLF after each
// chunk's data) are bounded against the data they carry, so that a sender
// cannot make the server read without end while delivering almost nothing:
// one data byte per chunk under a 4 KiB extension, again and again. Each
// chunk is allowed chunkFramingPerChunk bytes of framing plus as many as it
// carries data; beyond that, framing may run ahead of the data by at most
// chunkFramingSlack bytes in all. A byte-per-chunk stream ("1\r\nX\r\n")
// stays well inside the allowance.
const (
	chunkFramingPerChunk = 32
	chunkFramingSlack    = 16 << 10
)

// chunkedReader decodes the chunked transfer coding. Any deviation from the
// grammar is an *Error with status 400, and the reader stays failed: the
// connection cannot be trusted after it.
type chunkedReader struct {
	br       *bufio.Reader
	state    chunkState
	n        int64 // bytes left in the current chunk
	total    int64 // data bytes so far
	limit    int64 // on total; negative: none
	trailer  *Header
	maxTrail int
	err      error
	line     []byte
	// framing counts framing bytes beyond the allowance (see
	// chunkFramingSlack); it never goes below zero.
	framing int64
}

func (c *chunkedReader) reset(br *bufio.Reader, trailer *Header, maxTrailer int, limit int64) {
	*c = chunkedReader{br: br, trailer: trailer, maxTrail: maxTrailer, limit: limit, line: c.line[:0]}
}

// NewChunkedReader returns a reader that decodes a chunked body from br, with
// a limit on the decoded size (negative: none). Trailer fields are appended
// to *trailer when it is not nil.
func NewChunkedReader(br *bufio.Reader, trailer *Header, limit int64) io.Reader {
	c := new(chunkedReader)
	if trailer == nil {
		trailer = new(Header)
	}
	c.reset(br, trailer, DefaultMaxHeaderBytes, limit)
	return c
}

func (c *chunkedReader) fail(status int, reason string) error {
	c.err = errorf(status, reason)
	return c.err
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	for {
		if c.err != nil {
			return 0, c.err
		}
		switch c.state {
		case chunkSize:
			line, err := c.readLine()
			if err != nil {
				return 0, err
			}
			n, err := parseChunkSize(line)
			if err != nil {
				c.err = err
				return 0, err
			}
			c.framing = max(0, c.framing+int64(len(line))+4-chunkFramingPerChunk-n)
			if c.framing > chunkFramingSlack {
				return 0, c.fail(StatusBadRequest, "chunk extensions and framing far larger than the data they carry")
			}
			if n == 0 {
				c.state = chunkTrailer
				continue
			}
			if c.limit >= 0 && c.total+n > c.limit {
				return 0, c.fail(StatusContentTooLarge, "chunked body over the limit of "+strconv.FormatInt(c.limit, 10)+" bytes")
			}
			c.n = n
			c.state = chunkData
		case chunkData:
			if len(p) == 0 {
				return 0, nil
			}
			if int64(len(p)) > c.n {
				p = p[:c.n]
			}
			n, err := c.br.Read(p)
			c.n -= int64(n)
			c.total += int64(n)
			if c.n == 0 {
				c.state = chunkDataEnd
			}
			if err == io.EOF {
				c.err = io.ErrUnexpectedEOF
				err = c.err
			} else if err != nil {
				c.err = err
			}
			return n, err
		case chunkDataEnd:
			b, err := c.br.Peek(2)
			if err != nil {
				return 0, c.ioErr(err)
			}
			if b[0] != '\r' || b[1] != '\n' {
				return 0, c.fail(StatusBadRequest, "chunk data not followed by CRLF (RFC 9112 §7.1)")
			}
			c.br.Discard(2)
			c.state = chunkSize
		case chunkTrailer:
			line, err := c.readLine()
			if err != nil {
				return 0, err
			}
			if len(line) == 0 {
				c.state = chunkDone
				continue
			}
			if err := c.addTrailer(line); err != nil {
				c.err = err
				return 0, err
			}
		case chunkDone:
			return 0, io.EOF
		}
	}
}

func (c *chunkedReader) ioErr(err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	c.err = err
	return err
}

// readLine reads one CRLF-terminated line, bounded by maxChunkLine, and
// returns it without the CRLF. A bare LF or CR is an error (RFC 9112 §7.1
// gives CRLF; accepting LF alone is how chunked smuggling works).
func (c *chunkedReader) readLine() ([]byte, error) {
	c.line = c.line[:0]
	for {
		frag, err := c.br.ReadSlice('\n')
		if len(c.line)+len(frag) > maxChunkLine {
			return nil, c.fail(StatusBadRequest, "chunk line too long")
		}
		c.line = append(c.line, frag...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return nil, c.ioErr(err)
		}
		break
	}
	n := len(c.line)
	if n < 2 || c.line[n-2] != '\r' || bytes.IndexByte(c.line[:n-2], '\r') >= 0 {
		return nil, c.fail(StatusBadRequest, "chunk line does not end in CRLF (RFC 9112 §7.1)")
	}
	if c.state == chunkTrailer {
		c.maxTrail -= n
		if c.maxTrail < 0 {
			return nil, c.fail(StatusHeaderFieldsTooLarge, "trailer section too large")
		}
	}
	return c.line[:n-2], nil
}

func (c *chunkedReader) addTrailer(line []byte) error {
	h, err := parseFields("\x00"+string(line), []int{1, len(line) + 1}, *c.trailer)
	if err != nil {
		return err
	}
	*c.trailer = h
	return nil
}

// parseChunkSize parses chunk-size [ chunk-ext ] (RFC 9112 §7.1.1):
//
//	chunk-size = 1*HEXDIG
//	chunk-ext  = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )
//
// Extensions are checked for syntax and otherwise ignored.
func parseChunkSize(line []byte) (int64, error) {
	i := 0
	var n int64
	for ; i < len(line); i++ {
		d, ok := unhex(line[i])
		if !ok {
			break
		}
		if i >= 15 {
			return 0, errorf(StatusBadRequest, "chunk size too large")
		}
		n = n<<4 | int64(d)
	}
	if i == 0 {
		return 0, errorf(StatusBadRequest, "chunk size is not hexadecimal (RFC 9112 §7.1)")
	}
	if !validChunkExt(line[i:]) {
		return 0, errorf(StatusBadRequest, "malformed chunk extension (RFC 9112 §7.1.1)")
	}
	return n, nil
}

func validChunkExt(b []byte) bool {
	ws := func() {
		for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
			b = b[1:]
		}
	}
	token := func() bool {
		j := 0
		for j < len(b) && tchar(b[j]) {
			j++
		}
		b = b[j:]
		return j > 0
	}
	for {
		if len(b) == 0 {
			return true
		}
		// BWS is allowed only before a ";": whitespace that ends the line
		// is not part of the grammar.
		ws()
		if len(b) == 0 || b[0] != ';' {
			return false
		}
		b = b[1:]
		ws()
		if !token() {
			return false
		}
		ws()
		if len(b) == 0 || b[0] != '=' {
			continue
		}
		b = b[1:]
		ws()
		if len(b) > 0 && b[0] == '"' {
			j := 1
			for ; j < len(b) && b[j] != '"'; j++ {
				if b[j] == '\\' {
					j++
				}
				if j < len(b) && (b[j] < ' ' && b[j] != '\t' || b[j] == 0x7f) {
					return false
				}
			}
			if j >= len(b) {
				return false
			}
			b = b[j+1:]
		} else if !token() {
			return false
		}
	}
}

// chunkedWriter encodes the chunked transfer coding onto w; Close writes the
// last chunk and an empty trailer section.
type chunkedWriter struct {
	w   *bufio.Writer
	hex []byte
}

func (cw *chunkedWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	cw.hex = strconv.AppendInt(cw.hex[:0], int64(len(p)), 16)
	cw.hex = append(cw.hex, '\r', '\n')
	if _, err := cw.w.Write(cw.hex); err != nil {
		return 0, err
	}
	n, err := cw.w.Write(p)
	if err != nil {
		return n, err
	}
	_, err = cw.w.WriteString("\r\n")
	return n, err
}

func (cw *chunkedWriter) close(trailer Header) error {
	cw.w.WriteString("0\r\n")
	for _, f := range trailer {
		cw.w.WriteString(f.Name)
		cw.w.WriteString(": ")
		cw.w.WriteString(f.Value)
		cw.w.WriteString("\r\n")
	}
	_, err := cw.w.WriteString("\r\n")
	return err
}
