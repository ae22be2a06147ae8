package imap

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/applayer/applayer/internal/atomicfile"
	"github.com/applayer/applayer/mail/maildir"
)

// uidSet writes UIDs as a sequence set ("1:3,7").
func uidSet(uids []uint32) string {
	var b strings.Builder
	for i := 0; i < len(uids); {
		j := i
		for j+1 < len(uids) && uids[j+1] == uids[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatUint(uint64(uids[i]), 10))
		if j > i {
			b.WriteString(":" + strconv.FormatUint(uint64(uids[j]), 10))
		}
		i = j + 1
	}
	return b.String()
}

// removeDeleted expunges the messages flagged \Deleted (of only, when
// given: UID EXPUNGE's set), telling the client unless silent (CLOSE).
func (ss *session) removeDeleted(only map[uint32]bool, tell bool) error {
	mb := ss.mb
	var gone []maildir.Entry
	var idx []int
	for i, m := range mb.msgs {
		if strings.IndexByte(m.flags, 'T') >= 0 && (only == nil || only[m.uid]) {
			gone = append(gone, maildir.Entry{UID: m.uid, Base: m.base, Path: m.path})
			idx = append(idx, i)
		}
	}
	if len(gone) == 0 {
		return nil
	}
	err := mb.f.Remove(gone)
	for k := len(idx) - 1; k >= 0; k-- {
		i := idx[k]
		if tell {
			ss.untagged(strconv.Itoa(i+1) + " EXPUNGE")
		}
		mb.msgs = slices.Delete(mb.msgs, i, i+1)
	}
	mb.f.Sync(false) // forget their UIDs now
	return err
}

// expunge: section 6.4.3; UID EXPUNGE: RFC 4315 section 2.1.
func (ss *session) expunge(p *parser, uid bool) status {
	var only map[uint32]bool
	if uid {
		if p.sp() != nil {
			return bad("UID EXPUNGE needs a UID set")
		}
		set, err := p.seqSet()
		if err != nil {
			return bad("Bad UID set")
		}
		only = map[uint32]bool{}
		for _, i := range ss.messages(set, true) {
			only[ss.mb.msgs[i].uid] = true
		}
	}
	if p.end() != nil {
		return bad("Junk after EXPUNGE")
	}
	if ss.mb.readOnly {
		return no("Mailbox is read-only")
	}
	if err := ss.removeDeleted(only, true); err != nil {
		return no("Some messages could not be removed")
	}
	return ok("EXPUNGE completed")
}

// copyMessages links the messages into another folder (a copy costs no
// bytes: Maildir files never change) and returns their new UIDs, in
// order. Each link is made durable before the UIDs are given, so a crash
// leaves every message copied or not, never half-written.
func (ss *session) copyMessages(idx []int, dest string) (validity uint32, src, dst []uint32, err error) {
	df, _ := ss.acct.folder(dest)
	unlock, err := df.Lock()
	if err != nil {
		return 0, nil, nil, err
	}
	defer unlock()
	bases := map[string]uint32{}
	for _, i := range idx {
		m := ss.mb.msgs[i]
		size := ss.mb.sizeOf(m)
		base := ss.srv.Store.UniqueName(size)
		// \Recent is not copied; the flags are.
		to := filepath.Join(df.Path, "cur", maildir.FileName(base, m.flags))
		if err := linkOrCopy(m.path, to); err != nil {
			p, ferr := ss.mb.f.Find(m.base)
			if ferr != nil {
				return 0, nil, nil, err
			}
			m.path = p
			if err := linkOrCopy(p, to); err != nil {
				return 0, nil, nil, err
			}
		}
		bases[base] = m.uid
	}
	if err := atomicfile.SyncDir(filepath.Join(df.Path, "cur")); err != nil {
		return 0, nil, nil, err
	}
	snap, err := df.SyncLocked(false)
	if err != nil {
		return 0, nil, nil, err
	}
	for _, e := range snap.Entries {
		if s, found := bases[e.Base]; found {
			src = append(src, s)
			dst = append(dst, e.UID)
		}
	}
	return snap.UIDValidity, src, dst, nil
}

func linkOrCopy(from, to string) error {
	err := os.Link(from, to)
	if err == nil || os.IsNotExist(err) {
		return err
	}
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	f, err := atomicfile.Create(to, 0o600)
	if err != nil {
		return err
	}
	defer f.Discard()
	if _, err := io.Copy(f, in); err != nil {
		return err
	}
	return f.Commit()
}

func (ss *session) copyArgs(p *parser, uid bool) ([]int, string, *status) {
	fail := func(st status) ([]int, string, *status) { return nil, "", &st }
	if p.sp() != nil {
		return fail(bad("Needs a sequence set and a mailbox"))
	}
	set, err := p.seqSet()
	if err != nil || p.sp() != nil {
		return fail(bad("Bad sequence set"))
	}
	dest, err := p.mailbox()
	if err != nil || p.end() != nil {
		return fail(bad("Bad mailbox name"))
	}
	if !uid && !ss.validSeq(set) {
		return fail(bad("Message sequence number out of range"))
	}
	if !ss.acct.exists(dest) {
		return fail(noCode("TRYCREATE", "Mailbox does not exist"))
	}
	return ss.messages(set, uid), dest, nil
}

// copyCmd: section 6.4.7, with COPYUID (RFC 4315).
func (ss *session) copyCmd(p *parser, uid bool) status {
	idx, dest, st := ss.copyArgs(p, uid)
	if st != nil {
		return *st
	}
	if len(idx) == 0 {
		return ok("COPY completed (nothing to copy)")
	}
	validity, src, dst, err := ss.copyMessages(idx, dest)
	if err != nil {
		ss.srv.logger().Error("imap: COPY failed", "user", ss.user, "err", err)
		return no("Cannot copy the messages")
	}
	return okCode(fmt.Sprintf("COPYUID %d %s %s", validity, uidSet(src), uidSet(dst)), "COPY completed")
}

// move: RFC 6851: copy, then expunge from here. A crash between the two
// leaves the messages in both mailboxes, never in neither.
func (ss *session) move(p *parser, uid bool) status {
	idx, dest, st := ss.copyArgs(p, uid)
	if st != nil {
		return *st
	}
	if ss.mb.readOnly {
		return no("Mailbox is read-only")
	}
	if len(idx) == 0 {
		return ok("MOVE completed (nothing to move)")
	}
	validity, src, dst, err := ss.copyMessages(idx, dest)
	if err != nil {
		ss.srv.logger().Error("imap: MOVE failed", "user", ss.user, "err", err)
		return no("Cannot move the messages")
	}
	ss.untagged(fmt.Sprintf("OK [COPYUID %d %s %s] Moved", validity, uidSet(src), uidSet(dst)))
	mb := ss.mb
	var gone []maildir.Entry
	for _, i := range idx {
		m := mb.msgs[i]
		gone = append(gone, maildir.Entry{UID: m.uid, Base: m.base, Path: m.path})
	}
	err = mb.f.Remove(gone)
	for k := len(idx) - 1; k >= 0; k-- {
		ss.untagged(strconv.Itoa(idx[k]+1) + " EXPUNGE")
		mb.msgs = slices.Delete(mb.msgs, idx[k], idx[k]+1)
	}
	mb.f.Sync(false)
	if err != nil {
		return no("Copied, but some messages could not be removed here")
	}
	return ok("MOVE completed")
}
