package web

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/applayer/applayer/internal/testutil"
	"github.com/applayer/applayer/web/internal/webtest"
)

// getOnce sends one GET on a new connection and reads the answer, failing
// the test if none comes within the deadline.
func getOnce(t *testing.T, addr, path string, within time.Duration) {
	t.Helper()
	c, br := dialHTTP(t, addr, within)
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("GET %s while another connection is stuck: %v", path, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

// A client that pipelines requests for a large cached file and does not
// read fills its socket: the response being written must leave the poller's
// goroutine, or every connection parked on that poller would wait for it.
func TestStuckWriterDoesNotStallOthers(t *testing.T) {
	dir := t.TempDir()
	big := strings.Repeat("0123456789abcdef", 200<<10/16) // 200 KiB, cached
	os.WriteFile(filepath.Join(dir, "big.bin"), []byte(big), 0o644)
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("a"), 0o644)
	fsrv, err := NewFileServer(dir)
	if err != nil {
		t.Fatal(err)
	}
	addr := startServer(t, &Server{Handler: fsrv, WriteTimeout: time.Minute})

	// Park a few connections first so that every poller holds one.
	var idle []net.Conn
	for range 2 * runtime.GOMAXPROCS(0) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		idle = append(idle, c)
	}
	stuck, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer stuck.Close()
	const n = 64 // 12.8 MB of answers: more than any socket buffer
	go func() {
		for range n {
			if _, err := io.WriteString(stuck, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
				return
			}
		}
	}()
	waitBlockedWriting(t)

	for _, c := range idle {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("parked connection not served while another is stuck: %v", err)
		}
		resp.Body.Close()
	}
	getOnce(t, addr, "/a.txt", 5*time.Second)

	// The stuck client finally reads: every answer is whole and in order.
	stuck.SetDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(stuck)
	for i := range n {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("answer %d: %v", i+1, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(b) != big {
			t.Fatalf("answer %d: %d bytes, %v; want the whole file", i+1, len(b), err)
		}
	}
}

