// Package store is the back-end database of the cookie demo: the fourth of
// the textbook's four cookie components (the Set-Cookie field, the Cookie
// field, the browser's cookie file, and a database at the site).
//
// [Store] is the small interface the demo needs. [Open] returns one backed
// by SQLite (modernc.org/sqlite, pure Go, so the binary needs no C
// toolchain; the file is created on first use) or by PostgreSQL (pgx), for
// several web servers sharing one store; [NewMemory] backs tests. The two
// SQL stores share their queries; only the schema's column types and the
// placeholder syntax differ.
package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"
)

// ErrUnknownVisitor is returned for an identifier the store never issued
// (or has forgotten): the demo then issues a new one.
var ErrUnknownVisitor = errors.New("store: unknown visitor")

// MaxNote bounds a note's length in bytes.
const MaxNote = 2000

// MaxNotes is how many notes Visit returns, newest first.
const MaxNotes = 20

// Visitor is what the site knows about one browser.
type Visitor struct {
	ID        string
	Visits    int64
	FirstSeen time.Time
	LastSeen  time.Time
	Notes     []Note // newest first, at most MaxNotes
}

// A Note is something the visitor posted through the demo's form.
type Note struct {
	Text    string
	Created time.Time
}

// Store keeps visitors keyed by the identifier their cookie carries. Its
// methods are safe for concurrent use.
type Store interface {
	// NewVisitor creates a visitor with no visits and returns its ID.
	NewVisitor(ctx context.Context) (string, error)
	// Visit counts one visit of id and returns the visitor as it is now.
	Visit(ctx context.Context, id string) (Visitor, error)
	// Peek returns the visitor without counting a visit.
	Peek(ctx context.Context, id string) (Visitor, error)
	// AddNote stores a note for id (truncated to MaxNote bytes).
	AddNote(ctx context.Context, id, text string) error
	// Close releases the store.
	Close() error
}

// NewID returns a fresh visitor identifier: 128 random bits in hex, so that
// identifiers cannot be guessed.
func NewID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ValidID reports whether s has the shape NewID gives, so that nothing else
// reaches a query.
func ValidID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	// Do not cut a UTF-8 sequence in half.
	for len(s) > 0 && s[len(s)-1]&0xC0 == 0x80 {
		s = s[:len(s)-1]
	}
	if len(s) > 0 && s[len(s)-1] >= 0xC0 {
		s = s[:len(s)-1]
	}
	return s
}
