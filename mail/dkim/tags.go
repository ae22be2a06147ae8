package dkim

import (
	"errors"
	"fmt"
	"strings"
)

// maxTagList bounds a tag list (a signature or a key record): the
// largest RSA key a verifier accepts is 4096 bits, about 750 characters.
const maxTagList = 8 << 10

// tagList is a parsed tag=value list (RFC 6376 §3.2), in order.
type tagList struct {
	names  []string
	values map[string]string
}

func (t tagList) get(name string) (string, bool) {
	v, ok := t.values[name]
	return v, ok
}

// parseTags parses a tag list: "tag=value" separated by ";", whitespace
// around tags and values ignored, a trailing ";" allowed, a duplicated tag
// an error (§3.2).
func parseTags(s string) (tagList, error) {
	if len(s) > maxTagList {
		return tagList{}, errors.New("tag list too long")
	}
	t := tagList{values: map[string]string{}}
	for spec := range strings.SplitSeq(s, ";") {
		spec = trimFWS(spec)
		if spec == "" {
			continue // the optional trailing ";" or an empty spec
		}
		name, value, ok := strings.Cut(spec, "=")
		if !ok {
			return tagList{}, fmt.Errorf("tag %q has no value", spec)
		}
		name, value = trimFWS(name), trimFWS(value)
		if !validTagName(name) {
			return tagList{}, fmt.Errorf("bad tag name %q", name)
		}
		if _, dup := t.values[name]; dup {
			return tagList{}, fmt.Errorf("tag %s twice", name)
		}
		t.names = append(t.names, name)
		t.values[name] = value
	}
	return t, nil
}

// validTagName: ALPHA *ALNUMPUNC (§3.2).
func validTagName(s string) bool {
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isAlpha(c) && !(c >= '0' && c <= '9') && c != '_' {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

func isWSP(c byte) bool { return c == ' ' || c == '\t' }

// trimFWS removes folding white space (spaces, tabs, CR and LF) at both
// ends.
func trimFWS(s string) string { return strings.Trim(s, " \t\r\n") }

// stripFWS removes all folding white space, as in a base64 value (§3.2).
func stripFWS(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, s)
}
