package web

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
)

// Request is a parsed HTTP request (RFC 9112 §3). A server's Handler must
// not keep it after ServeHTTP returns: the connection reuses it.
type Request struct {
	Method string // a token, e.g. "GET"
	// Target is the request-target as sent (RFC 9112 §3.2).
	Target string
	// Form is the form of Target: origin, absolute, authority or asterisk.
	Form TargetForm
	// Scheme is "http" or "https" for an absolute-form target, else "".
	Scheme string
	// Host is the target's host[:port]: the authority of an absolute-form
	// target, else the Host field (§3.2.2 says the former wins).
	Host string
	// Path is the percent-decoded path ("/" at least for origin-form and
	// absolute-form targets); RawPath is the path as sent.
	Path, RawPath string
	// RawQuery is the query after "?", without it, still encoded.
	RawQuery string
	// Proto is "HTTP/1.0" or "HTTP/1.1"; a request that said HTTP/1.2 or
	// later minor versions is handled as 1.1 (RFC 9110 §6.2).
	Proto      string
	ProtoMinor int
	Header     Header
	// ContentLength is the body's length, or -1 when it is chunked.
	ContentLength int64
	// Chunked reports "Transfer-Encoding: chunked".
	Chunked bool
	// Body reads the request body; it returns io.EOF at the end of it, at
	// once when there is none. Never nil for a request read by ReadRequest.
	Body io.Reader
	// Trailer holds the trailer fields of a chunked body, once the body has
	// been read to its end.
	Trailer Header
	// Close reports that the connection closes after this exchange:
	// "Connection: close" in 1.1, no "keep-alive" in 1.0 (RFC 9112 §9.3).
	Close bool
	// RemoteAddr is the client's address, set by the server.
	RemoteAddr string
}

// TargetForm says which of the four forms a request-target took
// (RFC 9112 §3.2).
type TargetForm uint8

// The forms of a request-target.
const (
	OriginForm    TargetForm = iota // "/path?query"
	AbsoluteForm                    // "http://host/path?query", sent to proxies
	AuthorityForm                   // "host:port", for CONNECT
	AsteriskForm                    // "*", for OPTIONS
)

func (f TargetForm) String() string {
	return [...]string{"origin-form", "absolute-form", "authority-form", "asterisk-form"}[f]
}

// Limits bound what one request may make the parser hold.
type Limits struct {
	// MaxTarget bounds the request line; longer gets 414 (default 8 KiB).
	MaxTarget int
	// MaxHeaderBytes bounds the header section, request line included;
	// more gets 431 (default 16 KiB). Trailers count against it too.
	MaxHeaderBytes int
	// MaxBodyBytes bounds a request body; more gets 413 (default 64 MiB;
	// negative means no limit).
	MaxBodyBytes int64
}

// Default limits.
const (
	DefaultMaxTarget      = 8 << 10
	DefaultMaxHeaderBytes = 16 << 10
	DefaultMaxBodyBytes   = 64 << 20
)

