package mta

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/applayer/applayer/internal/peertest"
	"github.com/applayer/applayer/internal/testutil"
)

// rawHop is a next hop that records the bytes it is sent, as they are: a
// minimal SMTP listener that answers 250 to everything and takes the end
// of data at CRLF "." CRLF only. What it records is what any server behind
// us would read, including one that takes "\r.\r" or "\n.\n" for the end.
type rawHop struct {
	mu     sync.Mutex
	bodies [][]byte // each DATA body as it came on the wire, end marker included
	cmds   []string // every command line
}

func startRawHop(t *testing.T) (*rawHop, int) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	h := &rawHop{}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go h.serve(c)
		}
	}()
	return h, l.Addr().(*net.TCPAddr).Port
}

func (h *rawHop) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(c)
	fmt.Fprintf(c, "220 rawhop.example ESMTP\r\n")
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.TrimRight(line, "\r\n")
		h.mu.Lock()
		h.cmds = append(h.cmds, cmd)
		h.mu.Unlock()
		switch verb, _, _ := strings.Cut(strings.ToUpper(cmd), " "); verb {
		case "DATA":
			fmt.Fprintf(c, "354 go ahead\r\n")
			var body []byte
			for !bytes.HasSuffix(body, []byte("\r\n.\r\n")) {
				b, err := br.ReadByte()
				if err != nil {
					return
				}
				body = append(body, b)
			}
			h.mu.Lock()
			h.bodies = append(h.bodies, body)
			h.mu.Unlock()
			fmt.Fprintf(c, "250 2.0.0 kept\r\n")
		case "QUIT":
			fmt.Fprintf(c, "221 bye\r\n")
			return
		default:
			fmt.Fprintf(c, "250 ok\r\n")
		}
	}
}

func (h *rawHop) snapshot() ([][]byte, []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([][]byte(nil), h.bodies...), append([]string(nil), h.cmds...)
}

// canonical reports whether every CR and every LF of b is part of a CRLF.
func canonical(b []byte) bool {
	b = bytes.ReplaceAll(b, []byte("\r\n"), nil)
	return bytes.IndexByte(b, '\r') < 0 && bytes.IndexByte(b, '\n') < 0
}

// smugglingVariants are the end-of-data look-alikes of the SMTP smuggling
// family (2023), each followed by a second, smuggled transaction.
var smugglingVariants = map[string]string{
	`\r.\r`:          "\r.\r",
	`\n.\n`:          "\n.\n",
	`\r.\n`:          "\r.\n",
	`\n.\r\n`:        "\n.\r\n",
	`\r\n.\r`:        "\r\n.\r",
	`bare CR inline`: "\rx\r\n",
	`bare LF inline`: "\nx\r\n",
}

const smuggled = "MAIL FROM:<evil@crepes.fr>\r\nRCPT TO:<victim@implicit.example>\r\nDATA\r\nSubject: smuggled\r\n\r\nforged\r\n"

