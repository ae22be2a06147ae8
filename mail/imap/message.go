package imap

import (
	"bytes"
	"io"
	"mime"
	"net/mail"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// part is one MIME entity of a message (RFC 2045), with the byte ranges
// that FETCH sections name (RFC 3501 section 6.4.5): its header, its body,
// its children (multipart) or the message it carries (message/rfc822).
type part struct {
	raw       []byte // header and body
	header    []byte // the header, with the empty line that ends it
	body      []byte
	h         textproto.MIMEHeader
	mediaType string // lower case, "text/plain" by default
	params    map[string]string
	children  []*part // multipart/*
	msg       *part   // message/rfc822
}

// maxParts bounds the entities parsed in one message, and maxNesting
// their depth: a message built to be expensive stays cheap.
const (
	maxParts   = 1000
	maxNesting = 20
)

// parseMessage parses a message with CRLF line ends.
func parseMessage(b []byte) *part {
	n := 0
	return parsePart(b, "text/plain", 0, &n)
}

func parsePart(b []byte, defType string, depth int, count *int) *part {
	*count++
	p := &part{raw: b}
	hlen := headerLen(b)
	p.header, p.body = b[:hlen], b[hlen:]
	p.h = parseHeader(p.header)
	p.mediaType, p.params = defType, map[string]string{}
	if defType == "text/plain" {
		p.params["charset"] = "us-ascii"
	}
	if ct := p.h.Get("Content-Type"); ct != "" {
		if mt, params, err := mime.ParseMediaType(ct); err == nil && strings.Contains(mt, "/") {
			p.mediaType, p.params = mt, params
		}
	}
	if depth >= maxNesting || *count >= maxParts {
		return p
	}
	switch {
	case strings.HasPrefix(p.mediaType, "multipart/") && p.params["boundary"] != "":
		def := "text/plain"
		if p.mediaType == "multipart/digest" {
			def = "message/rfc822"
		}
		for _, body := range splitMultipart(p.body, p.params["boundary"]) {
			if *count >= maxParts {
				break
			}
			p.children = append(p.children, parsePart(body, def, depth+1, count))
		}
	case p.mediaType == "message/rfc822" || p.mediaType == "message/global":
		p.msg = parsePart(p.body, "text/plain", depth+1, count)
	}
	return p
}

// headerLen is the length of the header, the empty line included.
func headerLen(b []byte) int {
	if bytes.HasPrefix(b, []byte("\r\n")) {
		return 2
	}
	if i := bytes.Index(b, []byte("\r\n\r\n")); i >= 0 {
		return i + 4
	}
	return len(b) // a header without a body
}

func parseHeader(h []byte) textproto.MIMEHeader {
	// net/mail reads the fields (unfolding continuation lines); a header
	// it cannot read gives what was read before the fault.
	// (A copy: appending to a slice of the message would write into it.)
	t := bytes.TrimRight(h, "\r\n")
	b := make([]byte, 0, len(t)+4)
	b = append(append(b, t...), "\r\n\r\n"...)
	m, err := mail.ReadMessage(bytes.NewReader(b))
	if err != nil || m == nil {
		return textproto.MIMEHeader{}
	}
	return textproto.MIMEHeader(m.Header)
}

// splitMultipart returns the bodies between the boundary lines (RFC 2046
// section 5.1.1): each body ends before the CRLF that precedes the next
// delimiter.
func splitMultipart(b []byte, boundary string) [][]byte {
	delim := []byte("--" + boundary)
	var out [][]byte
	start := -1
	pos := 0
	for pos <= len(b) {
		// A delimiter is at the start of a line.
		i := bytes.Index(b[pos:], delim)
		if i < 0 {
			break
		}
		i += pos
		if i > 0 && !(i >= 2 && b[i-2] == '\r' && b[i-1] == '\n') {
			pos = i + len(delim)
			continue
		}
		after := i + len(delim)
		closing := bytes.HasPrefix(b[after:], []byte("--"))
		if start >= 0 {
			end := i - 2
			if end < start {
				end = start
			}
			out = append(out, b[start:end])
		}
		if closing {
			return out
		}
		// Skip to the end of the delimiter line.
		nl := bytes.Index(b[after:], []byte("\r\n"))
		if nl < 0 {
			return out
		}
		start = after + nl + 2
		pos = start
	}
	if start >= 0 && start <= len(b) {
		out = append(out, b[start:]) // no closing delimiter
	}
	return out
}

// lines counts the lines of a body, as BODYSTRUCTURE's body-fld-lines.
func lines(b []byte) int {
	n := bytes.Count(b, []byte("\n"))
	if len(b) > 0 && b[len(b)-1] != '\n' {
		n++
	}
	return n
}

// writer builds IMAP response data (RFC 3501 section 9 "nstring",
// "astring", lists).
type writer struct{ bytes.Buffer }

func (w *writer) nilOr(s string, ok bool) {
	if !ok {
		w.WriteString("NIL")
		return
	}
	w.str(s)
}

// str writes s quoted when it can be, as a literal otherwise.
func (w *writer) str(s string) {
	if len(s) < 1024 && quotable(s) {
		w.WriteByte('"')
		for i := 0; i < len(s); i++ {
			if s[i] == '"' || s[i] == '\\' {
				w.WriteByte('\\')
			}
			w.WriteByte(s[i])
		}
		w.WriteByte('"')
		return
	}
	w.literal([]byte(s))
}

func (w *writer) literal(b []byte) {
	w.WriteString("{" + strconv.Itoa(len(b)) + "}\r\n")
	w.Write(b)
}

func quotable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '\r' || s[i] == '\n' || s[i] == 0 || s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// astr writes an astring: an atom when it can be (mailbox names, as
// Dovecot writes them), else a string.
func (w *writer) astr(s string) {
	if s != "" && isAtom(s) && !strings.EqualFold(s, "NIL") {
		w.WriteString(s)
		return
	}
	w.str(s)
}

// nstr writes NIL for "" and the string otherwise.
func (w *writer) nstr(s string) { w.nilOr(s, s != "") }

// field is a header field's raw value (unfolded), "" when absent.
func field(h textproto.MIMEHeader, name string) string {
	return strings.TrimSpace(h.Get(name))
}

// envelope writes the ENVELOPE of a message header (section 7.4.2).
func (w *writer) envelope(h textproto.MIMEHeader) {
	w.WriteByte('(')
	w.nstr(field(h, "Date"))
	w.WriteByte(' ')
	w.nstr(field(h, "Subject"))
	from := field(h, "From")
	for i, name := range []string{"From", "Sender", "Reply-To", "To", "Cc", "Bcc"} {
		w.WriteByte(' ')
		v := field(h, name)
		if v == "" && i > 0 && i < 3 {
			v = from // Sender and Reply-To default to From
		}
		w.addresses(v)
	}
	w.WriteByte(' ')
	w.nstr(field(h, "In-Reply-To"))
	w.WriteByte(' ')
	w.nstr(field(h, "Message-Id"))
	w.WriteByte(')')
}

// addresses writes an address list, or NIL. A group ("team: a, b;") is
// written as RFC 3501 section 7.4.2 asks: a start (NIL NIL "team" NIL),
// its members, an end (NIL NIL NIL NIL).
func (w *writer) addresses(v string) {
	items := splitAddressList(v)
	var out writer
	n := 0
	for _, it := range items {
		if it.group {
			out.WriteString("(NIL NIL ")
			out.str(it.name)
			out.WriteString(" NIL)")
			for _, m := range splitAddressList(it.members) {
				if !m.group && out.address(m.text) {
					n++
				}
			}
			out.WriteString("(NIL NIL NIL NIL)")
			n++
			continue
		}
		if out.address(it.text) {
			n++
		}
	}
	if n == 0 {
		w.WriteString("NIL")
		return
	}
	w.WriteByte('(')
	w.Write(out.Bytes())
	w.WriteByte(')')
}

// address writes one address; false when it cannot be parsed.
func (w *writer) address(text string) bool {
	a, adl, err := parseAddress(text)
	if err != nil {
		return false
	}
	local, host, _ := strings.Cut(a.Address, "@")
	w.WriteByte('(')
	name := a.Name
	if !quotable(name) {
		name = mime.QEncoding.Encode("utf-8", name)
	}
	w.nstr(name)
	w.WriteByte(' ')
	w.nstr(adl)
	w.WriteByte(' ')
	w.nstr(local)
	w.WriteByte(' ')
	if host == "" {
		w.WriteString("NIL")
	} else {
		w.str(host)
	}
	w.WriteByte(')')
	return true
}

// parseAddress parses one address with net/mail, and where that fails,
// once more without comments and with an obsolete source route
// ("<@route:user@domain>", returned as adl) taken out.
func parseAddress(text string) (*mail.Address, string, error) {
	ap := &mail.AddressParser{WordDecoder: &mime.WordDecoder{CharsetReader: passCharset}}
	a, err := ap.Parse(text)
	if err == nil {
		return a, "", nil
	}
	t := stripComments(text)
	adl := ""
	if i := strings.Index(t, "<@"); i >= 0 {
		if j := strings.IndexByte(t[i:], ':'); j >= 0 {
			adl = strings.TrimSpace(t[i+1 : i+j])
			t = t[:i+1] + t[i+j+1:]
		}
	}
	a, err = ap.Parse(t)
	return a, adl, err
}

// stripComments removes (comments) outside quoted strings and the spaces
// around "@" they leave.
func stripComments(s string) string {
	var b strings.Builder
	depth, inQuote := 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inQuote:
			b.WriteByte(c)
			if c == '\\' && i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			} else if c == '"' {
				inQuote = false
			}
		case c == '"' && depth == 0:
			inQuote = true
			b.WriteByte(c)
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
		case depth == 0:
			b.WriteByte(c)
		}
	}
	out := b.String()
	for _, r := range []string{" @", "@ "} {
		for strings.Contains(out, r) {
			out = strings.ReplaceAll(out, r, "@")
		}
	}
	return strings.TrimSpace(out)
}

