package zone

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// token is one field of a zone-file line: unquoted text with its escapes
// kept, or a quoted string with the quotes removed (escapes kept too).
type token struct {
	text   string
	quoted bool
}

// entry is one logical line: a directive or a record, parentheses already
// joined (RFC 1035 §5.1).
type entry struct {
	line   int  // where it began
	indent bool // began with blank space: the owner is the previous one
	toks   []token
}

// MaxLineLen bounds a physical line, and maxEntryToks the fields of one
// logical line, so that a broken file (an unclosed parenthesis or quote)
// is reported rather than read into memory whole.
const (
	MaxLineLen   = 64 << 10
	maxEntryToks = 4096
)

// lexer reads entries from a zone file.
type lexer struct {
	sc   *bufio.Scanner
	line int
	file string
}

func newLexer(r io.Reader, file string) *lexer {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), MaxLineLen)
	return &lexer{sc: sc, file: file}
}

// next returns the next non-empty entry, or io.EOF.
func (lx *lexer) next() (entry, error) {
	var e entry
	depth := 0
	started := false
	var inQuote bool
	var cur strings.Builder
	haveTok := false
	flush := func() {
		if haveTok {
			e.toks = append(e.toks, token{text: cur.String(), quoted: inQuote})
			cur.Reset()
			haveTok = false
		}
	}
	for {
		if !lx.sc.Scan() {
			if err := lx.sc.Err(); err != nil {
				return e, lx.errorf(lx.line+1, "%v", err)
			}
			if inQuote {
				return e, lx.errorf(e.line, "unterminated quoted string")
			}
			if depth > 0 {
				return e, lx.errorf(e.line, "unclosed parenthesis")
			}
			if len(e.toks) > 0 {
				return e, nil
			}
			return e, io.EOF
		}
		lx.line++
		s := lx.sc.Text()
		if !started {
			e.line = lx.line
			e.indent = len(s) > 0 && (s[0] == ' ' || s[0] == '\t')
		}
		for i := 0; i < len(s); i++ {
			c := s[i]
			if inQuote {
				switch c {
				case '\\':
					cur.WriteByte(c)
					if i+1 < len(s) {
						i++
						cur.WriteByte(s[i])
					}
				case '"':
					haveTok = true
					flush()
					inQuote = false
				default:
					cur.WriteByte(c)
				}
				continue
			}
			switch c {
			case ' ', '\t', '\r':
				flush()
			case ';':
				flush()
				i = len(s)
			case '(':
				flush()
				depth++
			case ')':
				flush()
				if depth == 0 {
					return e, lx.errorf(lx.line, "unbalanced )")
				}
				depth--
			case '"':
				flush()
				inQuote = true
				haveTok = true // "" is a token too
			case '\\':
				cur.WriteByte(c)
				haveTok = true
				if i+1 < len(s) {
					i++
					cur.WriteByte(s[i])
				}
			default:
				cur.WriteByte(c)
				haveTok = true
			}
			if len(e.toks) > maxEntryToks {
				return e, lx.errorf(e.line, "more than %d fields in one record", maxEntryToks)
			}
		}
		if inQuote {
			return e, lx.errorf(lx.line, "quoted string runs past the end of the line")
		}
		flush()
		if len(e.toks) > 0 {
			started = true
		}
		if depth == 0 && len(e.toks) > 0 {
			return e, nil
		}
		if depth > 0 {
			started = true
		}
	}
}

func (lx *lexer) errorf(line int, format string, args ...any) error {
	return &Error{File: lx.file, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// Error is a zone-file error with its place.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line == 0 {
		return e.File + ": " + e.Msg
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}
