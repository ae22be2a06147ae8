package spf

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxRecord bounds a record's length (a TXT record of many strings can be
// long; 4096 bytes is more than any sane policy).
const maxRecord = 4096

// Qualifier is a directive's result when it matches (§4.6.2).
type Qualifier byte

func (q Qualifier) result() Result {
	switch q {
	case '-':
		return Fail
	case '~':
		return SoftFail
	case '?':
		return Neutral
	}
	return Pass
}

// Mechanism is one directive of a record (§5).
type Mechanism struct {
	Qualifier Qualifier    // '+', '-', '~' or '?'
	Kind      string       // all, include, a, mx, ptr, ip4, ip6, exists
	Domain    string       // the domain-spec, unexpanded; "" for the current domain
	Prefix    netip.Prefix // ip4 and ip6
	Bits4     int          // a and mx: the IPv4 prefix length (default 32)
	Bits6     int          // a and mx: the IPv6 prefix length (default 128)
}

// String writes the mechanism as a record has it.
func (m Mechanism) String() string {
	s := string(m.Qualifier)
	if m.Qualifier == '+' {
		s = ""
	}
	s += m.Kind
	switch {
	case m.Kind == "ip4" || m.Kind == "ip6":
		return s + ":" + m.Prefix.String()
	case m.Domain != "":
		s += ":" + m.Domain
	}
	if m.Kind == "a" || m.Kind == "mx" {
		if m.Bits4 != 32 {
			s += "/" + strconv.Itoa(m.Bits4)
		}
		if m.Bits6 != 128 {
			s += "//" + strconv.Itoa(m.Bits6)
		}
	}
	return s
}

// Record is a parsed SPF record.
type Record struct {
	Mechanisms []Mechanism
	Redirect   string // redirect= domain-spec
	Exp        string // exp= domain-spec
}

// Parse parses a record (§4.6, §12). Any syntax error anywhere makes the
// whole record an error (§4.6: permerror, before anything is evaluated).
func Parse(s string) (*Record, error) {
	if len(s) > maxRecord {
		return nil, errors.New("record too long")
	}
	terms := strings.Fields(s)
	if len(terms) == 0 || !strings.EqualFold(terms[0], "v=spf1") {
		return nil, errors.New("not an SPF record (no v=spf1)")
	}
	r := &Record{}
	for _, t := range terms[1:] {
		if name, value, ok := strings.Cut(t, "="); ok && isModifierName(name) {
			if err := checkMacros(value, false); err != nil {
				return nil, fmt.Errorf("%s: %w", t, err)
			}
			lname := strings.ToLower(name)
			if (lname == "redirect" || lname == "exp") && value == "" {
				return nil, fmt.Errorf("%s= needs a domain", lname)
			}
			switch lname {
			case "redirect":
				if r.Redirect != "" {
					return nil, errors.New("redirect= twice")
				}
				r.Redirect = value
			case "exp":
				if r.Exp != "" {
					return nil, errors.New("exp= twice")
				}
				r.Exp = value
			}
			continue // unknown modifiers are ignored (§6)
		}
		m, err := parseMechanism(t)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", t, err)
		}
		r.Mechanisms = append(r.Mechanisms, m)
	}
	// With an "all", redirect= is never reached (§6.1).
	for _, m := range r.Mechanisms {
		if m.Kind == "all" {
			r.Redirect = ""
		}
	}
	return r, nil
}

