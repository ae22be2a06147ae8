package imap

// The client's response parser (RFC 3501 section 7 and the formal syntax of
// section 9): one response is one line plus the literals it announces, read
// whole under limits (line length, literal size, total size, nesting) and
// then cut into a tree of Values.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ValueKind says what a Value holds.
type ValueKind uint8

const (
	// Atom is an atom or a number, kept as text ("\\Seen", "42",
	// "BODY[HEADER]<0>").
	Atom ValueKind = iota
	// String is a quoted string or a literal.
	String
	// List is a parenthesised list.
	List
	// Nil is NIL.
	Nil
)

// Value is one item of a response.
type Value struct {
	Kind ValueKind
	Atom string  // Atom
	Str  []byte  // String
	List []Value // List
}

// Text is the value as text: an atom's text, a string's bytes, "" for NIL and
// lists.
func (v Value) Text() string {
	switch v.Kind {
	case Atom:
		return v.Atom
	case String:
		return string(v.Str)
	}
	return ""
}

// Number is the value as an unsigned 32-bit number (a number atom).
func (v Value) Number() (uint32, bool) {
	if v.Kind != Atom {
		return 0, false
	}
	n, err := strconv.ParseUint(v.Atom, 10, 32)
	return uint32(n), err == nil
}

// Response is one server response.
type Response struct {
	// Tag is the command's tag, "*" for untagged data and "+" for a
	// continuation request.
	Tag string
	// Num is the number before the keyword of "* 3 EXISTS" and "* 2 FETCH
	// (...)"; HasNum says it was there.
	Num    uint32
	HasNum bool
	// Kind is the keyword, upper case: OK, NO, BAD, BYE, PREAUTH,
	// CAPABILITY, LIST, STATUS, SEARCH, FLAGS, EXISTS, FETCH, ...
	Kind string
	// Code and CodeArgs are the response code of a status response
	// ("[UIDVALIDITY 7]" gives "UIDVALIDITY" and "7").
	Code, CodeArgs string
	// Text is a status response's human text, or a continuation's.
	Text string
	// Fields are the data that follow the keyword of a data response.
	Fields []Value
}

// Limits of the response reader; a server that passes one gets an error
// and the connection is dropped.
const (
	// DefaultClientMaxLiteral bounds one literal in a response.
	DefaultClientMaxLiteral = 64 << 20
	// maxRespLine bounds one line of a response, literals apart.
	maxRespLine = 1 << 20
	// maxRespDepth bounds list nesting (a BODYSTRUCTURE is rarely 10 deep).
	maxRespDepth = 64
	// maxValues bounds the number of values in one response.
	maxValues = 1 << 20
)

// ErrResponse reports a response that is not IMAP, or one over a limit.
var ErrResponse = errors.New("imap: malformed response")

func respErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrResponse, fmt.Sprintf(format, a...))
}

// readRawResponse reads one response: a line, and for every literal it
// announces, the literal and the rest of the line. total bounds the whole.
// onLine is called with each line as read (for the transcript) and onLiteral
// with each literal.
func readRawResponse(br *bufio.Reader, maxLiteral, total int64, onLine func([]byte), onLiteral func([]byte)) ([]byte, error) {
	var out []byte
	for {
		line, err := readRespLine(br)
		if err != nil {
			return nil, err
		}
		if onLine != nil {
			onLine(line)
		}
		out = append(out, line...)
		out = append(out, '\r', '\n')
		n, ok, err := respLiteralAtEnd(line)
		if err != nil {
			return nil, err
		}
		if !ok {
			return out, nil
		}
		if n > maxLiteral || int64(len(out))+n > total {
			return nil, respErr("literal of %d octets over the limit", n)
		}
		start := len(out)
		out = append(out, make([]byte, n)...)
		if _, err := io.ReadFull(br, out[start:]); err != nil {
			return nil, err
		}
		if onLiteral != nil {
			onLiteral(out[start:])
		}
	}
}

func readRespLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maxRespLine {
			return nil, respErr("line over %d octets", maxRespLine)
		}
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// respLiteralAtEnd finds "{N}" (or "{N+}") that ends a line.
func respLiteralAtEnd(line []byte) (int64, bool, error) {
	if len(line) < 3 || line[len(line)-1] != '}' {
		return 0, false, nil
	}
	i := len(line) - 2
	if line[i] == '+' || line[i] == '-' {
		i--
	}
	end := i + 1
	for i >= 0 && line[i] >= '0' && line[i] <= '9' {
		i--
	}
	if i < 0 || line[i] != '{' || end == i+1 {
		return 0, false, nil
	}
	if end-i-1 > 12 {
		return 0, false, respErr("literal size too long")
	}
	n, err := strconv.ParseInt(string(line[i+1:end]), 10, 64)
	if err != nil {
		return 0, false, respErr("bad literal size")
	}
	return n, true, nil
}

