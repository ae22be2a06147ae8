package imap

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/applayer/applayer/internal/atomicfile"
	"github.com/applayer/applayer/mail/maildir"
)

// delim is the hierarchy delimiter: Maildir++ keeps "Archive.2024" in the
// directory ".Archive.2024" of the user's Maildir, as Dovecot's default
// maildir++ layout does.
const delim = "."

// subscriptionsFile lists the subscribed folders, one a line (Dovecot's
// file of the same name in the Maildir).
const subscriptionsFile = "subscriptions"

// specialUse gives the RFC 6154 attribute of the usual folder names.
var specialUse = map[string]string{
	"Sent": `\Sent`, "Sent Messages": `\Sent`, "Drafts": `\Drafts`, "Trash": `\Trash`,
	"Deleted Messages": `\Trash`, "Junk": `\Junk`, "Spam": `\Junk`, "Archive": `\Archive`,
}

// account is one user's folders under their Maildir.
type account struct {
	root string // the Maildir: INBOX
}

var errBadName = errors.New("invalid mailbox name")

// validName checks a mailbox name: no path tricks, no empty levels.
func validName(name string) bool {
	if name == "" || len(name) > 255 || strings.ContainsAny(name, "/\\\x00\r\n") || strings.Contains(name, "..") ||
		strings.HasPrefix(name, delim) || strings.HasSuffix(name, delim) || strings.Contains(name, "*") || strings.Contains(name, "%") {
		return false
	}
	return true
}

// folder returns the Maildir folder of a mailbox name.
func (a *account) folder(name string) (maildir.Folder, error) {
	if name == "INBOX" {
		return maildir.Folder{Path: a.root}, nil
	}
	if !validName(name) {
		return maildir.Folder{}, errBadName
	}
	return maildir.Folder{Path: filepath.Join(a.root, "."+name)}, nil
}

// exists reports whether the mailbox exists and can be selected.
func (a *account) exists(name string) bool {
	f, err := a.folder(name)
	if err != nil {
		return false
	}
	if name == "INBOX" {
		return true
	}
	return f.Exists()
}

// names lists every existing mailbox, INBOX first, then sorted.
func (a *account) names() []string {
	out := []string{"INBOX"}
	ents, _ := os.ReadDir(a.root)
	var rest []string
	for _, e := range ents {
		n := e.Name()
		if !e.IsDir() || len(n) < 2 || n[0] != '.' || n == ".." {
			continue
		}
		if validName(n[1:]) && (&maildir.Folder{Path: filepath.Join(a.root, n)}).Exists() {
			rest = append(rest, n[1:])
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

func (a *account) create(name string) error {
	if name == "INBOX" || a.exists(name) {
		return errors.New("mailbox already exists")
	}
	f, err := a.folder(name)
	if err != nil {
		return err
	}
	if err := f.Create(); err != nil {
		return err
	}
	// Maildir++ marks a folder with an empty "maildirfolder" file.
	os.WriteFile(filepath.Join(f.Path, "maildirfolder"), nil, 0o600)
	return nil
}

func (a *account) delete(name string) error {
	if name == "INBOX" {
		return errors.New("INBOX cannot be deleted")
	}
	if !a.exists(name) {
		return errors.New("no such mailbox")
	}
	f, _ := a.folder(name)
	// Renamed away first, so that the folder vanishes at once even if the
	// removal of its files is cut short.
	gone := filepath.Join(a.root, ".#deleted."+filepath.Base(f.Path)[1:])
	os.RemoveAll(gone)
	if err := os.Rename(f.Path, gone); err != nil {
		return err
	}
	atomicfile.SyncDir(a.root)
	return os.RemoveAll(gone)
}

// rename moves a mailbox and its children (section 6.3.5). Renaming INBOX
// moves its messages into a new mailbox and leaves INBOX empty.
func (a *account) rename(from, to string) error {
	if !a.exists(from) {
		return errors.New("no such mailbox")
	}
	if to == "INBOX" || a.exists(to) {
		return errors.New("target mailbox already exists")
	}
	tf, err := a.folder(to)
	if err != nil {
		return err
	}
	if from == "INBOX" {
		if err := a.create(to); err != nil {
			return err
		}
		src := maildir.Folder{Path: a.root}
		snap, err := src.Sync(true)
		if err != nil {
			return err
		}
		for _, e := range snap.Entries {
			name := filepath.Base(e.Path)
			if err := os.Rename(e.Path, filepath.Join(tf.Path, "cur", name)); err != nil {
				return err
			}
		}
		atomicfile.SyncDir(filepath.Join(tf.Path, "cur"))
		return atomicfile.SyncDir(filepath.Join(a.root, "cur"))
	}
	for _, n := range a.names() {
		if n == from || strings.HasPrefix(n, from+delim) {
			of, _ := a.folder(n)
			nf, err := a.folder(to + n[len(from):])
			if err != nil {
				return err
			}
			if err := os.Rename(of.Path, nf.Path); err != nil {
				return err
			}
		}
	}
	return atomicfile.SyncDir(a.root)
}

func (a *account) subscriptions() map[string]bool {
	b, _ := os.ReadFile(filepath.Join(a.root, subscriptionsFile))
	out := map[string]bool{}
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out[l] = true
		}
	}
	return out
}

func (a *account) subscribe(name string, on bool) error {
	subs := a.subscriptions()
	if on {
		subs[name] = true
	} else {
		delete(subs, name)
	}
	var names []string
	for n := range subs {
		names = append(names, n)
	}
	sort.Strings(names)
	data := strings.Join(names, "\n")
	if data != "" {
		data += "\n"
	}
	return atomicfile.WriteFile(filepath.Join(a.root, subscriptionsFile), []byte(data), 0o600)
}

// match reports whether name matches a LIST pattern (section 6.3.8):
// "*" matches anything, "%" anything but the delimiter. Dynamic
// programming over the two strings: linear in each, whatever the
// wildcards.
func match(pattern, name string) bool {
	// cur[j]: pattern[:i] matches name[:j].
	cur := make([]bool, len(name)+1)
	next := make([]bool, len(name)+1)
	cur[0] = true
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		for j := range next {
			next[j] = false
		}
		switch c {
		case '*', '%':
			// The wildcard takes name[j-1] too, unless it is "%" and
			// that is the delimiter.
			for j := 0; j <= len(name); j++ {
				next[j] = cur[j] || j > 0 && next[j-1] && (c == '*' || name[j-1] != delim[0])
			}
		default:
			for j := 1; j <= len(name); j++ {
				next[j] = cur[j-1] && name[j-1] == c
			}
		}
		cur, next = next, cur
	}
	return cur[len(name)]
}
