package smtp

import (
	"errors"
	"net/netip"
	"strings"
)

// Limits of RFC 5321 section 4.5.3.1.
const (
	MaxLocalPart   = 64
	MaxDomain      = 255
	MaxPath        = 256
	MaxCommandLine = 512  // with CRLF
	MaxTextLine    = 1000 // with CRLF
	MaxReplyLine   = 512  // with CRLF
	MinRecipients  = 100  // a server must accept at least this many
)

// Address is a mailbox, local-part@domain. The local part keeps its case and
// any quoting it came with; the domain is stored in lower case. A domain may
// be an address literal, "[192.0.2.1]" or "[IPv6:::1]".
type Address struct {
	Local  string
	Domain string
}

// String renders local@domain. The one address without a domain, the
// bare "postmaster" of RCPT TO:<Postmaster>, renders as its local part.
func (a Address) String() string {
	if a.Domain == "" {
		return a.Local
	}
	return a.Local + "@" + a.Domain
}

// IsLiteral reports whether the domain is an address literal.
func (a Address) IsLiteral() bool { return strings.HasPrefix(a.Domain, "[") }

// Path is the argument of MAIL FROM or RCPT TO (RFC 5321 section 4.1.2):
// a mailbox in angle brackets, or the null reverse-path "<>" (Null true).
type Path struct {
	Null    bool
	Mailbox Address
}

// String renders the path with its angle brackets.
func (p Path) String() string { return "<" + p.Mailbox.String() + ">" }

// Errors of address parsing.
var (
	ErrBadPath    = errors.New("smtp: path must be <local-part@domain>")
	ErrBadLocal   = errors.New("smtp: invalid local part")
	ErrBadDomain  = errors.New("smtp: invalid domain")
	ErrPathLength = errors.New("smtp: path too long")
)

// ParsePath parses "<local@domain>", "<>" (when allowNull), and the
// obsolete "<@relay,@relay:local@domain>" whose source route is dropped
// (RFC 5321 section 4.1.1.3 and appendix C).
func ParsePath(s string, allowNull bool) (Path, error) {
	if len(s) > MaxPath {
		return Path{}, ErrPathLength
	}
	if len(s) < 2 || s[0] != '<' || s[len(s)-1] != '>' {
		return Path{}, ErrBadPath
	}
	inner := s[1 : len(s)-1]
	if inner == "" {
		if !allowNull {
			return Path{}, ErrBadPath
		}
		return Path{Null: true}, nil
	}
	if inner[0] == '@' {
		// A-d-l ":" Mailbox. The route's domains are checked, then ignored.
		route, rest, ok := strings.Cut(inner, ":")
		if !ok {
			return Path{}, ErrBadPath
		}
		for _, hop := range strings.Split(route, ",") {
			if !strings.HasPrefix(hop, "@") || !validDomain(hop[1:]) {
				return Path{}, ErrBadPath
			}
		}
		inner = rest
	}
	a, err := ParseAddress(inner)
	if err != nil {
		return Path{}, err
	}
	return Path{Mailbox: a}, nil
}

// ParseAddress parses a bare mailbox, local-part@domain (RFC 5321 section
// 4.1.2): the local part a dot-string or a quoted string, the domain a
// name or an address literal.
func ParseAddress(s string) (Address, error) {
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return Address{}, ErrBadPath
	}
	local, domain := s[:at], s[at+1:]
	if !validLocal(local) {
		return Address{}, ErrBadLocal
	}
	if strings.HasPrefix(domain, "[") {
		lit, ok := normalLiteral(domain)
		if !ok {
			return Address{}, ErrBadDomain
		}
		return Address{Local: local, Domain: lit}, nil
	}
	if !validDomain(domain) {
		return Address{}, ErrBadDomain
	}
	return Address{Local: local, Domain: strings.ToLower(domain)}, nil
}

func validLocal(l string) bool {
	if l == "" || len(l) > MaxLocalPart {
		return false
	}
	if l[0] == '"' {
		// Quoted-string: qtextSMTP or quoted-pairSMTP.
		if len(l) < 2 || l[len(l)-1] != '"' {
			return false
		}
		q := l[1 : len(l)-1]
		for i := 0; i < len(q); i++ {
			c := q[i]
			switch {
			case c == '\\':
				i++
				if i >= len(q) || q[i] < 32 || q[i] > 126 {
					return false
				}
			case c == '"' || c < 32 || c > 126:
				return false
			}
		}
		return true
	}
	// Dot-string: atoms separated by single dots.
	for _, atom := range strings.Split(l, ".") {
		if atom == "" {
			return false
		}
		for i := 0; i < len(atom); i++ {
			if !isAtext(atom[i]) {
				return false
			}
		}
	}
	return true
}

// isAtext reports the atext characters of RFC 5322 section 3.2.3.
func isAtext(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// validDomain checks a domain name: dot-separated labels of letters, digits
// and inner hyphens, each 1-63 octets, at most 255 in all. A trailing dot is
// refused: RFC 5321 names are written without it.
func validDomain(d string) bool {
	if d == "" || len(d) > MaxDomain {
		return false
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// ValidDomain reports whether d is a syntactically valid domain name.
func ValidDomain(d string) bool { return validDomain(d) }

// normalLiteral checks an address literal (RFC 5321 section 4.1.3) and
// returns it in canonical form.
func normalLiteral(s string) (string, bool) {
	if len(s) < 3 || s[len(s)-1] != ']' {
		return "", false
	}
	body := s[1 : len(s)-1]
	if v6, ok := strings.CutPrefix(body, "IPv6:"); ok {
		a, err := netip.ParseAddr(v6)
		if err != nil || !a.Is6() || a.Zone() != "" {
			return "", false
		}
		return "[IPv6:" + a.String() + "]", true
	}
	a, err := netip.ParseAddr(body)
	if err != nil || !a.Is4() {
		return "", false
	}
	return "[" + a.String() + "]", true
}
