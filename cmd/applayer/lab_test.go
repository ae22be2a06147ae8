package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/applayer/applayer/internal/peertest"
	"github.com/applayer/applayer/internal/testutil"
	"github.com/applayer/applayer/lab"
)

// labRow is one row of the table `lab up` prints.
type labRow struct{ service, proto, addr, try string }

// runningLab is a `lab up` process started by a test.
type runningLab struct {
	cmd    *exec.Cmd
	base   int
	dir    string // its --data directory
	rows   []labRow
	stderr *testutil.Buffer
	done   chan error // Wait's result
}

// labEnv is the environment of a lab and of the try lines run against it:
// the user cache directory (where the lab keeps its files) in dir.
func labEnv(dir string) []string {
	return append(os.Environ(), "XDG_CACHE_HOME="+dir)
}

// startLab runs `applayer lab up` (the argv prefix given, e.g. the binary)
// on a random base port, retrying while a port is taken, and waits for its
// table. It stops the lab (SIGTERM) at the end of the test.
func startLab(t *testing.T, argv []string, extra ...string) *runningLab {
	t.Helper()
	dir := t.TempDir()
	for range 5 {
		base := 20000 + 100*rand.IntN(300) // base+8080 stays under 65536
		args := append(append(argv[1:], "lab", "up", "--base-port", strconv.Itoa(base), "--log-level", "warn"), extra...)
		cmd := exec.Command(argv[0], args...)
		cmd.Env = labEnv(dir)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		l := &runningLab{cmd: cmd, base: base, stderr: &testutil.Buffer{}, done: make(chan error, 1)}
		l.dir = filepath.Join(dir, "applayer", "lab-"+strconv.Itoa(base))
		cmd.Stderr = l.stderr
		// A lab that outlives the process started (go run's child) holds
		// the pipes: Wait returns anyway, soon after the process exits.
		cmd.WaitDelay = 2 * time.Second
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stdout)
		up := false
		tryCol := -1
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "SERVICE"):
				tryCol = strings.Index(line, "TRY")
			case strings.Contains(line, "The lab is up"):
				up = true
			case tryCol > 0 && len(line) > tryCol:
				f := strings.Fields(line[:tryCol])
				if len(f) >= 3 {
					l.rows = append(l.rows, labRow{f[0], strings.Join(f[1:len(f)-1], " "), f[len(f)-1], line[tryCol:]})
				}
			}
			if up {
				break
			}
		}
		go io.Copy(io.Discard, stdout)
		go func() { l.done <- cmd.Wait() }()
		if !up {
			err := <-l.done
			if strings.Contains(l.stderr.String(), "address already in use") {
				continue
			}
			t.Fatalf("lab up: %v\n%s", err, l.stderr.String())
		}
		t.Cleanup(func() {
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case err := <-l.done:
				if err != nil && !strings.Contains(err.Error(), "terminated") {
					t.Errorf("lab after SIGTERM: %v; stderr %s", err, l.stderr.String())
				}
			case <-time.After(testutil.Patience):
				cmd.Process.Kill()
				t.Errorf("the lab did not stop within %v of SIGTERM", testutil.Patience)
			}
		})
		return l
	}
	t.Fatal("no free base port for the lab after 5 tries")
	return nil
}

