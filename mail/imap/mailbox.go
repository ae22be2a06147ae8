package imap

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/applayer/applayer/internal/atomicfile"
	"github.com/applayer/applayer/internal/lifecycle"
	"github.com/applayer/applayer/mail/maildir"
)

// msg is one message of the selected mailbox, in sequence order.
type msg struct {
	uid    uint32
	base   string
	path   string
	flags  string // Maildir letters: system flags upper case, keywords a-z
	recent bool
	size   int64 // RFC822.SIZE; -1 until known
	date   time.Time
}

// mailbox is the selected mailbox (section 3.3) as this session last
// told its client: the sequence numbers are indexes into msgs.
type mailbox struct {
	name     string
	f        maildir.Folder
	readOnly bool
	validity uint32
	uidNext  uint32
	msgs     []*msg
	keywords []string // keyword letters a, b, ... (dovecot-keywords)
	// newKeywords is set when a keyword was added and FLAGS not yet sent.
	newKeywords bool
	stamp       string   // the directories' state at the last update
	cache       struct { // the last message read whole
		uid uint32
		raw []byte
		p   *part
	}
}

// System flags and their Maildir info letters (in the Maildir
// specification's order).
var systemFlags = []struct {
	letter byte
	flag   string
}{{'D', `\Draft`}, {'F', `\Flagged`}, {'R', `\Answered`}, {'S', `\Seen`}, {'T', `\Deleted`}}

const keywordsFile = "dovecot-keywords"

// loadKeywords reads the folder's keyword letters: "0 $Forwarded" is
// letter a, as in Dovecot.
func loadKeywords(f maildir.Folder) []string {
	b, _ := os.ReadFile(filepath.Join(f.Path, keywordsFile))
	var kw []string
	for _, l := range strings.Split(string(b), "\n") {
		n, name, found := strings.Cut(strings.TrimSpace(l), " ")
		i, err := strconv.Atoi(n)
		if !found || err != nil || i < 0 || i >= 26 {
			continue
		}
		for len(kw) <= i {
			kw = append(kw, "")
		}
		kw[i] = name
	}
	return kw
}

// flagNames turns Maildir letters into IMAP flags; recent adds \Recent.
func (mb *mailbox) flagNames(letters string, recent bool) []string {
	var out []string
	for _, sf := range systemFlags {
		if strings.IndexByte(letters, sf.letter) >= 0 {
			out = append(out, sf.flag)
		}
	}
	for i := 0; i < len(letters); i++ {
		c := letters[i]
		if c >= 'a' && c <= 'z' && int(c-'a') < len(mb.keywords) && mb.keywords[c-'a'] != "" {
			out = append(out, mb.keywords[c-'a'])
		}
	}
	if recent {
		out = append(out, `\Recent`)
	}
	return out
}

