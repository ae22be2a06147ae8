package cache

import (
	"strconv"
	"strings"
)

// Control is a parsed Cache-Control field (RFC 9111 §5.2), of a request
// or of a response: both directions share one syntax, and each directive
// is kept whichever side it belongs to, so that the caller asks for the
// ones its direction defines.
//
// Delta-seconds directives are -1 when absent. A directive given more than
// once keeps its first value (§4.2.1). A delta-seconds value that is not a
// non-negative integer is kept as Invalid (0 where a value is read): a
// response whose max-age cannot be read is stale (§4.2.1 lets a cache
// consider it so), never fresher than it said.
type Control struct {
	MaxAge               int64 // max-age (both)
	SMaxAge              int64 // s-maxage (response, shared caches)
	MaxStale             int64 // max-stale (request); MaxStaleAny when given without a value
	MinFresh             int64 // min-fresh (request)
	StaleWhileRevalidate int64 // stale-while-revalidate (response, RFC 5861)
	StaleIfError         int64 // stale-if-error (both, RFC 5861)

	NoStore         bool     // no-store (both)
	NoCache         bool     // no-cache (both); with fields, see NoCacheFields
	NoCacheFields   []string // no-cache="a, b" (response): lower-case names
	Private         bool     // private (response); with fields, see PrivateFields
	PrivateFields   []string // private="a, b": lower-case names
	Public          bool     // public (response)
	MustRevalidate  bool     // must-revalidate (response)
	ProxyRevalidate bool     // proxy-revalidate (response)
	MustUnderstand  bool     // must-understand (response)
	NoTransform     bool     // no-transform (both)
	Immutable       bool     // immutable (response, RFC 8246)
	OnlyIfCached    bool     // only-if-cached (request)

	// Invalid reports a directive whose value could not be read (a
	// delta-seconds that is not digits, a quoted string left open).
	Invalid bool
}

// MaxStaleAny is MaxStale for "max-stale" without a value: any staleness.
const MaxStaleAny = int64(1) << 62

// maxDelta is where delta-seconds saturate (RFC 9111 §1.2.2: 2^31).
const maxDelta = int64(1) << 31

// ParseControl parses the values of every Cache-Control field line of a
// message, in order (RFC 9110 §5.3: several lines are one list).
// Unknown directives are ignored (RFC 9111 §5.2.3).
func ParseControl(values []string) Control {
	c := Control{MaxAge: -1, SMaxAge: -1, MaxStale: -1, MinFresh: -1, StaleWhileRevalidate: -1, StaleIfError: -1}
	var seen uint32 // known directives met, by bit (directiveBit)
	for _, v := range values {
		for len(v) > 0 {
			var name, arg string
			var hasArg, ok bool
			name, arg, hasArg, v, ok = nextDirective(v)
			if !ok {
				c.Invalid = true
			}
			if name == "" {
				continue
			}
			name = lower(name)
			bit := directiveBit(name)
			if bit == 0 {
				continue // unknown: ignored (§5.2.3)
			}
			if seen&bit != 0 {
				continue // first occurrence wins (§4.2.1)
			}
			seen |= bit
			c.set(name, arg, hasArg)
		}
	}
	return c
}

var directives = []string{"max-age", "s-maxage", "max-stale", "min-fresh", "stale-while-revalidate", "stale-if-error",
	"no-store", "no-cache", "private", "public", "must-revalidate", "proxy-revalidate", "must-understand",
	"no-transform", "immutable", "only-if-cached"}

func directiveBit(name string) uint32 {
	for i, d := range directives {
		if d == name {
			return 1 << i
		}
	}
	return 0
}

// lower is strings.ToLower for tokens, without allocating when s is
// already in lower case.
func lower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

func (c *Control) set(name, arg string, hasArg bool) {
	delta := func() int64 {
		n, ok := parseDelta(arg)
		if !hasArg || !ok {
			c.Invalid = true
			return 0
		}
		return n
	}
	switch name {
	case "max-age":
		c.MaxAge = delta()
	case "s-maxage":
		c.SMaxAge = delta()
	case "max-stale":
		if !hasArg {
			c.MaxStale = MaxStaleAny
		} else {
			c.MaxStale = delta()
		}
	case "min-fresh":
		c.MinFresh = delta()
	case "stale-while-revalidate":
		c.StaleWhileRevalidate = delta()
	case "stale-if-error":
		c.StaleIfError = delta()
	case "no-store":
		c.NoStore = true
	case "no-cache":
		c.NoCache = true
		if hasArg {
			c.NoCacheFields = fieldNames(arg)
		}
	case "private":
		c.Private = true
		if hasArg {
			c.PrivateFields = fieldNames(arg)
		}
	case "public":
		c.Public = true
	case "must-revalidate":
		c.MustRevalidate = true
	case "proxy-revalidate":
		c.ProxyRevalidate = true
	case "must-understand":
		c.MustUnderstand = true
	case "no-transform":
		c.NoTransform = true
	case "immutable":
		c.Immutable = true
	case "only-if-cached":
		c.OnlyIfCached = true
	}
}

