package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestWebGetOutput: -o FILE replaces a regular file atomically (through a
// symbolic link, its target), but writes into a device or a pipe (as in "-o /dev/null") instead of renaming a new
// file over it. The pipe here stands in for /dev/null, which a failing
// test must not be allowed to replace.
func TestWebGetOutput(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "the body")
	}))
	defer ts.Close()
	dir := t.TempDir()

	file := filepath.Join(dir, "out.txt")
	os.WriteFile(file, []byte("old contents, longer than the body"), 0o644)
	if _, errOut, code := run(t, "", "web", "get", ts.URL+"/", "-o", file); code != 0 {
		t.Fatalf("web get -o file: exit %d: %s", code, errOut)
	}
	if b, _ := os.ReadFile(file); string(b) != "the body" {
		t.Errorf("-o file holds %q", b)
	}

	// Through a symbolic link, the link stays and its target is replaced.
	link := filepath.Join(dir, "link.txt")
	os.WriteFile(file, []byte("old"), 0o644)
	if err := os.Symlink("out.txt", link); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := run(t, "", "web", "get", ts.URL+"/", "-o", link); code != 0 {
		t.Fatalf("web get -o link: exit %d: %s", code, errOut)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("-o onto a symbolic link replaced the link: %v", err)
	}
	if b, _ := os.ReadFile(file); string(b) != "the body" {
		t.Errorf("the link's target holds %q", b)
	}

	fifo := filepath.Join(dir, "pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go func() {
		f, err := os.Open(fifo) // blocks until a writer opens the pipe
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(f)
		f.Close()
		got <- string(b)
	}()
	if _, errOut, code := run(t, "", "web", "get", ts.URL+"/", "-o", fifo); code != 0 {
		t.Fatalf("web get -o pipe: exit %d: %s", code, errOut)
	}
	fi, err := os.Lstat(fifo)
	if err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Fatalf("-o onto a named pipe replaced it: %v %v", fi.Mode(), err)
	}
	if b := <-got; b != "the body" {
		t.Errorf("the pipe's reader got %q", b)
	}
}