// TestSmugglingDoesNotReachNextHop: our MX takes mail for a relay domain
// and passes it on. No end-of-data look-alike is accepted, so nothing of
// the smuggled transaction reaches the next hop, and what does reach it
// has CRLF lines only.
func TestSmugglingDoesNotReachNextHop(t *testing.T) {
	hop, port := startRawHop(t)
	m, err := Open(Config{Dir: t.TempDir(), Domains: []string{"hamburger.edu"}, RelayDomains: []string{"implicit.example"},
		Resolver: labResolver(t), MXPort: port, Retry: []time.Duration{time.Hour}, Timeout: 5 * time.Second, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	runWorker(t, m)
	mx := serve(t, m, false)
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(mx))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(c)
	reply := func() string {
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			if len(l) < 4 || l[3] != '-' {
				return strings.TrimRight(l, "\r\n")
			}
		}
	}
	reply()
	fmt.Fprintf(c, "EHLO crepes.fr\r\n")
	reply()
	send := func(body string) string {
		fmt.Fprintf(c, "MAIL FROM:<alice@crepes.fr>\r\n")
		if r := reply(); !strings.HasPrefix(r, "250") {
			t.Fatalf("MAIL = %q", r)
		}
		fmt.Fprintf(c, "RCPT TO:<x@implicit.example>\r\n")
		if r := reply(); !strings.HasPrefix(r, "250") {
			t.Fatalf("RCPT = %q", r)
		}
		fmt.Fprintf(c, "DATA\r\n")
		if r := reply(); !strings.HasPrefix(r, "354") {
			t.Fatalf("DATA = %q", r)
		}
		c.Write([]byte(body))
		return reply()
	}
	for name, v := range smugglingVariants {
		r := send("Subject: " + name + "\r\n\r\nhi" + v + smuggled + ".\r\n")
		if !strings.HasPrefix(r, "550 5.6.0") {
			t.Errorf("%s: the body got %q, want 550 5.6.0", name, r)
		}
		fmt.Fprintf(c, "NOOP\r\n")
		if r := reply(); !strings.HasPrefix(r, "250") {
			t.Fatalf("%s: NOOP after the body = %q; the session is out of step", name, r)
		}
	}
	if r := send("Subject: clean\r\n\r\nhello\r\n.\r\n"); !strings.HasPrefix(r, "250") {
		t.Fatalf("clean message = %q", r)
	}
	testutil.WaitFor(t, "the clean message at the next hop", func() bool { b, _ := hop.snapshot(); return len(b) == 1 })
	bodies, cmds := hop.snapshot()
	if !bytes.Contains(bodies[0], []byte("Subject: clean")) || !canonical(bodies[0]) {
		t.Errorf("next hop got %q", bodies[0])
	}
	for _, l := range cmds {
		if strings.Contains(l, "evil") || strings.Contains(l, "victim") {
			t.Errorf("the smuggled transaction reached the next hop: %q", l)
		}
	}
}

// TestRelayNormalisesLineEnds: a queued body with bare CRs and LFs (a
// queue file written before they were refused, or a message of our own)
// leaves with CRLF lines only, so no look-alike of the end of data goes
// out byte for byte.
func TestRelayNormalisesLineEnds(t *testing.T) {
	hop, port := startRawHop(t)
	m := newMTA(t, "crepes.fr", labResolver(t), port, []time.Duration{time.Hour})
	n := 0
	for name, v := range smugglingVariants {
		if _, err := m.enqueueBytes([]byte("Subject: "+name+"\r\n\r\nhi"+v+smuggled), Envelope{From: "alice@crepes.fr", To: []string{"x@implicit.example"}, Arrived: time.Now()}); err != nil {
			t.Fatal(err)
		}
		n++
	}
	testutil.WaitFor(t, "every queued message at the next hop", func() bool { b, _ := hop.snapshot(); return len(b) == n })
	bodies, cmds := hop.snapshot()
	for _, b := range bodies {
		if !canonical(b) || !bytes.Contains(b, []byte("forged")) {
			t.Errorf("next hop got %q: want the whole body, CRLF lines only", b)
		}
	}
	for _, l := range cmds {
		if strings.Contains(l, "evil") {
			t.Errorf("the smuggled transaction was read as commands at the next hop: %q", l)
		}
	}
}

// TestSwaksSmuggling sends the look-alikes with swaks, byte for byte
// (--no-data-fixup), to our MX: each is refused.
func TestSwaksSmuggling(t *testing.T) {
	swaks := peertest.Require(t, "swaks", "swaks")
	_, port := startRawHop(t)
	m, err := Open(Config{Dir: t.TempDir(), Domains: []string{"hamburger.edu"}, RelayDomains: []string{"implicit.example"},
		Resolver: labResolver(t), MXPort: port, Retry: []time.Duration{time.Hour}, Timeout: 5 * time.Second, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	runWorker(t, m)
	mx := serve(t, m, false)
	dir := t.TempDir()
	for name, v := range smugglingVariants {
		f := filepath.Join(dir, "msg")
		os.WriteFile(f, []byte("Subject: swaks\r\n\r\nhi"+v+smuggled+"\r\n.\r\n"), 0o644)
		out, err := exec.Command(swaks, "--server", "127.0.0.1", "--port", strconv.Itoa(mx), "--from", "alice@crepes.fr",
			"--to", "x@implicit.example", "--data", "@"+f, "--no-data-fixup", "--timeout", "10").CombinedOutput()
		if err == nil || !strings.Contains(string(out), "550 5.6.0") {
			t.Errorf("%s: swaks: err %v, output lacks 550 5.6.0:\n%s", name, err, out)
		}
	}
}
