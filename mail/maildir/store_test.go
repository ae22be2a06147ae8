package maildir

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/applayer/applayer/internal/peertest"
	"github.com/applayer/applayer/internal/testutil"
	"golang.org/x/crypto/bcrypt"
)

func TestUsers(t *testing.T) {
	u := &Users{Path: filepath.Join(t.TempDir(), "users"), Cost: bcrypt.MinCost}
	if err := u.Add("Alice@Crepes.FR", "secret", false); err != nil {
		t.Fatal(err)
	}
	if err := u.Add("alice@crepes.fr", "x", false); !errors.Is(err, ErrUserExists) {
		t.Errorf("Add twice = %v, want ErrUserExists", err)
	}
	u.Add("bob@hamburger.edu", "pickles", false)
	tests := []struct {
		addr, pass string
		want       bool
	}{
		{"alice@crepes.fr", "secret", true},
		{"ALICE@crepes.fr", "secret", true},
		{"alice@crepes.fr", "Secret", false},
		{"carol@crepes.fr", "secret", false},
		{"bob@hamburger.edu", "pickles", true},
	}
	for _, tt := range tests {
		if got := u.Check(tt.addr, tt.pass); got != tt.want {
			t.Errorf("Check(%q, %q) = %v, want %v", tt.addr, tt.pass, got, tt.want)
		}
	}
	// Another process's view: a fresh Users on the same file.
	v := &Users{Path: u.Path}
	if list, _ := v.List(); strings.Join(list, ",") != "alice@crepes.fr,bob@hamburger.edu" {
		t.Errorf("List = %v", list)
	}
	if err := v.Del("bob@hamburger.edu"); err != nil {
		t.Fatal(err)
	}
	if u.Exists("bob@hamburger.edu") {
		t.Error("bob still exists after Del from another Users")
	}
	b, _ := os.ReadFile(u.Path)
	if strings.Contains(string(b), "secret") {
		t.Error("users file holds a password in clear")
	}
}

func TestDeliverMaildir(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Deliver("Bob@hamburger.edu", []byte("Subject: hi\r\n\r\nDo you like ketchup?\r\n")); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	msgs, err := s.List("bob@hamburger.edu")
	if err != nil || len(msgs) != 20 {
		t.Fatalf("List = %d messages, %v; want 20", len(msgs), err)
	}
	for _, d := range []string{"tmp", "new", "cur"} {
		if _, err := os.Stat(filepath.Join(s.MaildirPath("bob@hamburger.edu"), d)); err != nil {
			t.Errorf("Maildir lacks %s/: %v", d, err)
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(s.Dir, "tmp")); len(ents) != 0 {
		t.Errorf("tmp/ holds %d files after delivery, want 0", len(ents))
	}
	if !strings.HasSuffix(msgs[0].Path, ",S=37") {
		t.Errorf("name %s lacks the size suffix ,S=37", filepath.Base(msgs[0].Path))
	}
}

func TestMaildirPathStaysInside(t *testing.T) {
	s := &Store{Dir: "/data"}
	for _, a := range []string{"../../etc@x.org", "a/../../b@x.org", ".hidden@x.org", "a@../x", "a@..", "..@..", "@x"} {
		p := s.MaildirPath(a)
		if rel, err := filepath.Rel("/data/mail", p); err != nil || strings.HasPrefix(rel, "..") || !strings.Contains(rel, "/") {
			t.Errorf("MaildirPath(%q) = %q escapes the store", a, p)
		}
	}
}

// TestPythonReadsMaildir has Python's mailbox module, an independent
// Maildir reader, read what Deliver wrote.
func TestPythonReadsMaildir(t *testing.T) {
	py := peertest.Require(t, "python3", "python3")
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, subj := range []string{"ketchup", "pickles"} {
		if err := s.Deliver("bob@hamburger.edu", []byte("From: alice@crepes.fr\r\nSubject: "+subj+"\r\n\r\nbody\r\n")); err != nil {
			t.Fatal(err)
		}
	}
	script := `
import mailbox, sys
md = mailbox.Maildir(sys.argv[1], create=False)
print(",".join(sorted(m["Subject"] for m in md)))
`
	out, err := exec.Command(py, "-c", script, s.MaildirPath("bob@hamburger.edu")).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ketchup,pickles" {
		t.Errorf("python3 mailbox.Maildir read %q, %v; want ketchup,pickles", out, err)
	}
}

// TestSyncerConcurrent has many goroutines sync a few directories at once:
// every call returns, with the directory's result.
func TestSyncerConcurrent(t *testing.T) {
	var s Syncer
	dirs := []string{t.TempDir(), t.TempDir(), filepath.Join(t.TempDir(), "missing")}
	var wg sync.WaitGroup
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := dirs[i%len(dirs)]
			err := s.SyncDir(d)
			if (err != nil) != (i%len(dirs) == 2) {
				t.Errorf("SyncDir(%s) = %v", d, err)
			}
		}()
	}
	wg.Wait()
	testutil.WaitFor(t, "the drain goroutine to finish", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return !s.busy
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.pending) != 0 {
		t.Errorf("%d directories still pending", len(s.pending))
	}
}

// An unknown user's password is compared with a hash of the users' cost,
// so that the time of a refusal does not tell whether the user exists.
func TestUnknownUserCostsLikeAWrongPassword(t *testing.T) {
	u := &Users{Path: filepath.Join(t.TempDir(), "users"), Cost: bcrypt.MinCost + 2}
	if err := u.Add("bob@hamburger.edu", "pw", false); err != nil {
		t.Fatal(err)
	}
	if _, err := u.load(); err != nil {
		t.Fatal(err)
	}
	if u.decoyCost != u.Cost {
		t.Errorf("decoy hash cost = %d; want the users' cost %d", u.decoyCost, u.Cost)
	}
	if u.Check("nobody@hamburger.edu", "pw") || !u.Check("bob@hamburger.edu", "pw") {
		t.Error("Check gives the wrong answers")
	}
}
