package imap

import (
	"bytes"
	"net/mail"
	"strconv"
	"strings"
	"time"
)

// matcher tests the message at an index of the selected mailbox.
type matcher func(ss *session, i int) bool

// searchKeys reads search keys up to the end or a ")" (section 6.4.4):
// their conjunction.
func (p *parser) searchKeys(ss *session, depth int) (matcher, error) {
	if depth > maxDepth {
		return nil, errTooDeep
	}
	var keys []matcher
	for {
		k, err := p.searchKey(ss, depth)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
		if len(keys) > maxItems {
			return nil, errTooLarge
		}
		if p.peek() == ')' || p.atEnd() {
			break
		}
		if err := p.sp(); err != nil {
			return nil, err
		}
	}
	return func(ss *session, i int) bool {
		for _, k := range keys {
			if !k(ss, i) {
				return false
			}
		}
		return true
	}, nil
}

func hasFlag(letter byte, want bool) matcher {
	return func(ss *session, i int) bool {
		return (strings.IndexByte(ss.mb.msgs[i].flags, letter) >= 0) == want
	}
}

// searchDate parses "1-Feb-1994" (section 9 "date").
func (p *parser) searchDate() (time.Time, error) {
	var s string
	var err error
	if p.peek() == '"' {
		s, err = p.quoted()
	} else {
		s, err = p.atom()
	}
	if err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse("_2-Jan-2006", s)
	if err != nil {
		t, err = time.Parse("2-Jan-2006", s)
	}
	if err != nil {
		return time.Time{}, errSyntax
	}
	return t, nil
}

