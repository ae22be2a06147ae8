package main

import (
	"bufio"
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

var bin string

// TestMain builds the binary once; the tests run it as a user would.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "applayer-cmd")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "applayer")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func run(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

// allCommands returns every command under the root, the root first.
func allCommands() []*cobra.Command {
	var all []*cobra.Command
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		all = append(all, c)
		for _, sub := range c.Commands() {
			if !sub.Hidden && sub.Name() != "help" {
				walk(sub)
			}
		}
	}
	walk(newRoot())
	return all
}

// TestHelpEverywhere: every command of the root answers --help, with a
// usage, exit 0.
func TestHelpEverywhere(t *testing.T) {
	cmds := allCommands()
	if len(cmds) < 20 {
		t.Fatalf("only %d commands under the root", len(cmds))
	}
	for _, c := range cmds {
		args := append(strings.Fields(commandName(c)), "--help")
		if c == c.Root() {
			args = []string{"--help"}
		}
		out, errOut, code := run(t, "", args...)
		if code != 0 || !strings.Contains(out, "Usage:") {
			t.Errorf("applayer %s: exit %d, stdout %q, stderr %q", strings.Join(args, " "), code, out, errOut)
		}
	}
	out, _, code := run(t, "", "version")
	if code != 0 || !strings.HasPrefix(out, "applayer ") || !strings.Contains(out, "go1.") {
		t.Errorf("version: %q, exit %d", out, code)
	}
}

// TestOneLanguage: a flag name means one thing everywhere. For each idea,
// the names that must not be used for it (the name to use instead), and
// short flags only where they are shared by every command with the long
// name.
func TestOneLanguage(t *testing.T) {
	banned := map[string]string{
		"resolver": "dns", "dns-server": "dns", "nameserver": "dns",
		"mx-port": "upstream-port", "dest-port": "upstream-port",
		"addr": "listen", "bind": "listen",
		"dir": "data", "data-dir": "data",
		"maxconns": "max-conns", "max-connections": "max-conns",
	}
	shorts := map[string]map[string]bool{} // long name -> shorthands used
	longs := map[string]int{}              // long name -> commands with it
	for _, c := range allCommands() {
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if f.Deprecated != "" {
				return // an old name kept working, hidden from --help
			}
			if use, ok := banned[f.Name]; ok {
				t.Errorf("applayer %s --%s: the same idea is --%s elsewhere", commandName(c), f.Name, use)
			}
			longs[f.Name]++
			if shorts[f.Name] == nil {
				shorts[f.Name] = map[string]bool{}
			}
			if f.ShorthandDeprecated == "" {
				shorts[f.Name][f.Shorthand] = true
			}
		})
	}
	for name, sh := range shorts {
		if len(sh) > 1 {
			t.Errorf("--%s has a short form on some commands and not on others (or two): %v", name, sh)
		}
	}
	if longs["listen"] < 3 || longs["data"] < 3 {
		t.Errorf("the walk found too few flags: %v", longs)
	}
}

// TestErrors: one "applayer: " prefix and the command's name once; a
// missing argument named; a mistyped flag answered with the close one.
func TestErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"upper", "send", "--bogus"}, "applayer: upper send: unknown flag: --bogus"},
		{[]string{"web", "get"}, "applayer: web get: missing URL"},
		{[]string{"web", "get", "--objekts", "http://127.0.0.1:1/"}, "did you mean --objects?"},
		{[]string{"mail", "send", "--serevr", "x"}, "did you mean --server?"},
		{[]string{"mail", "user", "add", "x@y.z"}, `applayer: mail user add: required flag(s) "data" not set`},
		{[]string{"mail", "queue", "delete", "--data", "/nonexistent"}, "applayer: mail queue delete: missing ID"},
		{[]string{"web", "serve"}, `applayer: web serve: required flag(s) "root" not set`},
	} {
		_, errOut, code := run(t, "", tt.args...)
		if code != 1 || !strings.Contains(errOut, tt.want) || strings.Count(errOut, "applayer: ") != 1 || strings.Count(errOut, "\n") != 1 {
			t.Errorf("applayer %s: exit %d, stderr %q; want one line with %q", strings.Join(tt.args, " "), code, errOut, tt.want)
		}
		name := strings.Join(tt.args[:2], " ")
		if strings.Count(errOut, name+":") > 1 {
			t.Errorf("applayer %s: %q names the command twice", strings.Join(tt.args, " "), errOut)
		}
	}
}

