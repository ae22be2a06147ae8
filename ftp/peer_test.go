package ftp

import (
	"bytes"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/applayer/applayer/internal/peertest"
	"github.com/applayer/applayer/internal/transcript"
)

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestCurl(t *testing.T) {
	curl := peertest.Require(t, "curl", "curl")
	root, _ := sampleTree(t)
	addr := start(t, &Server{Root: root, Users: testUsers(t), Anonymous: true})
	base := "ftp://" + addr + "/"
	auth := "ftp://alice:secret@" + addr + "/"

	// List, passive (EPSV, curl's default) and PASV.
	if out := run(t, curl, "-sS", "--max-time", "30", base); !strings.Contains(out, " hello.txt") || !strings.Contains(out, " pub") {
		t.Errorf("curl list: %q", out)
	}
	if out := run(t, curl, "-sS", "--max-time", "30", "--disable-epsv", base+"pub/"); !strings.Contains(out, " lines.txt") {
		t.Errorf("curl list --disable-epsv: %q", out)
	}
	if out := run(t, curl, "-sS", "--max-time", "30", "--list-only", base+"pub/"); !strings.Contains(out, "lines.txt\n") {
		t.Errorf("curl NLST: %q", out)
	}
	// Get, anonymous, passive and active (PORT and EPRT).
	for _, extra := range [][]string{nil, {"--disable-epsv"}, {"--ftp-port", "127.0.0.1"}, {"--ftp-port", "127.0.0.1", "--disable-eprt"}} {
		args := append([]string{"-sS", "--max-time", "30"}, extra...)
		if out := run(t, curl, append(args, base+"hello.txt")...); out != "hello, world\n" {
			t.Errorf("curl %v get: %q", extra, out)
		}
	}
	// Resume (REST) and ASCII.
	if out := run(t, curl, "-sS", "--max-time", "30", "-C", "7", base+"hello.txt"); out != "world\n" {
		t.Errorf("curl -C 7: %q", out)
	}
	if out := run(t, curl, "-sS", "--max-time", "30", "--use-ascii", base+"pub/lines.txt"); out != "one\ntwo\nthree\n" && out != "one\r\ntwo\r\nthree\r\n" {
		t.Errorf("curl --use-ascii: %q", out)
	}
	// Upload: anonymous is refused, alice may, in both modes.
	src := filepath.Join(t.TempDir(), "up.bin")
	data := make([]byte, 3<<20+17)
	rand.Read(data)
	os.WriteFile(src, data, 0o644)
	if err := exec.Command(curl, "-sS", "--max-time", "30", "-T", src, base+"up.bin").Run(); err == nil {
		t.Error("anonymous curl upload succeeded")
	}
	run(t, curl, "-sS", "--max-time", "30", "-T", src, auth+"up.bin")
	run(t, curl, "-sS", "--max-time", "30", "--ftp-port", "127.0.0.1", "-T", src, auth+"pub/up2.bin")
	run(t, curl, "-sS", "--max-time", "30", "--ftp-create-dirs", "-T", src, auth+"new/dir/up3.bin")
	for _, p := range []string{"up.bin", "pub/up2.bin", "new/dir/up3.bin"} {
		if b, _ := os.ReadFile(filepath.Join(root, p)); !bytes.Equal(b, data) {
			t.Errorf("%s: %d bytes stored, want %d", p, len(b), len(data))
		}
	}
	// Quote commands: DELE and RNFR/RNTO through -Q.
	run(t, curl, "-sS", "--max-time", "30", "-Q", "RNFR up.bin", "-Q", "RNTO moved.bin", "-Q", "DELE pub/up2.bin", auth)
	if _, err := os.Stat(filepath.Join(root, "moved.bin")); err != nil {
		t.Error("curl RNFR/RNTO did not rename")
	}
	if _, err := os.Stat(filepath.Join(root, "pub", "up2.bin")); err == nil {
		t.Error("curl DELE did not delete")
	}
	// The jail, through curl's path handling (it sends CWD per segment).
	if out, err := exec.Command(curl, "-sS", "--max-time", "30", base+"../outside/secret").CombinedOutput(); err == nil || strings.Contains(string(out), "SECRET") {
		t.Errorf("curl escaped the root: %q", out)
	}
	if out, err := exec.Command(curl, "-sS", "--max-time", "30", base+"%2e%2e/outside/secret").CombinedOutput(); err == nil || strings.Contains(string(out), "SECRET") {
		t.Errorf("curl escaped the root: %q", out)
	}
}

