package smtp

import (
	"fmt"
	"strconv"
	"strings"
)

// EnhancedCode is an RFC 3463 status code: class.subject.detail, such as
// 2.1.0 or 5.7.1. The zero value means "none".
type EnhancedCode [3]int

// String renders the code as "5.7.1", or "" for the zero value.
func (e EnhancedCode) String() string {
	if e == (EnhancedCode{}) {
		return ""
	}
	return fmt.Sprintf("%d.%d.%d", e[0], e[1], e[2])
}

// ParseEnhancedCode parses "5.7.1". It reports false for anything else.
func ParseEnhancedCode(s string) (EnhancedCode, bool) {
	var e EnhancedCode
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return e, false
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 999 || len(p) > 3 {
			return e, false
		}
		e[i] = n
	}
	if e[0] != 2 && e[0] != 4 && e[0] != 5 {
		return e, false
	}
	return e, true
}

// Reply is an SMTP reply (RFC 5321 section 4.2): a three-digit code, an
// optional enhanced status code, and one or more lines of text. A *Reply is
// also an error, which is how the client reports a refusal and how a server
// backend refuses a recipient or a message.
type Reply struct {
	Code     int
	Enhanced EnhancedCode
	Lines    []string
}

// R builds a one-line Reply.
func R(code int, enhanced EnhancedCode, text string) *Reply {
	return &Reply{Code: code, Enhanced: enhanced, Lines: []string{text}}
}

// Error renders the reply as one line, "550 5.1.1 No such user".
func (r *Reply) Error() string {
	s := strconv.Itoa(r.Code)
	if e := r.Enhanced.String(); e != "" {
		s += " " + e
	}
	if len(r.Lines) > 0 {
		s += " " + strings.Join(r.Lines, " / ")
	}
	return s
}

// Temporary reports a 4yz reply: try again later.
func (r *Reply) Temporary() bool { return r.Code >= 400 && r.Code < 500 }

// Permanent reports a 5yz reply: do not repeat the command as it is.
func (r *Reply) Permanent() bool { return r.Code >= 500 }

// Positive reports a 2yz or 3yz reply.
func (r *Reply) Positive() bool { return r.Code >= 200 && r.Code < 400 }

// WireLines renders the reply as it goes on the wire, one string per line
// without CRLF: "250-first", "250 last" (RFC 5321 section 4.2.1). The
// enhanced code, when set, starts every line (RFC 2034 section 4).
func (r *Reply) WireLines() []string {
	lines := r.Lines
	if len(lines) == 0 {
		lines = []string{""}
	}
	prefix := ""
	if e := r.Enhanced.String(); e != "" {
		prefix = e + " "
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		sep := "-"
		if i == len(lines)-1 {
			sep = " "
		}
		out[i] = strconv.Itoa(r.Code) + sep + prefix + l
	}
	return out
}

// ParseReplyLine splits one reply line into its code, whether more lines
// follow ("250-"), and its text. It reports false when the line is not a
// reply line.
func ParseReplyLine(line string) (code int, more bool, text string, ok bool) {
	if len(line) < 3 {
		return 0, false, "", false
	}
	code, err := strconv.Atoi(line[:3])
	if err != nil || code < 200 || code > 599 {
		return 0, false, "", false
	}
	if len(line) == 3 {
		return code, false, "", true
	}
	switch line[3] {
	case '-':
		more = true
	case ' ':
	default:
		return 0, false, "", false
	}
	return code, more, line[4:], true
}

// SplitEnhanced splits the RFC 3463 code from the start of a reply text when
// it agrees with the reply's class.
func SplitEnhanced(code int, text string) (EnhancedCode, string) {
	first, rest, _ := strings.Cut(text, " ")
	if e, ok := ParseEnhancedCode(first); ok && e[0] == code/100 {
		return e, rest
	}
	return EnhancedCode{}, text
}

// Common enhanced codes (RFC 3463 section 3).
var (
	CodeOK           = EnhancedCode{2, 0, 0}
	CodeSenderOK     = EnhancedCode{2, 1, 0}
	CodeRcptOK       = EnhancedCode{2, 1, 5}
	CodeQueued       = EnhancedCode{2, 6, 0}
	CodeBadMailbox   = EnhancedCode{5, 1, 1}  // bad destination mailbox address
	CodeBadDomain    = EnhancedCode{5, 1, 2}  // bad destination system address
	CodeBadSyntax    = EnhancedCode{5, 1, 3}  // bad destination mailbox address syntax
	CodeBadSender    = EnhancedCode{5, 1, 7}  // bad sender's mailbox address syntax
	CodeNullMX       = EnhancedCode{5, 1, 10} // RFC 7505 section 3
	CodeMailboxFull  = EnhancedCode{4, 2, 2}
	CodeTooBig       = EnhancedCode{5, 3, 4}
	CodeSystem       = EnhancedCode{4, 3, 0}
	CodeNoAnswer     = EnhancedCode{4, 4, 1}
	CodeRouting      = EnhancedCode{4, 4, 3}
	CodeExpired      = EnhancedCode{4, 4, 7}
	CodeInvalidCmd   = EnhancedCode{5, 5, 1}
	CodeSyntax       = EnhancedCode{5, 5, 2}
	CodeTooManyRcpts = EnhancedCode{4, 5, 3}
	CodeBadParam     = EnhancedCode{5, 5, 4}
	CodeBadContent   = EnhancedCode{5, 6, 0}
	CodeRelayDenied  = EnhancedCode{5, 7, 1}
	CodeAuthOK       = EnhancedCode{2, 7, 0}
	CodeAuthRequired = EnhancedCode{5, 7, 0}
	CodeAuthFailed   = EnhancedCode{5, 7, 8}
	CodeTLSRequired  = EnhancedCode{5, 7, 11}
)