// isModifierName: ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ) (§12).
func isModifierName(s string) bool {
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isAlpha(c) && !(c >= '0' && c <= '9') && c != '-' && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

func parseMechanism(t string) (Mechanism, error) {
	m := Mechanism{Qualifier: '+', Bits4: 32, Bits6: 128}
	if strings.IndexByte("+-~?", t[0]) >= 0 {
		m.Qualifier, t = Qualifier(t[0]), t[1:]
	}
	name, arg, hasArg := t, "", false
	if i := strings.IndexAny(t, ":/"); i >= 0 {
		name, arg = t[:i], t[i:]
		hasArg = true
	}
	m.Kind = strings.ToLower(name)
	switch m.Kind {
	case "all":
		if hasArg {
			return m, errors.New("all takes no argument")
		}
	case "include", "exists":
		if !strings.HasPrefix(arg, ":") || len(arg) == 1 {
			return m, errors.New(m.Kind + " needs :domain")
		}
		m.Domain = arg[1:]
	case "ptr":
		if hasArg {
			if !strings.HasPrefix(arg, ":") || len(arg) == 1 {
				return m, errors.New("ptr takes :domain only")
			}
			m.Domain = arg[1:]
		}
	case "a", "mx":
		rest, b4, b6, err := dualCIDR(arg)
		if err != nil {
			return m, err
		}
		m.Bits4, m.Bits6 = b4, b6
		if rest != "" {
			if !strings.HasPrefix(rest, ":") || len(rest) == 1 {
				return m, errors.New("bad argument")
			}
			m.Domain = rest[1:]
		}
	case "ip4", "ip6":
		if !strings.HasPrefix(arg, ":") {
			return m, errors.New(m.Kind + " needs :address")
		}
		addr, bits, hasBits := strings.Cut(arg[1:], "/")
		a, err := netip.ParseAddr(addr)
		if err != nil || a.Is4() != (m.Kind == "ip4") || a.Zone() != "" {
			return m, fmt.Errorf("bad %s address %q", m.Kind, addr)
		}
		n := a.BitLen()
		if hasBits {
			if n, err = cidrLength(bits, a.BitLen()); err != nil {
				return m, err
			}
		}
		m.Prefix = netip.PrefixFrom(a, n).Masked()
	default:
		return m, errors.New("unknown mechanism")
	}
	if m.Domain != "" {
		if err := checkMacros(m.Domain, false); err != nil {
			return m, err
		}
	}
	return m, nil
}

// dualCIDR splits [":" domain-spec] [ "/" ip4-len ] [ "//" ip6-len ] from
// the end of a and mx arguments (§5.6). A "/" inside a macro's braces is
// a delimiter, not a prefix length.
func dualCIDR(arg string) (rest string, b4, b6 int, err error) {
	b4, b6 = 32, 128
	tail := 0
	if i := strings.LastIndexByte(arg, '}'); i >= 0 {
		tail = i + 1
	}
	if i := strings.Index(arg[tail:], "//"); i >= 0 {
		if b6, err = cidrLength(arg[tail+i+2:], 128); err != nil {
			return "", 0, 0, err
		}
		arg = arg[:tail+i]
	}
	if i := strings.LastIndexByte(arg[tail:], '/'); i >= 0 {
		if b4, err = cidrLength(arg[tail+i+1:], 32); err != nil {
			return "", 0, 0, err
		}
		arg = arg[:tail+i]
	}
	return arg, b4, b6, nil
}

// cidrLength parses a prefix length: digits, no leading zero, at most max.
func cidrLength(s string, max int) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || s == "" || (len(s) > 1 && s[0] == '0') || n < 0 || n > max || s[0] == '+' {
		return 0, fmt.Errorf("bad prefix length %q", s)
	}
	return n, nil
}

// checkMacros validates a macro-string's syntax (§7.1).
func checkMacros(s string, exp bool) error {
	_, err := expandWith(s, exp, func(byte) (string, error) { return "x", nil })
	return err
}

// expand expands the macros of a domain-spec or explanation (§7).
func (e *eval) expand(s, domain string, exp bool) (string, error) {
	out, err := expandWith(s, exp, func(letter byte) (string, error) {
		switch letter {
		case 's':
			return e.sender, nil
		case 'l':
			return e.local, nil
		case 'o':
			return e.senderDomain, nil
		case 'd':
			return domain, nil
		case 'i':
			return dotted(e.ip), nil
		case 'p':
			return "unknown", nil // §7.3: SHOULD NOT be used; not looked up
		case 'v':
			if e.ip.Is4() {
				return "in-addr", nil
			}
			return "ip6", nil
		case 'h':
			return e.helo, nil
		case 'c':
			return e.ip.String(), nil
		case 'r':
			return "unknown", nil
		case 't':
			return strconv.FormatInt(time.Now().Unix(), 10), nil
		}
		return "", fmt.Errorf("unknown macro letter %q", letter)
	})
	if err != nil {
		return "", err
	}
	if !exp {
		// §7.3: a domain longer than 253 loses labels on the left.
		for len(out) > 253 {
			i := strings.IndexByte(out, '.')
			if i < 0 {
				break
			}
			out = out[i+1:]
		}
	}
	return out, nil
}