func TestCurlTLS(t *testing.T) {
	curl := peertest.Require(t, "curl", "curl")
	root, _ := sampleTree(t)
	var trace lines
	addr := start(t, &Server{Root: root, Users: testUsers(t), TLSConfig: testTLS(t), RequireTLS: true, Trace: transcript.New(&trace)})
	auth := "ftp://alice:secret@" + addr + "/"
	if out := run(t, curl, "-sS", "--max-time", "30", "--ssl-reqd", "-k", auth); !strings.Contains(out, " hello.txt") {
		t.Errorf("curl --ssl-reqd list: %q", out)
	}
	if out := run(t, curl, "-sS", "--max-time", "30", "--ssl-reqd", "-k", auth+"hello.txt"); out != "hello, world\n" {
		t.Errorf("curl --ssl-reqd get: %q", out)
	}
	src := filepath.Join(t.TempDir(), "up.txt")
	os.WriteFile(src, []byte("over TLS\n"), 0o644)
	run(t, curl, "-sS", "--max-time", "30", "--ssl-reqd", "-k", "-T", src, auth+"tls.txt")
	if b, _ := os.ReadFile(filepath.Join(root, "tls.txt")); string(b) != "over TLS\n" {
		t.Errorf("curl TLS upload stored %q", b)
	}
	if n := trace.count("C: PROT P"); n < 3 {
		t.Errorf("curl sent PROT P %d times", n)
	}
	// Without TLS, a named user is refused.
	if err := exec.Command(curl, "-sS", "--max-time", "30", auth+"hello.txt").Run(); err == nil {
		t.Error("clear login accepted with RequireTLS")
	}
	// --ftp-ssl-control: TLS for the control connection only (PROT C)
	// is refused for named users under RequireTLS.
	if err := exec.Command(curl, "-sS", "--max-time", "30", "--ftp-ssl-control", "-k", auth+"hello.txt").Run(); err == nil {
		t.Error("clear data connection accepted with RequireTLS")
	}
}

func TestPythonFtplib(t *testing.T) {
	py := peertest.RequirePython(t, "python3", "ftplib")
	root, _ := sampleTree(t)
	addr := start(t, &Server{Root: root, Users: testUsers(t), TLSConfig: testTLS(t)})
	host, port, _ := strings.Cut(addr, ":")
	script := `
import ftplib, io, sys, ssl
host, port = sys.argv[1], int(sys.argv[2])
def session(f):
    f.connect(host, port, timeout=30)
    f.login("alice", "secret")
    assert f.pwd() == "/", f.pwd()
    names = sorted(f.nlst())
    assert "hello.txt" in names and "pub" in names, names
    lines = []
    f.retrlines("LIST", lines.append)
    assert any(l.endswith(" hello.txt") for l in lines), lines
    facts = dict(f.mlsd("pub"))
    assert facts["lines.txt"]["type"] == "file" and facts["lines.txt"]["size"] == "14", facts
    assert facts["sub"]["type"] == "dir", facts
    buf = io.BytesIO()
    f.retrbinary("RETR hello.txt", buf.write)
    assert buf.getvalue() == b"hello, world\n", buf.getvalue()
    text = []
    f.retrlines("RETR pub/lines.txt", text.append)
    assert text == ["one", "two", "three"], text
    data = bytes(range(256)) * 4000
    f.storbinary("STOR py.bin", io.BytesIO(data))
    assert f.size("py.bin") == len(data)
    buf = io.BytesIO()
    f.retrbinary("RETR py.bin", buf.write, rest=1000)
    assert buf.getvalue() == data[1000:]
    f.storlines("STOR py.txt", io.BytesIO(b"a\nb\n"))
    f.mkd("pydir")
    f.cwd("pydir")
    assert f.pwd() == "/pydir"
    f.cwd("..")
    f.rename("py.txt", "pydir/py.txt")
    f.delete("pydir/py.txt")
    f.rmd("pydir")
    assert f.sendcmd("MDTM hello.txt").startswith("213 ")
    try:
        f.retrbinary("RETR ../outside/secret", buf.write)
        raise SystemExit("escaped the root")
    except ftplib.error_perm:
        pass
    # Abort a transfer in progress.
    f.storbinary("STOR big.bin", io.BytesIO(b"x" * (32 << 20)))
    f.voidcmd("TYPE I")
    conn = f.transfercmd("RETR big.bin")
    conn.recv(1024)
    f.abort()
    conn.close()
    try:
        f.voidresp()
    except ftplib.error_reply:
        pass
    f.voidcmd("NOOP")
    f.set_pasv(False)
    buf = io.BytesIO()
    f.retrbinary("RETR hello.txt", buf.write)
    assert buf.getvalue() == b"hello, world\n", buf.getvalue()
    f.quit()

session(ftplib.FTP())
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
class ReusingFTP_TLS(ftplib.FTP_TLS):
    # ftplib does not resume the control session on data connections;
    # this is the usual fix.
    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=self.sock.session)
        return conn, size
f = ReusingFTP_TLS(context=ctx)
f.connect(host, port, timeout=30)
f.auth()
f.login("alice", "secret")
f.prot_p()
buf = io.BytesIO()
f.retrbinary("RETR hello.txt", buf.write)
assert buf.getvalue() == b"hello, world\n", buf.getvalue()
f.storbinary("STOR tls.bin", io.BytesIO(b"y" * 100000))
f.quit()
# Plain FTP_TLS does not resume: the server refuses its data connection.
f = ftplib.FTP_TLS(context=ctx)
f.connect(host, port, timeout=30)
f.auth()
f.login("alice", "secret")
f.prot_p()
try:
    f.retrbinary("RETR hello.txt", buf.write)
    raise SystemExit("data connection without session reuse accepted")
except (ftplib.error_temp, ftplib.error_perm, ssl.SSLError, OSError):
    pass
print("OK")
`
	if out := run(t, py, "-c", script, host, port); !strings.Contains(out, "OK") {
		t.Errorf("ftplib: %s", out)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "tls.bin")); len(b) != 100000 {
		t.Errorf("ftplib TLS upload stored %d bytes", len(b))
	}
}

