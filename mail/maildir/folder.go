package maildir

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/applayer/applayer/internal/atomicfile"
)

// UIDListFile is the name of the file in each Maildir folder that gives its
// messages their UIDs. It has Dovecot's name and version-3 format, so that
// a mailbox keeps its UIDs (and POP3 UIDLs) when it moves between applayer
// and Dovecot:
//
//	3 V1733140000 N4
//	1 :1733140000.M1P2Q1.host,S=310
//	3 :1733140100.M5P2Q2.host,S=120
//
// The first line holds UIDVALIDITY (V) and the next UID to give (N); each
// other line a UID and the message's base name (its file name without the
// ":2,flags" info part).
const UIDListFile = "dovecot-uidlist"

// uidLockFile serialises UID assignment between sessions and processes.
const uidLockFile = "applayer-uidlist.lock"

// Folder is one Maildir folder: INBOX is the user's Maildir itself, other
// folders are Maildir++ subdirectories of it (".Sent", ".Archive.2024").
// UIDs are given in arrival order, persisted, and never reused within one
// UIDVALIDITY (RFC 3501 section 2.3.1.1).
type Folder struct {
	// Path is the folder's Maildir (holding tmp/, new/ and cur/).
	Path string
}

// Entry is one message of a Folder.
type Entry struct {
	UID uint32
	// Base is the unique name, without the info part.
	Base string
	// Path is where the file was found (new/ or cur/).
	Path string
	// Flags are the Maildir info flags after ":2," (sorted letters: D
	// draft, F flagged, P passed, R replied, S seen, T trashed), and any
	// lower-case keyword letters.
	Flags string
	// New is set for a message that no IMAP session has claimed as
	// recent yet (IMAP's \Recent, RFC 3501 section 2.3.2): its UID is at
	// or above the folder's first recent UID.
	New bool
}

// Snapshot is a Folder's messages at one moment, by increasing UID.
type Snapshot struct {
	UIDValidity uint32
	UIDNext     uint32
	Entries     []Entry
}

// BaseName splits a Maildir file name into its unique part and its flags
// (the letters after ":2,").
func BaseName(name string) (base, flags string) {
	base, info, ok := strings.Cut(name, ":")
	if ok && strings.HasPrefix(info, "2,") {
		flags = info[2:]
	}
	return base, flags
}

// FileName is base with flags as the info part (":2,FLAGS", the letters
// sorted as the Maildir specification asks).
func FileName(base, flags string) string {
	b := []byte(flags)
	slices.Sort(b)
	b = slices.Compact(b)
	return base + ":2," + string(b)
}

// Create makes the folder's tmp/, new/ and cur/ directories.
func (f *Folder) Create() error {
	for _, sub := range []string{"tmp", "new", "cur"} {
		if err := os.MkdirAll(filepath.Join(f.Path, sub), 0o700); err != nil {
			return fmt.Errorf("maildir: %w", err)
		}
	}
	return atomicfile.SyncDir(filepath.Dir(f.Path))
}

// Exists reports whether the folder's cur/ directory exists.
func (f *Folder) Exists() bool {
	st, err := os.Stat(filepath.Join(f.Path, "cur"))
	return err == nil && st.IsDir()
}

