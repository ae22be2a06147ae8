package web

import "strings"

// A Field is one header field line: a name and its value, with the
// surrounding whitespace removed (RFC 9112 §5).
type Field struct {
	Name, Value string
}

// Header is an ordered list of fields. Lookups ignore the case of names
// (RFC 9110 §5.1). Order is kept because it is what was on the wire and
// because the order of fields with the same name matters (§5.3).
type Header []Field

// Get returns the value of the first field named name, or "".
func (h Header) Get(name string) string {
	for i := range h {
		if equalFold(h[i].Name, name) {
			return h[i].Value
		}
	}
	return ""
}

// Has reports whether a field named name is present.
func (h Header) Has(name string) bool {
	for i := range h {
		if equalFold(h[i].Name, name) {
			return true
		}
	}
	return false
}

// Values returns the values of every field named name, in order.
func (h Header) Values(name string) []string {
	var vs []string
	for i := range h {
		if equalFold(h[i].Name, name) {
			vs = append(vs, h[i].Value)
		}
	}
	return vs
}

// count returns how many fields are named name.
func (h Header) count(name string) int {
	n := 0
	for i := range h {
		if equalFold(h[i].Name, name) {
			n++
		}
	}
	return n
}

// Add appends a field.
func (h *Header) Add(name, value string) { *h = append(*h, Field{name, value}) }

// Set replaces every field named name by one with value.
func (h *Header) Set(name, value string) {
	for i := range *h {
		if equalFold((*h)[i].Name, name) {
			(*h)[i].Value = value
			h.delFrom(i+1, name)
			return
		}
	}
	*h = append(*h, Field{name, value})
}

// Del removes every field named name.
func (h *Header) Del(name string) { h.delFrom(0, name) }

func (h *Header) delFrom(start int, name string) {
	out := (*h)[:start]
	for _, f := range (*h)[start:] {
		if !equalFold(f.Name, name) {
			out = append(out, f)
		}
	}
	clear((*h)[len(out):])
	*h = out
}

// hasToken reports whether a comma-separated list field named name contains
// token, ignoring case (for Connection: close, keep-alive, RFC 9110 §5.6.1).
func (h Header) hasToken(name, token string) bool {
	for i := range h {
		if !equalFold(h[i].Name, name) {
			continue
		}
		v := h[i].Value
		for v != "" {
			var item string
			item, v, _ = strings.Cut(v, ",")
			if equalFold(strings.Trim(item, " \t"), token) {
				return true
			}
		}
	}
	return false
}

// equalFold compares two ASCII strings ignoring case, without the Unicode
// folding of strings.EqualFold (field names are tokens: ASCII only).
func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// tchar reports whether c may appear in a token (RFC 9110 §5.6.2).
func tchar(c byte) bool { return c < 128 && tcharTable[c] }

var tcharTable = func() (t [128]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tchar(s[i]) {
			return false
		}
	}
	return true
}

// validFieldValue reports whether v holds only visible characters, spaces,
// tabs and obs-text (RFC 9110 §5.5): no NUL, CR, LF or other controls.
func validFieldValue(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
