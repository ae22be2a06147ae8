package sample

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"net/url"

	"github.com/applayer/applayer/web/browser"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	if err := Write(dir); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	base, _ := url.Parse("http://www.someschool.edu/")
	links := browser.ObjectLinks(f, base)
	if len(links) != Objects || len(links) < 10 {
		t.Fatalf("index.html references %d objects, want %d (and at least 10)", len(links), Objects)
	}
	sizes := map[int64]bool{}
	for _, u := range links {
		fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(strings.TrimPrefix(u.Path, "/"))))
		if err != nil {
			t.Errorf("object %s: %v", u, err)
			continue
		}
		sizes[fi.Size()/1000] = true
	}
	if len(sizes) < 6 {
		t.Errorf("objects come in only %d sizes", len(sizes))
	}
}