// Lock takes the folder's UID lock (an flock, so that it excludes other
// sessions of this process as well as other processes) and returns its
// release. Sync takes it itself; callers take it around a change that
// must not interleave with another session's (an APPEND and its UID).
func (f *Folder) Lock() (unlock func(), err error) {
	lf, err := os.OpenFile(filepath.Join(f.Path, uidLockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("maildir: %w", err)
	}
	if err := flock(lf, true, true); err != nil {
		lf.Close()
		return nil, fmt.Errorf("maildir: lock %s: %w", f.Path, err)
	}
	return func() { lf.Close() }, nil
}

// Sync scans new/ and cur/, gives every message not yet in the UID list
// the next UID (in name order, which is arrival order), forgets the UIDs
// of messages gone, writes the list back when it changed, and returns the
// folder's messages. With moveNew (an IMAP session that selected the
// folder read-write), messages in new/ are moved to cur/ and the recent
// ones are claimed: they are New in this snapshot and in no later one.
func (f *Folder) Sync(moveNew bool) (*Snapshot, error) {
	unlock, err := f.Lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	return f.SyncLocked(moveNew)
}

// SyncLocked is Sync for a caller that holds the folder's Lock.
func (f *Folder) SyncLocked(moveNew bool) (*Snapshot, error) {
	list, err := f.readUIDList()
	if err != nil {
		return nil, err
	}
	type found struct {
		name string
		new  bool
	}
	files := map[string]found{}
	var fresh []string
	for _, sub := range []string{"cur", "new"} {
		ents, err := os.ReadDir(filepath.Join(f.Path, sub))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("maildir: %w", err)
		}
		for _, e := range ents {
			if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			base, _ := BaseName(e.Name())
			if _, dup := files[base]; dup {
				continue // the same message in cur/ and new/ (a rename seen half-way)
			}
			files[base] = found{e.Name(), sub == "new"}
			if _, ok := list.uids[base]; !ok {
				fresh = append(fresh, base)
			}
		}
	}
	removed := false
	for base := range list.uids {
		if _, ok := files[base]; !ok {
			delete(list.uids, base)
			removed = true
		}
	}
	slices.Sort(fresh)
	for _, base := range fresh {
		list.uids[base] = list.next
		list.next++
	}
	// New UIDs are made durable before anyone is told of them (a UID
	// lost in a crash could be given again to another message); a list
	// that only forgot messages gone may be lost: it is redone.
	if len(fresh) > 0 || list.created || removed {
		if err := f.writeUIDList(list, len(fresh) > 0 || list.created); err != nil {
			return nil, err
		}
	}
	firstRecent := f.firstRecent()
	if moveNew && list.next > firstRecent {
		atomicfile.WriteFileNoSync(filepath.Join(f.Path, recentFile), []byte(strconv.FormatUint(uint64(list.next), 10)+"\n"), 0o600)
	}
	snap := &Snapshot{UIDValidity: list.validity, UIDNext: list.next, Entries: make([]Entry, 0, len(files))}
	moved := false
	for base, fd := range files {
		_, flags := BaseName(fd.name)
		e := Entry{UID: list.uids[base], Base: base, Flags: flags, New: list.uids[base] >= firstRecent}
		if fd.new {
			e.Path = filepath.Join(f.Path, "new", fd.name)
			if moveNew {
				to := filepath.Join(f.Path, "cur", FileName(base, flags))
				if err := os.Rename(e.Path, to); err == nil {
					e.Path, moved = to, true
				}
			}
		} else {
			e.Path = filepath.Join(f.Path, "cur", fd.name)
		}
		snap.Entries = append(snap.Entries, e)
	}
	if moved {
		atomicfile.SyncDir(filepath.Join(f.Path, "cur"))
		atomicfile.SyncDir(filepath.Join(f.Path, "new"))
	}
	slices.SortFunc(snap.Entries, func(a, b Entry) int { return int(a.UID) - int(b.UID) })
	return snap, nil
}

// validityFile, in the user's Maildir (INBOX), holds the last
// UIDVALIDITY given to one of its folders.
const validityFile = "applayer-uidvalidity"

func (f *Folder) newValidity() uint32 {
	root := f.Path
	if strings.HasPrefix(filepath.Base(root), ".") {
		root = filepath.Dir(root)
	}
	p := filepath.Join(root, validityFile)
	v := uint32(time.Now().Unix())
	if b, err := os.ReadFile(p); err == nil {
		if last, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32); err == nil && uint32(last) >= v {
			v = uint32(last) + 1
		}
	}
	atomicfile.WriteFile(p, []byte(strconv.FormatUint(uint64(v), 10)+"\n"), 0o600)
	return v
}

