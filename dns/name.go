package dns

import (
	"errors"
	"strconv"
	"strings"
)

// Names are carried as strings in presentation form (RFC 1035 §5.1): labels
// separated by dots, absolute names ending in a dot, and bytes that are not
// printable or that would be ambiguous (a dot or backslash inside a label)
// written as \. or \DDD. The root is ".". Comparison is case-insensitive for
// ASCII letters only (RFC 4343).

// Limits from RFC 1035 §2.3.4.
const (
	MaxLabelLen = 63
	MaxNameLen  = 255 // in wire form, length octets included
)

var (
	errLabelLen = errors.New("dns: label longer than 63 octets")
	errNameLen  = errors.New("dns: name longer than 255 octets")
	errEmptyLbl = errors.New("dns: empty label")
	errEscape   = errors.New("dns: bad escape in name")
)

// Fqdn returns name with a final dot added if it lacks one.
func Fqdn(name string) string {
	if strings.HasSuffix(name, ".") && !strings.HasSuffix(name, `\.`) || name == "." {
		return name
	}
	return name + "."
}

// CanonicalName returns name lowercased (ASCII only) and absolute, the form
// used as a key in zones and caches.
func CanonicalName(name string) string {
	return lowerASCII(Fqdn(name))
}

func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// EqualNames reports whether a and b are the same name, ignoring ASCII case
// and a missing final dot.
func EqualNames(a, b string) bool {
	return equalFold(Fqdn(a), Fqdn(b))
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if x >= 'A' && x <= 'Z' {
			x += 'a' - 'A'
		}
		if y >= 'A' && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// IsSubdomain reports whether child is parent or lies below it.
func IsSubdomain(child, parent string) bool {
	child, parent = Fqdn(child), Fqdn(parent)
	if parent == "." {
		return true
	}
	if len(child) < len(parent) {
		return false
	}
	if !equalFold(child[len(child)-len(parent):], parent) {
		return false
	}
	if len(child) == len(parent) {
		return true
	}
	// The byte before the suffix must be an unescaped dot.
	i := len(child) - len(parent) - 1
	if child[i] != '.' {
		return false
	}
	n := 0
	for j := i - 1; j >= 0 && child[j] == '\\'; j-- {
		n++
	}
	return n%2 == 0
}

// Labels splits a name into its labels in presentation form (escapes kept).
// The root has no labels.
func Labels(name string) []string {
	name = Fqdn(name)
	if name == "." {
		return nil
	}
	var out []string
	start := 0
	for i := 0; i < len(name); i++ {
		switch name[i] {
		case '\\':
			i++
		case '.':
			out = append(out, name[start:i])
			start = i + 1
		}
	}
	return out
}

// Parent returns the name with its first label removed; the parent of a
// top-level name is ".", and the root has no parent (ok is false).
func Parent(name string) (string, bool) {
	name = Fqdn(name)
	if name == "." {
		return "", false
	}
	for i := 0; i < len(name); i++ {
		switch name[i] {
		case '\\':
			i++
		case '.':
			if i+1 == len(name) {
				return ".", true
			}
			return name[i+1:], true
		}
	}
	return ".", true
}

// CountLabels returns the number of labels of name.
func CountLabels(name string) int { return len(Labels(name)) }

// CheckName reports whether name is a valid presentation-form name: labels
// of 1 to 63 octets, 255 octets in all, escapes well formed.
func CheckName(name string) error {
	_, err := appendNameWire(nil, Fqdn(name))
	return err
}

// appendNameWire appends the uncompressed wire form of an absolute
// presentation-form name.
func appendNameWire(b []byte, name string) ([]byte, error) {
	start := len(b)
	if name == "." {
		return append(b, 0), nil
	}
	if name == "" || name[len(name)-1] != '.' {
		// Relative names are treated as absolute.
		name += "."
	}
	lenAt := len(b)
	b = append(b, 0)
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch c {
		case '.':
			l := len(b) - lenAt - 1
			if l == 0 {
				return b[:start], errEmptyLbl
			}
			if l > MaxLabelLen {
				return b[:start], errLabelLen
			}
			b[lenAt] = byte(l)
			lenAt = len(b)
			b = append(b, 0)
			continue
		case '\\':
			i++
			if i >= len(name) {
				return b[:start], errEscape
			}
			c = name[i]
			if c >= '0' && c <= '9' {
				if i+2 >= len(name) || !isDigit(name[i+1]) || !isDigit(name[i+2]) {
					return b[:start], errEscape
				}
				v := int(c-'0')*100 + int(name[i+1]-'0')*10 + int(name[i+2]-'0')
				if v > 255 {
					return b[:start], errEscape
				}
				c = byte(v)
				i += 2
			}
		}
		b = append(b, c)
	}
	// The loop appended a length byte after the last dot: that is the root
	// label's zero.
	if len(b)-start > MaxNameLen {
		return b[:start], errNameLen
	}
	return b, nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// appendLabelText appends one wire label in presentation form.
func appendLabelText(b []byte, label []byte) []byte {
	for _, c := range label {
		switch {
		case c == '.' || c == '\\' || c == '"' || c == '(' || c == ')' || c == ';' || c == '@' || c == '$':
			b = append(b, '\\', c)
		case c < 0x21 || c > 0x7e:
			b = append(b, '\\')
			if c < 100 {
				b = append(b, '0')
			}
			if c < 10 {
				b = append(b, '0')
			}
			b = strconv.AppendInt(b, int64(c), 10)
		default:
			b = append(b, c)
		}
	}
	return b
}
