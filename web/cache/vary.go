package cache

import (
	"slices"
	"strings"

	"github.com/applayer/applayer/web"
)

// ParseVary reads the Vary field lines of a response (RFC 9110 §12.5.5)
// into the lower-case names of the request fields that select it, once
// each in the order first given, skipping empty list elements. star
// reports "*": the response never matches a later request without
// revalidation (RFC 9111 §4.1), and this cache does not store it.
func ParseVary(values []string) (names []string, star bool) {
	for _, v := range values {
		for f := range strings.SplitSeq(v, ",") {
			f = strings.ToLower(strings.Trim(f, " \t"))
			switch {
			case f == "":
			case f == "*":
				star = true
			case !isToken(f):
				// Not a field name: nothing can match it, as "*".
				star = true
			case !slices.Contains(names, f):
				names = append(names, f)
			}
		}
	}
	return names, star
}

// absent stands for a request without the field, which differs from a
// request with an empty one.
const absent = "\x00"

// NormalizeField returns the selecting value of the field name in h, in
// the normal form RFC 9111 §4.1 allows two requests to be compared in:
// several lines joined as one list (RFC 9110 §5.3), whitespace around
// list elements and empty elements dropped, and, for the fields whose
// values are case-insensitive tokens (Accept-Encoding, Accept-Charset,
// Accept-Language), lower case. A field absent from h gives "\x00".
func NormalizeField(h web.Header, name string) string {
	vals := h.Values(name)
	if len(vals) == 0 {
		return absent
	}
	fold := false
	switch strings.ToLower(name) {
	case "accept-encoding", "accept-charset", "accept-language":
		fold = true
	}
	var b strings.Builder
	for _, v := range vals {
		for e := range splitList(v) {
			if e == "" {
				continue
			}
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			if fold {
				e = strings.ToLower(e)
			}
			b.WriteString(compactOWS(e))
		}
	}
	return b.String()
}

// splitList yields the elements of a list value, trimmed, splitting on
// commas outside quoted strings.
func splitList(v string) func(func(string) bool) {
	return func(yield func(string) bool) {
		start, inq := 0, false
		for i := 0; i < len(v); i++ {
			switch {
			case inq && v[i] == '\\':
				i++
			case v[i] == '"':
				inq = !inq
			case !inq && v[i] == ',':
				if !yield(strings.Trim(v[start:i], " \t")) {
					return
				}
				start = i + 1
			}
		}
		if start <= len(v) {
			yield(strings.Trim(v[min(start, len(v)):], " \t"))
		}
	}
}

// compactOWS removes optional whitespace around ";" and "=" in one list
// element ("gzip ; q=0.5" and "gzip;q=0.5" are one value), outside quoted
// strings.
func compactOWS(e string) string {
	if !strings.ContainsAny(e, " \t") {
		return e
	}
	var b strings.Builder
	inq := false
	for i := 0; i < len(e); i++ {
		c := e[i]
		if c == '"' {
			inq = !inq
		}
		if !inq && (c == ' ' || c == '\t') {
			// Drop whitespace next to a separator; keep other runs as one space.
			j := i
			for j < len(e) && (e[j] == ' ' || e[j] == '\t') {
				j++
			}
			prev := byte(0)
			if b.Len() > 0 {
				prev = b.String()[b.Len()-1]
			}
			next := byte(0)
			if j < len(e) {
				next = e[j]
			}
			if prev != ';' && prev != '=' && next != ';' && next != '=' {
				b.WriteByte(' ')
			}
			i = j - 1
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// SecondaryKey is the request's side of the cache key for a response
// that varies on names: each field's normal form, NUL-separated.
func SecondaryKey(h web.Header, names []string) string {
	if len(names) == 0 {
		return ""
	}
	var b strings.Builder
	for i, n := range names {
		if i > 0 {
			b.WriteByte(0)
		}
		b.WriteString(n)
		b.WriteByte('=')
		b.WriteString(NormalizeField(h, n))
	}
	return b.String()
}