// addrItem is an address, or a group with its members.
type addrItem struct {
	text    string
	group   bool
	name    string
	members string
}

// splitAddressList splits an address-list (RFC 5322 section 3.4) at its
// top-level commas, keeping quoted strings, comments, angle addresses and
// groups whole.
func splitAddressList(v string) []addrItem {
	var out []addrItem
	start, depth, angle, inQuote := 0, 0, false, false
	groupStart, groupName := -1, ""
	flush := func(end int) {
		if t := strings.TrimSpace(v[start:end]); t != "" {
			out = append(out, addrItem{text: t})
		}
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case inQuote:
			if c == '\\' {
				i++
			} else if c == '"' {
				inQuote = false
			}
		case c == '"':
			inQuote = true
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
		case depth > 0:
		case c == '<':
			angle = true
		case c == '>':
			angle = false
		case angle:
		case c == ':' && groupStart < 0:
			groupName = strings.TrimSpace(v[start:i])
			if q, err := unquote(groupName); err == nil {
				groupName = q
			}
			groupStart = i + 1
		case c == ';' && groupStart >= 0:
			out = append(out, addrItem{group: true, name: groupName, members: v[groupStart:i]})
			groupStart = -1
			start = i + 1
		case c == ',' && groupStart < 0:
			flush(i)
			start = i + 1
		}
	}
	if groupStart >= 0 {
		out = append(out, addrItem{group: true, name: groupName, members: v[groupStart:]})
	} else {
		flush(len(v))
	}
	return out
}

