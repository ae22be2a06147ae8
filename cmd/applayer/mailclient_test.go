package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/applayer/applayer/internal/testutil"
)

// TestMailRead: `mail read` lists folders and messages and fetches a
// message and its header over IMAP and POP3 from `mail serve`, with the
// dialogue on stderr under --trace and the password redacted.
func TestMailRead(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the applayer binary; skipped in -short mode")
	}
	dir := filepath.Join(t.TempDir(), "hamburger")
	if _, e, err := cli(t, "pickles\n", "mail", "user", "add", "--data", dir, "bob@hamburger.edu"); err != nil {
		t.Fatalf("user add: %v %s", err, e)
	}
	pwFile := filepath.Join(t.TempDir(), "bob.pass")
	if err := os.WriteFile(pwFile, []byte("pickles\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mx := "127.0.0.1:" + strconv.Itoa(freePort(t))
	pop := "127.0.0.1:" + strconv.Itoa(freePort(t))
	imapAddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	daemon(t, "--domain", "hamburger.edu", "--data", dir, "--listen", mx, "--submission", "", "--pregreet-wait", "-1s",
		"--pop3", pop, "--imap", imapAddr)
	for _, a := range []string{mx, pop, imapAddr} {
		testutil.WaitListening(t, a)
	}
	if out, e, err := cli(t, "", "mail", "send", "--server", mx, "--from", "alice@crepes.fr", "--to", "bob@hamburger.edu",
		"--subject", "ketchup", "--body", "Do you like ketchup?"); err != nil {
		t.Fatalf("mail send: %v %s %s", err, out, e)
	}
	for _, tc := range []struct {
		args          []string
		want, notWant []string
		wantErr       string
		traceWant     string
	}{
		{args: []string{"imap://bob@" + imapAddr}, want: []string{"FOLDER", "INBOX", "1"}},
		{args: []string{"imap://bob@" + imapAddr, "list"}, want: []string{"UID", "alice@crepes.fr", "ketchup"}},
		{args: []string{"imap://bob@" + imapAddr, "fetch", "INBOX", "1", "--trace"}, want: []string{"Subject: ketchup", "Do you like ketchup?"},
			traceWant: " AUTHENTICATE PLAIN <redacted>"},
		{args: []string{"imap://bob@" + imapAddr, "headers", "1"}, want: []string{"Subject: ketchup"}, notWant: []string{"Do you like"}},
		{args: []string{"imap://bob@" + imapAddr, "fetch", "INBOX", "99"}, wantErr: "no message with UID 99"},
		{args: []string{"pop3://bob@" + pop, "list"}, want: []string{"NUMBER", "1 "}},
		{args: []string{"pop3://bob@" + pop, "fetch", "1", "--trace"}, want: []string{"Do you like ketchup?"}, traceWant: "C: PASS <redacted>"},
		{args: []string{"pop3://bob@" + pop, "headers", "1"}, want: []string{"Subject: ketchup"}, notWant: []string{"Do you like"}},
		{args: []string{"pop3://bob@" + pop, "folders"}, wantErr: "no folders"},
		{args: []string{"imap://bob:pickles@" + imapAddr}, wantErr: "password in the URL"},
	} {
		out, e, err := cli(t, "", append(append([]string{"mail", "read"}, tc.args...), "--password-file", pwFile)...)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(e, tc.wantErr) {
				t.Errorf("%v: err %v, stderr %q; want %q", tc.args, err, e, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v: %v\n%s", tc.args, err, e)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%v: output lacks %q:\n%s", tc.args, w, out)
			}
		}
		for _, w := range tc.notWant {
			if strings.Contains(out, w) {
				t.Errorf("%v: output has %q:\n%s", tc.args, w, out)
			}
		}
		if !strings.Contains(e, tc.traceWant) || strings.Contains(e, "pickles") {
			t.Errorf("%v: trace lacks %q or shows the password:\n%s", tc.args, tc.traceWant, e)
		}
	}
	// The password from the environment.
	t.Setenv("APPLAYER_PASSWORD", "pickles")
	if out, e, err := cli(t, "", "mail", "read", "pop3://bob@"+pop); err != nil || !strings.Contains(out, "NUMBER") {
		t.Errorf("APPLAYER_PASSWORD: %v %s %s", err, out, e)
	}
}
