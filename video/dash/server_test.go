package dash

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/applayer/applayer/internal/peertest"
	"github.com/applayer/applayer/video/trace"
	"github.com/applayer/applayer/web"
)

// fakeClock is the server's clock in shaping tests: sleeping moves it, so
// the schedule is checked exactly and no test waits on real time.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) sleep(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func startServer(t *testing.T, s *Server) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; err != ErrServerClosed {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return l.Addr().String()
}

func writeFiles(t *testing.T, sizes map[string]int) string {
	dir := t.TempDir()
	for name, n := range sizes {
		b := bytes.Repeat([]byte{byte(len(name))}, n)
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func get(t *testing.T, c *web.ClientConn, path string) []byte {
	t.Helper()
	resp, err := c.Do(context.Background(), &web.OutRequest{Target: path, Host: "test"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != 200 {
		t.Fatalf("GET %s: %d", path, resp.Status)
	}
	return b
}

func TestShaping(t *testing.T) {
	tr, err := trace.Parse(strings.NewReader("0,800\n10,400\n"), "t") // 100000 B/s for 10 s, then 50000 B/s
	if err != nil {
		t.Fatal(err)
	}
	clk := &fakeClock{t: time.Unix(1e9, 0)}
	s := &Server{
		Dir:        writeFiles(t, map[string]int{"a.m4s": 250000, "b.m4s": 100000, "c.m4s": 900000}),
		Throughput: tr, clock: clk.now, sleep: clk.sleep,
	}
	addr := startServer(t, s)
	c, err := web.Dial(context.Background(), addr, web.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, p := range []string{"/a.m4s", "/b.m4s", "/c.m4s"} {
		get(t, c, p)
	}
	var sent []Sent
	if err := json.Unmarshal(get(t, c, SentPath), &sent); err != nil {
		t.Fatal(err)
	}
	want := []Sent{
		{Path: "/a.m4s", Bytes: 250000, Asked: 0, Begin: 0, End: 2.5},
		{Path: "/b.m4s", Bytes: 100000, Asked: 2.5, Begin: 2.5, End: 3.5},
		// 6.5 s at 100000 B/s to the step at 10 s, then 250000 B at 50000 B/s
		{Path: "/c.m4s", Bytes: 900000, Asked: 3.5, Begin: 3.5, End: 15},
	}
	if len(sent) != len(want) {
		t.Fatalf("sent %+v", sent)
	}
	for i := range want {
		g, w := sent[i], want[i]
		if g.Path != w.Path || g.Bytes != w.Bytes || math.Abs(g.Asked-w.Asked) > 1e-6 || math.Abs(g.Begin-w.Begin) > 1e-6 || math.Abs(g.End-w.End) > 1e-6 {
			t.Errorf("response %d: %+v, want %+v", i, g, w)
		}
	}
	// Silent for longer than LinkReset: the trace starts again.
	clk.sleep(DefaultLinkReset + time.Second)
	get(t, c, "/b.m4s")
	sent = nil
	json.Unmarshal(get(t, c, SentPath), &sent)
	if len(sent) != 1 || math.Abs(sent[0].End-1) > 1e-6 {
		t.Errorf("after a reset: %+v, want one response ending at 1 s", sent)
	}
}

func TestShapingOffsetAndRTT(t *testing.T) {
	tr, _ := trace.Parse(strings.NewReader("0,800\n10,400\n"), "t")
	clk := &fakeClock{t: time.Unix(1e9, 0)}
	s := &Server{
		Dir:        writeFiles(t, map[string]int{"a.m4s": 100000}),
		Throughput: tr, Offset: 9500 * time.Millisecond, RTT: 80 * time.Millisecond,
		clock: clk.now, sleep: clk.sleep,
	}
	addr := startServer(t, s)
	c, _ := web.Dial(context.Background(), addr, web.Options{})
	defer c.Close()
	get(t, c, "/a.m4s")
	var sent []Sent
	json.Unmarshal(get(t, c, SentPath), &sent)
	// Asked at 9.5 s into the trace, sent from 9.58 s: 0.42 s at 100000 B/s
	// (42000 B), the rest at 50000 B/s: 1.16 s.
	if len(sent) != 1 || math.Abs(sent[0].Asked-9.5) > 1e-6 || math.Abs(sent[0].Begin-9.58) > 1e-6 || math.Abs(sent[0].End-(10+58000.0/50000)) > 1e-6 {
		t.Errorf("sent %+v", sent)
	}
}

// TestCurl: CORS headers, the preflight and range requests, as curl sees
// them.
func TestCurl(t *testing.T) {
	curl := peertest.Require(t, "curl", "curl")
	tr := trace.Constant(100_000) // fast: the test does not wait on it
	s := &Server{Dir: writeFiles(t, map[string]int{"a.m4s": 5000}), Throughput: tr}
	addr := startServer(t, s)
	run := func(args ...string) string {
		out, err := exec.Command(curl, append([]string{"-sS", "-i", "--max-time", "20"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("curl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	out := run("-H", "Origin: http://player.example", "http://"+addr+"/a.m4s")
	if !strings.Contains(out, "Access-Control-Allow-Origin: *") || !strings.Contains(out, "Content-Length: 5000") {
		t.Errorf("GET with Origin:\n%s", out)
	}
	out = run("-X", "OPTIONS", "-H", "Origin: http://player.example", "-H", "Access-Control-Request-Method: GET", "-H", "Access-Control-Request-Headers: range", "http://"+addr+"/a.m4s")
	if !strings.HasPrefix(out, "HTTP/1.1 204") || !strings.Contains(out, "Access-Control-Allow-Methods: GET, HEAD, OPTIONS") || !strings.Contains(out, "Access-Control-Allow-Headers: Range") {
		t.Errorf("preflight:\n%s", out)
	}
	out = run("-r", "100-199", "http://"+addr+"/a.m4s")
	if !strings.HasPrefix(out, "HTTP/1.1 206") || !strings.Contains(out, "Content-Range: bytes 100-199/5000") || !strings.Contains(out, "Content-Length: 100") {
		t.Errorf("range:\n%s", out)
	}
}