func unquote(s string) (string, error) {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return strings.ReplaceAll(s[1:len(s)-1], `\"`, `"`), nil
	}
	return s, nil
}

// passCharset lets names in any charset through undecoded rather than
// failing the whole list.
func passCharset(charset string, r io.Reader) (io.Reader, error) { return r, nil }

// bodyStructure writes BODY (ext=false) or BODYSTRUCTURE (section 7.4.2).
func (w *writer) bodyStructure(p *part, ext bool) {
	w.WriteByte('(')
	if len(p.children) > 0 {
		for _, c := range p.children {
			w.bodyStructure(c, ext)
		}
		w.WriteByte(' ')
		_, sub, _ := strings.Cut(p.mediaType, "/")
		w.str(strings.ToUpper(sub))
		if ext {
			w.WriteByte(' ')
			w.paramList(p.params)
			w.WriteByte(' ')
			w.disposition(p)
			w.WriteByte(' ')
			w.nstr(field(p.h, "Content-Language"))
			w.WriteByte(' ')
			w.nstr(field(p.h, "Content-Location"))
		}
		w.WriteByte(')')
		return
	}
	typ, sub, _ := strings.Cut(p.mediaType, "/")
	if strings.HasPrefix(p.mediaType, "multipart/") {
		// A multipart without parts: shown as text/plain, as Dovecot does.
		typ, sub = "text", "plain"
	}
	w.str(strings.ToUpper(typ))
	w.WriteByte(' ')
	w.str(strings.ToUpper(sub))
	w.WriteByte(' ')
	w.paramList(p.params)
	w.WriteByte(' ')
	w.nstr(field(p.h, "Content-Id"))
	w.WriteByte(' ')
	w.nstr(field(p.h, "Content-Description"))
	w.WriteByte(' ')
	enc := strings.ToUpper(field(p.h, "Content-Transfer-Encoding"))
	if enc == "" {
		enc = "7BIT"
	}
	w.str(enc)
	w.WriteString(" " + strconv.Itoa(len(p.body)))
	switch {
	case p.msg != nil:
		w.WriteByte(' ')
		w.envelope(p.msg.h)
		w.WriteByte(' ')
		w.bodyStructure(p.msg, ext)
		w.WriteString(" " + strconv.Itoa(lines(p.body)))
	case typ == "text":
		w.WriteString(" " + strconv.Itoa(lines(p.body)))
	}
	if ext {
		w.WriteByte(' ')
		w.nstr(field(p.h, "Content-Md5"))
		w.WriteByte(' ')
		w.disposition(p)
		w.WriteByte(' ')
		w.nstr(field(p.h, "Content-Language"))
		w.WriteByte(' ')
		w.nstr(field(p.h, "Content-Location"))
	}
	w.WriteByte(')')
}

