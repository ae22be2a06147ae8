package main

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/applayer/applayer/internal/peertest"
	"github.com/applayer/applayer/internal/testutil"
)

// TestMailServeReaders: `mail serve --pop3 --pop3s --imap --imaps` reads the mail the
// same server's MX took, with curl as the user agent; a POP3 address in
// use is one error line before anything is served.
func TestMailServeReaders(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the applayer binary; skipped in -short mode")
	}
	curl := peertest.Require(t, "curl", "curl")
	dir := filepath.Join(t.TempDir(), "hamburger")
	if _, e, err := cli(t, "pickles\n", "mail", "user", "add", "--data", dir, "bob@hamburger.edu"); err != nil {
		t.Fatalf("user add: %v %s", err, e)
	}
	mx := "127.0.0.1:" + strconv.Itoa(freePort(t))
	pop := "127.0.0.1:" + strconv.Itoa(freePort(t))
	pops := "127.0.0.1:" + strconv.Itoa(freePort(t))
	imapAddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	imaps := "127.0.0.1:" + strconv.Itoa(freePort(t))
	daemon(t, "--domain", "hamburger.edu", "--data", dir, "--listen", mx, "--submission", "", "--pregreet-wait", "-1s",
		"--pop3", pop, "--pop3s", pops, "--imap", imapAddr, "--imaps", imaps)
	for _, a := range []string{mx, pop, pops, imapAddr, imaps} {
		testutil.WaitListening(t, a)
	}
	if out, e, err := cli(t, "", "mail", "send", "--server", mx, "--from", "alice@crepes.fr", "--to", "bob@hamburger.edu",
		"--subject", "ketchup", "--body", "Do you like ketchup?"); err != nil {
		t.Fatalf("mail send: %v %s %s", err, out, e)
	}
	for _, u := range []string{"pop3://bob:pickles@" + pop + "/1", "pop3s://bob%40hamburger.edu:pickles@" + pops + "/1",
		"imap://bob:pickles@" + imapAddr + "/INBOX;UID=1", "imaps://bob%40hamburger.edu:pickles@" + imaps + "/INBOX;UID=1"} {
		out, err := exec.Command(curl, "-sSk", "--max-time", "30", u).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Subject: ketchup") || !strings.Contains(string(out), "Do you like ketchup?") {
			t.Errorf("curl %s: %v\n%s", u, err, out)
		}
	}
	// The same POP3 address again: refused at once, in one line.
	_, e, err := cli(t, "", "mail", "serve", "--domain", "hamburger.edu", "--data", t.TempDir(), "--listen", "", "--submission", "", "--pop3", pop)
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(e, "address already in use") || strings.Count(e, "\n") != 1 {
		t.Errorf("mail serve --pop3 on a used address: %v %q", err, e)
	}
}
