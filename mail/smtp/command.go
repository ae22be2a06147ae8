package smtp

import (
	"errors"
	"strings"
)

// Command is one parsed command line: the verb in upper case and the rest
// of the line (RFC 5321 section 4.1.1).
type Command struct {
	Verb string
	Arg  string
}

// Errors of command parsing.
var (
	ErrEmptyCommand = errors.New("smtp: empty command")
	ErrBadCommand   = errors.New("smtp: malformed command")
	ErrBadParam     = errors.New("smtp: malformed parameter")
)

// ParseCommand splits a command line (without CRLF) into its verb and
// argument. Verbs are case-insensitive; a verb is 1 to 16 letters. MAIL and
// RCPT are recognised with their "FROM:"/"TO:" keyword, so the verb of
// "MAIL FROM:<a@b>" is "MAIL" and its argument "FROM:<a@b>".
func ParseCommand(line string) (Command, error) {
	line = strings.TrimRight(line, " \t")
	if line == "" {
		return Command{}, ErrEmptyCommand
	}
	for i := 0; i < len(line); i++ {
		if c := line[i]; c < 32 && c != '\t' || c == 127 {
			return Command{}, ErrBadCommand
		}
	}
	verb, arg, _ := strings.Cut(line, " ")
	if len(verb) == 0 || len(verb) > 16 {
		return Command{}, ErrBadCommand
	}
	for i := 0; i < len(verb); i++ {
		c := verb[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return Command{}, ErrBadCommand
		}
	}
	return Command{Verb: strings.ToUpper(verb), Arg: strings.TrimLeft(arg, " ")}, nil
}

// Param is one ESMTP parameter of MAIL or RCPT: "SIZE=1000" or "BODY=8BITMIME"
// (RFC 5321 section 4.1.2, esmtp-param). Keywords are upper-cased.
type Param struct {
	Key   string
	Value string
}

// ParseMailArg parses the argument of MAIL ("FROM:<path> [params]") or
// RCPT ("TO:<path> [params]"); keyword is "FROM" or "TO". A space after the
// colon is tolerated, as real clients send it.
func ParseMailArg(arg, keyword string) (Path, []Param, error) {
	k, rest, ok := strings.Cut(arg, ":")
	if !ok || !strings.EqualFold(k, keyword) {
		return Path{}, nil, ErrBadCommand
	}
	rest = strings.TrimLeft(rest, " ")
	if !strings.HasPrefix(rest, "<") {
		return Path{}, nil, ErrBadPath
	}
	end := closingBracket(rest)
	if end < 0 {
		return Path{}, nil, ErrBadPath
	}
	p, err := ParsePath(rest[:end+1], keyword == "FROM")
	if err != nil && keyword == "TO" && strings.EqualFold(rest[:end+1], "<postmaster>") {
		// RFC 5321 section 4.1.1.3: "RCPT TO:<Postmaster>" without a
		// domain must be accepted; the server supplies its own domain.
		p, err = Path{Mailbox: Address{Local: "postmaster"}}, nil
	}
	if err != nil {
		return Path{}, nil, err
	}
	params, err := parseParams(rest[end+1:])
	if err != nil {
		return Path{}, nil, err
	}
	return p, params, nil
}

// closingBracket finds the '>' that ends a path, skipping quoted strings.
func closingBracket(s string) int {
	quoted := false
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case !quoted && c == '>':
			return i
		}
	}
	return -1
}

func parseParams(s string) ([]Param, error) {
	if s != "" && s[0] != ' ' {
		return nil, ErrBadParam
	}
	var out []Param
	for _, f := range strings.Fields(s) {
		k, v, _ := strings.Cut(f, "=")
		if k == "" {
			return nil, ErrBadParam
		}
		for i := 0; i < len(k); i++ {
			c := k[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' && i > 0) {
				return nil, ErrBadParam
			}
		}
		for i := 0; i < len(v); i++ {
			if c := v[i]; c < 33 || c > 126 || c == '=' {
				return nil, ErrBadParam
			}
		}
		out = append(out, Param{Key: strings.ToUpper(k), Value: v})
	}
	return out, nil
}
