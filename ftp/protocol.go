package ftp

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Reply is one FTP reply: a three-digit code and its text. A text of
// several lines (separated by "\n") is sent as a multi-line reply
// (RFC 959 section 4.2): "code-first", the middle lines indented by a space,
// "code last".
type Reply struct {
	Code int
	Text string
}

func (r Reply) String() string { return fmt.Sprintf("%03d %s", r.Code, r.Text) }

// Append appends r in wire form to b.
func (r Reply) Append(b []byte) []byte {
	lines := strings.Split(r.Text, "\n")
	for i, l := range lines {
		l = strings.TrimRight(l, "\r")
		switch {
		case len(lines) == 1:
			b = fmt.Appendf(b, "%03d %s\r\n", r.Code, l)
		case i == 0:
			b = fmt.Appendf(b, "%03d-%s\r\n", r.Code, l)
		case i == len(lines)-1:
			b = fmt.Appendf(b, "%03d %s\r\n", r.Code, l)
		default:
			b = append(b, ' ')
			b = append(b, l...)
			b = append(b, "\r\n"...)
		}
	}
	return b
}

// Command is one parsed command line.
type Command struct {
	Verb string // upper case, e.g. "RETR"
	Arg  string // the rest of the line after one space, as sent
}

// Errors of ParseCommand.
var (
	ErrEmptyCommand = errors.New("ftp: empty command")
	ErrBadCommand   = errors.New("ftp: malformed command")
)

// Telnet bytes a client may put before ABOR (RFC 959 section 4.1.3): IAC IP,
// IAC DM (the Synch's data mark), and IAC IAC for a literal 0xFF.
const (
	telnetIAC = 0xFF
	telnetIP  = 0xF4
	telnetDM  = 0xF2
)

// ParseCommand parses a command line without its CRLF. Telnet IAC sequences
// are removed (RFC 959 section 4.1.3: a client may send IAC IP and the Synch
// before ABOR; IAC IAC stands for 0xFF). The verb is 3 or 4 letters, in any
// case; RFC 959 puts exactly one space before the argument, which is kept as
// sent (path names may begin or end with spaces). A NUL or a bare CR in the
// line is refused.
func ParseCommand(line []byte) (Command, error) {
	var clean []byte
	for i := 0; i < len(line); i++ {
		c := line[i]
		if c == telnetIAC {
			// IAC IAC is a data 0xFF; IAC and a command byte (IP, DM,
			// ...) are dropped together; an IAC before anything else
			// (its DM taken out of the stream as urgent data) alone.
			if i+1 < len(line) && line[i+1] == telnetIAC {
				clean = append(clean, telnetIAC)
				i++
			} else if i+1 < len(line) && line[i+1] >= 0xF0 {
				i++
			}
			continue
		}
		if c == 0 || c == '\r' || c == '\n' {
			return Command{}, ErrBadCommand
		}
		clean = append(clean, c)
	}
	s := string(clean)
	if strings.TrimSpace(s) == "" {
		return Command{}, ErrEmptyCommand
	}
	verb, arg, _ := strings.Cut(s, " ")
	if len(verb) < 3 || len(verb) > 4 {
		return Command{}, ErrBadCommand
	}
	for i := 0; i < len(verb); i++ {
		c := verb[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return Command{}, ErrBadCommand
		}
	}
	return Command{Verb: strings.ToUpper(verb), Arg: arg}, nil
}

// ErrBadAddress reports a malformed host-port argument or reply.
var ErrBadAddress = errors.New("ftp: malformed address")

// ParseHostPort parses RFC 959's h1,h2,h3,h4,p1,p2 (the PORT argument and
// the inside of PASV's reply).
func ParseHostPort(s string) (netip.AddrPort, error) {
	parts := strings.Split(strings.TrimSpace(s), ",")
	if len(parts) != 6 {
		return netip.AddrPort{}, ErrBadAddress
	}
	var n [6]byte
	for i, p := range parts {
		v, err := strconv.ParseUint(strings.TrimSpace(p), 10, 8)
		if err != nil {
			return netip.AddrPort{}, ErrBadAddress
		}
		n[i] = byte(v)
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{n[0], n[1], n[2], n[3]}), uint16(n[4])<<8|uint16(n[5])), nil
}