// recentFile holds the first UID no session has seen as \Recent. Losing
// it makes messages recent again, no more.
const recentFile = "applayer-recent"

func (f *Folder) firstRecent() uint32 {
	b, err := os.ReadFile(filepath.Join(f.Path, recentFile))
	if err != nil {
		return 1
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32)
	if err != nil {
		return 1
	}
	return uint32(n)
}

// Find returns the current path of the message with this base name, which
// another session may have moved to cur/ or renamed with other flags.
func (f *Folder) Find(base string) (string, error) {
	for _, sub := range []string{"cur", "new"} {
		ents, err := os.ReadDir(filepath.Join(f.Path, sub))
		if err != nil {
			continue
		}
		for _, e := range ents {
			if b, _ := BaseName(e.Name()); b == base {
				return filepath.Join(f.Path, sub, e.Name()), nil
			}
		}
	}
	return "", fmt.Errorf("maildir: message %s: %w", base, os.ErrNotExist)
}

// SetFlags renames the message to carry flags, moving it to cur/. It
// returns the new path. A message that another session moved is looked for
// by its base name.
func (f *Folder) SetFlags(e Entry, flags string) (string, error) {
	to := filepath.Join(f.Path, "cur", FileName(e.Base, flags))
	if e.Path == to {
		return to, nil
	}
	err := os.Rename(e.Path, to)
	if errors.Is(err, os.ErrNotExist) {
		var p string
		if p, err = f.Find(e.Base); err == nil {
			err = os.Rename(p, to)
		}
	}
	if err != nil {
		return "", fmt.Errorf("maildir: %w", err)
	}
	return to, nil
}

// Remove deletes messages by base name and makes the removal durable. It
// returns the first error; a message already gone is no error.
func (f *Folder) Remove(entries []Entry) error {
	var first error
	for _, e := range entries {
		err := os.Remove(e.Path)
		if errors.Is(err, os.ErrNotExist) {
			var p string
			if p, err = f.Find(e.Base); err == nil {
				err = os.Remove(p)
			} else if errors.Is(err, os.ErrNotExist) {
				err = nil
			}
		}
		if err != nil && first == nil {
			first = fmt.Errorf("maildir: %w", err)
		}
	}
	for _, sub := range []string{"cur", "new"} {
		if err := atomicfile.SyncDir(filepath.Join(f.Path, sub)); err != nil && first == nil && !errors.Is(err, os.ErrNotExist) {
			first = err
		}
	}
	return first
}

// Add stores a message in the folder (tmp/, fsync, link into cur/ with
// flags, directory fsync) and gives it its UID, which it returns with the
// folder's UIDVALIDITY (uid 0 when another session removed the message
// before its UID could be looked up). A crash leaves the message whole in
// cur/ or not there at all. The caller holds no Lock.
func (f *Folder) Add(r io.Reader, flags string, date time.Time, uniq string) (uid, validity uint32, err error) {
	tmp := filepath.Join(f.Path, "tmp", uniq)
	w, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, 0, fmt.Errorf("maildir: %w", err)
	}
	defer os.Remove(tmp)
	n, err := io.Copy(w, r)
	if err == nil {
		err = w.Sync()
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, 0, fmt.Errorf("maildir: %w", err)
	}
	if !date.IsZero() {
		os.Chtimes(tmp, date, date)
	}
	base := uniq
	if !strings.Contains(base, ",S=") {
		base += ",S=" + strconv.FormatInt(n, 10)
	}
	// Linked and made durable outside the lock: another session that
	// finds it first gives it its UID, which is then looked up here.
	if err := os.Link(tmp, filepath.Join(f.Path, "cur", FileName(base, flags))); err != nil {
		return 0, 0, fmt.Errorf("maildir: %w", err)
	}
	if err := atomicfile.SyncDir(filepath.Join(f.Path, "cur")); err != nil {
		return 0, 0, err
	}
	snap, err := f.Sync(false)
	if err != nil {
		return 0, 0, err
	}
	for _, e := range snap.Entries {
		if e.Base == base {
			return e.UID, snap.UIDValidity, nil
		}
	}
	// Another session removed it already (flagged and expunged): it was
	// stored, and its UID is no longer anyone's business.
	return 0, snap.UIDValidity, nil
}