// ParseResponse parses one raw response (as read: lines joined by CRLF,
// literals in place).
func ParseResponse(b []byte) (*Response, error) {
	p := &respParser{b: b}
	tag := p.word()
	if tag == "" {
		return nil, respErr("no tag")
	}
	r := &Response{Tag: tag}
	if tag == "+" {
		p.sp()
		r.Text = strings.TrimRight(p.rest(), "\r\n")
		return r, nil
	}
	if !p.sp() {
		return nil, respErr("no space after tag")
	}
	kw := p.word()
	if n, err := strconv.ParseUint(kw, 10, 32); err == nil && tag == "*" {
		r.Num, r.HasNum = uint32(n), true
		if !p.sp() {
			return nil, respErr("no keyword after number")
		}
		kw = p.word()
	}
	if kw == "" {
		return nil, respErr("no keyword")
	}
	r.Kind = strings.ToUpper(kw)
	switch r.Kind {
	case "OK", "NO", "BAD", "BYE", "PREAUTH":
		p.sp()
		p.respText(r)
		return r, nil
	}
	if tag != "*" {
		return nil, respErr("tagged response %q is not a status", r.Kind)
	}
	for {
		if p.atEnd() {
			return r, nil
		}
		if !p.sp() {
			return nil, respErr("junk at %d", p.i)
		}
		if p.atEnd() { // a trailing space, which some servers send
			return r, nil
		}
		v, err := p.value(0)
		if err != nil {
			return nil, err
		}
		r.Fields = append(r.Fields, v)
	}
}

type respParser struct {
	b      []byte
	i      int
	values int
}

func (p *respParser) atEnd() bool {
	return p.i >= len(p.b) || p.b[p.i] == '\r' || p.b[p.i] == '\n'
}

func (p *respParser) sp() bool {
	if p.i < len(p.b) && p.b[p.i] == ' ' {
		p.i++
		return true
	}
	return false
}

// word reads up to a space or the end of the line.
func (p *respParser) word() string {
	s := p.i
	for p.i < len(p.b) && p.b[p.i] != ' ' && p.b[p.i] != '\r' && p.b[p.i] != '\n' {
		p.i++
	}
	return string(p.b[s:p.i])
}

func (p *respParser) rest() string {
	s := p.i
	for p.i < len(p.b) && p.b[p.i] != '\r' && p.b[p.i] != '\n' {
		p.i++
	}
	return string(p.b[s:p.i])
}

// respText is resp-text: ["[" resp-text-code "]" SP] text.
func (p *respParser) respText(r *Response) {
	if p.i < len(p.b) && p.b[p.i] == '[' {
		p.i++
		s := p.i
		depth := 0
		for p.i < len(p.b) && p.b[p.i] != '\r' && p.b[p.i] != '\n' && (p.b[p.i] != ']' || depth > 0) {
			switch p.b[p.i] {
			case '(', '[':
				depth++
			case ')':
				if depth > 0 {
					depth--
				}
			}
			p.i++
		}
		code := string(p.b[s:p.i])
		if p.i < len(p.b) && p.b[p.i] == ']' {
			p.i++
		}
		r.Code, r.CodeArgs, _ = strings.Cut(code, " ")
		r.Code = strings.ToUpper(r.Code)
		p.sp()
	}
	r.Text = p.rest()
}

func isRespAtomChar(c byte) bool {
	switch {
	case c <= ' ', c >= 0x7f:
		return false
	case c == '(', c == ')', c == '{', c == '"':
		return false
	}
	return c != ']'
}

