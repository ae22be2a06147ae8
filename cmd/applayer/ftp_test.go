package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/applayer/applayer/ftp"
)

// startFTP runs `applayer ftp serve` on a free port with args and returns
// its address; it is stopped with SIGTERM at the end and must exit 0.
func startFTP(t *testing.T, args ...string) string {
	t.Helper()
	for range 10 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		cmd := exec.Command(bin, append([]string{"ftp", "serve", "--listen", addr}, args...)...)
		stderr, _ := cmd.StderrPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stderr)
		serving := false
		var lines []string
		for sc.Scan() {
			lines = append(lines, sc.Text())
			if strings.Contains(sc.Text(), "ftp: serving") {
				serving = true
				break
			}
		}
		if !serving {
			cmd.Wait()
			if s := strings.Join(lines, "\n"); !strings.Contains(s, "address already in use") {
				t.Fatalf("ftp serve did not start: %s", s)
			}
			continue
		}
		go func() {
			for sc.Scan() {
			}
		}()
		t.Cleanup(func() {
			cmd.Process.Signal(syscall.SIGTERM)
			if err := cmd.Wait(); err != nil {
				t.Errorf("ftp serve after SIGTERM: %v, want exit 0", err)
			}
		})
		return addr
	}
	t.Fatal("could not start the server")
	return ""
}

func TestFTPCLI(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	os.MkdirAll(filepath.Join(root, "pub", "sub"), 0o755)
	os.WriteFile(filepath.Join(root, "pub", "a.txt"), []byte("hello\n"), 0o644)
	os.WriteFile(filepath.Join(root, "pub", "sub", "b.txt"), []byte("deeper\n"), 0o644)
	users := filepath.Join(dir, "users")
	if _, e, code := run(t, "secret\n", "ftp", "user", "add", "--users", users, "alice"); code != 0 {
		t.Fatalf("user add: %d %s", code, e)
	}
	addr := startFTP(t, "--root", root, "--users", users, "--anonymous", "--tls")
	anon := "ftp://" + addr + "/"
	alice := "ftp://alice:secret@" + addr + "/"

	if out, e, code := run(t, "", "ftp", "ls", anon+"pub/"); code != 0 || !strings.Contains(out, "a.txt") || !strings.Contains(out, "sub/") {
		t.Errorf("ls: %d %q %q", code, out, e)
	}
	if out, _, code := run(t, "", "ftp", "ls", "--long", anon+"pub/"); code != 0 || !strings.Contains(out, "-rw-r--r--") {
		t.Errorf("ls --long: %d %q", code, out)
	}
	if out, _, code := run(t, "", "ftp", "get", anon+"pub/a.txt"); code != 0 || out != "hello\n" {
		t.Errorf("get: %d %q", code, out)
	}
	// Upload and download a larger file, over TLS and in active mode.
	data := make([]byte, 2<<20+5)
	rand.Read(data)
	src := filepath.Join(dir, "big.bin")
	os.WriteFile(src, data, 0o644)
	if _, e, code := run(t, "", "ftp", "put", "--tls", "--insecure", src, alice+"pub/"); code != 0 {
		t.Fatalf("put --tls: %d %s", code, e)
	}
	got := filepath.Join(dir, "got.bin")
	if _, e, code := run(t, "", "ftp", "get", "--active", alice+"pub/big.bin", "-o", got); code != 0 {
		t.Fatalf("get --active: %d %s", code, e)
	}
	if b, _ := os.ReadFile(got); !bytes.Equal(b, data) {
		t.Errorf("get -o: %d bytes", len(b))
	}
	// Resume a partial download.
	os.WriteFile(got, data[:1000], 0o644)
	if _, e, code := run(t, "", "ftp", "get", "--continue", alice+"pub/big.bin", "-o", got); code != 0 {
		t.Fatalf("get --continue: %d %s", code, e)
	}
	if b, _ := os.ReadFile(got); !bytes.Equal(b, data) {
		t.Errorf("get --continue: %d bytes", len(b))
	}
	// Mirror.
	mir := filepath.Join(dir, "mirror")
	if _, e, code := run(t, "", "ftp", "mirror", anon+"pub/", mir); code != 0 {
		t.Fatalf("mirror: %d %s", code, e)
	}
	if b, _ := os.ReadFile(filepath.Join(mir, "sub", "b.txt")); string(b) != "deeper\n" {
		t.Errorf("mirror: %q", b)
	}
	// The shell, from a pipe.
	script := "pwd\ncd pub\nls\nlcd " + dir + "\nget a.txt shell.txt\nactive\nsize a.txt\nquote NOOP\nbogus\nquit\n"
	out, e, code := run(t, script, "ftp", anon)
	if code != 0 || !strings.Contains(out, "/\n") || !strings.Contains(out, "a.txt") || !strings.Contains(out, "200 NOOP ok.") || !strings.Contains(out, "unknown command") {
		t.Errorf("shell: %d %q %q", code, out, e)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "shell.txt")); string(b) != "hello\n" {
		t.Errorf("shell get: %q", b)
	}
	// Errors: one line, exit 1.
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"ftp", "get", anon + "nope.txt"}, "550"},
		{[]string{"ftp", "put", src, anon}, "550 Permission denied"},
		{[]string{"ftp", "get", anon}, "names a directory"},
		{[]string{"ftp", "ls", "http://x/"}, "want an ftp:// URL"},
		{[]string{"ftp", "ls", "ftp://alice:wrong@" + addr + "/"}, "530"},
		{[]string{"ftp", "serve", "--root", filepath.Join(dir, "nowhere")}, "--root"},
		{[]string{"ftp", "serve", "--root", root, "--pasv-ports", "10-5"}, "--pasv-ports"},
	} {
		_, e, code := run(t, "", tt.args...)
		if code != 1 || !strings.Contains(e, tt.want) || strings.Count(e, "applayer:") != 1 {
			t.Errorf("%v: exit %d, stderr %q, want %q", tt.args, code, e, tt.want)
		}
	}
}

func TestParseUserLimits(t *testing.T) {
	got, err := parseUserLimits([]string{"alice:quota=10M,max-upload=1K", "bob:quota=-1"})
	if err != nil {
		t.Fatal(err)
	}
	if got["alice"] != (ftp.Limits{Quota: 10 << 20, MaxUpload: 1 << 10}) || got["bob"] != (ftp.Limits{Quota: -1}) {
		t.Errorf("got %+v", got)
	}
	for _, bad := range []string{"alice", ":quota=1", "alice:size=1", "alice:quota=lots"} {
		if _, err := parseUserLimits([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
