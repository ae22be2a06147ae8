package imap

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/applayer/applayer/internal/peertest"
	"github.com/applayer/applayer/internal/testutil"
)

// TestPeerMutt drives mutt under tmux as a person would: open INBOX, read
// a message, save it to a new folder (mutt creates it and marks the
// original deleted), see a message that arrives while mutt idles (IDLE
// on), and sync, which expunges the original.
func TestPeerMutt(t *testing.T) {
	mutt := peertest.Require(t, "mutt", "mutt")
	tmux := peertest.Require(t, "tmux", "tmux")
	st := newStore(t)
	e := start(t, st, nil)
	dir := t.TempDir()
	rc := filepath.Join(dir, "muttrc")
	os.WriteFile(rc, []byte(fmt.Sprintf(`set folder="imap://bob@%s/"
set imap_user="bob"
set imap_pass="%s"
set spoolfile="+INBOX"
set ssl_starttls=no
set ssl_force_tls=no
set imap_idle=yes
set mail_check=1
set timeout=1
set header_cache=""
set move=no
set delete=yes
set confirmappend=no
`, e.addr, bobPass)), 0o600)
	session := fmt.Sprintf("applayer-mutt-%d", os.Getpid())
	cmd := exec.Command(tmux, "new-session", "-d", "-s", session, "-x", "160", "-y", "40",
		fmt.Sprintf("HOME=%s TERM=xterm %s -n -F %s", dir, mutt, rc))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tmux: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command(tmux, "kill-session", "-t", session).Run() })
	screen := func() string {
		out, _ := exec.Command(tmux, "capture-pane", "-p", "-t", session).Output()
		return string(out)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("mutt's screen:\n%s", screen())
		}
	})
	keys := func(k ...string) {
		if out, err := exec.Command(tmux, append([]string{"send-keys", "-t", session}, k...)...).CombinedOutput(); err != nil {
			t.Fatalf("send-keys: %v %s", err, out)
		}
	}
	waitScreen := func(what string, want ...string) {
		t.Helper()
		testutil.WaitFor(t, what, func() bool {
			s := screen()
			for _, w := range want {
				if !strings.Contains(s, w) {
					return false
				}
			}
			return true
		})
	}
	waitScreen("mutt's index of INBOX", "hello", "recipe", "lf only")
	keys("Enter")
	waitScreen("the first message in mutt's pager", "Do you like ketchup?")
	keys("q")
	waitScreen("the index again", "q:Quit")
	keys("s")
	waitScreen("the save prompt", "Save to mailbox")
	keys("C-u", "=Saved", "Enter")
	waitScreen("the create prompt", "Create Saved?")
	keys("y")
	f, _ := (&account{root: st.MaildirPath(bob)}).folder("Saved")
	testutil.WaitFor(t, "the message in the new folder Saved", func() bool {
		ents, _ := os.ReadDir(filepath.Join(f.Path, "cur"))
		return len(ents) == 1
	})
	// New mail while mutt idles.
	if err := st.Deliver(bob, []byte("From: carol@example.org\r\nSubject: pickles while idle\r\n\r\nx\r\n")); err != nil {
		t.Fatal(err)
	}
	waitScreen("the new message in mutt's index", "pickles while idle")
	// Sync: the saved original (marked deleted) is expunged.
	keys("$")
	testutil.WaitFor(t, "the expunge of the saved original", func() bool {
		msgs, _ := st.List(bob)
		for _, m := range msgs {
			b, _ := os.ReadFile(m.Path)
			if strings.Contains(string(b), "Subject: hello") {
				return false
			}
		}
		return len(msgs) == 3
	})
	keys("q")
}