// A request whose body is slow to come, or whose head is, must not hold
// the poller either.
func TestSlowRequestDoesNotStallOthers(t *testing.T) {
	dir := webtest.MakeSite(t)
	fsrv, err := NewFileServer(dir)
	if err != nil {
		t.Fatal(err)
	}
	fsrv.AllowWrite = true
	srv := &Server{Handler: fsrv, HeaderTimeout: time.Minute, BodyTimeout: time.Minute}
	addr := startServer(t, srv)
	for _, partial := range []string{
		"PUT /new.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly part",
		"GET /a.txt HTTP/1.1\r\nHost: x\r\nUser-Ag",
	} {
		// A first request parks the connection, then the slow one comes.
		c, br := dialHTTP(t, addr, 10*time.Second)
		io.WriteString(c, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		testutil.WaitFor(t, "the connection to park", func() bool { return isParked(srv, c) })
		before := srv.escalated.Load()
		io.WriteString(c, partial)
		// The poller read the partial request and left it to a goroutine
		// of its own, which now waits for the rest.
		testutil.WaitFor(t, "the slow request to leave the poller", func() bool { return srv.escalated.Load() > before })
		for range 2 * runtime.GOMAXPROCS(0) {
			getOnce(t, addr, "/a.txt", 5*time.Second)
		}
	}
}

// Shutdown closes parked connections at once and waits for nothing else.
func TestShutdownClosesParkedConnections(t *testing.T) {
	fsrv, err := NewFileServer(webtest.MakeSite(t))
	if err != nil {
		t.Fatal(err)
	}
	srv := &Server{Handler: fsrv, Logger: quietLogger()}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	var conns []net.Conn
	for range 10 {
		c, br := dialHTTP(t, l.Addr().String(), 10*time.Second)
		io.WriteString(c, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		conns = append(conns, c)
	}
	if n := srv.Conns(); n != 10 {
		t.Errorf("Conns() = %d with 10 idle connections", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown with idle connections: %v", err)
	}
	if err := <-served; err != ErrServerClosed {
		t.Errorf("Serve returned %v", err)
	}
	for i, c := range conns {
		if b, err := io.ReadAll(c); err != nil || len(b) != 0 {
			t.Errorf("connection %d after Shutdown: read %q, %v; want a clean close", i, b, err)
		}
	}
	if n := srv.Conns(); n != 0 {
		t.Errorf("Conns() = %d after Shutdown", n)
	}
}

// The connection goroutine's own wait (used where there is no epoll, and
// after escalation) keeps working with the pollers off.
func TestWithoutPollers(t *testing.T) {
	fsrv, err := NewFileServer(webtest.MakeSite(t))
	if err != nil {
		t.Fatal(err)
	}
	srv := &Server{Handler: fsrv, Pollers: -1, IdleTimeout: 300 * time.Millisecond}
	addr := startServer(t, srv)
	c, br := dialHTTP(t, addr, 10*time.Second)
	io.WriteString(c, strings.Repeat("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n", 3))
	for i := range 3 {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("pipelined answer %d: %v", i+1, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != webtest.SiteFiles["a.txt"] {
			t.Errorf("answer %d: %q", i+1, b)
		}
	}
	if b, err := io.ReadAll(br); err != nil || len(b) != 0 {
		t.Errorf("after the idle timeout: read %q, %v; want a clean close", b, err)
	}
}

// inlineFunc is a handler that a poller may run (see inlineHandler).
type inlineFunc func(w ResponseWriter, r *Request)

func (f inlineFunc) ServeHTTP(w ResponseWriter, r *Request) { f(w, r) }
func (f inlineFunc) inline(r *Request) bool                 { return r.Method == "GET" }

// A deadline set on a connection (the header timeout of a head that came
// in pieces, the body timeout of a request with a body, the write timeout
// of a response) must not outlive its request: a connection that then
// stays idle for longer than it, but not for the idle timeout, is still
// served, on the poller or off it.
func TestStaleDeadlineAfterParking(t *testing.T) {
	const short = 100 * time.Millisecond
	big := strings.Repeat("x", 1024)
	h := inlineFunc(func(w ResponseWriter, r *Request) {
		io.Copy(io.Discard, r.Body)
		if r.Path == "/big" {
			// Chunked, and more than the write buffer holds.
			for range 16 {
				io.WriteString(w, big)
			}
			return
		}
		io.WriteString(w, "ok")
	})
	for _, pollers := range []int{0, -1} {
		t.Run(fmt.Sprintf("pollers=%d", pollers), func(t *testing.T) {
			srv := &Server{Handler: h, Pollers: pollers, HeaderTimeout: short, BodyTimeout: short, WriteTimeout: short, IdleTimeout: time.Minute}
			staleDeadlines(t, startServer(t, srv), short, big)
		})
	}
}

func staleDeadlines(t *testing.T, addr string, short time.Duration, big string) {
	for _, tc := range []struct {
		name  string
		first []string // written with a pause between pieces
		path  string   // of the requests that follow
	}{
		{"body", []string{"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"}, "/"},
		{"head in pieces", []string{"GET / HTTP/1.1\r\nHost: x\r\n", "\r\n"}, "/"},
		{"write", []string{"GET / HTTP/1.1\r\nHost: x\r\n\r\n"}, "/big"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, br := dialHTTP(t, addr, 10*time.Second)
			for i, p := range tc.first {
				if i > 0 {
					// The stimulus, not a wait for an event: the head's
					// deadline is set before its end comes.
					time.Sleep(short / 4)
				}
				io.WriteString(c, p)
			}
			want := "ok"
			for i := range 2 {
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("answer %d: %v", i+1, err)
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(b) != want {
					t.Fatalf("answer %d: %d bytes, %v; want %d", i+1, len(b), err, len(want))
				}
				if i == 1 {
					break
				}
				// Idle past the request's own deadline, well within the
				// idle timeout: the time that passes is the case tested
				// (a sleep lasts at least as long as asked).
				time.Sleep(3 * short)
				io.WriteString(c, "GET "+tc.path+" HTTP/1.1\r\nHost: x\r\n\r\n")
				if tc.path == "/big" {
					want = strings.Repeat(big, 16)
				}
			}
		})
	}
}

// The write timeout bounds a chunked response on a new connection too, to
// a client that never reads.
func TestWriteTimeoutChunked(t *testing.T) {
	chunk := strings.Repeat("x", 1024)
	h := HandlerFunc(func(w ResponseWriter, r *Request) {
		for range 64 << 10 { // 64 MiB: more than the sockets hold
			if _, err := io.WriteString(w, chunk); err != nil {
				return
			}
		}
	})
	for _, pollers := range []int{0, -1} {
		t.Run(fmt.Sprintf("pollers=%d", pollers), func(t *testing.T) {
			srv := &Server{Handler: h, Pollers: pollers, WriteTimeout: 100 * time.Millisecond}
			addr := startServer(t, srv)
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			testutil.WaitFor(t, "the connection to be served", func() bool { return srv.Conns() > 0 })
			testutil.WaitFor(t, "the write timeout (100 ms) to close the connection", func() bool { return srv.Conns() == 0 })
		})
	}
}

// isParked reports whether the server's side of the client connection c
// is parked on one of srv's pollers.
func isParked(srv *Server, c net.Conn) bool {
	for _, p := range srv.polls.ps {
		p.mu.Lock()
		for _, pc := range p.parked {
			if pc.remote == c.LocalAddr().String() {
				p.mu.Unlock()
				return true
			}
		}
		p.mu.Unlock()
	}
	return false
}