// sh runs a try line as a user would paste it, in a new shell started
// elsewhere than the lab's directory.
func sh(t *testing.T, dir, line string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", line)
	cmd.Env = labEnv(dir)
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestTryLines runs every command of the TRY column, as printed, through
// sh -c in a fresh directory, and checks that each succeeds; the cookie
// line twice, and its visit count grows.
func TestTryLines(t *testing.T) {
	for _, p := range []struct{ name, pkg string }{{"dig", "bind9-dnsutils"}, {"nsupdate", "bind9-dnsutils"}, {"curl", "curl"}, {"aria2c", "aria2"}} {
		peertest.Require(t, p.name, p.pkg)
	}
	l := startLab(t, []string{bin})
	// Before the registrar's update, the TLD knows nothing of newschool.
	if out, _ := sh(t, t.TempDir(), fmt.Sprintf("dig @127.0.53.2 -p %d +norec www.newschool.com", l.base+53)); !strings.Contains(out, "NXDOMAIN") {
		t.Errorf("newschool.com is delegated before the update:\n%s", out)
	}
	if len(l.rows) < 20 {
		t.Fatalf("lab up printed %d rows:\n%+v", len(l.rows), l.rows)
	}
	home := filepath.Dir(l.dir)
	for _, r := range l.rows {
		if strings.Contains(r.try, os.TempDir()+"/applayer-lab") || strings.Contains(r.try, "go-build") {
			t.Errorf("%s %s: the try line names a temporary path: %s", r.service, r.proto, r.try)
		}
		if strings.HasPrefix(r.try, "applayer ") {
			t.Errorf("%s %s: the try line needs applayer on the PATH: %s", r.service, r.proto, r.try)
		}
		out, err := sh(t, filepath.Dir(home), r.try)
		if err != nil {
			t.Errorf("%s %s: %s\n%v\n%s", r.service, r.proto, r.try, err, out)
			continue
		}
		for _, bad := range []string{"SERVFAIL", "REFUSED", "connection refused", "timed out"} {
			if strings.Contains(out, bad) {
				t.Errorf("%s %s: %s\nprints %s:\n%s", r.service, r.proto, r.try, bad, out)
			}
		}
		if r.proto == "dns update" && (!strings.Contains(out, "status: NOERROR") || !strings.Contains(out, "IN\tA\t127.0.80.30")) {
			// The registrar's walk: root, TLD, then newschool's own server.
			t.Errorf("%s %s: the registrar story does not end with an answer:\n%s", r.service, r.proto, out)
		}
		if strings.Contains(r.proto, "cookie") {
			again, err := sh(t, filepath.Dir(home), r.try)
			n1, n2 := visits(out), visits(again)
			if err != nil || n1 < 1 || n2 != n1+1 {
				t.Errorf("cookie line run twice: visits %d then %d (%v); want a count that grows\n%s\n%s", n1, n2, err, out, again)
			}
		}
	}
}

func visits(out string) int {
	_, rest, _ := strings.Cut(out, "visits ")
	n, _ := strconv.Atoi(strings.Fields(rest + " x")[0])
	return n
}

// TestLabUp: the table, a service answering, and a clean stop on SIGTERM.
func TestLabUp(t *testing.T) {
	l := startLab(t, []string{bin})
	upperAddr := "127.0.0.1:" + strconv.Itoa(l.base+2000)
	found := false
	for _, r := range l.rows {
		found = found || r.addr == upperAddr && strings.Contains(r.try, "upper send")
	}
	if !found {
		t.Fatalf("lab up printed no upper row at %s: %+v", upperAddr, l.rows)
	}
	out, _, code := run(t, "", "upper", "send", "--tcp", "--server", upperAddr, "in the lab")
	if code != 0 || out != "IN THE LAB\n" {
		t.Errorf("send to the lab: exit %d, %q", code, out)
	}
	l.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-l.done:
		if err != nil {
			t.Errorf("lab after SIGTERM: %v; stderr %s", err, l.stderr.String())
		}
		l.done <- nil // for the cleanup
	case <-time.After(testutil.Patience):
		t.Error("lab did not stop after SIGTERM")
	}
}

// TestLabBindHint: a second lab on the same ports says who holds them and
// how to start elsewhere.
func TestLabBindHint(t *testing.T) {
	l := startLab(t, []string{bin})
	_, errOut, code := run(t, "", "lab", "up", "--base-port", strconv.Itoa(l.base), "--data", t.TempDir(), "--log-level", "warn")
	want := []string{"address already in use", fmt.Sprintf("held by process %d", l.cmd.Process.Pid), "--base-port "}
	for _, w := range want {
		if code != 1 || !strings.Contains(errOut, w) {
			t.Errorf("second lab: exit %d, stderr %q; want %q", code, errOut, w)
		}
	}
}

// TestLabStopsWithGoRun: `go run ./cmd/applayer lab up` in the background,
// then SIGTERM to the go run process (a shell's kill %1): the lab itself
// must stop and free its ports.
func TestLabStopsWithGoRun(t *testing.T) {
	if testing.Short() {
		t.Skip("go run builds the binary; skipped in -short mode")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	l := startLab(t, []string{goBin, "run", "."})
	upperAddr := "127.0.0.1:" + strconv.Itoa(l.base+2000)
	if c, err := net.Dial("tcp", upperAddr); err != nil {
		t.Fatalf("the lab does not listen on %s: %v", upperAddr, err)
	} else {
		c.Close()
	}
	l.cmd.Process.Signal(syscall.SIGTERM) // the go run process, not the lab
	<-l.done
	l.done <- nil
	testutil.WaitFor(t, "the lab's ports to be free after go run was killed", func() bool {
		ln, err := net.Listen("tcp", upperAddr)
		if err != nil {
			return false
		}
		ln.Close()
		return true
	})
}

var _ = lab.DefaultBasePort