func day(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

func (p *parser) searchKey(ss *session, depth int) (matcher, error) {
	if p.peek() == '(' {
		p.pos++
		m, err := p.searchKeys(ss, depth+1)
		if err != nil {
			return nil, err
		}
		if p.peek() != ')' {
			return nil, errSyntax
		}
		p.pos++
		return m, nil
	}
	if c := p.peek(); c >= '0' && c <= '9' || c == '*' {
		set, err := p.seqSet()
		if err != nil {
			return nil, err
		}
		return func(ss *session, i int) bool { return set.contains(uint32(i+1), uint32(len(ss.mb.msgs))) }, nil
	}
	w, err := p.atom()
	if err != nil {
		return nil, err
	}
	arg := func() (string, error) {
		if err := p.sp(); err != nil {
			return "", err
		}
		return p.astring()
	}
	key := strings.ToUpper(w)
	switch key {
	case "ALL":
		return func(*session, int) bool { return true }, nil
	case "ANSWERED":
		return hasFlag('R', true), nil
	case "DELETED":
		return hasFlag('T', true), nil
	case "DRAFT":
		return hasFlag('D', true), nil
	case "FLAGGED":
		return hasFlag('F', true), nil
	case "SEEN":
		return hasFlag('S', true), nil
	case "UNANSWERED":
		return hasFlag('R', false), nil
	case "UNDELETED":
		return hasFlag('T', false), nil
	case "UNDRAFT":
		return hasFlag('D', false), nil
	case "UNFLAGGED":
		return hasFlag('F', false), nil
	case "UNSEEN":
		return hasFlag('S', false), nil
	case "RECENT":
		return func(ss *session, i int) bool { return ss.mb.msgs[i].recent }, nil
	case "OLD":
		return func(ss *session, i int) bool { return !ss.mb.msgs[i].recent }, nil
	case "NEW":
		return func(ss *session, i int) bool {
			m := ss.mb.msgs[i]
			return m.recent && strings.IndexByte(m.flags, 'S') < 0
		}, nil
	case "KEYWORD", "UNKEYWORD":
		if p.sp() != nil {
			return nil, errSyntax
		}
		kw, err := p.flag()
		if err != nil {
			return nil, err
		}
		want := key == "KEYWORD"
		return func(ss *session, i int) bool {
			for _, f := range ss.mb.flagNames(ss.mb.msgs[i].flags, false) {
				if strings.EqualFold(f, kw) {
					return want
				}
			}
			return !want
		}, nil
	case "NOT":
		if p.sp() != nil {
			return nil, errSyntax
		}
		m, err := p.searchKey(ss, depth+1)
		if err != nil {
			return nil, err
		}
		return func(ss *session, i int) bool { return !m(ss, i) }, nil
	case "OR":
		if p.sp() != nil {
			return nil, errSyntax
		}
		a, err := p.searchKey(ss, depth+1)
		if err != nil || p.sp() != nil {
			return nil, errSyntax
		}
		b, err := p.searchKey(ss, depth+1)
		if err != nil {
			return nil, err
		}
		return func(ss *session, i int) bool { return a(ss, i) || b(ss, i) }, nil
	case "UID":
		if p.sp() != nil {
			return nil, errSyntax
		}
		set, err := p.seqSet()
		if err != nil {
			return nil, err
		}
		return func(ss *session, i int) bool {
			mb := ss.mb
			return set.contains(mb.msgs[i].uid, mb.msgs[len(mb.msgs)-1].uid)
		}, nil
	case "LARGER", "SMALLER":
		if p.sp() != nil {
			return nil, errSyntax
		}
		n, err := p.number()
		if err != nil {
			return nil, err
		}
		larger := key == "LARGER"
		return func(ss *session, i int) bool {
			s := ss.mb.sizeOf(ss.mb.msgs[i])
			if larger {
				return s > int64(n)
			}
			return s < int64(n)
		}, nil
	case "BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE":
		if p.sp() != nil {
			return nil, errSyntax
		}
		d, err := p.searchDate()
		if err != nil {
			return nil, err
		}
		sent := strings.HasPrefix(key, "SENT")
		cmp := strings.TrimPrefix(key, "SENT")
		return func(ss *session, i int) bool {
			mb := ss.mb
			m := mb.msgs[i]
			var t time.Time
			if sent {
				_, pt, err := mb.load(m)
				if err != nil {
					return false
				}
				t, err = mail.ParseDate(field(pt.h, "Date"))
				if err != nil {
					return false
				}
			} else {
				mb.dateOf(m)
				t = m.date
			}
			t = day(t)
			switch cmp {
			case "BEFORE":
				return t.Before(d)
			case "ON":
				return t.Equal(d)
			}
			return !t.Before(d)
		}, nil
	case "FROM", "TO", "CC", "BCC", "SUBJECT":
		s, err := arg()
		if err != nil {
			return nil, err
		}
		name := strings.ToUpper(key[:1]) + strings.ToLower(key[1:])
		return headerMatch(name, s), nil
	case "HEADER":
		name, err := arg()
		if err != nil {
			return nil, err
		}
		s, err := arg()
		if err != nil {
			return nil, err
		}
		return headerMatch(name, s), nil
	case "BODY", "TEXT":
		s, err := arg()
		if err != nil {
			return nil, err
		}
		needle := []byte(strings.ToLower(s))
		whole := key == "TEXT"
		return func(ss *session, i int) bool {
			raw, pt, err := ss.mb.load(ss.mb.msgs[i])
			if err != nil {
				return false
			}
			hay := pt.body
			if whole {
				hay = raw
			}
			return containsFold(hay, needle)
		}, nil
	}
	return nil, errSyntax
}

func headerMatch(name, s string) matcher {
	needle := []byte(strings.ToLower(s))
	return func(ss *session, i int) bool {
		_, pt, err := ss.mb.load(ss.mb.msgs[i])
		if err != nil {
			return false
		}
		vals, found := pt.h[textprotoKey(name)]
		if !found {
			return false
		}
		for _, v := range vals {
			if containsFold([]byte(v), needle) {
				return true
			}
			// An address field also matches by its addresses, parsed
			// (comments and folding taken out).
			if addressField[textprotoKey(name)] {
				for _, it := range splitAddressList(v) {
					if a, _, err := parseAddress(it.text); err == nil && containsFold([]byte(a.Name+" <"+a.Address+">"), needle) {
						return true
					}
				}
			}
		}
		return false
	}
}

var addressField = map[string]bool{"From": true, "To": true, "Cc": true, "Bcc": true, "Sender": true, "Reply-To": true}

func textprotoKey(s string) string {
	b := []byte(strings.ToLower(s))
	up := true
	for i, c := range b {
		if up && c >= 'a' && c <= 'z' {
			b[i] = c - 32
		}
		up = c == '-'
	}
	return string(b)
}

// containsFold is a case-insensitive (ASCII) substring test.
func containsFold(hay, lowerNeedle []byte) bool {
	if len(lowerNeedle) == 0 {
		return true
	}
	return bytes.Contains(bytes.ToLower(hay), lowerNeedle)
}

// search: section 6.4.4 (and UID SEARCH).
func (ss *session) search(p *parser, uid bool) status {
	if p.sp() != nil {
		return bad("SEARCH needs search keys")
	}
	save := p.pos
	if w, err := p.atom(); err == nil && strings.EqualFold(w, "CHARSET") {
		if p.sp() != nil {
			return bad("CHARSET needs a name")
		}
		cs, err := p.astring()
		if err != nil || p.sp() != nil {
			return bad("Bad charset")
		}
		switch strings.ToUpper(cs) {
		case "US-ASCII", "UTF-8":
		default:
			return noCode("BADCHARSET (US-ASCII UTF-8)", "Unsupported charset")
		}
	} else {
		p.pos = save
	}
	if w, err := p.atom(); err == nil && strings.EqualFold(w, "RETURN") {
		return bad("ESEARCH is not offered")
	}
	p.pos = save
	if w, err := p.atom(); err == nil && strings.EqualFold(w, "CHARSET") {
		p.sp()
		p.astring()
		p.sp()
	} else {
		p.pos = save
	}
	m, err := p.searchKeys(ss, 0)
	if err != nil || p.end() != nil {
		return bad("Bad search keys")
	}
	var b strings.Builder
	b.WriteString("SEARCH")
	for i := range ss.mb.msgs {
		if m(ss, i) {
			b.WriteByte(' ')
			if uid {
				b.WriteString(strconv.FormatUint(uint64(ss.mb.msgs[i].uid), 10))
			} else {
				b.WriteString(strconv.Itoa(i + 1))
			}
		}
	}
	ss.untagged(b.String())
	return ok("SEARCH completed")
}