func TestLftp(t *testing.T) {
	lftp := peertest.Require(t, "lftp", "lftp")
	root, _ := sampleTree(t)
	var trace lines
	addr := start(t, &Server{Root: root, Users: testUsers(t), TLSConfig: testTLS(t), Trace: transcript.New(&trace)})
	host, port, _ := strings.Cut(addr, ":")
	local := t.TempDir()
	os.MkdirAll(filepath.Join(local, "up", "deep"), 0o755)
	big := make([]byte, 5<<20)
	rand.Read(big)
	os.WriteFile(filepath.Join(local, "up", "deep", "big.bin"), big, 0o644)
	os.WriteFile(filepath.Join(local, "up", "small.txt"), []byte("small\n"), 0o644)
	settings := "set cmd:fail-exit yes; set net:max-retries 1; set net:timeout 20; set ssl:verify-certificate no; "
	lftpRun := func(extra, commands string) string {
		return run(t, lftp, "-u", "alice,secret", "-p", port, "-e", settings+extra+commands+"; bye", host)
	}
	// Plain, passive, then active; mirror down and up (reverse).
	for _, mode := range []string{"set ftp:ssl-allow no; set ftp:passive-mode yes; ", "set ftp:ssl-allow no; set ftp:passive-mode no; ", "set ftp:ssl-force yes; set ftp:ssl-protect-data yes; "} {
		out := lftpRun(mode, "cls -l; cat hello.txt")
		if !strings.Contains(out, "hello.txt") || !strings.Contains(out, "hello, world") {
			t.Errorf("lftp %q: %q", mode, out)
		}
	}
	down := filepath.Join(local, "down")
	lftpRun("set ftp:ssl-allow no; ", "mirror pub "+down)
	if b, _ := os.ReadFile(filepath.Join(down, "lines.txt")); string(b) != "one\ntwo\nthree\n" {
		t.Errorf("lftp mirror down: %q", b)
	}
	lftpRun("set ftp:ssl-force yes; set ftp:ssl-protect-data yes; ", "mirror -R "+filepath.Join(local, "up")+" up")
	if b, _ := os.ReadFile(filepath.Join(root, "up", "deep", "big.bin")); !bytes.Equal(b, big) {
		t.Errorf("lftp mirror -R over TLS: %d bytes", len(b))
	}
	if n := trace.count("C: PROT P"); n < 2 {
		t.Errorf("lftp sent PROT P %d times", n)
	}
	if n := trace.count("did not resume"); n > 0 {
		t.Errorf("lftp did not resume TLS sessions %d times", n)
	}
	// Resume: a partial local copy is completed with REST.
	part := filepath.Join(local, "part.bin")
	os.WriteFile(part, big[:1<<20], 0o644)
	lftpRun("set ftp:ssl-allow no; ", "get -c up/deep/big.bin -o "+part)
	if b, _ := os.ReadFile(part); !bytes.Equal(b, big) {
		t.Errorf("lftp get -c: %d bytes", len(b))
	}
	// Resumed upload: put -c.
	os.WriteFile(filepath.Join(root, "resume.bin"), big[:2<<20], 0o644)
	lftpRun("set ftp:ssl-allow no; ", "put -c "+filepath.Join(local, "up", "deep", "big.bin")+" -o resume.bin")
	if b, _ := os.ReadFile(filepath.Join(root, "resume.bin")); !bytes.Equal(b, big) {
		t.Errorf("lftp put -c: %d bytes", len(b))
	}
}
