package store

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/applayer/applayer/web/internal/pgtest"
)

// testStore runs the same checks against every Store.
func testStore(t *testing.T, s Store) {
	ctx := context.Background()
	id, err := s.NewVisitor(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !ValidID(id) {
		t.Fatalf("NewVisitor = %q, not a valid id", id)
	}
	for want := int64(1); want <= 3; want++ {
		v, err := s.Visit(ctx, id)
		if err != nil || v.Visits != want {
			t.Fatalf("Visit %d: %+v, %v", want, v, err)
		}
	}
	if err := s.AddNote(ctx, id, "first"); err != nil {
		t.Fatal(err)
	}
	if err := s.AddNote(ctx, id, strings.Repeat("é", MaxNote)); err != nil {
		t.Fatal(err)
	}
	v, err := s.Peek(ctx, id)
	if err != nil || v.Visits != 3 || len(v.Notes) != 2 || v.Notes[1].Text != "first" {
		t.Fatalf("Peek: %+v, %v", v, err)
	}
	if n := v.Notes[0].Text; len(n) > MaxNote || !strings.HasPrefix(n, "éé") || strings.ToValidUTF8(n, "?") != n {
		t.Errorf("long note stored as %d bytes, valid UTF-8 %v", len(n), strings.ToValidUTF8(n, "?") == n)
	}
	for _, bad := range []string{NewID(), "x' OR 1=1 --", ""} {
		if _, err := s.Visit(ctx, bad); !errors.Is(err, ErrUnknownVisitor) {
			t.Errorf("Visit(%q) = %v, want ErrUnknownVisitor", bad, err)
		}
		if err := s.AddNote(ctx, bad, "x"); !errors.Is(err, ErrUnknownVisitor) {
			t.Errorf("AddNote(%q) = %v, want ErrUnknownVisitor", bad, err)
		}
	}
	// Concurrent visits are all counted.
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Visit(ctx, id); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if v, _ := s.Peek(ctx, id); v.Visits != 23 {
		t.Errorf("after 20 concurrent visits: %d, want 23", v.Visits)
	}
}

func TestMemory(t *testing.T) { testStore(t, NewMemory()) }

func TestSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "demo.sqlite")
	s, err := OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	testStore(t, s)
	s.Close()
	// The data survive a restart.
	s, err = Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var n int
	s.db.QueryRow(`SELECT COUNT(*) FROM demo_visitors`).Scan(&n)
	if n != 1 {
		t.Errorf("after reopening: %d visitors, want 1", n)
	}
}

// TestPostgres runs against the server APPLAYER_TEST_POSTGRES names, or a
// private one started from the postgresql package (see web/internal/pgtest).
func TestPostgres(t *testing.T) {
	s, err := Open(context.Background(), pgtest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.dialect != "postgres" {
		t.Fatalf("dialect %q", s.dialect)
	}
	testStore(t, s)
}