// String writes c back as a Cache-Control value, directives in a fixed
// order; ParseControl(String()) gives c back (Invalid aside).
func (c Control) String() string {
	var b []string
	delta := func(name string, n int64) {
		if n >= 0 {
			b = append(b, name+"="+strconv.FormatInt(n, 10))
		}
	}
	fields := func(name string, on bool, f []string) {
		switch {
		case !on:
		case f != nil:
			b = append(b, name+`="`+strings.Join(f, ", ")+`"`)
		default:
			b = append(b, name)
		}
	}
	flag := func(name string, on bool) {
		if on {
			b = append(b, name)
		}
	}
	delta("max-age", c.MaxAge)
	delta("s-maxage", c.SMaxAge)
	if c.MaxStale == MaxStaleAny {
		b = append(b, "max-stale")
	} else {
		delta("max-stale", c.MaxStale)
	}
	delta("min-fresh", c.MinFresh)
	delta("stale-while-revalidate", c.StaleWhileRevalidate)
	delta("stale-if-error", c.StaleIfError)
	flag("no-store", c.NoStore)
	fields("no-cache", c.NoCache, c.NoCacheFields)
	fields("private", c.Private, c.PrivateFields)
	flag("public", c.Public)
	flag("must-revalidate", c.MustRevalidate)
	flag("proxy-revalidate", c.ProxyRevalidate)
	flag("must-understand", c.MustUnderstand)
	flag("no-transform", c.NoTransform)
	flag("immutable", c.Immutable)
	flag("only-if-cached", c.OnlyIfCached)
	return strings.Join(b, ", ")
}

// nextDirective reads one list element of s: token [ "=" ( token /
// quoted-string ) ] (RFC 9110 §5.6.1, §5.6.4), and returns what follows
// the comma after it. ok is false for an element that is not well formed;
// its name is still returned when one was read, so that a malformed
// argument of a known directive counts as the directive with a bad value.
func nextDirective(s string) (name, arg string, hasArg bool, rest string, ok bool) {
	s = strings.TrimLeft(s, " \t")
	i := 0
	for i < len(s) && tchar(s[i]) {
		i++
	}
	name, s = s[:i], strings.TrimLeft(s[i:], " \t")
	ok = true
	if s != "" && s[0] == '=' {
		hasArg = true
		s = strings.TrimLeft(s[1:], " \t")
		if s != "" && s[0] == '"' {
			var q bool
			arg, s, q = quoted(s)
			ok = q
		} else {
			j := 0
			for j < len(s) && tchar(s[j]) {
				j++
			}
			arg, s = s[:j], s[j:]
		}
		s = strings.TrimLeft(s, " \t")
	}
	if s != "" && s[0] != ',' {
		// Garbage after the element: skip to the next comma outside quotes.
		ok = false
		s = skipElement(s)
	}
	if s != "" {
		s = s[1:]
	}
	if name == "" && (hasArg || !ok) {
		ok = false
	}
	return name, arg, hasArg, s, ok
}

// quoted reads a quoted-string at the start of s (RFC 9110 §5.6.4) and
// returns its unescaped content and what follows it.
func quoted(s string) (string, string, bool) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '"':
			return b.String(), s[i+1:], true
		case '\\':
			if i+1 < len(s) {
				i++
			}
		}
		b.WriteByte(s[i])
	}
	return b.String(), "", false
}

// skipElement returns s from the next comma that is not inside a quoted
// string (or "").
func skipElement(s string) string {
	inq := false
	for i := 0; i < len(s); i++ {
		switch {
		case inq && s[i] == '\\':
			i++
		case s[i] == '"':
			inq = !inq
		case !inq && s[i] == ',':
			return s[i:]
		}
	}
	return ""
}

// parseDelta reads delta-seconds = 1*DIGIT (RFC 9111 §1.2.2), saturating
// at 2^31.
func parseDelta(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		if n < maxDelta {
			n = n*10 + int64(s[i]-'0')
		}
	}
	return min(n, maxDelta), true
}

// fieldNames splits the field-name list of no-cache="..." or private="..."
// into lower-case names.
func fieldNames(s string) []string {
	out := []string{}
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.ToLower(strings.Trim(f, " \t")); f != "" && isToken(f) {
			out = append(out, f)
		}
	}
	return out
}

func tchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

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
