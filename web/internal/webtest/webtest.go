// Package webtest holds what the tests of web and of the packages built on it share.
package webtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// SiteFiles is a small tree that the file tests serve.
var SiteFiles = map[string]string{
	"index.html":      "<html><body>hello</body></html>\n",
	"a.txt":           "abcdefghijklmnopqrstuvwxyz",
	"dir/index.html":  "<p>dir</p>",
	"empty/.keep":     "",
	"big.bin":         strings.Repeat("0123456789abcdef", 32<<10), // 512 KiB: not cached
	"style.css":       "body{}",
	".hidden":         "secret",
	"dir/.git/config": "secret",
}

// MakeSite writes SiteFiles under a new temporary directory.
func MakeSite(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range SiteFiles {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
