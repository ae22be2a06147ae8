package imap

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/applayer/applayer/mail/maildir"
)

// fetchItem is one data item of FETCH (section 6.4.5).
type fetchItem struct {
	name    string // ENVELOPE, FLAGS, BODY[...] (as echoed), ...
	kind    string // the item's kind: "BODY[]" for sections
	peek    bool
	section section
	partial bool
	offset  uint32
	count   uint32
}

// section is a BODY[...] section specifier.
type section struct {
	nums   []int
	text   string // "", HEADER, HEADER.FIELDS, HEADER.FIELDS.NOT, TEXT, MIME
	fields []string
	spec   string // as the client wrote it, for the response
}

// messages resolves a sequence set (or UID set) to indexes of the
// selected mailbox's messages, in order.
func (ss *session) messages(set seqSet, uid bool) []int {
	mb := ss.mb
	var out []int
	if len(mb.msgs) == 0 {
		return nil
	}
	if uid {
		max := mb.msgs[len(mb.msgs)-1].uid
		for i, m := range mb.msgs {
			if set.contains(m.uid, max) {
				out = append(out, i)
			}
		}
		return out
	}
	n := uint32(len(mb.msgs))
	for i := range mb.msgs {
		if set.contains(uint32(i+1), n) {
			out = append(out, i)
		}
	}
	return out
}

// validSeq reports whether every number of a message sequence set is in
// range (section 6.4.5 says BAD otherwise; "*" is always in range).
func (ss *session) validSeq(set seqSet) bool {
	n := uint32(len(ss.mb.msgs))
	for _, r := range set {
		if r.lo > n || r.hi > n {
			return false
		}
	}
	return true
}

func (p *parser) fetchItems() ([]fetchItem, error) {
	var items []fetchItem
	if p.peek() == '(' {
		p.pos++
		for p.peek() != ')' {
			if len(items) > 0 {
				if err := p.sp(); err != nil {
					return nil, err
				}
			}
			it, err := p.fetchItem()
			if err != nil {
				return nil, err
			}
			for _, x := range it {
				if !slices.ContainsFunc(items, func(y fetchItem) bool { return y.name == x.name && y.kind == x.kind && !x.partial && !y.partial }) {
					items = append(items, x)
				}
			}
			if len(items) > 100 {
				return nil, errTooLarge
			}
		}
		p.pos++
		return items, nil
	}
	return p.fetchItem()
}

func (p *parser) fetchItem() ([]fetchItem, error) {
	start := p.pos
	for p.pos < len(p.s) && p.s[p.pos] != ' ' && p.s[p.pos] != '[' && p.s[p.pos] != ')' && p.s[p.pos] != '(' {
		p.pos++
	}
	name := strings.ToUpper(string(p.s[start:p.pos]))
	simple := func(names ...string) []fetchItem {
		var out []fetchItem
		for _, n := range names {
			out = append(out, fetchItem{name: n, kind: n})
		}
		return out
	}
	switch name {
	case "ALL":
		return simple("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"), nil
	case "FAST":
		return simple("FLAGS", "INTERNALDATE", "RFC822.SIZE"), nil
	case "FULL":
		return simple("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"), nil
	case "ENVELOPE", "FLAGS", "INTERNALDATE", "RFC822.SIZE", "UID", "BODYSTRUCTURE", "RFC822", "RFC822.HEADER", "RFC822.TEXT":
		return simple(name), nil
	case "BODY", "BODY.PEEK", "RFC822.PEEK":
		if name == "RFC822.PEEK" { // Outlook's obsolete form of BODY.PEEK[]
			return []fetchItem{{name: "RFC822", kind: "RFC822", peek: true}}, nil
		}
		if p.peek() != '[' {
			if name == "BODY.PEEK" {
				return nil, errSyntax
			}
			return simple("BODY"), nil
		}
	default:
		return nil, errSyntax
	}
	it := fetchItem{kind: "BODY[]", peek: name == "BODY.PEEK"}
	p.pos++ // [
	sec, err := p.sectionSpec()
	if err != nil {
		return nil, err
	}
	it.section = sec
	it.name = "BODY[" + sec.spec + "]"
	if p.peek() == '<' {
		p.pos++
		o, err := p.number()
		if err != nil || p.peek() != '.' {
			return nil, errSyntax
		}
		p.pos++
		n, err := p.number()
		if err != nil || p.peek() != '>' || n == 0 {
			return nil, errSyntax
		}
		p.pos++
		it.partial, it.offset, it.count = true, o, n
	}
	return []fetchItem{it}, nil
}

