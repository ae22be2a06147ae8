package imap

import (
	"errors"
	"strconv"
	"strings"
)

// A command as it came: its line parts and, between them, the literals
// (RFC 3501 section 4.3): parts[0] is the first line, each literal is
// followed by the line that goes on after it.
type rawCommand struct {
	lines    [][]byte
	literals [][]byte
}

// Parse errors: the command gets a tagged BAD.
var (
	errSyntax   = errors.New("syntax error")
	errTooDeep  = errors.New("parentheses nested too deeply")
	errTooLarge = errors.New("too many items")
)

const (
	maxDepth = 16     // parentheses in a search key or a fetch list
	maxItems = 10_000 // items in one list, sequence-set ranges
)

// parser reads the arguments of one command (RFC 3501 section 9 grammar).
type parser struct {
	raw  *rawCommand
	part int    // which line
	s    []byte // the current line
	pos  int
	lit  int // the next literal to take
}

func newParser(raw *rawCommand) *parser {
	return &parser{raw: raw, s: raw.lines[0]}
}

func (p *parser) atEnd() bool { return p.pos >= len(p.s) && p.part == len(p.raw.lines)-1 }

func (p *parser) peek() byte {
	if p.pos < len(p.s) {
		return p.s[p.pos]
	}
	return 0
}

func (p *parser) sp() error {
	if p.peek() != ' ' {
		return errSyntax
	}
	p.pos++
	return nil
}

// maybeSP consumes a space if there is one.
func (p *parser) maybeSP() bool {
	if p.peek() == ' ' {
		p.pos++
		return true
	}
	return false
}

func (p *parser) end() error {
	if !p.atEnd() {
		return errSyntax
	}
	return nil
}

func isAtomChar(c byte) bool {
	if c <= ' ' || c >= 0x7f {
		return false
	}
	switch c {
	case '(', ')', '{', '%', '*', '"', '\\', ']':
		return false
	}
	return true
}

// atom reads an atom (section 9 "atom").
func (p *parser) atom() (string, error) {
	start := p.pos
	for p.pos < len(p.s) && isAtomChar(p.s[p.pos]) {
		p.pos++
	}
	if p.pos == start {
		return "", errSyntax
	}
	return string(p.s[start:p.pos]), nil
}

// word reads what stops at a space, a parenthesis or the end: a
// sequence set, a list-mailbox pattern (with % and *), a fetch item.
func (p *parser) word(stop string) (string, error) {
	start := p.pos
	for p.pos < len(p.s) && p.s[p.pos] > ' ' && p.s[p.pos] < 0x7f && !strings.ContainsRune(stop, rune(p.s[p.pos])) {
		p.pos++
	}
	if p.pos == start {
		return "", errSyntax
	}
	return string(p.s[start:p.pos]), nil
}

// literal reads "{n}" or "{n+}" at the end of the line and takes the
// literal that followed it.
func (p *parser) literal() ([]byte, error) {
	if p.peek() != '{' {
		return nil, errSyntax
	}
	end := strings.IndexByte(string(p.s[p.pos:]), '}')
	if end < 0 || p.pos+end+1 != len(p.s) || p.lit >= len(p.raw.literals) {
		return nil, errSyntax
	}
	b := p.raw.literals[p.lit]
	p.lit++
	p.part++
	p.s, p.pos = p.raw.lines[p.part], 0
	return b, nil
}

// quoted reads a quoted string.
func (p *parser) quoted() (string, error) {
	if p.peek() != '"' {
		return "", errSyntax
	}
	p.pos++
	var b strings.Builder
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		p.pos++
		switch c {
		case '"':
			return b.String(), nil
		case '\\':
			if p.pos >= len(p.s) || (p.s[p.pos] != '"' && p.s[p.pos] != '\\') {
				return "", errSyntax
			}
			b.WriteByte(p.s[p.pos])
			p.pos++
		case '\r', '\n':
			return "", errSyntax
		default:
			b.WriteByte(c)
		}
	}
	return "", errSyntax
}

// str reads a string: quoted or literal.
func (p *parser) str() (string, error) {
	switch p.peek() {
	case '"':
		return p.quoted()
	case '{':
		b, err := p.literal()
		return string(b), err
	}
	return "", errSyntax
}