// FormatHostPort writes an IPv4 address and port as h1,h2,h3,h4,p1,p2.
func FormatHostPort(ap netip.AddrPort) string {
	a := ap.Addr().Unmap().As4()
	p := ap.Port()
	return fmt.Sprintf("%d,%d,%d,%d,%d,%d", a[0], a[1], a[2], a[3], p>>8, p&0xFF)
}

// ParseEPRT parses RFC 2428's <d><proto><d><addr><d><port><d>, where proto
// 1 is IPv4 and 2 is IPv6.
func ParseEPRT(s string) (netip.AddrPort, error) {
	if len(s) < 2 {
		return netip.AddrPort{}, ErrBadAddress
	}
	d := s[:1]
	if d[0] < 33 || d[0] > 126 {
		return netip.AddrPort{}, ErrBadAddress
	}
	parts := strings.Split(s, d)
	if len(parts) != 5 || parts[0] != "" || parts[4] != "" {
		return netip.AddrPort{}, ErrBadAddress
	}
	a, err := netip.ParseAddr(parts[2])
	if err != nil || a.Zone() != "" {
		return netip.AddrPort{}, ErrBadAddress
	}
	switch parts[1] {
	case "1":
		if !a.Is4() {
			return netip.AddrPort{}, ErrBadAddress
		}
	case "2":
		if !a.Is6() {
			return netip.AddrPort{}, ErrBadAddress
		}
	default:
		return netip.AddrPort{}, ErrBadAddress
	}
	p, err := strconv.ParseUint(parts[3], 10, 16)
	if err != nil || p == 0 {
		return netip.AddrPort{}, ErrBadAddress
	}
	return netip.AddrPortFrom(a, uint16(p)), nil
}

// FormatEPRT writes ap as an EPRT argument.
func FormatEPRT(ap netip.AddrPort) string {
	a := ap.Addr().Unmap()
	proto := 1
	if a.Is6() {
		proto = 2
	}
	return fmt.Sprintf("|%d|%s|%d|", proto, a, ap.Port())
}

// ParsePASVReply reads the address of a 227 reply's text, "Entering Passive
// Mode (h1,h2,h3,h4,p1,p2)"; the parentheses are optional (RFC 1123 section
// 4.1.2.6), so the first run of digits and commas is taken.
func ParsePASVReply(text string) (netip.AddrPort, error) {
	start := strings.IndexAny(text, "0123456789")
	if start < 0 {
		return netip.AddrPort{}, ErrBadAddress
	}
	end := start
	for end < len(text) && (text[end] == ',' || '0' <= text[end] && text[end] <= '9') {
		end++
	}
	return ParseHostPort(text[start:end])
}

// ParseEPSVReply reads the port of a 229 reply's text, "Entering Extended
// Passive Mode (|||port|)" (RFC 2428 section 3).
func ParseEPSVReply(text string) (uint16, error) {
	i := strings.IndexByte(text, '(')
	j := strings.LastIndexByte(text, ')')
	if i < 0 || j < i+1 {
		return 0, ErrBadAddress
	}
	in := text[i+1 : j]
	if len(in) < 5 {
		return 0, ErrBadAddress
	}
	d := in[:1]
	parts := strings.Split(in, d)
	if len(parts) != 5 || parts[0] != "" || parts[1] != "" || parts[2] != "" || parts[4] != "" {
		return 0, ErrBadAddress
	}
	p, err := strconv.ParseUint(parts[3], 10, 16)
	if err != nil || p == 0 {
		return 0, ErrBadAddress
	}
	return uint16(p), nil
}

// quote doubles the quotes of a path name for a 257 reply (RFC 959
// appendix II).
func quote(p string) string { return `"` + strings.ReplaceAll(p, `"`, `""`) + `"` }
