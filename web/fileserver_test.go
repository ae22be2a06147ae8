package web

import (
	"strings"
	"testing"
)

func TestCleanPath(t *testing.T) {
	tests := []struct {
		in, rel, norm string
		ok            bool
	}{
		{"/", ".", "/", true},
		{"/a.txt", "a.txt", "/a.txt", true},
		{"/sub/..", ".", "/", true},
		{"/sub/../", ".", "/", true},
		{"/a/b/..", "a", "/a/", true},
		{"/a/./b", "a/b", "/a/b", true},
		{"/a/.", "a", "/a/", true},
		{"//a//b/", "a/b", "/a/b/", true},
		{"/a/../../b", "", "", false},
		{"/..", "", "", false},
		{"/../a", "", "", false},
		{"/a\\b", "", "", false},
		{"/a\x00", "", "", false},
		{"a", "", "", false},
	}
	for _, tt := range tests {
		rel, norm, ok := cleanPath(tt.in)
		if rel != tt.rel || norm != tt.norm || ok != tt.ok {
			t.Errorf("cleanPath(%q) = %q, %q, %v; want %q, %q, %v", tt.in, rel, norm, ok, tt.rel, tt.norm, tt.ok)
		}
	}
}

// FuzzCleanPath: whatever the path, an accepted one names a file under the
// root, and its normal form is a fixed point.
func FuzzCleanPath(f *testing.F) {
	for _, s := range []string{"/", "/sub/..", "/a/./b/../c/", "/../x", "//a//", "/a/.", "/.well-known/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		rel, norm, ok := cleanPath(p)
		if !ok {
			return
		}
		for _, seg := range strings.Split(rel, "/") {
			if rel != "." && (seg == "" || seg == "." || seg == "..") {
				t.Fatalf("cleanPath(%q) = %q: not a name under the root", p, rel)
			}
		}
		rel2, norm2, ok2 := cleanPath(norm)
		if !ok2 || rel2 != rel || norm2 != norm {
			t.Fatalf("cleanPath(%q) = %q, %q; again: %q, %q, %v", p, rel, norm, rel2, norm2, ok2)
		}
	})
}
