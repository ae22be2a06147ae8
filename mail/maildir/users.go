package maildir

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/applayer/applayer/internal/atomicfile"
	"github.com/applayer/applayer/internal/password"
)

// Errors of the users file.
var (
	ErrNoUser     = errors.New("maildir: no such user")
	ErrUserExists = errors.New("maildir: user already exists")
)

// Users is the users file: "address:hash" lines, the hash made by bcrypt.
// It is re-read when it changes on disk, so `applayer mail user add` takes
// effect in a running server.
type Users struct {
	// Path is the file's name.
	Path string
	// Cost is the bcrypt cost for new passwords (default bcrypt.DefaultCost, 10).
	Cost int

	mu    sync.Mutex
	mtime time.Time
	size  int64
	users map[string]string // normalized address -> hash
	// decoyCost is the users' bcrypt cost, which an unknown user's
	// password is checked at.
	decoyCost int
}

// Normalize returns the key an address is stored under: lower case.
func Normalize(addr string) string { return strings.ToLower(strings.TrimSpace(addr)) }

func (u *Users) load() (map[string]string, error) {
	st, err := os.Stat(u.Path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.users != nil && st.ModTime().Equal(u.mtime) && st.Size() == u.size {
		return u.users, nil
	}
	b, err := os.ReadFile(u.Path)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		addr, hash, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		m[Normalize(addr)] = hash
	}
	u.users, u.mtime, u.size = m, st.ModTime(), st.Size()
	u.decoyCost = password.DecoyCost(m)
	password.Decoy(u.decoyCost) // made now, not at the first unknown user
	return m, nil
}

// Exists reports whether addr is a user.
func (u *Users) Exists(addr string) bool {
	m, err := u.load()
	if err != nil {
		return false
	}
	_, ok := m[Normalize(addr)]
	return ok
}

// Check reports whether password is addr's, in a time that does not tell
// whether addr is a user (internal/password).
func (u *Users) Check(addr, pw string) bool {
	m, err := u.load()
	if err != nil {
		return false
	}
	u.mu.Lock()
	decoy := u.decoyCost
	u.mu.Unlock()
	return password.Check(m[Normalize(addr)], pw, decoy)
}

// List returns the users' addresses, sorted.
func (u *Users) List() ([]string, error) {
	m, err := u.load()
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(m))
	for a := range m {
		out = append(out, a)
	}
	sort.Strings(out)
	return out, nil
}

// Add creates a user, or changes the password of an existing one when
// replace is true.
func (u *Users) Add(addr, pw string, replace bool) error {
	if pw == "" {
		return errors.New("maildir: empty password")
	}
	h, err := password.Hash(pw, u.Cost)
	if err != nil {
		return fmt.Errorf("maildir: %w", err)
	}
	return u.update(func(m map[string]string) error {
		if _, ok := m[Normalize(addr)]; ok && !replace {
			return ErrUserExists
		}
		m[Normalize(addr)] = string(h)
		return nil
	})
}

// Del removes a user (not their mail).
func (u *Users) Del(addr string) error {
	return u.update(func(m map[string]string) error {
		if _, ok := m[Normalize(addr)]; !ok {
			return ErrNoUser
		}
		delete(m, Normalize(addr))
		return nil
	})
}

// update rewrites the file through a temporary file and a rename, so a
// reader sees the old file or the new one, never half of one.
func (u *Users) update(f func(map[string]string) error) error {
	old, err := u.load()
	if err != nil {
		return fmt.Errorf("maildir: %w", err)
	}
	m := make(map[string]string, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	if err := f(m); err != nil {
		return err
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	b.WriteString("# applayer mail users: address:bcrypt-hash\n")
	for _, k := range keys {
		b.WriteString(k + ":" + m[k] + "\n")
	}
	if err := os.MkdirAll(filepath.Dir(u.Path), 0o700); err != nil {
		return fmt.Errorf("maildir: %w", err)
	}
	// A temporary file of its own (two `mail user add` at once do not
	// write into one), fsynced before the rename and the directory after
	// it, so a crash leaves the old file or the new one, never an empty one.
	if err := atomicfile.WriteFile(u.Path, b.Bytes(), 0o600); err != nil {
		return fmt.Errorf("maildir: %w", err)
	}
	u.mu.Lock()
	u.users = nil // force a reload
	u.mu.Unlock()
	return nil
}
