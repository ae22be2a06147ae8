package cache

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Entries survive a reopen; a file cut short or altered is dropped, never
// served; a temporary file a crash left is removed.
func TestDiskReopen(t *testing.T) {
	dir := t.TempDir()
	d, err := OpenDisk(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"http://a/1", "http://a/2", "http://a/3"} {
		d.Put(NewEntry(shared, k, nil, 200, hdr("Cache-Control", "max-age=60", "ETag", `"x"`), []byte("body of "+k), t0, t0))
	}
	// Replacing an entry leaves one file for it.
	d.Put(NewEntry(shared, "http://a/3", nil, 200, hdr("Cache-Control", "max-age=60"), []byte("new body of http://a/3"), t0, t0))
	files, _ := filepath.Glob(filepath.Join(dir, "*.entry"))
	if len(files) != 3 {
		t.Fatalf("%d files, want 3", len(files))
	}
	// Cut one file short, flip a byte in another, leave a temporary file.
	var cut, flipped string
	for _, f := range files {
		b, _ := os.ReadFile(f)
		switch {
		case strings.Contains(string(b), "http://a/1"):
			cut = f
			os.WriteFile(f, b[:len(b)-40], 0o600)
		case strings.Contains(string(b), "http://a/2"):
			flipped = f
			b[len(b)/2] ^= 1
			os.WriteFile(f, b, 0o600)
		}
	}
	os.WriteFile(filepath.Join(dir, ".x.entry.123.tmp"), []byte("partial"), 0o600)

	d2, err := OpenDisk(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	if d2.Dropped != 2 {
		t.Errorf("dropped %d, want 2", d2.Dropped)
	}
	if d2.Get("http://a/1") != nil || d2.Get("http://a/2") != nil {
		t.Error("a damaged entry was loaded")
	}
	got := d2.Get("http://a/3")
	if len(got) != 1 || string(got[0].Body) != "new body of http://a/3" || got[0].Header.Get("Cache-Control") != "max-age=60" || !got[0].ResponseTime.Equal(t0) {
		t.Errorf("reloaded entry %+v", got)
	}
	for _, f := range []string{cut, flipped, filepath.Join(dir, ".x.entry.123.tmp")} {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("%s left behind", filepath.Base(f))
		}
	}
	// Delete and eviction remove files.
	d2.Delete("http://a/3")
	if files, _ := filepath.Glob(filepath.Join(dir, "*")); len(files) != 0 {
		t.Errorf("files left after Delete: %v", files)
	}
}

func TestDiskBound(t *testing.T) {
	dir := t.TempDir()
	one := (&Entry{Key: "http://a/0", Status: 200, Body: make([]byte, 1000)}).Size()
	d, err := OpenDisk(dir, 3*one)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		d.Put(&Entry{Key: "http://a/" + string(rune('0'+i)), Status: 200, Body: make([]byte, 1000)})
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.entry"))
	if n, _ := d.Stats(); n != 3 || len(files) != 3 {
		t.Errorf("%d entries, %d files; want 3", n, len(files))
	}
}

func FuzzDecodeEntry(f *testing.F) {
	f.Add(encodeEntry(&Entry{Key: "http://a/", Status: 200, Header: hdr("A", "b"), Body: []byte("x")}))
	f.Add([]byte(diskMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeEntry(b)
		if err == nil && string(encodeEntry(e)) != string(b) {
			// Only a whole, checked file decodes; it re-encodes to itself
			// unless the JSON was written another way.
			if _, err := decodeEntry(encodeEntry(e)); err != nil {
				t.Fatal("re-encoded entry does not decode")
			}
		}
	})
}