func (p *respParser) value(depth int) (Value, error) {
	p.values++
	if p.values > maxValues {
		return Value{}, respErr("too many values")
	}
	if p.i >= len(p.b) {
		return Value{}, respErr("value expected at end")
	}
	switch c := p.b[p.i]; {
	case c == '(':
		if depth >= maxRespDepth {
			return Value{}, respErr("lists nested over %d deep", maxRespDepth)
		}
		p.i++
		v := Value{Kind: List, List: []Value{}}
		for {
			if p.i >= len(p.b) {
				return Value{}, respErr("unterminated list")
			}
			if p.b[p.i] == ')' {
				p.i++
				return v, nil
			}
			// Address lists come without spaces: ((...)(...)).
			if len(v.List) > 0 && !p.sp() && p.b[p.i] != '(' {
				return Value{}, respErr("space expected in list at %d", p.i)
			}
			if p.i < len(p.b) && p.b[p.i] == ')' { // "( a )"
				p.i++
				return v, nil
			}
			e, err := p.value(depth + 1)
			if err != nil {
				return Value{}, err
			}
			v.List = append(v.List, e)
		}
	case c == '"':
		p.i++
		var s []byte
		for {
			if p.i >= len(p.b) || p.b[p.i] == '\r' || p.b[p.i] == '\n' {
				return Value{}, respErr("unterminated quoted string")
			}
			c := p.b[p.i]
			p.i++
			if c == '"' {
				break
			}
			if c == '\\' && p.i < len(p.b) {
				c = p.b[p.i]
				p.i++
			}
			s = append(s, c)
		}
		if s == nil {
			s = []byte{}
		}
		return Value{Kind: String, Str: s}, nil
	case c == '{' || c == '~' && p.i+1 < len(p.b) && p.b[p.i+1] == '{':
		if c == '~' {
			p.i++
		}
		end := p.i
		for end < len(p.b) && p.b[end] != '\n' {
			end++
		}
		if end >= len(p.b) {
			return Value{}, respErr("literal without CRLF")
		}
		line := p.b[p.i:end]
		line = line[:len(line)-boolInt(len(line) > 0 && line[len(line)-1] == '\r')]
		n, ok, err := respLiteralAtEnd(line)
		if err != nil {
			return Value{}, err
		}
		if !ok || int64(len(p.b)-end-1) < n {
			return Value{}, respErr("bad literal")
		}
		p.i = end + 1
		s := p.b[p.i : p.i+int(n)]
		p.i += int(n)
		return Value{Kind: String, Str: s}, nil
	default:
		s := p.i
		for p.i < len(p.b) {
			c := p.b[p.i]
			if c == '[' { // BODY[HEADER.FIELDS (A B)]: the section is part of the atom
				d := 0
				for p.i < len(p.b) && p.b[p.i] != '\r' && p.b[p.i] != '\n' {
					if p.b[p.i] == '[' {
						d++
					} else if p.b[p.i] == ']' {
						d--
						if d == 0 {
							break
						}
					}
					p.i++
				}
				if p.i >= len(p.b) || p.b[p.i] != ']' {
					return Value{}, respErr("unterminated section")
				}
				p.i++
				continue
			}
			if !isRespAtomChar(c) {
				break
			}
			p.i++
		}
		if s == p.i {
			return Value{}, respErr("unexpected %q at %d", p.b[p.i], p.i)
		}
		a := string(p.b[s:p.i])
		if strings.EqualFold(a, "NIL") {
			return Value{Kind: Nil}, nil
		}
		return Value{Kind: Atom, Atom: a}, nil
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Address is one address of an envelope (RFC 3501 section 7.4.2).
type Address struct {
	Name, Mailbox, Host string
}

// String is "Name <mailbox@host>" or "mailbox@host".
func (a Address) String() string {
	addr := a.Mailbox
	if a.Host != "" {
		addr += "@" + a.Host
	}
	if a.Name != "" {
		return a.Name + " <" + addr + ">"
	}
	return addr
}

// Addr is "mailbox@host".
func (a Address) Addr() string {
	if a.Host == "" {
		return a.Mailbox
	}
	return a.Mailbox + "@" + a.Host
}

// Envelope is a message's ENVELOPE. Subject and names are as the server
// sent them (possibly RFC 2047 encoded words).
type Envelope struct {
	Date, Subject                      string
	From, Sender, ReplyTo, To, Cc, Bcc []Address
	InReplyTo, MessageID               string
}

func parseEnvelope(v Value) (*Envelope, error) {
	if v.Kind != List || len(v.List) < 10 {
		return nil, respErr("bad ENVELOPE")
	}
	l := v.List
	e := &Envelope{Date: l[0].Text(), Subject: l[1].Text(), InReplyTo: l[8].Text(), MessageID: l[9].Text()}
	for i, dst := range []*[]Address{&e.From, &e.Sender, &e.ReplyTo, &e.To, &e.Cc, &e.Bcc} {
		a := l[2+i]
		if a.Kind != List {
			continue
		}
		for _, av := range a.List {
			if av.Kind != List || len(av.List) < 4 {
				return nil, respErr("bad address")
			}
			if av.List[2].Kind == Nil || av.List[3].Kind == Nil {
				continue // group syntax markers
			}
			*dst = append(*dst, Address{Name: av.List[0].Text(), Mailbox: av.List[2].Text(), Host: av.List[3].Text()})
		}
	}
	return e, nil
}

// BodyPart is one node of a BODYSTRUCTURE (RFC 3501 section 7.4.2).
type BodyPart struct {
	// Type and Subtype in lower case ("text", "plain"; "multipart", "mixed").
	Type, Subtype string
	Params        map[string]string // lower-case names
	ID, Desc      string
	Encoding      string // lower case
	Size          uint32
	Lines         uint32
	// Disposition ("attachment", "inline"; lower case) and its parameters.
	Disposition       string
	DispositionParams map[string]string
	// Parts are a multipart's children.
	Parts []*BodyPart
	// Section is the part's section number for BODY[...] ("1", "2.1"; ""
	// for a multipart message's top level).
	Section string
}

// Filename is the part's file name from its disposition or its type's
// name parameter.
func (b *BodyPart) Filename() string {
	if n := b.DispositionParams["filename"]; n != "" {
		return n
	}
	return b.Params["name"]
}

// Walk calls fn for the part and every part below it, depth first.
func (b *BodyPart) Walk(fn func(*BodyPart)) {
	fn(b)
	for _, p := range b.Parts {
		p.Walk(fn)
	}
}

func parseParams(v Value) map[string]string {
	m := map[string]string{}
	if v.Kind != List {
		return m
	}
	for i := 0; i+1 < len(v.List); i += 2 {
		m[strings.ToLower(v.List[i].Text())] = v.List[i+1].Text()
	}
	return m
}

func parseBodyStructure(v Value, section string, depth int) (*BodyPart, error) {
	if v.Kind != List || len(v.List) == 0 {
		return nil, respErr("bad BODYSTRUCTURE")
	}
	if depth > maxRespDepth {
		return nil, respErr("BODYSTRUCTURE too deep")
	}
	l := v.List
	b := &BodyPart{Section: section}
	if l[0].Kind == List { // multipart: parts then subtype
		b.Type = "multipart"
		i := 0
		for ; i < len(l) && l[i].Kind == List; i++ {
			s := strconv.Itoa(i + 1)
			if section != "" {
				s = section + "." + s
			}
			c, err := parseBodyStructure(l[i], s, depth+1)
			if err != nil {
				return nil, err
			}
			b.Parts = append(b.Parts, c)
		}
		if i < len(l) {
			b.Subtype = strings.ToLower(l[i].Text())
			i++
		}
		if i < len(l) {
			b.Params = parseParams(l[i])
			i++
		}
		if i < len(l) && l[i].Kind == List && len(l[i].List) >= 2 {
			b.Disposition = strings.ToLower(l[i].List[0].Text())
			b.DispositionParams = parseParams(l[i].List[1])
		}
		if b.Params == nil {
			b.Params = map[string]string{}
		}
		if b.DispositionParams == nil {
			b.DispositionParams = map[string]string{}
		}
		return b, nil
	}
	if len(l) < 7 {
		return nil, respErr("body part with %d fields", len(l))
	}
	if section == "" {
		b.Section = "1"
	}
	b.Type, b.Subtype = strings.ToLower(l[0].Text()), strings.ToLower(l[1].Text())
	b.Params = parseParams(l[2])
	b.ID, b.Desc, b.Encoding = l[3].Text(), l[4].Text(), strings.ToLower(l[5].Text())
	b.Size, _ = l[6].Number()
	i := 7
	switch {
	case b.Type == "message" && b.Subtype == "rfc822" && len(l) >= 10:
		// envelope, body, lines
		if c, err := parseBodyStructure(l[8], b.Section, depth+1); err == nil {
			b.Parts = []*BodyPart{c}
		}
		b.Lines, _ = l[9].Number()
		i = 10
	case b.Type == "text" && len(l) >= 8:
		b.Lines, _ = l[7].Number()
		i = 8
	}
	// extension data: md5, disposition, language, location
	if i+1 < len(l) && l[i+1].Kind == List && len(l[i+1].List) >= 2 {
		b.Disposition = strings.ToLower(l[i+1].List[0].Text())
		b.DispositionParams = parseParams(l[i+1].List[1])
	}
	if b.DispositionParams == nil {
		b.DispositionParams = map[string]string{}
	}
	return b, nil
}
