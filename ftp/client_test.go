package ftp

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/applayer/applayer/internal/peertest"
	"github.com/applayer/applayer/internal/testutil"
	"github.com/applayer/applayer/internal/transcript"
)

// exercise runs the client through a session against a server at addr
// whose root holds hello.txt and pub/lines.txt; writable servers also get
// uploads, renames and deletes.
func exercise(t *testing.T, addr, user, pass string, opts Options, writable bool) {
	t.Helper()
	ctx := context.Background()
	c, err := Dial(ctx, addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(ctx, user, pass); err != nil {
		t.Fatal(err)
	}
	// vsftpd without its chroot (run_as_launching_user) shows the host path.
	if p, err := c.Pwd(ctx); err != nil || !strings.HasPrefix(p, "/") {
		t.Errorf("Pwd = %q, %v", p, err)
	}
	entries, err := c.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]Entry{}
	for _, e := range entries {
		found[e.Name] = e
	}
	if e := found["hello.txt"]; e.Type != "file" || e.Size != 13 {
		t.Errorf("List: hello.txt = %+v (all %+v)", e, entries)
	}
	if e := found["pub"]; e.Type != "dir" {
		t.Errorf("List: pub = %+v", e)
	}
	var b bytes.Buffer
	if n, err := c.Retr(ctx, "hello.txt", 0, &b); err != nil || n != 13 || b.String() != "hello, world\n" {
		t.Errorf("Retr = %d %q %v", n, b.String(), err)
	}
	b.Reset()
	if _, err := c.Retr(ctx, "hello.txt", 7, &b); err != nil || b.String() != "world\n" {
		t.Errorf("Retr from 7 = %q %v", b.String(), err)
	}
	if n, err := c.Size(ctx, "pub/lines.txt"); err != nil || n != 14 {
		t.Errorf("Size = %d %v", n, err)
	}
	var fe *Error
	if _, err := c.Retr(ctx, "nowhere", 0, &b); !errors.As(err, &fe) || fe.Code != 550 {
		t.Errorf("Retr of nothing: %v", err)
	}
	if err := c.Cwd(ctx, "pub"); err != nil {
		t.Error(err)
	}
	if names, err := c.ListRaw(ctx, "", true); err != nil || !strings.Contains(names, "lines.txt") {
		t.Errorf("NLST = %q %v", names, err)
	}
	if writable {
		data := make([]byte, 1<<20+3)
		rand.Read(data)
		if _, err := c.Stor(ctx, "up.bin", bytes.NewReader(data), 0, false); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Stor(ctx, "up.bin", bytes.NewReader([]byte("tail")), 0, true); err != nil {
			t.Fatal(err)
		}
		b.Reset()
		if _, err := c.Retr(ctx, "up.bin", 0, &b); err != nil || !bytes.Equal(b.Bytes(), append(data, "tail"...)) {
			t.Errorf("round trip: %d bytes, %v", b.Len(), err)
		}
		if err := c.Rename(ctx, "up.bin", "moved.bin"); err != nil {
			t.Error(err)
		}
		if err := c.Mkdir(ctx, "newdir"); err != nil {
			t.Error(err)
		}
		if err := c.Delete(ctx, "moved.bin"); err != nil {
			t.Error(err)
		}
		if _, err := c.Cmd(ctx, "RMD newdir"); err != nil {
			t.Error(err)
		}
	}
	if err := c.Quit(); err != nil {
		t.Error(err)
	}
}

func TestClient(t *testing.T) {
	root, _ := sampleTree(t)
	var trace lines
	addr := start(t, &Server{Root: root, Users: testUsers(t), TLSConfig: testTLS(t), Anonymous: true})
	rec := transcript.New(&trace)
	t.Run("passive", func(t *testing.T) { exercise(t, addr, "alice", "secret", Options{Trace: rec}, true) })
	t.Run("active", func(t *testing.T) { exercise(t, addr, "alice", "secret", Options{Active: true}, true) })
	t.Run("tls", func(t *testing.T) {
		exercise(t, addr, "alice", "secret", Options{TLS: &tls.Config{InsecureSkipVerify: true}, Trace: rec}, true)
	})
	t.Run("anonymous", func(t *testing.T) { exercise(t, addr, "", "", Options{}, false) })
	if trace.count("session resumed: true") == 0 || trace.count("session resumed: false") > 0 {
		t.Errorf("TLS data connections did not all resume: %d resumed", trace.count("session resumed: true"))
	}
	if trace.count("C: PASS") == 0 || trace.count("secret") > 0 {
		t.Error("password not redacted in the trace")
	}
}