func (l Limits) withDefaults() Limits {
	if l.MaxTarget <= 0 {
		l.MaxTarget = DefaultMaxTarget
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if l.MaxBodyBytes == 0 {
		l.MaxBodyBytes = DefaultMaxBodyBytes
	}
	return l
}

// ReadRequest reads one request head from br and sets up its Body. At a clean
// end of input, before any byte of a request, it returns io.EOF. A request
// the RFCs reject gives an *Error with the status to answer.
func ReadRequest(br *bufio.Reader, lim Limits) (*Request, error) {
	var p parser
	p.lim = lim.withDefaults()
	req := new(Request)
	if err := p.readRequest(br, req); err != nil {
		return nil, err
	}
	return req, nil
}

// parser keeps the buffers one connection reuses from request to request.
type parser struct {
	lim   Limits
	buf   []byte // the head's lines, CRLFs removed
	ends  []int  // end offset of each line in buf
	fixed fixedBody
	chunk chunkedReader
}

// errIncomplete marks input that ended inside a request head.
var errIncomplete = errors.New("web: connection closed inside a request head")

// readHead reads lines up to the empty line that ends a head (RFC 9112 §2.1)
// into p.buf. startLimit bounds the first line (414 when exceeded).
func (p *parser) readHead(br *bufio.Reader, startLimit, total int, skipEmpty bool) error {
	p.buf = p.buf[:0]
	p.ends = p.ends[:0]
	lineStart := 0
	for {
		frag, err := br.ReadSlice('\n')
		if len(p.buf)+len(frag) > total+2 || len(p.ends) == 0 && startLimit > 0 && len(p.buf)+len(frag)-lineStart > startLimit+2 {
			if len(p.ends) == 0 && startLimit > 0 {
				return errorf(StatusURITooLong, "request line longer than "+strconv.Itoa(startLimit)+" bytes")
			}
			return errorf(StatusHeaderFieldsTooLarge, "header section longer than "+strconv.Itoa(total)+" bytes")
		}
		p.buf = append(p.buf, frag...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if err == io.EOF {
				if len(p.buf) == 0 && len(p.ends) == 0 {
					return io.EOF
				}
				return errIncomplete
			}
			return err
		}
		// A full line: it must end in CRLF (§2.2), and hold no other CR.
		n := len(p.buf)
		if n-lineStart < 2 || p.buf[n-2] != '\r' {
			return errorf(StatusBadRequest, "line ends in a bare LF; HTTP requires CRLF (RFC 9112 §2.2)")
		}
		p.buf = p.buf[:n-2]
		if bytes.IndexByte(p.buf[lineStart:], '\r') >= 0 {
			return errorf(StatusBadRequest, "bare CR inside a line (RFC 9112 §2.2)")
		}
		if len(p.buf) == lineStart {
			if len(p.ends) == 0 && skipEmpty {
				// Empty lines before a request line are ignored (§2.2);
				// they still count against the limit.
				total -= 2
				if total < 0 {
					return errorf(StatusBadRequest, "too many empty lines before the request")
				}
				continue
			}
			return nil
		}
		p.ends = append(p.ends, len(p.buf))
		lineStart = len(p.buf)
	}
}

func (p *parser) readRequest(br *bufio.Reader, req *Request) error {
	if err := p.readHead(br, p.lim.MaxTarget, p.lim.MaxHeaderBytes, true); err != nil {
		return err
	}
	if len(p.ends) == 0 {
		return errorf(StatusBadRequest, "no request line")
	}
	// One string for the whole head: every field below is a substring.
	head := string(p.buf)
	*req = Request{Header: req.Header[:0], Trailer: req.Trailer[:0], RemoteAddr: req.RemoteAddr}
	if err := parseRequestLine(head[:p.ends[0]], req); err != nil {
		return err
	}
	var err error
	if req.Header, err = parseFields(head, p.ends, req.Header); err != nil {
		return err
	}
	if err := req.checkHost(); err != nil {
		return err
	}
	if err := p.setBody(br, req); err != nil {
		return err
	}
	if req.ProtoMinor == 0 {
		req.Close = !req.Header.hasToken("Connection", "keep-alive")
	} else {
		req.Close = req.Header.hasToken("Connection", "close")
	}
	return nil
}

// parseRequestLine parses method SP request-target SP HTTP-version
// (RFC 9112 §3).
func parseRequestLine(line string, req *Request) error {
	method, rest, ok1 := strings.Cut(line, " ")
	target, version, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 {
		return errorf(StatusBadRequest, "request line is not \"METHOD target HTTP/1.1\"")
	}
	if !isToken(method) {
		return errorf(StatusBadRequest, "method is not a token")
	}
	minor, err := parseVersion(version)
	if err != nil {
		return err
	}
	req.Method = method
	req.ProtoMinor = minor
	req.Proto = "HTTP/1.1"
	if minor == 0 {
		req.Proto = "HTTP/1.0"
	}
	return parseTarget(target, req)
}

// parseVersion checks HTTP-version = "HTTP/" DIGIT "." DIGIT (RFC 9112
// §2.3). A major version other than 1 gets 505.
func parseVersion(v string) (minor int, err error) {
	if len(v) != 8 || v[:5] != "HTTP/" || v[6] != '.' || !isDigit(v[5]) || !isDigit(v[7]) {
		return 0, errorf(StatusBadRequest, "malformed HTTP version "+strconv.Quote(v))
	}
	if v[5] != '1' {
		return 0, errorf(StatusVersionNotSupported, "this server speaks HTTP/1.0 and HTTP/1.1, not "+v)
	}
	if v[7] == '0' {
		return 0, nil
	}
	return 1, nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// parseTarget recognises the four forms of request-target (RFC 9112 §3.2).
func parseTarget(t string, req *Request) error {
	if t == "" {
		return errorf(StatusBadRequest, "empty request target")
	}
	for i := 0; i < len(t); i++ {
		if c := t[i]; c <= ' ' || c >= 0x7f || c == '#' {
			return errorf(StatusBadRequest, "invalid character in request target")
		}
	}
	req.Target = t
	switch {
	case t[0] == '/':
		req.Form = OriginForm
		return splitPathQuery(t, req)
	case t == "*":
		req.Form = AsteriskForm
		if req.Method != "OPTIONS" {
			return errorf(StatusBadRequest, "asterisk-form target with a method other than OPTIONS")
		}
		return nil
	case req.Method == "CONNECT":
		req.Form = AuthorityForm
		if !validHost(t) || !strings.Contains(t, ":") {
			return errorf(StatusBadRequest, "CONNECT target is not host:port")
		}
		req.Host = t
		return nil
	}
	scheme, rest, ok := strings.Cut(t, "://")
	if !ok || !(equalFold(scheme, "http") || equalFold(scheme, "https")) {
		return errorf(StatusBadRequest, "request target is neither a path nor an http URI")
	}
	req.Form = AbsoluteForm
	req.Scheme = strings.ToLower(scheme)
	end := strings.IndexAny(rest, "/?")
	if end < 0 {
		end = len(rest)
	}
	req.Host = rest[:end]
	if req.Host == "" || !validHost(req.Host) || strings.Contains(req.Host, "@") {
		return errorf(StatusBadRequest, "absolute-form target with an invalid authority")
	}
	pq := rest[end:]
	if pq == "" || pq[0] == '?' {
		pq = "/" + pq
	}
	return splitPathQuery(pq, req)
}

func splitPathQuery(t string, req *Request) error {
	path, query, _ := strings.Cut(t, "?")
	req.RawPath, req.RawQuery = path, query
	p, ok := unescapePath(path)
	if !ok {
		return errorf(StatusBadRequest, "bad percent-encoding in path")
	}
	req.Path = p
	return nil
}

// unescapePath decodes %XX escapes (RFC 3986 §2.1). It refuses a malformed
// escape and an encoded NUL. The common case, no escape, allocates nothing.
func unescapePath(s string) (string, bool) {
	i := strings.IndexByte(s, '%')
	if i < 0 {
		return s, true
	}
	b := make([]byte, 0, len(s))
	b = append(b, s[:i]...)
	for ; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			b = append(b, c)
			continue
		}
		if i+2 >= len(s) {
			return "", false
		}
		h, ok1 := unhex(s[i+1])
		l, ok2 := unhex(s[i+2])
		if !ok1 || !ok2 || h == 0 && l == 0 {
			return "", false
		}
		b = append(b, h<<4|l)
		i += 2
	}
	return string(b), true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// validHost checks a Host value or authority: reg-name, IPv4 or IP-literal,
// with an optional port (RFC 3986 §3.2.2). Userinfo is not allowed in Host.
func validHost(h string) bool {
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-._~!$&'()*+,;=:[]%", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// parseFields parses the field lines after the first line (RFC 9112 §5).
func parseFields(head string, ends []int, h Header) (Header, error) {
	for i := 1; i < len(ends); i++ {
		line := head[ends[i-1]:ends[i]]
		if line[0] == ' ' || line[0] == '\t' {
			return h, errorf(StatusBadRequest, "obsolete line folding (RFC 9112 §5.2)")
		}
		colon := strings.IndexByte(line, ':')
		if colon <= 0 {
			return h, errorf(StatusBadRequest, "header line without a field name and colon")
		}
		name := line[:colon]
		if !isToken(name) {
			// This also rejects whitespace before the colon (§5.1).
			return h, errorf(StatusBadRequest, "invalid field name "+strconv.Quote(name))
		}
		value := strings.Trim(line[colon+1:], " \t")
		if !validFieldValue(value) {
			return h, errorf(StatusBadRequest, "control character in field "+name)
		}
		h = append(h, Field{name, value})
	}
	return h, nil
}

// checkHost applies RFC 9112 §3.2: a 1.1 request carries exactly one Host.
func (req *Request) checkHost() error {
	n := req.Header.count("Host")
	if n > 1 {
		return errorf(StatusBadRequest, "more than one Host field")
	}
	if n == 0 {
		if req.ProtoMinor == 1 {
			return errorf(StatusBadRequest, "HTTP/1.1 request without Host (RFC 9112 §3.2)")
		}
		return nil
	}
	h := req.Header.Get("Host")
	if !validHost(h) || strings.Contains(h, "@") {
		return errorf(StatusBadRequest, "invalid Host field")
	}
	if req.Form == OriginForm || req.Form == AsteriskForm {
		req.Host = h
	}
	return nil
}

// setBody decides how the body is framed (RFC 9112 §6.3) and sets Body.
func (p *parser) setBody(br *bufio.Reader, req *Request) error {
	te := req.Header.count("Transfer-Encoding")
	cl := req.Header.count("Content-Length")
	switch {
	case te > 0:
		if req.ProtoMinor == 0 {
			return errorf(StatusBadRequest, "Transfer-Encoding in an HTTP/1.0 request (RFC 9112 §6.1)")
		}
		if cl > 0 {
			return errorf(StatusBadRequest, "both Transfer-Encoding and Content-Length (RFC 9112 §6.1)")
		}
		var codings []string
		for _, v := range req.Header.Values("Transfer-Encoding") {
			for c := range strings.SplitSeq(v, ",") {
				if c = strings.Trim(c, " \t"); c != "" {
					codings = append(codings, c)
				}
			}
		}
		if len(codings) == 0 {
			return errorf(StatusBadRequest, "empty Transfer-Encoding")
		}
		for _, c := range codings {
			if !equalFold(c, "chunked") {
				if !isToken(c) {
					return errorf(StatusBadRequest, "malformed Transfer-Encoding")
				}
				return errorf(StatusNotImplemented, "transfer coding "+strconv.Quote(c)+" is not supported")
			}
		}
		if len(codings) > 1 {
			return errorf(StatusBadRequest, "chunked applied more than once (RFC 9112 §6.1)")
		}
		req.Chunked = true
		req.ContentLength = -1
		p.chunk.reset(br, &req.Trailer, p.lim.MaxHeaderBytes, p.lim.MaxBodyBytes)
		req.Body = &p.chunk
	case cl > 1:
		return errorf(StatusBadRequest, "more than one Content-Length (RFC 9110 §8.6)")
	case cl == 1:
		n, ok := parseContentLength(req.Header.Get("Content-Length"))
		if !ok {
			return errorf(StatusBadRequest, "Content-Length is not a decimal number (RFC 9110 §8.6)")
		}
		if p.lim.MaxBodyBytes >= 0 && n > p.lim.MaxBodyBytes {
			return errorf(StatusContentTooLarge, "body of "+strconv.FormatInt(n, 10)+" bytes is over the limit of "+strconv.FormatInt(p.lim.MaxBodyBytes, 10))
		}
		req.ContentLength = n
		p.fixed = fixedBody{br: br, n: n}
		req.Body = &p.fixed
	default:
		req.ContentLength = 0
		p.fixed = fixedBody{}
		req.Body = &p.fixed
	}
	return nil
}

// parseContentLength accepts 1*DIGIT and nothing else: no sign, no spaces,
// no list, at most 18 digits so it cannot overflow.
func parseContentLength(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		n = n*10 + int64(s[i]-'0')
	}
	return n, true
}

// fixedBody reads a body of known length (RFC 9112 §6.2).
type fixedBody struct {
	br *bufio.Reader
	n  int64
}

func (b *fixedBody) Read(p []byte) (int, error) {
	if b.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	n, err := b.br.Read(p)
	b.n -= int64(n)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}