// sectionSpec reads what is between "[" and "]" (section 9 "section").
func (p *parser) sectionSpec() (section, error) {
	var sec section
	for {
		c := p.peek()
		if c >= '1' && c <= '9' {
			n, err := p.number()
			if err != nil || n > 100000 {
				return sec, errSyntax
			}
			sec.nums = append(sec.nums, int(n))
			if len(sec.nums) > maxNesting+2 {
				return sec, errTooDeep
			}
			if p.peek() == '.' {
				p.pos++
				continue
			}
		}
		break
	}
	if p.peek() != ']' {
		w := p.pos
		for p.pos < len(p.s) && p.s[p.pos] != ' ' && p.s[p.pos] != ']' {
			p.pos++
		}
		sec.text = strings.ToUpper(string(p.s[w:p.pos]))
		switch sec.text {
		case "HEADER", "TEXT":
		case "MIME":
			if len(sec.nums) == 0 {
				return sec, errSyntax
			}
		case "HEADER.FIELDS", "HEADER.FIELDS.NOT":
			if p.sp() != nil || p.peek() != '(' {
				return sec, errSyntax
			}
			p.pos++
			for p.peek() != ')' {
				if len(sec.fields) > 0 && p.sp() != nil {
					return sec, errSyntax
				}
				f, err := p.astring()
				if err != nil {
					return sec, err
				}
				sec.fields = append(sec.fields, f)
				if len(sec.fields) > 1000 {
					return sec, errTooLarge
				}
			}
			p.pos++
		default:
			return sec, errSyntax
		}
	}
	if p.peek() != ']' {
		return sec, errSyntax
	}
	// The spec as echoed: the numbers and the keyword in upper case, the
	// field names as sent (a literal among them is sent quoted).
	var b strings.Builder
	for i, n := range sec.nums {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(strconv.Itoa(n))
	}
	if sec.text != "" {
		if len(sec.nums) > 0 {
			b.WriteByte('.')
		}
		b.WriteString(sec.text)
	}
	if sec.fields != nil {
		var w writer
		w.WriteString(" (")
		for i, f := range sec.fields {
			if i > 0 {
				w.WriteByte(' ')
			}
			if a := strings.ToUpper(f); a != "" && isAtom(a) {
				w.WriteString(a)
			} else {
				w.str(f)
			}
		}
		w.WriteByte(')')
		b.Write(w.Bytes())
	}
	sec.spec = b.String()
	p.pos++ // ]
	return sec, nil
}

// load reads a message whole, with CRLF line ends, and parses it; the last
// one is kept, since FETCH asks for several items of each.
func (mb *mailbox) load(m *msg) ([]byte, *part, error) {
	if mb.cache.uid == m.uid && mb.cache.raw != nil {
		return mb.cache.raw, mb.cache.p, nil
	}
	raw, err := maildir.ReadCRLF(m.path)
	if os.IsNotExist(err) {
		if p, ferr := mb.f.Find(m.base); ferr == nil {
			m.path = p
			raw, err = maildir.ReadCRLF(p)
		}
	}
	if err != nil {
		return nil, nil, err
	}
	p := parseMessage(raw)
	mb.cache.uid, mb.cache.raw, mb.cache.p = m.uid, raw, p
	if m.size < 0 {
		m.size = int64(len(raw))
	}
	return raw, p, nil
}

// sizeOf is RFC822.SIZE: octets with CRLF line ends (from ",W=" in the
// name when Dovecot wrote one).
func (mb *mailbox) sizeOf(m *msg) int64 {
	if m.size >= 0 {
		return m.size
	}
	if i := strings.Index(m.base, ",W="); i >= 0 {
		v := m.base[i+3:]
		if j := strings.IndexAny(v, ",:"); j >= 0 {
			v = v[:j]
		}
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			m.size = n
			return n
		}
	}
	n, err := maildir.CRLFSize(m.path)
	if err != nil {
		if p, ferr := mb.f.Find(m.base); ferr == nil {
			m.path = p
			n, err = maildir.CRLFSize(p)
		}
	}
	if err == nil {
		m.size = n
	}
	return n
}

func (mb *mailbox) dateOf(m *msg) string {
	mb.knowDate(m)
	return internalDate(m.date)
}

// knowDate finds the message's INTERNALDATE; false when its file is gone.
func (mb *mailbox) knowDate(m *msg) bool {
	if m.date.IsZero() {
		st, err := os.Stat(m.path)
		if err != nil {
			if p, ferr := mb.f.Find(m.base); ferr == nil {
				m.path = p
				st, err = os.Stat(p)
			}
		}
		if err == nil {
			m.date = st.ModTime()
		}
	}
	return !m.date.IsZero()
}