func (w *writer) paramList(params map[string]string) {
	if len(params) == 0 {
		w.WriteString("NIL")
		return
	}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sortStrings(keys)
	w.WriteByte('(')
	for i, k := range keys {
		if i > 0 {
			w.WriteByte(' ')
		}
		w.str(strings.ToUpper(k))
		w.WriteByte(' ')
		w.str(params[k])
	}
	w.WriteByte(')')
}

func (w *writer) disposition(p *part) {
	d := field(p.h, "Content-Disposition")
	if d == "" {
		w.WriteString("NIL")
		return
	}
	mt, params, err := mime.ParseMediaType(d)
	if err != nil {
		w.WriteString("NIL")
		return
	}
	w.WriteByte('(')
	w.str(strings.ToUpper(mt))
	w.WriteByte(' ')
	w.paramList(params)
	w.WriteByte(')')
}

// partAt finds the part a section's numbers name (section 6.4.5: "1.2");
// nil when there is none. The parts of a message/rfc822 part are those of
// the message it holds; part 1 of a message that is not multipart is the
// message itself (its body is the section's data).
func (p *part) partAt(nums []int) *part {
	cur := p
	for k, n := range nums {
		container := cur
		if k > 0 && cur.msg != nil {
			container = cur.msg
		}
		switch {
		case len(container.children) > 0:
			if n < 1 || n > len(container.children) {
				return nil
			}
			cur = container.children[n-1]
		case n == 1:
			cur = container
		default:
			return nil
		}
	}
	return cur
}

// headerFields returns the fields of a header named (or, with not, not
// named) in names, and the empty line (section 6.4.5 HEADER.FIELDS).
func headerFields(header []byte, names []string, not bool) []byte {
	want := map[string]bool{}
	for _, n := range names {
		want[strings.ToLower(n)] = true
	}
	var out bytes.Buffer
	rest := header
	keep := false
	for len(rest) > 0 {
		i := bytes.Index(rest, []byte("\r\n"))
		var line []byte
		if i < 0 {
			line, rest = rest, nil
		} else {
			line, rest = rest[:i+2], rest[i+2:]
		}
		if len(line) == 2 {
			break // the empty line
		}
		if line[0] != ' ' && line[0] != '\t' {
			name, _, _ := bytes.Cut(line, []byte(":"))
			keep = want[strings.ToLower(strings.TrimSpace(string(name)))] != not
		}
		if keep {
			out.Write(line)
		}
	}
	out.WriteString("\r\n")
	return out.Bytes()
}

// internalDate formats INTERNALDATE (section 9 "date-time").
func internalDate(t time.Time) string { return t.Format("02-Jan-2006 15:04:05 -0700") }

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