func TestClientBadServer(t *testing.T) {
	ctx := context.Background()
	// A server that says nothing: the timeout ends the wait.
	addr := testutil.SilentServer(t)
	if _, err := Dial(ctx, addr, Options{Timeout: 200 * time.Millisecond}); err == nil {
		t.Error("Dial to a silent server succeeded")
	}
	// A server that is not FTP.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
			c.Close()
		}
	}()
	if _, err := Dial(ctx, l.Addr().String(), Options{}); !errors.Is(err, ErrProtocol) {
		t.Errorf("Dial to HTTP: %v", err)
	}
}

// TestClientVsftpd runs the client against vsftpd, a private instance on
// loopback serving a tree read only to anonymous users.
func TestClientVsftpd(t *testing.T) {
	addr, _ := startVsftpd(t)
	exercise(t, addr, "", "", Options{}, false)
	exercise(t, addr, "", "", Options{Active: true}, false)
}

// startVsftpd starts vsftpd on a free loopback port with an anonymous
// read-only root holding the sample tree, and returns its address.
func startVsftpd(t testing.TB) (addr, root string) {
	vsftpd := peertest.Require(t, "vsftpd", "vsftpd")
	if os.Geteuid() != 0 {
		t.Skip("vsftpd runs as root only (it refuses run_as_launching_user without it here)")
	}
	dir := t.TempDir()
	root, _ = sampleTree(t)
	os.Chmod(root, 0o755)
	os.Chmod(filepath.Dir(root), 0o755)
	os.Chmod(dir, 0o755)
	empty := filepath.Join(dir, "empty")
	os.Mkdir(empty, 0o755)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr = l.Addr().String()
	l.Close()
	_, port, _ := net.SplitHostPort(addr)
	conf := filepath.Join(dir, "vsftpd.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf(`listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port=%s
anonymous_enable=YES
anon_root=%s
no_anon_password=YES
local_enable=NO
write_enable=NO
run_as_launching_user=YES
background=NO
seccomp_sandbox=NO
use_sendfile=YES
xferlog_enable=NO
syslog_enable=NO
secure_chroot_dir=%s
hide_ids=YES
`, port, root, empty)), 0o600)
	cmd := exec.Command(vsftpd, conf)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("vsftpd output: %s", out.String())
		}
	})
	testutil.WaitListening(t, addr)
	return addr, root
}

// TestIPv6: EPSV and EPRT over ::1 (RFC 2428), PASV refused there.
func TestIPv6(t *testing.T) {
	l, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	root, _ := sampleTree(t)
	s := &Server{Root: root, Users: testUsers(t), Logger: quietLogger(), AuthFailureDelay: -1}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	defer func() { s.Close(); <-done }()
	addr := l.Addr().String()
	exercise(t, addr, "alice", "secret", Options{}, true)
	exercise(t, addr, "alice", "secret", Options{Active: true}, true)
	k := dialCtl(t, addr)
	k.login()
	k.cmd("PASV", 425)
	k.cmd("EPSV 1", 522)
	k.cmd("EPSV 2", 229)
	k.cmd("PORT 127,0,0,1,100,100", 500)
}

func TestClientASCII(t *testing.T) {
	root, _ := sampleTree(t)
	addr := start(t, &Server{Root: root, Users: testUsers(t)})
	ctx := context.Background()
	c, err := Dial(ctx, addr, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(ctx, "alice", "secret"); err != nil {
		t.Fatal(err)
	}
	if err := c.SetASCII(ctx, true); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Stor(ctx, "text.txt", strings.NewReader("a\nb\r\nc\n"), 0, false); err != nil {
		t.Fatal(err)
	}
	// An existing CRLF stays one line end on the wire; the server stores
	// LF line ends.
	if b, _ := os.ReadFile(filepath.Join(root, "text.txt")); string(b) != "a\nb\nc\n" {
		t.Errorf("stored %q", b)
	}
	var b bytes.Buffer
	if _, err := c.Retr(ctx, "pub/lines.txt", 0, &b); err != nil || b.String() != "one\ntwo\nthree\n" {
		t.Errorf("ASCII Retr: %q %v", b.String(), err)
	}
	if err := c.SetASCII(ctx, false); err != nil {
		t.Fatal(err)
	}
	b.Reset()
	if _, err := c.Retr(ctx, "text.txt", 0, &b); err != nil || b.String() != "a\nb\nc\n" {
		t.Errorf("binary Retr: %q %v", b.String(), err)
	}
}