// sectionData is the octets a BODY[section] names.
func sectionData(root *part, raw []byte, sec section) []byte {
	if len(sec.nums) == 0 {
		switch sec.text {
		case "":
			return raw
		case "HEADER":
			return root.header
		case "TEXT":
			return root.body
		case "HEADER.FIELDS":
			return headerFields(root.header, sec.fields, false)
		case "HEADER.FIELDS.NOT":
			return headerFields(root.header, sec.fields, true)
		}
		return nil
	}
	pt := root.partAt(sec.nums)
	if pt == nil {
		return nil
	}
	switch sec.text {
	case "":
		if pt == root && len(root.children) == 0 {
			return root.body
		}
		return pt.body
	case "MIME":
		if pt == root {
			return root.header
		}
		return pt.header
	}
	// HEADER and TEXT of a part name its encapsulated message.
	m := pt.msg
	if m == nil {
		return nil
	}
	switch sec.text {
	case "HEADER":
		return m.header
	case "TEXT":
		return m.body
	case "HEADER.FIELDS":
		return headerFields(m.header, sec.fields, false)
	case "HEADER.FIELDS.NOT":
		return headerFields(m.header, sec.fields, true)
	}
	return nil
}

// fetch: section 6.4.5 (and UID FETCH, 6.4.8).
func (ss *session) fetch(p *parser, uid bool) status {
	if p.sp() != nil {
		return bad("FETCH needs a sequence set and items")
	}
	set, err := p.seqSet()
	if err != nil || p.sp() != nil {
		return bad("Bad sequence set")
	}
	items, err := p.fetchItems()
	if err != nil {
		return bad("Bad fetch items")
	}
	if p.maybeSP() {
		return bad("FETCH modifiers (CONDSTORE) are not offered")
	}
	if p.end() != nil {
		return bad("Junk after FETCH")
	}
	if !uid && !ss.validSeq(set) {
		return bad("Message sequence number out of range")
	}
	failed := false
	for _, i := range ss.messages(set, uid) {
		if !ss.fetchOne(i, items, uid) {
			failed = true
		}
		if ss.closed {
			return status{}
		}
	}
	if failed {
		// RFC 2180 section 4.1.3: a message another session expunged
		// cannot be read any more; the others are answered, and the
		// expunge is reported at the next command that may report it.
		return ok("FETCH completed; some messages were expunged meanwhile")
	}
	return ok("FETCH completed")
}

func (ss *session) fetchOne(i int, items []fetchItem, uid bool) bool {
	mb := ss.mb
	m := mb.msgs[i]
	var w writer
	w.WriteString("* " + strconv.Itoa(i+1) + " FETCH (")
	first := true
	sep := func() {
		if !first {
			w.WriteByte(' ')
		}
		first = false
	}
	if uid {
		sep()
		w.WriteString("UID " + strconv.FormatUint(uint64(m.uid), 10))
	}
	// Reading the body without PEEK sets \Seen (section 6.4.5); the new
	// flags are sent with the data.
	setSeen := false
	for _, it := range items {
		if !it.peek && (it.kind == "BODY[]" || it.kind == "RFC822" || it.kind == "RFC822.TEXT") && !mb.readOnly {
			setSeen = strings.IndexByte(m.flags, 'S') < 0
		}
	}
	if setSeen {
		if err := ss.setFlags(m, m.flags+"S"); err == nil {
			items = append(items, fetchItem{name: "FLAGS", kind: "FLAGS"})
		}
	}
	wroteFlags := false
	for _, it := range items {
		switch it.kind {
		case "UID":
			if uid {
				continue
			}
			sep()
			w.WriteString("UID " + strconv.FormatUint(uint64(m.uid), 10))
		case "FLAGS":
			if wroteFlags {
				continue
			}
			wroteFlags = true
			sep()
			w.WriteString("FLAGS " + flagList(mb.flagNames(m.flags, m.recent)))
		case "INTERNALDATE":
			if !mb.knowDate(m) {
				return false // expunged by another session
			}
			sep()
			w.WriteString(`INTERNALDATE "` + mb.dateOf(m) + `"`)
		case "RFC822.SIZE":
			if mb.sizeOf(m) <= 0 {
				return false
			}
			sep()
			w.WriteString("RFC822.SIZE " + strconv.FormatInt(mb.sizeOf(m), 10))
		default:
			raw, pt, err := mb.load(m)
			if err != nil {
				return false
			}
			sep()
			switch it.kind {
			case "ENVELOPE":
				w.WriteString("ENVELOPE ")
				w.envelope(pt.h)
			case "BODY":
				w.WriteString("BODY ")
				w.bodyStructure(pt, false)
			case "BODYSTRUCTURE":
				w.WriteString("BODYSTRUCTURE ")
				w.bodyStructure(pt, true)
			case "RFC822":
				w.WriteString("RFC822 ")
				w.literal(raw)
			case "RFC822.HEADER":
				w.WriteString("RFC822.HEADER ")
				w.literal(pt.header)
			case "RFC822.TEXT":
				w.WriteString("RFC822.TEXT ")
				w.literal(pt.body)
			case "BODY[]":
				data := sectionData(pt, raw, it.section)
				w.WriteString(it.name)
				if it.partial {
					w.WriteString("<" + strconv.FormatUint(uint64(it.offset), 10) + ">")
					if int64(it.offset) >= int64(len(data)) {
						data = nil
					} else {
						data = data[it.offset:]
						if int64(len(data)) > int64(it.count) {
							data = data[:it.count]
						}
					}
				}
				w.WriteByte(' ')
				if data == nil && !it.partial && len(it.section.nums) > 0 && pt.partAt(it.section.nums) == nil {
					w.WriteString("NIL")
				} else {
					w.literal(data)
				}
			}
		}
	}
	w.WriteString(")\r\n")
	ss.raw(w.Bytes())
	return true
}

