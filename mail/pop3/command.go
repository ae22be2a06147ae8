package pop3

import (
	"errors"
	"strings"
)

// Limits of the command syntax. RFC 2449 section 4: a command line is at
// most 255 octets, CRLF included, and each argument at most 40; a SASL
// response line (RFC 5034 section 4) may be longer, up to MaxLine.
const (
	MaxCommandLine = 255
	MaxArg         = 40
	MaxLine        = 8192
	maxArgs        = 4
)

// Command is one parsed command line.
type Command struct {
	// Verb is the keyword in upper case.
	Verb string
	// Args are the space-separated arguments.
	Args []string
	// Rest is the line after the keyword and its space, as it came: PASS's
	// one argument, which may hold spaces and any UTF-8 (RFC 1939
	// section 7).
	Rest string
}

// Errors of ParseCommand.
var (
	ErrEmpty      = errors.New("pop3: empty command")
	ErrBadKeyword = errors.New("pop3: bad keyword")
	ErrBadArg     = errors.New("pop3: bad argument")
)

// ParseCommand parses a command line (without its CRLF): a keyword of 3
// or 4 letters, then arguments separated by spaces (RFC 1939 section 3;
// RFC 2449 section 4 allows up to 4 characters). Runs of spaces are taken
// as one, as clients do send them. Arguments must be printable ASCII and
// at most MaxArg octets, except the last argument of AUTH and APOP, which
// carry SASL data and digests.
func ParseCommand(line string) (Command, error) {
	if strings.TrimRight(line, " ") == "" {
		return Command{}, ErrEmpty
	}
	verb, rest, _ := strings.Cut(line, " ")
	if len(verb) < 3 || len(verb) > 4 {
		return Command{}, ErrBadKeyword
	}
	for i := 0; i < len(verb); i++ {
		c := verb[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return Command{}, ErrBadKeyword
		}
	}
	cmd := Command{Verb: strings.ToUpper(verb), Rest: rest}
	if cmd.Verb == "PASS" {
		if rest != "" {
			cmd.Args = []string{rest}
		}
		return cmd, nil
	}
	for _, f := range strings.Split(strings.TrimRight(rest, " "), " ") {
		if f == "" {
			continue
		}
		if len(cmd.Args) == maxArgs {
			return cmd, ErrBadArg
		}
		for i := 0; i < len(f); i++ {
			if f[i] < 0x21 || f[i] > 0x7e {
				return cmd, ErrBadArg
			}
		}
		cmd.Args = append(cmd.Args, f)
	}
	long := cmd.Verb == "AUTH" || cmd.Verb == "APOP" || cmd.Verb == "USER"
	for _, a := range cmd.Args {
		if len(a) > MaxArg && !long {
			return cmd, ErrBadArg
		}
	}
	return cmd, nil
}

// parseMsgNum parses a message number argument: a decimal number from 1,
// without sign or leading zeros beyond what clients send.
func parseMsgNum(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, n > 0
}

// parseCount parses TOP's line count: a non-negative number.
func parseCount(s string) (int, bool) {
	if s == "0" {
		return 0, true
	}
	return parseMsgNum(s)
}