type uidList struct {
	validity, next uint32
	uids           map[string]uint32
	created        bool
}

func (f *Folder) readUIDList() (*uidList, error) {
	l := &uidList{uids: map[string]uint32{}}
	b, err := os.ReadFile(filepath.Join(f.Path, UIDListFile))
	if errors.Is(err, os.ErrNotExist) {
		// A new UIDVALIDITY: the time, as Dovecot does, so that a folder
		// made again after being deleted does not repeat an old one; and
		// above the last one given in this Maildir, for a folder made
		// again within the same second.
		l.validity, l.next, l.created = f.newValidity(), 1, true
		return l, nil
	}
	if err != nil {
		return nil, fmt.Errorf("maildir: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	first := true
	for sc.Scan() {
		line := sc.Text()
		if first {
			first = false
			fields := strings.Fields(line)
			if len(fields) == 0 || fields[0] != "3" {
				return nil, fmt.Errorf("maildir: %s: unknown version %q", filepath.Join(f.Path, UIDListFile), line)
			}
			for _, fl := range fields[1:] {
				if len(fl) < 2 {
					continue
				}
				n, err := strconv.ParseUint(fl[1:], 10, 32)
				if err != nil {
					continue
				}
				switch fl[0] {
				case 'V':
					l.validity = uint32(n)
				case 'N':
					l.next = uint32(n)
				}
			}
			continue
		}
		// "UID [extensions] :base"
		uidStr, rest, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		uid, err := strconv.ParseUint(uidStr, 10, 32)
		if err != nil || uid == 0 {
			continue
		}
		i := strings.IndexByte(rest, ':')
		if i < 0 {
			continue
		}
		l.uids[rest[i+1:]] = uint32(uid)
		if uint32(uid) >= l.next {
			l.next = uint32(uid) + 1
		}
	}
	if l.validity == 0 {
		l.validity = uint32(time.Now().Unix())
		l.created = true
	}
	if l.next == 0 {
		l.next = 1
	}
	return l, nil
}

func (f *Folder) writeUIDList(l *uidList, durable bool) error {
	type pair struct {
		uid  uint32
		base string
	}
	ps := make([]pair, 0, len(l.uids))
	for b, u := range l.uids {
		ps = append(ps, pair{u, b})
	}
	slices.SortFunc(ps, func(a, b pair) int { return int(a.uid) - int(b.uid) })
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "3 V%d N%d\n", l.validity, l.next)
	for _, p := range ps {
		fmt.Fprintf(&buf, "%d :%s\n", p.uid, p.base)
	}
	write := atomicfile.WriteFileNoSync
	if durable {
		write = atomicfile.WriteFile
	}
	if err := write(filepath.Join(f.Path, UIDListFile), buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("maildir: %w", err)
	}
	l.created = false
	return nil
}

// ErrLocked is returned by TryLock when another session holds the lock.
var ErrLocked = errors.New("maildir: locked by another session")

// TryLock takes the exclusive lock named name in the folder without
// waiting: ErrLocked if another session (of this process or another)
// holds it. POP3 holds "applayer-pop3.lock" for a whole session (RFC 1939
// section 8: one session per maildrop).
func (f *Folder) TryLock(name string) (unlock func(), err error) {
	lf, err := os.OpenFile(filepath.Join(f.Path, name), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("maildir: %w", err)
	}
	if err := flock(lf, true, false); err != nil {
		lf.Close()
		return nil, err
	}
	return func() { lf.Close() }, nil
}