// astring reads an atom or a string ("]" is allowed in an astring atom).
func (p *parser) astring() (string, error) {
	switch p.peek() {
	case '"', '{':
		return p.str()
	}
	start := p.pos
	for p.pos < len(p.s) && (isAtomChar(p.s[p.pos]) || p.s[p.pos] == ']') {
		p.pos++
	}
	if p.pos == start {
		return "", errSyntax
	}
	return string(p.s[start:p.pos]), nil
}

// mailbox reads a mailbox name; INBOX in any case is INBOX (section 5.1).
func (p *parser) mailbox() (string, error) {
	s, err := p.astring()
	if err != nil {
		return "", err
	}
	return canonName(s), nil
}

func canonName(s string) string {
	if strings.EqualFold(s, "INBOX") {
		return "INBOX"
	}
	if len(s) > 6 && strings.EqualFold(s[:6], "INBOX.") {
		return "INBOX" + s[5:]
	}
	return s
}

// listMailbox reads LIST's pattern: an astring that may hold % and *.
func (p *parser) listMailbox() (string, error) {
	switch p.peek() {
	case '"', '{':
		return p.str()
	}
	return p.word("(){\"\\")
}

// number reads a number (section 9 "number": 32 bits unsigned).
func (p *parser) number() (uint32, error) {
	start := p.pos
	for p.pos < len(p.s) && p.s[p.pos] >= '0' && p.s[p.pos] <= '9' {
		p.pos++
	}
	n, err := strconv.ParseUint(string(p.s[start:p.pos]), 10, 32)
	if err != nil {
		return 0, errSyntax
	}
	return uint32(n), nil
}

// flagList reads "(" [flag *(SP flag)] ")" (section 9 "flag-list").
func (p *parser) flagList() ([]string, error) {
	if p.peek() != '(' {
		return nil, errSyntax
	}
	p.pos++
	var out []string
	for p.peek() != ')' {
		if len(out) > 0 {
			if err := p.sp(); err != nil {
				return nil, err
			}
		}
		f, err := p.flag()
		if err != nil {
			return nil, err
		}
		out = append(out, f)
		if len(out) > maxItems {
			return nil, errTooLarge
		}
	}
	p.pos++
	return out, nil
}

// flag reads a flag: "\" atom or a keyword atom.
func (p *parser) flag() (string, error) {
	if p.peek() == '\\' {
		p.pos++
		a, err := p.atom()
		return "\\" + a, err
	}
	return p.atom()
}

// flags reads a flag list or, as STORE allows, flags without parentheses.
func (p *parser) flags() ([]string, error) {
	if p.peek() == '(' {
		return p.flagList()
	}
	var out []string
	for {
		f, err := p.flag()
		if err != nil {
			return nil, err
		}
		out = append(out, f)
		if !p.maybeSP() {
			return out, nil
		}
	}
}

// seqRange is one range of a sequence set; 0 stands for "*".
type seqRange struct{ lo, hi uint32 }

// seqSet is a parsed sequence-set (section 9).
type seqSet []seqRange

// parseSeqSet parses "1,3:5,7:*".
func parseSeqSet(s string) (seqSet, error) {
	if s == "" {
		return nil, errSyntax
	}
	var out seqSet
	for _, r := range strings.Split(s, ",") {
		if len(out) >= maxItems {
			return nil, errTooLarge
		}
		a, b, isRange := strings.Cut(r, ":")
		lo, err := seqNum(a)
		if err != nil {
			return nil, err
		}
		hi := lo
		if isRange {
			if hi, err = seqNum(b); err != nil {
				return nil, err
			}
		}
		out = append(out, seqRange{lo, hi})
	}
	return out, nil
}

func seqNum(s string) (uint32, error) {
	if s == "*" {
		return 0, nil
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n == 0 || s[0] == '0' {
		return 0, errSyntax
	}
	return uint32(n), nil
}

// contains reports whether n is in the set, "*" being max.
func (set seqSet) contains(n, max uint32) bool {
	for _, r := range set {
		lo, hi := r.lo, r.hi
		if lo == 0 {
			lo = max
		}
		if hi == 0 {
			hi = max
		}
		if lo > hi {
			lo, hi = hi, lo
		}
		if n >= lo && n <= hi {
			return true
		}
	}
	return false
}

func (p *parser) seqSet() (seqSet, error) {
	w, err := p.word("()")
	if err != nil {
		return nil, err
	}
	if w == "$" {
		return nil, errSyntax // SEARCHRES is not offered
	}
	return parseSeqSet(w)
}
