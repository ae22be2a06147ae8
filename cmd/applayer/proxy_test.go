package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/applayer/applayer/internal/testutil"
	"github.com/applayer/applayer/web"
)

// startProxyBin runs `applayer web proxy` with args on a free port and
// returns its address and process.
func startProxyBin(t *testing.T, args ...string) (string, *exec.Cmd) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, append([]string{"web", "proxy", "--listen", addr}, args...)...)
	var stderr testutil.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("proxy's stderr:\n%s", stderr.String())
		}
	})
	testutil.WaitListening(t, addr)
	return addr, cmd
}

// A kill -9 while the disk cache fills leaves no entry that is served
// cut short: after the restart every object is either a hit with its
// whole body or fetched again.
func TestProxyDiskKill9(t *testing.T) {
	var originHits atomic.Int64
	body := func(path string) string { return strings.Repeat(path+";", 2000) }
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	origin := &web.Server{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Handler: web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) {
		originHits.Add(1)
		w.Header().Set("Cache-Control", "max-age=3600")
		io.WriteString(w, body(r.Path))
	})}
	go origin.Serve(l)
	defer origin.Close()
	dir := t.TempDir()
	addr, cmd := startProxyBin(t, "--reverse", l.Addr().String(), "--cache-dir", dir)

	fetch := func(addr, path string) (string, string, error) {
		c, err := web.Dial(context.Background(), addr, web.Options{})
		if err != nil {
			return "", "", err
		}
		defer c.Close()
		resp, err := c.Do(context.Background(), &web.OutRequest{Target: path, Host: "origin.test"})
		if err != nil {
			return "", "", err
		}
		b, err := io.ReadAll(resp.Body)
		return resp.Header.Get("X-Cache"), string(b), err
	}
	// Fill from four clients until killed.
	const objects = 400
	var wg sync.WaitGroup
	var next atomic.Int64
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > objects {
					return
				}
				if _, _, err := fetch(addr, "/obj/"+strconv.FormatInt(i, 10)); err != nil {
					return // killed
				}
			}
		}()
	}
	testutil.WaitFor(t, "50 entries on disk", func() bool {
		files, _ := filepath.Glob(filepath.Join(dir, "*.entry"))
		return len(files) >= 50
	})
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	wg.Wait()

	files, _ := filepath.Glob(filepath.Join(dir, "*.entry"))
	addr2, _ := startProxyBin(t, "--reverse", l.Addr().String(), "--cache-dir", dir)
	hits := 0
	for i := 1; i <= objects; i++ {
		path := "/obj/" + strconv.Itoa(i)
		xc, b, err := fetch(addr2, path)
		if err != nil {
			t.Fatal(err)
		}
		if b != body(path) {
			t.Fatalf("%s after the restart (%s): %d bytes, not the object", path, xc, len(b))
		}
		if xc == "HIT" {
			hits++
		}
	}
	if hits < len(files)-8 || hits == 0 {
		// Entries being written at the kill may be lost (at most one per
		// client); the others are served from disk.
		t.Errorf("%d hits after the restart, %d files were on disk", hits, len(files))
	}
	t.Logf("%d files on disk at the kill, %d hits after the restart", len(files), hits)
}

// web get --proxy sends the page and its objects through the proxy and
// reports its hit ratio with the textbook's access-link model.
func TestWebGetThroughProxy(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	origin := &web.Server{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Handler: web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		if r.Path == "/" {
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, `<html><img src="a.png"><img src="b.png"></html>`)
			return
		}
		io.WriteString(w, "object "+r.Path)
	})}
	go origin.Serve(l)
	defer origin.Close()
	addr, _ := startProxyBin(t)
	page := "http://" + l.Addr().String() + "/"
	for _, want := range []string{"proxy: 0 of 3 objects were hits", "proxy: 3 of 3 objects were hits (hit ratio 1.00)"} {
		out, errOut, code := run(t, "", "web", "get", "--proxy", "http://"+addr, "--objects", page)
		if code != 0 || !strings.Contains(out, want) || !strings.Contains(out, "without the cache: access link at intensity 1.00") {
			t.Fatalf("exit %d, want %q in:\n%s\n%s", code, want, out, errOut)
		}
	}
}