// expandWith expands s with value giving each macro letter's value.
func expandWith(s string, exp bool, value func(byte) (string, error)) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			if c < 0x21 || c > 0x7e {
				if !(exp && c == ' ') {
					return "", fmt.Errorf("bad character %q in a macro string", c)
				}
			}
			b.WriteByte(c)
			continue
		}
		if i+1 == len(s) {
			return "", errors.New("% at the end of a macro string")
		}
		i++
		switch s[i] {
		case '%':
			b.WriteByte('%')
		case '_':
			b.WriteByte(' ')
		case '-':
			b.WriteString("%20")
		case '{':
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return "", errors.New("unclosed %{")
			}
			spec := s[i+1 : i+end]
			i += end
			v, err := macro(spec, exp, value)
			if err != nil {
				return "", err
			}
			b.WriteString(v)
		default:
			return "", fmt.Errorf("bad macro %%%c", s[i])
		}
	}
	return b.String(), nil
}

// macro expands one %{...}: letter, digits, "r", delimiters (§7.1).
func macro(spec string, exp bool, value func(byte) (string, error)) (string, error) {
	if spec == "" {
		return "", errors.New("empty %{}")
	}
	letter := spec[0]
	lower := letter | 0x20
	if strings.IndexByte("slodipvh", lower) < 0 && !(exp && strings.IndexByte("crt", lower) >= 0) {
		return "", fmt.Errorf("bad macro letter %q", letter)
	}
	rest := spec[1:]
	digits := 0
	for digits < len(rest) && rest[digits] >= '0' && rest[digits] <= '9' {
		digits++
	}
	keep := -1
	if digits > 0 {
		n, err := strconv.Atoi(rest[:digits])
		if err != nil || n == 0 || n > 128 {
			return "", fmt.Errorf("bad macro digits in %%{%s}", spec)
		}
		keep = n
	}
	rest = rest[digits:]
	reverse := false
	if rest != "" && (rest[0] == 'r' || rest[0] == 'R') {
		reverse, rest = true, rest[1:]
	}
	delims := "."
	if rest != "" {
		for i := 0; i < len(rest); i++ {
			if strings.IndexByte(".-+,/_=", rest[i]) < 0 {
				return "", fmt.Errorf("bad macro delimiter %q", rest[i])
			}
		}
		delims = rest
	}
	v, err := value(lower)
	if err != nil {
		return "", err
	}
	parts := strings.FieldsFunc(v, func(r rune) bool { return strings.ContainsRune(delims, r) })
	if reverse {
		for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
			parts[i], parts[j] = parts[j], parts[i]
		}
	}
	if keep > 0 && keep < len(parts) {
		parts = parts[len(parts)-keep:]
	}
	out := strings.Join(parts, ".")
	if letter != lower {
		out = url.QueryEscape(out) // §7.3: upper case asks for URL escaping
		out = strings.ReplaceAll(out, "+", "%20")
	}
	return out, nil
}

// dotted is the %{i} form of an address: dotted quad for IPv4, dotted
// nibbles for IPv6 (§7.3).
func dotted(a netip.Addr) string {
	if a.Is4() {
		return a.String()
	}
	b := a.As16()
	nibbles := make([]string, 0, 32)
	for _, x := range b {
		nibbles = append(nibbles, strconv.FormatUint(uint64(x>>4), 16), strconv.FormatUint(uint64(x&15), 16))
	}
	return strings.Join(nibbles, ".")
}
