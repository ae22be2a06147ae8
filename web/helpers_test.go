package web

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/applayer/applayer/internal/testutil"
	"github.com/applayer/applayer/web/internal/webtest"
)

// quietLogger drops log lines below warnings.
func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// dialHTTP connects to addr until the test ends, with a deadline that
// only a hang reaches.
func dialHTTP(t *testing.T, addr string, within time.Duration) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(within))
	return c, bufio.NewReader(c)
}

// startServer serves h on 127.0.0.1:0 and stops it when the test ends.
func startServer(t testing.TB, srv *Server) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if srv.Logger == nil {
		srv.Logger = quietLogger()
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		if err := <-done; err != ErrServerClosed {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return l.Addr().String()
}

// startFileServer serves a new site and returns its address and directory.
func startFileServer(t testing.TB, configure func(*FileServer)) (addr, dir string) {
	t.Helper()
	dir = webtest.MakeSite(t)
	fsrv, err := NewFileServer(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fsrv.Close() })
	fsrv.Logger = quietLogger()
	if configure != nil {
		configure(fsrv)
	}
	return startServer(t, &Server{Handler: fsrv}), dir
}

// rawExchange sends raw bytes on a new connection, half-closes, and returns
// everything the server sent until it closed.
func rawExchange(t testing.TB, addr, raw string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).CloseWrite()
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading the answer to %q: %v", raw, err)
	}
	return string(b)
}

// statusOf returns the status code of the first response in s.
func statusOf(s string) string {
	line, _, _ := strings.Cut(s, "\r\n")
	f := strings.Fields(line)
	if len(f) < 2 {
		return "(none)"
	}
	return f[1]
}

// countResponses counts status lines in s (bodies in tests hold none).
func countResponses(s string) int {
	n := 0
	br := bufio.NewReader(strings.NewReader(s))
	for {
		line, err := br.ReadString('\n')
		if strings.HasPrefix(line, "HTTP/1.") {
			n++
		}
		if err != nil {
			return n
		}
	}
}

// waitBlockedWriting waits until a goroutine of the process (the test's
// only server is the one writing) waits for a socket to take more: the
// state a test of a stuck client needs before it goes on.
func waitBlockedWriting(t *testing.T) {
	t.Helper()
	buf := make([]byte, 1<<20)
	testutil.WaitFor(t, "the server to block writing to a client that does not read", func() bool {
		n := runtime.Stack(buf, true)
		return bytes.Contains(buf[:n], []byte("internal/poll.(*pollDesc).waitWrite"))
	})
}
