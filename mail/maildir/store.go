package maildir

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Store is the mail storage under one data directory.
type Store struct {
	// Dir is the data directory.
	Dir string
	// Sync batches directory fsyncs; shared with whoever else writes
	// under Dir (the queue).
	Sync *Syncer

	users *Users
	host  string
	pid   int
	seq   atomic.Uint64
	made  sync.Map // Maildir paths known to exist
}

// Open prepares dir (creating it when needed) and removes what an earlier
// run left in tmp/: files there were never acknowledged.
func Open(dir string) (*Store, error) {
	for _, d := range []string{dir, filepath.Join(dir, "tmp"), filepath.Join(dir, "mail")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("maildir: %w", err)
		}
	}
	if ents, err := os.ReadDir(filepath.Join(dir, "tmp")); err == nil {
		for _, e := range ents {
			os.Remove(filepath.Join(dir, "tmp", e.Name()))
		}
	}
	host, _ := os.Hostname()
	host = strings.NewReplacer("/", `\057`, ":", `\072`).Replace(host)
	if host == "" {
		host = "localhost"
	}
	return &Store{
		Dir:   dir,
		Sync:  &Syncer{},
		users: &Users{Path: filepath.Join(dir, "users")},
		host:  host,
		pid:   os.Getpid(),
	}, nil
}

// Users returns the users file.
func (s *Store) Users() *Users { return s.users }

// MaildirPath returns the Maildir of addr (which need not exist yet).
func (s *Store) MaildirPath(addr string) string {
	a := Normalize(addr)
	at := strings.LastIndexByte(a, '@')
	local, domain := a, "localhost"
	if at >= 0 {
		local, domain = a[:at], a[at+1:]
	}
	// A local part may hold '/' or a leading dot; neither may leave the tree.
	local = strings.NewReplacer("/", "%2F", "\x00", "").Replace(local)
	if strings.HasPrefix(local, ".") {
		local = "%2E" + local[1:]
	}
	domain = strings.NewReplacer("/", "%2F", "\x00", "").Replace(domain)
	if domain == "" || strings.HasPrefix(domain, ".") {
		domain = "%2E" + strings.TrimPrefix(domain, ".")
	}
	if local == "" {
		local = "%00"
	}
	return filepath.Join(s.Dir, "mail", domain, local)
}

// UniqueName returns a fresh Maildir file name for a message of size bytes
// (the ",S=" suffix is Dovecot's, and harmless to other readers).
func (s *Store) UniqueName(size int64) string {
	now := time.Now()
	return fmt.Sprintf("%d.M%dP%dQ%d.%s,S=%d", now.Unix(), now.Nanosecond()/1000, s.pid, s.seq.Add(1), s.host, size)
}

// Spool is a message being received, in a file under tmp/.
type Spool struct {
	f    *os.File
	w    *bufio.Writer
	path string
	size int64
	err  error
}

// Create starts a Spool.
func (s *Store) Create() (*Spool, error) {
	p := filepath.Join(s.Dir, "tmp", s.UniqueName(0))
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("maildir: %w", err)
	}
	return &Spool{f: f, w: bufio.NewWriterSize(f, 32<<10), path: p}, nil
}

// Write appends to the message.
func (sp *Spool) Write(p []byte) (int, error) {
	if sp.err != nil {
		return 0, sp.err
	}
	n, err := sp.w.Write(p)
	sp.size += int64(n)
	sp.err = err
	return n, err
}

// Size is the number of bytes written.
func (sp *Spool) Size() int64 { return sp.size }

// Path is the spool file's name.
func (sp *Spool) Path() string { return sp.path }

// Finish flushes and fsyncs the file and closes it.
func (sp *Spool) Finish() error {
	err := sp.err
	if err == nil {
		err = sp.w.Flush()
	}
	if err == nil {
		err = sp.f.Sync()
	}
	if cerr := sp.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("maildir: %w", err)
	}
	return nil
}

// Remove deletes the spool file (its links elsewhere stay).
func (sp *Spool) Remove() {
	sp.f.Close()
	os.Remove(sp.path)
}

// ensureMaildir creates tmp/, new/ and cur/ of a Maildir, durably.
func (s *Store) ensureMaildir(md string) error {
	if _, ok := s.made.Load(md); ok {
		return nil
	}
	if _, err := os.Stat(filepath.Join(md, "new")); err != nil {
		for _, sub := range []string{"tmp", "new", "cur"} {
			if err := os.MkdirAll(filepath.Join(md, sub), 0o700); err != nil {
				return err
			}
		}
		// Make the new directories themselves durable.
		for d := md; strings.HasPrefix(d, s.Dir) && d != s.Dir; d = filepath.Dir(d) {
			if err := s.Sync.SyncDir(filepath.Dir(d)); err != nil {
				return err
			}
		}
	}
	s.made.Store(md, true)
	return nil
}

// LinkInto delivers a finished Spool to each address's Maildir: a hard link
// into new/ and an fsync of new/ (group-committed). It returns when every
// copy is durable.
func (s *Store) LinkInto(sp *Spool, addrs []string) error {
	dirs := map[string]bool{}
	for _, a := range addrs {
		md := s.MaildirPath(a)
		if dirs[md] {
			continue // the same mailbox twice gets one copy
		}
		if err := s.ensureMaildir(md); err != nil {
			return fmt.Errorf("maildir: %w", err)
		}
		if err := os.Link(sp.path, filepath.Join(md, "new", s.UniqueName(sp.size))); err != nil {
			return fmt.Errorf("maildir: %w", err)
		}
		dirs[md] = true
	}
	var errs []error
	for md := range dirs {
		errs = append(errs, s.Sync.SyncDir(filepath.Join(md, "new")))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("maildir: %w", err)
	}
	return nil
}

// Deliver stores one complete message in addr's Maildir.
func (s *Store) Deliver(addr string, msg []byte) error {
	return s.DeliverFrom(addr, bytes.NewReader(msg))
}

// DeliverFrom stores the message read from r in addr's Maildir.
func (s *Store) DeliverFrom(addr string, r io.Reader) error {
	sp, err := s.Create()
	if err != nil {
		return err
	}
	defer sp.Remove()
	if _, err := io.Copy(sp, r); err != nil {
		return fmt.Errorf("maildir: %w", err)
	}
	if err := sp.Finish(); err != nil {
		return err
	}
	return s.LinkInto(sp, []string{addr})
}

// Message is one message found in a Maildir.
type Message struct {
	Path string
	New  bool // still in new/
}

// List returns the messages in addr's Maildir, new/ then cur/, each in
// name order (which is arrival order for names this package makes).
func (s *Store) List(addr string) ([]Message, error) {
	md := s.MaildirPath(addr)
	var out []Message
	for _, sub := range []string{"new", "cur"} {
		ents, err := os.ReadDir(filepath.Join(md, sub))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("maildir: %w", err)
		}
		for _, e := range ents {
			if !e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
				out = append(out, Message{Path: filepath.Join(md, sub, e.Name()), New: sub == "new"})
			}
		}
	}
	return out, nil
}
