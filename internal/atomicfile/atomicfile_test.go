package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

// leftovers lists what is in dir besides the names given.
func leftovers(t *testing.T, dir string, want ...string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	keep := map[string]bool{}
	for _, w := range want {
		keep[w] = true
	}
	var extra []string
	for _, e := range ents {
		if !keep[e.Name()] {
			extra = append(extra, e.Name())
		}
	}
	return extra
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.txt")
	for _, w := range []func(string, []byte, os.FileMode) error{WriteFile, WriteFileNoSync} {
		if err := os.WriteFile(p, []byte("old contents, longer"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := w(p, []byte("new"), 0o600); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil || string(b) != "new" {
			t.Fatalf("read back %q %v", b, err)
		}
		if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
			t.Errorf("mode %v, want 0600", fi.Mode().Perm())
		}
		if extra := leftovers(t, dir, "f.txt"); extra != nil {
			t.Errorf("left behind: %v", extra)
		}
	}
}

func TestFailureLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "sub")
	if err := os.Mkdir(target, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(target, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// Renaming a file over a non-empty directory fails.
	if err := WriteFile(target, []byte("data"), 0o644); err == nil {
		t.Fatal("WriteFile over a directory succeeded")
	}
	if extra := leftovers(t, dir, "sub"); extra != nil {
		t.Errorf("left behind: %v", extra)
	}
	if err := WriteFile(filepath.Join(dir, "missing", "f"), nil, 0o644); err == nil {
		t.Error("WriteFile into a missing directory succeeded")
	}
}

func TestCreateDiscardCommit(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out")
	f, err := Create(p, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("partial")
	f.Discard()
	f.Discard()
	if extra := leftovers(t, dir); extra != nil {
		t.Errorf("after Discard: %v", extra)
	}
	if f.Commit() == nil {
		t.Error("Commit after Discard succeeded")
	}
	f, err = Create(p, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Discard()
	f.WriteString("whole")
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Errorf("target exists before Commit: %v", err)
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	f.Discard() // no-op after Commit
	if b, err := os.ReadFile(p); err != nil || string(b) != "whole" {
		t.Fatalf("read back %q %v", b, err)
	}
	if f.Commit() == nil {
		t.Error("second Commit succeeded")
	}
	if extra := leftovers(t, dir, "out"); extra != nil {
		t.Errorf("left behind: %v", extra)
	}
}