// setFlags stores a message's flags in its file name.
func (ss *session) setFlags(m *msg, letters string) error {
	e := maildir.Entry{UID: m.uid, Base: m.base, Path: m.path}
	path, err := ss.mb.f.SetFlags(e, letters)
	if err != nil {
		return err
	}
	m.path = path
	_, m.flags = maildir.BaseName(path[strings.LastIndexByte(path, '/')+1:])
	return nil
}

// store: section 6.4.6.
func (ss *session) store(p *parser, uid bool) status {
	if p.sp() != nil {
		return bad("STORE needs a sequence set, an item and flags")
	}
	set, err := p.seqSet()
	if err != nil || p.sp() != nil {
		return bad("Bad sequence set")
	}
	item, err := p.atom()
	if err != nil || p.sp() != nil {
		return bad("Bad STORE item")
	}
	item = strings.ToUpper(item)
	silent := strings.HasSuffix(item, ".SILENT")
	item = strings.TrimSuffix(item, ".SILENT")
	if item != "FLAGS" && item != "+FLAGS" && item != "-FLAGS" {
		return bad("Unknown STORE item (UNCHANGEDSINCE is not offered)")
	}
	flags, err := p.flags()
	if err != nil || p.end() != nil {
		return bad("Bad flags")
	}
	if !uid && !ss.validSeq(set) {
		return bad("Message sequence number out of range")
	}
	mb := ss.mb
	if mb.readOnly {
		return no("Mailbox is read-only")
	}
	letters, valid := mb.letters(flags)
	if !valid {
		return bad("Invalid flag")
	}
	ss.announceFlags()
	// Another session may have changed these messages' flags since this
	// one last looked: start from what is on disk, so that neither
	// session's change is lost.
	current := map[uint32]maildir.Entry{}
	if snap, err := mb.f.Sync(false); err == nil {
		for _, e := range snap.Entries {
			current[e.UID] = e
		}
	}
	for _, i := range ss.messages(set, uid) {
		m := mb.msgs[i]
		if e, found := current[m.uid]; found {
			m.flags, m.path = e.Flags, e.Path
		}
		var nf string
		switch item {
		case "FLAGS":
			nf = letters + keepUnknown(m.flags, mb)
		case "+FLAGS":
			nf = m.flags + letters
		case "-FLAGS":
			nf = strings.Map(func(r rune) rune {
				if strings.ContainsRune(letters, r) {
					return -1
				}
				return r
			}, m.flags)
		}
		nf = maildir.FileName("", nf)[3:] // sorted, unique
		if nf != m.flags {
			if err := ss.setFlags(m, nf); err != nil {
				continue // expunged by another session meanwhile
			}
		}
		if !silent {
			s := fmt.Sprintf("%d FETCH (FLAGS %s", i+1, flagList(mb.flagNames(m.flags, m.recent)))
			if uid {
				s += fmt.Sprintf(" UID %d", m.uid)
			}
			ss.untagged(s + ")")
		}
	}
	return ok("STORE completed")
}

// keepUnknown keeps the Maildir letters IMAP cannot name (P, "passed",
// and keywords without a name) when FLAGS replaces the rest.
func keepUnknown(letters string, mb *mailbox) string {
	var b []byte
	for i := 0; i < len(letters); i++ {
		c := letters[i]
		switch {
		case c == 'P':
			b = append(b, c)
		case c >= 'a' && c <= 'z' && (int(c-'a') >= len(mb.keywords) || mb.keywords[c-'a'] == ""):
			b = append(b, c)
		}
	}
	return string(b)
}

func isAtom(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isAtomChar(s[i]) {
			return false
		}
	}
	return true
}