func TestBadUsage(t *testing.T) {
	for _, args := range [][]string{{"upper", "serve", "--bogus"}, {"upper", "send", "--udp", "--tcp", "x"}, {"nosuch"}, {"--log-level", "loud", "upper", "serve"}} {
		_, errOut, code := run(t, "", args...)
		if code != 1 || !strings.HasPrefix(errOut, "applayer: ") || strings.Count(errOut, "\n") != 1 {
			t.Errorf("applayer %s: exit %d, stderr %q; want exit 1 and one line", strings.Join(args, " "), code, errOut)
		}
	}
}

// TestPortInUse: one line naming the address and the cause, exit 1, no
// stack trace.
func TestPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	addr := l.Addr().String()
	_, errOut, code := run(t, "", "--log-level", "error", "upper", "serve", "--tcp", "--listen", addr)
	if code != 1 || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, addr) || !strings.Contains(errOut, "address already in use") || strings.Contains(errOut, "goroutine") {
		t.Errorf("serve on a used port: exit %d, stderr %q", code, errOut)
	}
}

// startServe runs `applayer upper serve` on a free port and returns its
// address; the server is stopped with SIGTERM at the end and must exit 0.
func startServe(t *testing.T, args ...string) string {
	t.Helper()
	for range 10 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		cmd := exec.Command(bin, append([]string{"upper", "serve", "--listen", addr}, args...)...)
		stderr, _ := cmd.StderrPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stderr)
		serving := 0
		for sc.Scan() {
			if strings.Contains(sc.Text(), "serving") {
				if serving++; serving == 2 {
					break
				}
			}
		}
		if serving < 2 {
			cmd.Wait()
			continue // the port was taken meanwhile
		}
		go func() {
			for sc.Scan() {
			}
		}()
		t.Cleanup(func() {
			cmd.Process.Signal(syscall.SIGTERM)
			if err := cmd.Wait(); err != nil {
				t.Errorf("server after SIGTERM: %v, want exit 0", err)
			}
		})
		return addr
	}
	t.Fatal("could not start the server")
	return ""
}

func TestSendAndServe(t *testing.T) {
	addr := startServe(t)
	out, errOut, code := run(t, "", "upper", "send", "--server", addr, "hello", "wörld")
	if code != 0 || out != "HELLO WÖRLD\n" || !strings.HasPrefix(errOut, "rtt ") {
		t.Errorf("send UDP: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	out, _, code = run(t, "", "upper", "send", "--tcp", "--server", addr, "over", "tcp")
	if code != 0 || out != "OVER TCP\n" {
		t.Errorf("send TCP: exit %d, stdout %q", code, out)
	}
	// Interactive, from a pipe: "end" quits, what follows is not sent.
	out, _, code = run(t, "one\ntwo\nend\nthree\n", "upper", "send", "--tcp", "--server", addr)
	if code != 0 || out != "From Server: ONE\nFrom Server: TWO\n" {
		t.Errorf("interactive TCP: exit %d, stdout %q", code, out)
	}
	out, _, code = run(t, "alpha\nbeta\n", "upper", "send", "--server", addr)
	if code != 0 || out != "ALPHA\nBETA\n" {
		t.Errorf("interactive UDP: exit %d, stdout %q", code, out)
	}
	out, _, code = run(t, "", "upper", "send", "--server", addr, "--count", "3", "--interval", "10ms", "ping")
	if code != 0 || !strings.Contains(out, "seq=3") || !strings.Contains(out, "3 sent, 3 received, 0.0% lost") || !strings.Contains(out, "rtt min/avg/max") {
		t.Errorf("--count: exit %d, stdout %q", code, out)
	}
	_, errOut, code = run(t, "", "upper", "send", "--tcp", "--trace", "--server", addr, "traced")
	if code != 0 || !strings.Contains(errOut, "C: traced") || !strings.Contains(errOut, "S: TRACED") {
		t.Errorf("--trace: exit %d, stderr %q", code, errOut)
	}
}

func TestSendLost(t *testing.T) {
	// A UDP socket that never answers.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	_, errOut, code := run(t, "", "upper", "send", "--server", pc.LocalAddr().String(), "--timeout", "50ms", "--retries", "1", "anyone?")
	if code != 1 || strings.Count(errOut, "datagram lost") != 2 || !strings.Contains(errOut, "after 2 attempts") {
		t.Errorf("lost datagrams: exit %d, stderr %q", code, errOut)
	}
	out, _, code := run(t, "", "upper", "send", "--server", pc.LocalAddr().String(), "--timeout", "20ms", "--count", "2", "--interval", "1ms", "x")
	if code != 0 || !strings.Contains(out, "2 sent, 0 received, 100.0% lost") {
		t.Errorf("--count with every datagram lost: exit %d, stdout %q", code, out)
	}
}