// letters turns IMAP flags into Maildir letters, giving new keywords a
// letter (and saving the list); \Recent is not stored. ok is false for a
// flag that cannot be stored.
func (mb *mailbox) letters(flags []string) (string, bool) {
	var b []byte
	for _, fl := range flags {
		found := false
		for _, sf := range systemFlags {
			if strings.EqualFold(fl, sf.flag) {
				b, found = append(b, sf.letter), true
			}
		}
		if found || strings.EqualFold(fl, `\Recent`) {
			continue
		}
		if strings.HasPrefix(fl, `\`) {
			return "", false
		}
		i := mb.keyword(fl)
		if i < 0 {
			return "", false
		}
		b = append(b, byte('a'+i))
	}
	slices.Sort(b)
	return string(slices.Compact(b)), true
}

// keyword returns the letter index of a keyword, giving it the next free
// letter when it has none: under the folder's lock and after reading the
// list again, so that two sessions adding keywords at once do not give
// one letter to both. -1 when all 26 letters are taken.
func (mb *mailbox) keyword(fl string) int {
	find := func() int {
		return slices.IndexFunc(mb.keywords, func(k string) bool { return strings.EqualFold(k, fl) })
	}
	if i := find(); i >= 0 {
		return i
	}
	unlock, err := mb.f.Lock()
	if err != nil {
		return -1
	}
	defer unlock()
	if kw := loadKeywords(mb.f); len(kw) > len(mb.keywords) {
		mb.keywords, mb.newKeywords = kw, true
	}
	if i := find(); i >= 0 {
		return i
	}
	if len(mb.keywords) >= 26 {
		return -1
	}
	mb.keywords = append(mb.keywords, fl)
	mb.saveKeywords()
	mb.newKeywords = true
	return len(mb.keywords) - 1
}

func (mb *mailbox) saveKeywords() {
	var buf bytes.Buffer
	for i, k := range mb.keywords {
		if k != "" {
			fmt.Fprintf(&buf, "%d %s\n", i, k)
		}
	}
	atomicfile.WriteFileNoSync(filepath.Join(mb.f.Path, keywordsFile), buf.Bytes(), 0o600)
}

func flagList(flags []string) string { return "(" + strings.Join(flags, " ") + ")" }

func (mb *mailbox) permanentFlags() string {
	fl := []string{`\Answered`, `\Flagged`, `\Deleted`, `\Seen`, `\Draft`}
	for _, k := range mb.keywords {
		if k != "" {
			fl = append(fl, k)
		}
	}
	return flagList(append(fl, `\*`))
}

func (mb *mailbox) allFlags() string {
	fl := []string{`\Answered`, `\Flagged`, `\Deleted`, `\Seen`, `\Draft`}
	for _, k := range mb.keywords {
		if k != "" {
			fl = append(fl, k)
		}
	}
	return flagList(fl)
}

// dirStamp is the modification times of the folder's directories and UID
// list: when it has not changed, nothing in the folder has.
func dirStamp(f maildir.Folder) string {
	s, _ := dirStampAt(f)
	return s
}

// dirStampAt is dirStamp and the newest of the times: a change made in the
// same clock tick as an earlier one leaves the times as they were, so a
// stamp whose newest time is recent proves nothing.
func dirStampAt(f maildir.Folder) (string, time.Time) {
	var b strings.Builder
	var newest time.Time
	for _, n := range []string{"cur", "new", maildir.UIDListFile, keywordsFile} {
		if st, err := os.Stat(filepath.Join(f.Path, n)); err == nil {
			if st.ModTime().After(newest) {
				newest = st.ModTime()
			}
			b.WriteString(strconv.FormatInt(st.ModTime().UnixNano(), 36))
			b.WriteByte(' ')
			b.WriteString(strconv.FormatInt(st.Size(), 36))
		}
		b.WriteByte(';')
	}
	return b.String(), newest
}

// changed reports whether the folder may have changed since the last
// update, and its stamp now: a stamp that differs, or one whose newest
// time is less than a second old (a change in the same clock tick as the
// last look leaves the times as they were).
func (mb *mailbox) changed() (string, bool) {
	stamp, newest := dirStampAt(mb.f)
	return stamp, stamp != mb.stamp || time.Since(newest) <= time.Second
}

// open selects a mailbox (sections 6.3.1 and 6.3.2).
func (ss *session) open(p *parser, readOnly bool) status {
	if p.sp() != nil {
		return bad("Missing mailbox name")
	}
	name, err := p.mailbox()
	if err != nil {
		return bad("Bad mailbox name")
	}
	if p.maybeSP() {
		// Select parameters (CONDSTORE, QRESYNC) are not offered.
		return bad("Unknown SELECT parameters")
	}
	if p.end() != nil {
		return bad("Junk after the mailbox name")
	}
	// Leaving the selected mailbox first (section 6.3.1: even when the
	// new SELECT fails).
	if ss.mb != nil {
		ss.mb = nil
		ss.st = stateAuth
		ss.untagged("OK [CLOSED] Previous mailbox closed")
	}
	if !ss.acct.exists(name) {
		return no("Mailbox does not exist")
	}
	f, _ := ss.acct.folder(name)
	snap, err := f.Sync(!readOnly)
	if err != nil {
		ss.srv.logger().Error("imap: cannot read mailbox", "user", ss.user, "mailbox", name, "err", err)
		return noCode("SERVERBUG", "Cannot read the mailbox")
	}
	mb := &mailbox{name: name, f: f, readOnly: readOnly, validity: snap.UIDValidity, uidNext: snap.UIDNext, keywords: loadKeywords(f)}
	recent, unseen := 0, 0
	for _, e := range snap.Entries {
		m := &msg{uid: e.UID, base: e.Base, path: e.Path, flags: e.Flags, recent: e.New, size: -1}
		if m.recent {
			recent++
		}
		if unseen == 0 && strings.IndexByte(e.Flags, 'S') < 0 {
			unseen = len(mb.msgs) + 1
		}
		mb.msgs = append(mb.msgs, m)
	}
	mb.stamp = dirStamp(f)
	ss.mb, ss.st = mb, stateSelected
	ss.untagged("FLAGS " + mb.allFlags())
	ss.untagged(strconv.Itoa(len(mb.msgs)) + " EXISTS")
	ss.untagged(strconv.Itoa(recent) + " RECENT")
	if unseen > 0 {
		ss.untagged("OK [UNSEEN " + strconv.Itoa(unseen) + "] First unseen")
	}
	ss.untagged("OK [UIDVALIDITY " + strconv.FormatUint(uint64(mb.validity), 10) + "] UIDs valid")
	ss.untagged("OK [UIDNEXT " + strconv.FormatUint(uint64(mb.uidNext), 10) + "] Predicted next UID")
	if readOnly {
		ss.untagged("OK [PERMANENTFLAGS ()] Read-only mailbox")
		return okCode("READ-ONLY", "EXAMINE completed")
	}
	ss.untagged("OK [PERMANENTFLAGS " + mb.permanentFlags() + "] Flags permitted")
	return okCode("READ-WRITE", "SELECT completed")
}

func (ss *session) selectCmd(p *parser, _ bool) status { return ss.open(p, false) }
func (ss *session) examine(p *parser, _ bool) status   { return ss.open(p, true) }

// update brings the client's view of the selected mailbox up to date
// (section 7: EXISTS, RECENT, EXPUNGE, FETCH FLAGS). Without
// allowExpunge, vanished messages stay numbered until a command that may
// report them (section 7.4.1).
func (ss *session) update(allowExpunge bool) {
	mb := ss.mb
	if mb == nil {
		return
	}
	stamp, changed := mb.changed()
	if !changed {
		return // nothing in the folder changed since the last look
	}
	snap, err := mb.f.Sync(!mb.readOnly)
	if err != nil {
		return
	}
	mb.stamp = stamp
	if kw := loadKeywords(mb.f); len(kw) > len(mb.keywords) {
		mb.keywords = kw
		mb.newKeywords = true
	}
	ss.announceFlags()
	byUID := make(map[uint32]maildir.Entry, len(snap.Entries))
	for _, e := range snap.Entries {
		byUID[e.UID] = e
	}
	if allowExpunge {
		for i := len(mb.msgs) - 1; i >= 0; i-- {
			if _, found := byUID[mb.msgs[i].uid]; !found {
				ss.untagged(strconv.Itoa(i+1) + " EXPUNGE")
				mb.msgs = slices.Delete(mb.msgs, i, i+1)
			}
		}
	}
	var last uint32
	for i, m := range mb.msgs {
		last = m.uid
		e, found := byUID[m.uid]
		if !found {
			continue
		}
		m.path = e.Path
		if e.Flags != m.flags {
			m.flags = e.Flags
			ss.untagged(fmt.Sprintf("%d FETCH (FLAGS %s)", i+1, flagList(mb.flagNames(m.flags, m.recent))))
		}
	}
	grew, recent := false, 0
	for _, e := range snap.Entries {
		if e.UID > last {
			m := &msg{uid: e.UID, base: e.Base, path: e.Path, flags: e.Flags, recent: e.New, size: -1}
			mb.msgs = append(mb.msgs, m)
			grew = true
		}
	}
	for _, m := range mb.msgs {
		if m.recent {
			recent++
		}
	}
	if grew {
		ss.untagged(strconv.Itoa(len(mb.msgs)) + " EXISTS")
		ss.untagged(strconv.Itoa(recent) + " RECENT")
	}
	mb.uidNext = snap.UIDNext
}

// announceFlags sends FLAGS and PERMANENTFLAGS again when keywords were
// added (section 7.2.6), before any FETCH that shows them.
func (ss *session) announceFlags() {
	mb := ss.mb
	if mb == nil || !mb.newKeywords {
		return
	}
	mb.newKeywords = false
	ss.untagged("FLAGS " + mb.allFlags())
	if !mb.readOnly {
		ss.untagged("OK [PERMANENTFLAGS " + mb.permanentFlags() + "] Flags permitted")
	}
}

// check: section 6.4.1.
func (ss *session) check(p *parser, _ bool) status { return ok("CHECK completed") }

// closeCmd: section 6.4.2: expunge silently, then leave the mailbox.
func (ss *session) closeCmd(p *parser, _ bool) status {
	if !ss.mb.readOnly {
		ss.removeDeleted(nil, false)
	}
	ss.mb, ss.st = nil, stateAuth
	return ok("CLOSE completed")
}

// unselect: RFC 3691: leave the mailbox without expunging.
func (ss *session) unselect(p *parser, _ bool) status {
	ss.mb, ss.st = nil, stateAuth
	return ok("UNSELECT completed")
}

// create: section 6.3.3. A trailing delimiter is dropped; missing parents
// need not exist (Maildir++ folders are independent).
func (ss *session) create(p *parser, _ bool) status {
	if p.sp() != nil {
		return bad("Missing mailbox name")
	}
	name, err := p.mailbox()
	if err != nil {
		return bad("Bad mailbox name")
	}
	if p.maybeSP() {
		// CREATE-SPECIAL-USE is not offered; other parameters neither.
		return bad("Unknown CREATE parameters")
	}
	name = canonName(strings.TrimSuffix(name, delim))
	if name == "INBOX" || ss.acct.exists(name) {
		return noCode("ALREADYEXISTS", "Mailbox already exists")
	}
	if !validName(name) {
		return noCode("CANNOT", "Invalid mailbox name")
	}
	if err := ss.acct.create(name); err != nil {
		return no(err.Error())
	}
	return ok("CREATE completed")
}

// deleteCmd: section 6.3.4.
func (ss *session) deleteCmd(p *parser, _ bool) status {
	if p.sp() != nil {
		return bad("Missing mailbox name")
	}
	name, err := p.mailbox()
	if err != nil || p.end() != nil {
		return bad("Bad mailbox name")
	}
	if name == "INBOX" {
		return noCode("CANNOT", "INBOX cannot be deleted")
	}
	if !ss.acct.exists(name) {
		return noCode("NONEXISTENT", "Mailbox does not exist")
	}
	if ss.mb != nil && ss.mb.name == name {
		ss.mb, ss.st = nil, stateAuth
		ss.untagged("OK [CLOSED] Mailbox deleted")
	}
	if err := ss.acct.delete(name); err != nil {
		return no(err.Error())
	}
	return ok("DELETE completed")
}

// rename: section 6.3.5.
func (ss *session) rename(p *parser, _ bool) status {
	if p.sp() != nil {
		return bad("RENAME needs two names")
	}
	from, err := p.mailbox()
	if err != nil || p.sp() != nil {
		return bad("RENAME needs two names")
	}
	to, err := p.mailbox()
	if err != nil || p.end() != nil {
		return bad("RENAME needs two names")
	}
	to = canonName(strings.TrimSuffix(to, delim))
	switch {
	case !ss.acct.exists(from):
		return noCode("NONEXISTENT", "Mailbox does not exist")
	case to == "INBOX" || ss.acct.exists(to):
		return noCode("ALREADYEXISTS", "Target mailbox already exists")
	case !validName(to):
		return noCode("CANNOT", "Invalid mailbox name")
	}
	if err := ss.acct.rename(from, to); err != nil {
		return no(err.Error())
	}
	return ok("RENAME completed")
}

func (ss *session) subscribe(p *parser, _ bool) status   { return ss.sub(p, true) }
func (ss *session) unsubscribe(p *parser, _ bool) status { return ss.sub(p, false) }

// sub: sections 6.3.6 and 6.3.7.
func (ss *session) sub(p *parser, on bool) status {
	if p.sp() != nil {
		return bad("Missing mailbox name")
	}
	name, err := p.mailbox()
	if err != nil || p.end() != nil {
		return bad("Bad mailbox name")
	}
	if on && !ss.acct.exists(name) {
		return noCode("NONEXISTENT", "Mailbox does not exist")
	}
	if err := ss.acct.subscribe(name, on); err != nil {
		return no("Cannot save subscriptions")
	}
	if on {
		return ok("SUBSCRIBE completed")
	}
	return ok("UNSUBSCRIBE completed")
}

// listOptions are LIST-EXTENDED's selection and return options (RFC 5258).
type listOptions struct {
	subscribed, specialUse, children, retSubscribed, retSpecial, recursive bool
	status                                                                 []string
}

// list: section 6.3.8 with LIST-EXTENDED (RFC 5258), LIST-STATUS (RFC
// 5819) and SPECIAL-USE (RFC 6154).
func (ss *session) list(p *parser, _ bool) status {
	if p.sp() != nil {
		return bad("LIST needs a reference and a pattern")
	}
	var opt listOptions
	if p.peek() == '(' {
		words, err := p.flagList()
		if err != nil || p.sp() != nil {
			return bad("Bad selection options")
		}
		for _, w := range words {
			switch strings.ToUpper(w) {
			case "SUBSCRIBED":
				opt.subscribed, opt.retSubscribed = true, true
			case "SPECIAL-USE":
				opt.specialUse = true
			case "RECURSIVEMATCH":
				opt.recursive = true
			case "REMOTE":
			default:
				return bad("Unknown selection option " + w)
			}
		}
	}
	if opt.recursive && !opt.subscribed && !opt.specialUse {
		// RFC 5258 section 3.1: RECURSIVEMATCH alone is an error.
		return bad("RECURSIVEMATCH needs another selection option")
	}
	ref, err := p.mailbox()
	if err != nil && p.peek() != '"' {
		return bad("Bad reference")
	}
	if p.sp() != nil {
		return bad("LIST needs a pattern")
	}
	var patterns []string
	if p.peek() == '(' {
		p.pos++
		for p.peek() != ')' {
			if len(patterns) > 0 && p.sp() != nil {
				return bad("Bad patterns")
			}
			pat, err := p.listMailbox()
			if err != nil {
				return bad("Bad pattern")
			}
			patterns = append(patterns, pat)
		}
		p.pos++
	} else {
		pat, err := p.listMailbox()
		if err != nil {
			return bad("Bad pattern")
		}
		patterns = []string{pat}
	}
	if p.maybeSP() {
		kw, err := p.atom()
		if err != nil || !strings.EqualFold(kw, "RETURN") || p.sp() != nil || p.peek() != '(' {
			return bad("Bad return options")
		}
		p.pos++
		for p.peek() != ')' {
			p.maybeSP()
			w, err := p.atom()
			if err != nil {
				return bad("Bad return options")
			}
			switch strings.ToUpper(w) {
			case "SUBSCRIBED":
				opt.retSubscribed = true
			case "SPECIAL-USE":
				opt.retSpecial = true
			case "CHILDREN":
				opt.children = true
			case "STATUS":
				if p.sp() != nil {
					return bad("STATUS needs items")
				}
				items, err := p.flagList()
				if err != nil {
					return bad("Bad STATUS items")
				}
				opt.status = items
			default:
				return bad("Unknown return option " + w)
			}
		}
		p.pos++
	}
	if p.end() != nil {
		return bad("Junk after LIST")
	}
	// LIST "" "": the delimiter and the root (section 6.3.8).
	if len(patterns) == 1 && patterns[0] == "" {
		ss.untagged(`LIST (\Noselect) "` + delim + `" ""`)
		return ok("LIST completed")
	}
	ss.listNames(ref, patterns, opt, false)
	return ok("LIST completed")
}

// lsub: section 6.3.9.
func (ss *session) lsub(p *parser, _ bool) status {
	if p.sp() != nil {
		return bad("LSUB needs a reference and a pattern")
	}
	ref, err := p.mailbox()
	if err != nil || p.sp() != nil {
		return bad("Bad reference")
	}
	pat, err := p.listMailbox()
	if err != nil || p.end() != nil {
		return bad("Bad pattern")
	}
	ss.listNames(ref, []string{pat}, listOptions{subscribed: true}, true)
	// Section 6.3.9: with "%", a subscribed mailbox below the level shown
	// makes its ancestor at that level appear, \Noselect if it is not
	// subscribed itself.
	full := collapseStars(ref + pat)
	if strings.HasSuffix(full, "%") {
		subs := ss.acct.subscriptions()
		shown := map[string]bool{}
		for n := range subs {
			for i := strings.Index(n, delim); i >= 0; {
				parent := n[:i]
				if match(full, parent) && !subs[parent] && !shown[parent] {
					shown[parent] = true
					var w writer
					w.WriteString(`* LSUB (\Noselect) "` + delim + `" `)
					w.astr(parent)
					w.WriteString("\r\n")
					ss.raw(w.Bytes())
				}
				j := strings.Index(n[i+1:], delim)
				if j < 0 {
					break
				}
				i += 1 + j
			}
		}
	}
	return ok("LSUB completed")
}

func (ss *session) listNames(ref string, patterns []string, opt listOptions, lsub bool) {
	names := ss.acct.names()
	exists := map[string]bool{}
	for _, n := range names {
		exists[n] = true
	}
	subs := ss.acct.subscriptions()
	// Parents that do not exist are listed as \Noselect (or
	// \NonExistent) when a child matches.
	all := append([]string(nil), names...)
	seen := map[string]bool{}
	for _, n := range names {
		seen[n] = true
	}
	for _, n := range names {
		for i := strings.Index(n, delim); i >= 0; {
			parent := n[:i]
			if !seen[parent] {
				seen[parent] = true
				all = append(all, parent)
			}
			j := strings.Index(n[i+1:], delim)
			if j < 0 {
				break
			}
			i += 1 + j
		}
	}
	if opt.subscribed {
		for n := range subs {
			if !seen[n] {
				seen[n] = true
				all = append(all, n)
			}
			if opt.recursive {
				for i := strings.Index(n, delim); i >= 0; {
					if parent := n[:i]; !seen[parent] {
						seen[parent] = true
						all = append(all, parent)
					}
					j := strings.Index(n[i+1:], delim)
					if j < 0 {
						break
					}
					i += 1 + j
				}
			}
		}
	}
	matches := func(n string) bool {
		for _, pat := range patterns {
			full := collapseStars(ref + pat)
			if strings.HasPrefix(strings.ToUpper(full), "INBOX") && n == "INBOX" {
				full = "INBOX" + full[5:]
			}
			if match(full, n) {
				return true
			}
		}
		return false
	}
	// childInfo: RFC 5258 section 3.5, a subscribed mailbox below n that
	// the patterns do not list itself.
	childInfo := func(n string) bool {
		for s := range subs {
			if strings.HasPrefix(s, n+delim) && !matches(s) {
				return true
			}
		}
		return false
	}
	slices.SortStableFunc(all[1:], strings.Compare)
	for _, n := range all {
		if !matches(n) {
			continue
		}
		info := opt.recursive && opt.subscribed && childInfo(n)
		if opt.subscribed && !subs[n] && !info {
			continue
		}
		var attrs []string
		if !exists[n] {
			if opt.subscribed && subs[n] {
				attrs = append(attrs, `\NonExistent`)
			} else {
				attrs = append(attrs, `\Noselect`)
			}
		}
		hasChildren := false
		for _, o := range names {
			if strings.HasPrefix(o, n+delim) {
				hasChildren = true
				break
			}
		}
		if !lsub {
			if hasChildren {
				attrs = append(attrs, `\HasChildren`)
			} else {
				attrs = append(attrs, `\HasNoChildren`)
			}
		}
		if (opt.retSubscribed || opt.subscribed) && subs[n] && !lsub {
			attrs = append(attrs, `\Subscribed`)
		}
		if su, ok := specialUse[n]; ok && !lsub {
			attrs = append(attrs, su)
		}
		if opt.specialUse {
			if _, ok := specialUse[n]; !ok {
				continue
			}
		}
		var w writer
		verb := "LIST"
		if lsub {
			verb = "LSUB"
		}
		w.WriteString(verb + " (" + strings.Join(attrs, " ") + `) "` + delim + `" `)
		w.astr(n)
		if info {
			w.WriteString(` ("CHILDINFO" ("SUBSCRIBED"))`)
		}
		ss.raw(append(append([]byte("* "), w.Bytes()...), "\r\n"...))
		if len(opt.status) > 0 && exists[n] {
			ss.statusOf(n, opt.status)
		}
	}
}

// collapseStars keeps "**...*" from costing exponential time in match.
func collapseStars(p string) string {
	for strings.Contains(p, "**") {
		p = strings.ReplaceAll(p, "**", "*")
	}
	return p
}

// statusCmd: section 6.3.10.
func (ss *session) statusCmd(p *parser, _ bool) status {
	if p.sp() != nil {
		return bad("STATUS needs a mailbox and items")
	}
	name, err := p.mailbox()
	if err != nil || p.sp() != nil {
		return bad("STATUS needs a mailbox and items")
	}
	items, err := p.flagList()
	if err != nil || p.end() != nil || len(items) == 0 {
		return bad("Bad STATUS items")
	}
	for _, it := range items {
		switch strings.ToUpper(it) {
		case "MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "SIZE":
		default:
			return bad("Unknown STATUS item " + it)
		}
	}
	if !ss.acct.exists(name) {
		return noCode("NONEXISTENT", "Mailbox does not exist")
	}
	if !ss.statusOf(name, items) {
		return noCode("SERVERBUG", "Cannot read the mailbox")
	}
	return ok("STATUS completed")
}

func (ss *session) statusOf(name string, items []string) bool {
	f, _ := ss.acct.folder(name)
	snap, err := f.Sync(false)
	if err != nil {
		return false
	}
	var parts []string
	for _, it := range items {
		var v int64
		switch strings.ToUpper(it) {
		case "MESSAGES":
			v = int64(len(snap.Entries))
		case "RECENT":
			for _, e := range snap.Entries {
				if e.New {
					v++
				}
			}
			if ss.mb != nil && ss.mb.name == name {
				v = 0
				for _, m := range ss.mb.msgs {
					if m.recent {
						v++
					}
				}
			}
		case "UIDNEXT":
			v = int64(snap.UIDNext)
		case "UIDVALIDITY":
			v = int64(snap.UIDValidity)
		case "UNSEEN":
			for _, e := range snap.Entries {
				if strings.IndexByte(e.Flags, 'S') < 0 {
					v++
				}
			}
		case "SIZE":
			for _, e := range snap.Entries {
				if n, err := maildir.CRLFSize(e.Path); err == nil {
					v += n
				}
			}
		}
		parts = append(parts, strings.ToUpper(it)+" "+strconv.FormatInt(v, 10))
	}
	var w writer
	w.WriteString("* STATUS ")
	w.astr(name)
	w.WriteString(" (" + strings.Join(parts, " ") + ")\r\n")
	ss.raw(w.Bytes())
	return true
}

// appendCmd: section 6.3.11, with APPENDUID (RFC 4315).
func (ss *session) appendCmd(p *parser, _ bool) status {
	if p.sp() != nil {
		return bad("APPEND needs a mailbox and a message")
	}
	name, err := p.mailbox()
	if err != nil || p.sp() != nil {
		return bad("APPEND needs a mailbox and a message")
	}
	var flags []string
	if p.peek() == '(' {
		if flags, err = p.flagList(); err != nil || p.sp() != nil {
			return bad("Bad flag list")
		}
	}
	var date time.Time
	if p.peek() == '"' {
		ds, err := p.quoted()
		if err != nil || p.sp() != nil {
			return bad("Bad date")
		}
		if date, err = time.Parse("_2-Jan-2006 15:04:05 -0700", ds); err != nil {
			return bad("Bad date-time")
		}
	}
	body, err := p.literal()
	if err != nil {
		return bad("APPEND needs the message as a literal")
	}
	if p.end() != nil {
		return bad("Junk after the message (MULTIAPPEND is not offered)")
	}
	if !ss.acct.exists(name) {
		return noCode("TRYCREATE", "Mailbox does not exist")
	}
	if len(body) == 0 {
		return no("Empty message")
	}
	f, _ := ss.acct.folder(name)
	mb := &mailbox{f: f, keywords: loadKeywords(f)}
	if ss.mb != nil && ss.mb.name == name {
		mb = ss.mb
	}
	letters, valid := mb.letters(flags)
	if !valid {
		return bad("Invalid flag")
	}
	if mb == ss.mb {
		ss.announceFlags()
	}
	uid, validity, err := f.Add(bytes.NewReader(body), letters, date, ss.srv.Store.UniqueName(int64(len(body))))
	if err != nil {
		ss.srv.logger().Error("imap: APPEND failed", "user", ss.user, "err", err)
		return noCode("SERVERBUG", "Cannot store the message")
	}
	if uid == 0 {
		return ok("APPEND completed (expunged meanwhile by another session)")
	}
	return okCode(fmt.Sprintf("APPENDUID %d %d", validity, uid), "APPEND completed")
}

// idle: RFC 2177. Changes are looked for every IdlePoll until DONE.
func (ss *session) idle(p *parser, _ bool) status {
	if p.end() != nil {
		return bad("IDLE takes no argument")
	}
	ss.line("+ idling")
	if !ss.flush() {
		return status{}
	}
	type result struct {
		line string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		l, err := ss.tl.ReadLine()
		done <- result{string(l), err}
	}()
	poll := time.NewTicker(lifecycle.OrDefault(ss.srv.IdlePoll, DefaultIdlePoll))
	defer poll.Stop()
	for {
		select {
		case r := <-done:
			if r.err != nil {
				ss.readFailed(r.err)
				return status{}
			}
			ss.tr.Client(r.line)
			if !strings.EqualFold(strings.TrimSpace(r.line), "DONE") {
				return bad("Expected DONE")
			}
			ss.update(true)
			return ok("IDLE terminated")
		case <-poll.C:
			if ss.mb == nil {
				continue
			}
			if _, changed := ss.mb.changed(); changed {
				ss.update(true)
				if !ss.flush() {
					return status{}
				}
			}
		}
	}
}
