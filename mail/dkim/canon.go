package dkim

import (
	"bytes"
	"strings"
)

// Canon is a canonicalisation algorithm (RFC 6376 §3.4).
type Canon string

const (
	Simple  Canon = "simple"  // §3.4.1, §3.4.3: what was sent, byte for byte
	Relaxed Canon = "relaxed" // §3.4.2, §3.4.4: tolerant of re-folding and white space
)

// field is one header field as it is in the message: its name and the
// whole field, name, colon, value and folding, with its final CRLF.
type field struct {
	name string // as written
	raw  string
}

// splitMessage turns a message into its header fields and body. Lines
// ending in a bare LF are taken as ending in CRLF, as a message written
// to a Unix file is; a message without a blank line is all header.
func splitMessage(msg []byte) ([]field, []byte) {
	msg = toCRLF(msg)
	var fields []field
	for len(msg) > 0 {
		if bytes.HasPrefix(msg, []byte("\r\n")) {
			return fields, msg[2:]
		}
		end := 0
		for {
			i := bytes.Index(msg[end:], []byte("\r\n"))
			if i < 0 {
				end = len(msg)
				break
			}
			end += i + 2
			if end >= len(msg) || !isWSP(msg[end]) {
				break // the next line does not continue this field
			}
		}
		raw := string(msg[:end])
		if isWSP(raw[0]) && len(fields) > 0 {
			// Continuation lines before any field: folded into nothing.
			fields[len(fields)-1].raw += raw
		} else {
			name, _, _ := strings.Cut(raw, ":")
			fields = append(fields, field{name: strings.TrimRight(name, " \t"), raw: raw})
		}
		msg = msg[end:]
	}
	return fields, nil
}

// toCRLF rewrites bare LFs as CRLF; a message already in CRLF form is
// returned as it is.
func toCRLF(b []byte) []byte {
	bare := false
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			bare = true
			break
		}
	}
	if !bare {
		return b
	}
	out := make([]byte, 0, len(b)+len(b)/32)
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, c)
	}
	return out
}

// canonHeader canonicalises one header field, with its CRLF.
func canonHeader(c Canon, raw string) string {
	if c == Simple {
		return raw
	}
	// Relaxed (§3.4.2): lower-case name, unfold, runs of WSP as one
	// space, none at the end of the value or around the colon.
	name, value, _ := strings.Cut(raw, ":")
	name = strings.ToLower(strings.TrimRight(name, " \t"))
	value = strings.ReplaceAll(value, "\r\n", "")
	var b strings.Builder
	b.Grow(len(name) + len(value) + 3)
	b.WriteString(name)
	b.WriteByte(':')
	space := false
	for i := 0; i < len(value); i++ {
		if isWSP(value[i]) {
			space = true
			continue
		}
		if space && b.Len() > len(name)+1 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteByte(value[i])
	}
	b.WriteString("\r\n")
	return b.String()
}

// canonBody canonicalises a body (§3.4.3, §3.4.4), cut to limit bytes when
// limit is not negative (the l= tag).
func canonBody(c Canon, body []byte, limit int64) []byte {
	var out []byte
	if c == Relaxed {
		out = make([]byte, 0, len(body))
		for len(body) > 0 {
			line, rest, found := bytes.Cut(body, []byte("\r\n"))
			body = rest
			// Runs of WSP as one space, none at the end of the line.
			space := false
			for _, ch := range line {
				if isWSP(ch) {
					space = true
					continue
				}
				if space {
					out = append(out, ' ')
				}
				space = false
				out = append(out, ch)
			}
			if found || len(line) > 0 {
				out = append(out, '\r', '\n')
			}
		}
	} else {
		out = body
	}
	// No empty lines at the end; simple keeps (or adds) one CRLF even for
	// an empty body, relaxed leaves an empty body empty.
	for bytes.HasSuffix(out, []byte("\r\n\r\n")) {
		out = out[:len(out)-2]
	}
	switch {
	case c == Simple && (len(out) == 0 || !bytes.HasSuffix(out, []byte("\r\n"))):
		out = append(out[:len(out):len(out)], '\r', '\n')
	case c == Relaxed && bytes.Equal(out, []byte("\r\n")):
		out = out[:0]
	}
	if limit >= 0 && int64(len(out)) > limit {
		out = out[:limit]
	}
	return out
}

// pickHeaders returns, for each name in names, the last instance of that
// field not already taken by an earlier name of the list (§5.4.2); a name
// with no instance left contributes nothing.
func pickHeaders(fields []field, names []string) []string {
	used := make([]bool, len(fields))
	var out []string
	for _, n := range names {
		for i := len(fields) - 1; i >= 0; i-- {
			if !used[i] && strings.EqualFold(fields[i].name, n) {
				used[i] = true
				out = append(out, fields[i].raw)
				break
			}
		}
	}
	return out
}
