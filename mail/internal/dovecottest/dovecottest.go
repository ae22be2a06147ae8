// Package dovecottest starts a private Dovecot (Debian's dovecot-imapd and
// dovecot-pop3d) on loopback for tests of applayer's IMAP and POP3 clients:
// its own configuration, base and state directories, passwd-file and
// Maildirs in a temporary directory, IMAP and POP3 on free loopback ports,
// no TLS. It never touches the system's Dovecot.
package dovecottest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/applayer/applayer/internal/peertest"
	"github.com/applayer/applayer/internal/testutil"
)

// Instance is a running Dovecot.
type Instance struct {
	IMAP, POP3 string // host:port
	Dir        string
	// Maildir returns user's Maildir (created on first login or by Deliver).
	Maildir  func(user string) string
	uid, gid int
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Start runs Dovecot with one user (user, password in clear in its
// passwd-file) and stops it when the test ends. It skips (fails under CI)
// when Dovecot is not installed.
func Start(t testing.TB, user, password string) *Instance {
	t.Helper()
	bin := peertest.Require(t, "dovecot", "dovecot-imapd")
	if _, err := os.Stat("/usr/lib/dovecot/pop3"); err != nil {
		peertest.Require(t, "/usr/lib/dovecot/pop3", "dovecot-pop3d")
	}
	dir, err := os.MkdirTemp("", "dovecottest")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// Dovecot drops privileges to the mail user: the directory must be
	// reachable by it.
	os.Chmod(dir, 0o755)
	// Dovecot refuses to run mail processes as root: as root, they run as
	// nobody, which then owns the Maildirs.
	uid, gid := os.Getuid(), os.Getgid()
	if uid == 0 {
		uid, gid = 65534, 65534
	}
	ip, pp := freePort(t), freePort(t)
	for _, d := range []string{"run", "state", "mail", "home"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
		if d == "mail" || d == "home" {
			os.Chown(filepath.Join(dir, d), uid, gid)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "passwd"), []byte(user+":{PLAIN}"+password+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/log
protocols = imap pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 0
mail_location = maildir:%[1]s/mail/%%u
mail_uid = %[2]d
mail_gid = %[3]d
default_login_user = dovenull
default_internal_user = dovecot
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%%u %[1]s/passwd
}
userdb {
  driver = static
  args = uid=%[2]d gid=%[3]d home=%[1]s/home/%%u
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = %[4]d
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = %[5]d
  }
  inet_listener pop3s {
    port = 0
  }
}
service anvil {
  chroot =
}
service stats {
  unix_listener stats-writer {
    mode = 0666
  }
}
`, dir, uid, gid, ip, pp)
	cf := filepath.Join(dir, "dovecot.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-F", "-c", cf)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out := &testutil.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		<-exited
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "log"))
			t.Logf("dovecot log:\n%s", b)
		}
	})
	inst := &Instance{uid: uid, gid: gid, IMAP: fmt.Sprintf("127.0.0.1:%d", ip), POP3: fmt.Sprintf("127.0.0.1:%d", pp), Dir: dir,
		Maildir: func(u string) string { return filepath.Join(dir, "mail", u) }}
	testutil.WaitFor(t, "dovecot listens (log: "+filepath.Join(dir, "log")+")", func() bool {
		select {
		case <-exited:
			b, _ := os.ReadFile(filepath.Join(dir, "log"))
			t.Fatalf("dovecot exited: %s\n%s", out.String(), b)
		default:
		}
		for _, a := range []string{inst.IMAP, inst.POP3} {
			c, err := net.Dial("tcp", a)
			if err != nil {
				return false
			}
			c.Close()
		}
		return true
	})
	return inst
}

// Deliver puts msg into user's INBOX as a new Maildir message, the way a
// delivery agent does (tmp, then rename into new).
func (in *Instance) Deliver(t testing.TB, user string, n int, msg []byte) {
	t.Helper()
	md := in.Maildir(user)
	for _, d := range []string{"tmp", "new", "cur"} {
		if err := os.MkdirAll(filepath.Join(md, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	name := fmt.Sprintf("1700000000.M%dP%d.test", n, os.Getpid())
	tmp := filepath.Join(md, "tmp", name)
	if err := os.WriteFile(tmp, msg, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(md, "new", name)); err != nil {
		t.Fatal(err)
	}
	filepath.Walk(md, func(p string, _ os.FileInfo, _ error) error { return os.Lchown(p, in.uid, in.gid) })
}
