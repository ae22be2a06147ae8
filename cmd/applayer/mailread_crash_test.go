package main

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/applayer/applayer/internal/testutil"
)

// imapConn is a bare IMAP client for the crash test: a read failure (the
// server killed) ends it.
type imapConn struct {
	c   net.Conn
	br  *bufio.Reader
	tag int
}

func (ic *imapConn) cmd(line string) (untagged []string, status string, err error) {
	ic.tag++
	tag := "t" + strconv.Itoa(ic.tag)
	ic.c.SetDeadline(time.Now().Add(testutil.Patience))
	if _, err := fmt.Fprintf(ic.c, "%s %s\r\n", tag, line); err != nil {
		return nil, "", err
	}
	for {
		l, err := ic.br.ReadString('\n')
		if err != nil {
			return nil, "", err
		}
		l = strings.TrimRight(l, "\r\n")
		if strings.HasPrefix(l, tag+" ") {
			return untagged, l[len(tag)+1:], nil
		}
		if strings.HasPrefix(l, "+ ") {
			continue
		}
		untagged = append(untagged, l)
	}
}

// TestIMAPSIGKILL kills `applayer mail serve --imap` with SIGKILL again
// and again while a client APPENDs, COPYs, MOVEs and EXPUNGEs. After the
// last restart every message file is whole (one of those sent, byte for
// byte); every message whose APPEND was answered OK is still in INBOX
// unless an answered MOVE or EXPUNGE took it, and one answered MOVE or
// COPY put it in Archive; and no UID of a folder ever named two messages.
func TestIMAPSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("runs and kills the applayer binary; skipped in -short mode")
	}
	dir := filepath.Join(t.TempDir(), "data")
	if _, e, err := cli(t, "pw\n", "mail", "user", "add", "--data", dir, "bob@hamburger.edu"); err != nil {
		t.Fatalf("user add: %v %s", err, e)
	}
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	var proc atomic.Pointer[exec.Cmd]
	startServer := func() {
		cmd := exec.Command(bin, "mail", "serve", "--log-level", "error", "--domain", "hamburger.edu", "--data", dir,
			"--listen", "", "--submission", "", "--imap", addr)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		proc.Store(cmd)
		testutil.WaitListening(t, addr)
	}
	startServer()
	t.Cleanup(func() { p := proc.Load(); p.Process.Kill(); p.Wait() })

	msgOf := func(n int) string {
		return fmt.Sprintf("Subject: m%d\r\nX-Pad: %s\r\n\r\nbody %d\r\n", n, strings.Repeat("x", 100+n%500), n)
	}
	// What the answered commands did; moving or expunging is set while a
	// MOVE or EXPUNGE is unanswered (the kill came first: it may or may
	// not have happened).
	type fate struct{ inbox, archive, gone, moving, expunging bool }
	fates := map[int]*fate{}
	uids := map[string]int{} // "folder uidvalidity uid" -> message number
	recordUIDs := func(t *testing.T, ic *imapConn, folder string) bool {
		u, st, err := ic.cmd("EXAMINE " + folder)
		if err != nil || !strings.HasPrefix(st, "OK") {
			return false
		}
		validity := ""
		for _, l := range u {
			if i := strings.Index(l, "[UIDVALIDITY "); i >= 0 {
				validity = strings.Fields(l[i+13:])[0]
				validity = strings.TrimSuffix(validity, "]")
			}
		}
		u, st, err = ic.cmd("FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
		if err != nil || !strings.HasPrefix(st, "OK") && !strings.Contains(st, "no messages") && !strings.HasPrefix(st, "BAD") {
			return false
		}
		for _, l := range u {
			var uid, n int
			if i := strings.Index(l, "UID "); i >= 0 {
				fmt.Sscanf(l[i+4:], "%d", &uid)
			}
			if i := strings.Index(l, "Subject: m"); i >= 0 {
				fmt.Sscanf(l[i+10:], "%d", &n)
			}
			if uid == 0 {
				continue
			}
			k := folder + " " + validity + " " + strconv.Itoa(uid)
			if old, seen := uids[k]; seen && old != n && n != 0 {
				t.Errorf("%s UID %d named message %d, later message %d", folder, uid, old, n)
			}
			if n != 0 {
				uids[k] = n
			}
		}
		return true
	}

	stop := make(chan struct{})
	killed := make(chan struct{})
	const wantKills = 8
	go func() {
		defer close(killed)
		for k := 0; k < wantKills; k++ {
			select {
			case <-stop:
				return
			case <-time.After(time.Duration(100+rand.IntN(300)) * time.Millisecond):
			}
			p := proc.Load()
			p.Process.Kill()
			p.Wait()
			startServer()
		}
	}()
	next := 0
	sessions := 0
	for done := false; !done; {
		select {
		case <-killed:
			done = true
			continue
		default:
		}
		c, err := net.Dial("tcp", addr)
		if err != nil {
			continue // between a kill and the restart
		}
		sessions++
		ic := &imapConn{c: c, br: bufio.NewReader(c)}
		func() {
			defer c.Close()
			if _, err := ic.br.ReadString('\n'); err != nil {
				return
			}
			if _, st, err := ic.cmd("LOGIN bob pw"); err != nil || !strings.HasPrefix(st, "OK") {
				return
			}
			ic.cmd("CREATE Archive")
			if !recordUIDs(t, ic, "INBOX") || !recordUIDs(t, ic, "Archive") {
				return
			}
			if _, st, err := ic.cmd("SELECT INBOX"); err != nil || !strings.HasPrefix(st, "OK") {
				return
			}
			for i := 0; i < 200; i++ {
				n := next
				next++
				m := msgOf(n)
				_, st, err := ic.cmd(fmt.Sprintf("APPEND INBOX {%d+}\r\n%s", len(m), m))
				if err != nil {
					return
				}
				if !strings.HasPrefix(st, "OK") {
					t.Errorf("APPEND m%d: %s", n, st)
					continue
				}
				fates[n] = &fate{inbox: true}
				var uid int
				fmt.Sscanf(st[strings.Index(st, "APPENDUID ")+10:], "%d %d", new(int), &uid)
				switch n % 4 {
				case 1:
					if _, st, err = ic.cmd(fmt.Sprintf("UID COPY %d Archive", uid)); err != nil {
						return
					}
					if strings.HasPrefix(st, "OK") {
						fates[n].archive = true
					}
				case 2:
					fates[n].moving = true
					if _, st, err = ic.cmd(fmt.Sprintf("UID MOVE %d Archive", uid)); err != nil {
						return
					}
					fates[n].moving = false
					if strings.HasPrefix(st, "OK") {
						fates[n].archive, fates[n].inbox = true, false
					}
				case 3:
					if _, st, err = ic.cmd(fmt.Sprintf("UID STORE %d +FLAGS.SILENT (\\Deleted)", uid)); err != nil {
						return
					}
					fates[n].expunging = true
					if _, st, err = ic.cmd(fmt.Sprintf("UID EXPUNGE %d", uid)); err != nil {
						return
					}
					fates[n].expunging = false
					if strings.HasPrefix(st, "OK") {
						fates[n].inbox, fates[n].gone = false, true
					}
				}
			}
		}()
	}
	close(stop)
	<-killed

	// After the last restart: what is on disk.
	md := filepath.Join(dir, "mail", "hamburger.edu", "bob")
	contents := map[string]map[int]int{"INBOX": {}, "Archive": {}}
	for folder, path := range map[string]string{"INBOX": md, "Archive": filepath.Join(md, ".Archive")} {
		for _, sub := range []string{"new", "cur"} {
			ents, _ := os.ReadDir(filepath.Join(path, sub))
			for _, e := range ents {
				b, err := os.ReadFile(filepath.Join(path, sub, e.Name()))
				if err != nil {
					t.Fatal(err)
				}
				var n int
				if _, err := fmt.Sscanf(string(b), "Subject: m%d", &n); err != nil || string(b) != msgOf(n) {
					t.Errorf("%s/%s/%s is not a whole message: %q", folder, sub, e.Name(), b)
					continue
				}
				contents[folder][n]++
			}
		}
	}
	for n, f := range fates {
		if f.moving && contents["INBOX"][n]+contents["Archive"][n] == 0 {
			t.Errorf("m%d: killed during its MOVE, and in neither INBOX nor Archive", n)
		}
		if f.moving || f.expunging {
			continue
		}
		if f.inbox && contents["INBOX"][n] == 0 {
			t.Errorf("m%d: APPEND answered OK, neither moved nor expunged, but not in INBOX", n)
		}
		if f.archive && contents["Archive"][n] == 0 {
			t.Errorf("m%d: COPY or MOVE answered OK, but not in Archive", n)
		}
		if f.gone && contents["INBOX"][n] > 0 {
			t.Errorf("m%d: EXPUNGE answered OK, but still in INBOX", n)
		}
	}
	// The UIDs seen before the kills still name the same messages.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ic := &imapConn{c: c, br: bufio.NewReader(c)}
	ic.br.ReadString('\n')
	ic.cmd("LOGIN bob pw")
	recordUIDs(t, ic, "INBOX")
	recordUIDs(t, ic, "Archive")
	t.Logf("%d sessions, %d messages appended, %d answered; %d in INBOX, %d in Archive after %d kills",
		sessions, next, len(fates), len(contents["INBOX"]), len(contents["Archive"]), wantKills)
	if len(fates) < 20 {
		t.Errorf("only %d APPENDs answered: the test did not exercise the server", len(fates))
	}
}
