package web

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/applayer/applayer/internal/testutil"
	"github.com/applayer/applayer/web/internal/webtest"
)

func TestPersistence(t *testing.T) {
	addr, _ := startFileServer(t, nil)
	get := "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"
	tests := []struct {
		name, raw string
		responses int
		close     bool // server closed without the client closing first
	}{
		{"pipelined three", get + get + get, 3, false},
		{"close on second", get + "GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" + get, 2, true},
		{"1.0 closes", "GET /a.txt HTTP/1.0\r\n\r\n" + get, 1, true},
		{"1.0 keep-alive", "GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" + get, 2, false},
		{"bad second request", get + "BAD\r\n\r\n" + get, 2, true},
		{"body then next", "PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" + get, 2, false},
		{"chunked body then next", "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + get, 2, false},
		{"head then get", "HEAD /a.txt HTTP/1.1\r\nHost: x\r\n\r\n" + get, 2, false},
	}
	for _, tc := range tests {
		c, br := dialHTTP(t, addr, 5*time.Second)
		io.WriteString(c, tc.raw)
		got := 0
		for got < tc.responses {
			var hreq *http.Request
			if got == 0 && strings.HasPrefix(tc.raw, "HEAD") {
				hreq = &http.Request{Method: "HEAD"}
			}
			resp, err := http.ReadResponse(br, hreq)
			if err != nil {
				break
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			got++
			if resp.Close {
				break
			}
		}
		if got != tc.responses {
			t.Errorf("%s: %d responses, want %d", tc.name, got, tc.responses)
		}
		// The server must now either have closed, or be waiting.
		c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		_, err := br.ReadByte()
		closed := err == io.EOF
		if closed != tc.close {
			t.Errorf("%s: server closed = %v (%v), want %v", tc.name, closed, err, tc.close)
		}
		c.Close()
	}
}

func TestNetHTTPReusesConnections(t *testing.T) {
	fsrv, err := NewFileServer(webtest.MakeSite(t))
	if err != nil {
		t.Fatal(err)
	}
	srv := &Server{Handler: fsrv}
	addr := startServer(t, srv)
	tr := &http.Transport{MaxIdleConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr}
	reused := 0
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		if info.Reused {
			reused++
		}
	}}
	for i := 0; i < 20; i++ {
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", "http://"+addr+"/a.txt", nil)
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	// Twenty sequential requests over kept-alive connections: net/http
	// may now and then dial before the previous connection is back in its
	// pool, but nearly all requests reuse one.
	if reused < 15 {
		t.Errorf("%d of 20 requests reused a connection", reused)
	}
}

func TestSlowlorisGets408(t *testing.T) {
	fsrv, err := NewFileServer(webtest.MakeSite(t))
	if err != nil {
		t.Fatal(err)
	}
	srv := &Server{Handler: fsrv, HeaderTimeout: 300 * time.Millisecond, IdleTimeout: 5 * time.Second}
	addr := startServer(t, srv)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	// One byte at a time, slower than the header timeout allows in total.
	var answer []byte
	done := make(chan struct{})
	go func() {
		answer, _ = io.ReadAll(c)
		close(done)
	}()
	for _, b := range []byte("GET / HTTP/1.1\r\nHost: x\r\n") {
		if _, err := c.Write([]byte{b}); err != nil {
			break
		}
		select {
		case <-done:
		case <-time.After(50 * time.Millisecond):
			continue
		}
		break
	}
	<-done
	if statusOf(string(answer)) != "408" {
		t.Errorf("slow client got %q, want 408", answer)
	}
}

func TestIdleTimeoutCloses(t *testing.T) {
	srv := &Server{Handler: HandlerFunc(NotFound), IdleTimeout: 200 * time.Millisecond}
	addr := startServer(t, srv)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil || len(b) != 0 {
		t.Errorf("idle connection: read %q, %v; want a silent close", b, err)
	}
}

func TestConnectionLimit(t *testing.T) {
	// Two connections busy in their handler: nothing idle to evict.
	hold, working := make(chan struct{}), make(chan struct{}, 2)
	srv := &Server{Handler: HandlerFunc(func(w ResponseWriter, r *Request) {
		if r.Path == "/hold" {
			working <- struct{}{}
			<-hold
		}
		NotFound(w, r)
	}), MaxConns: 2, MaxConnsPerClient: -1}
	addr := startServer(t, srv)
	defer close(hold)
	for i := 0; i < 2; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
		<-working
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	b, _ := io.ReadAll(c)
	if statusOf(string(b)) != "503" || !strings.Contains(string(b), "Retry-After: 1\r\n") {
		t.Errorf("third connection over a limit of 2 got %q, want 503 with Retry-After", b)
	}
	// net/http's client reads it as an answer, not as a broken connection.
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + addr + "/")
	if err != nil {
		t.Fatalf("net/http over the limit: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != StatusServiceUnavailable {
		t.Errorf("net/http over the limit: %s, want 503", resp.Status)
	}
	// A client that sends nothing is closed unanswered, within a second
	// or so.
	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	idle.SetDeadline(time.Now().Add(5 * time.Second))
	if b, err := io.ReadAll(idle); err != nil || len(b) != 0 {
		t.Errorf("silent client over the limit: %q, %v; want a close", b, err)
	}
}

func TestPutDelete(t *testing.T) {
	addr, dir := startFileServer(t, func(f *FileServer) { f.AllowWrite = true })
	do := func(method, path, body string, hdr ...string) *http.Response {
		req, _ := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	steps := []struct {
		method, path, body string
		hdr                []string
		status             int
		file               string // expected content afterwards; "-" absent
	}{
		{"PUT", "/new/deep/n.txt", "first", nil, 201, "first"},
		{"GET", "/new/deep/n.txt", "", nil, 200, "first"},
		{"PUT", "/new/deep/n.txt", "second", nil, 204, "second"},
		{"PUT", "/new/deep/n.txt", "third", []string{"If-None-Match", "*"}, 412, "second"},
		{"PUT", "/new/deep/n.txt", "third", []string{"If-Match", `"nope"`}, 412, "second"},
		{"PUT", "/dir", "x", nil, 409, ""},
		{"PUT", "/dir/", "x", nil, 409, ""},
		{"DELETE", "/new/deep/n.txt", "", nil, 204, "-"},
		{"DELETE", "/new/deep/n.txt", "", nil, 404, "-"},
		{"DELETE", "/dir", "", nil, 409, ""},
		{"PUT", "/../escape.txt", "x", nil, 400, ""},
	}
	for _, s := range steps {
		resp := do(s.method, s.path, s.body, s.hdr...)
		if resp.StatusCode != s.status {
			t.Errorf("%s %s: status %d, want %d", s.method, s.path, resp.StatusCode, s.status)
		}
		if s.file == "" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(s.path)))
		switch {
		case s.file == "-" && err == nil:
			t.Errorf("%s %s: file still there", s.method, s.path)
		case s.file != "-" && string(b) != s.file:
			t.Errorf("%s %s: file holds %q (%v), want %q", s.method, s.path, b, err, s.file)
		}
	}
	// No temporary file is ever left behind.
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if strings.HasPrefix(filepath.Base(p), ".put-") {
			t.Errorf("temporary file left: %s", p)
		}
		return nil
	})
}

func TestPutInterruptedLeavesOldFile(t *testing.T) {
	addr, dir := startFileServer(t, func(f *FileServer) { f.AllowWrite = true })
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "PUT /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\npartial")
	c.(*net.TCPConn).CloseWrite()
	io.ReadAll(c)
	c.Close()
	b, _ := os.ReadFile(filepath.Join(dir, "a.txt"))
	if string(b) != webtest.SiteFiles["a.txt"] {
		t.Errorf("after an interrupted PUT the file holds %q", b)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".put-") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
}

func TestBasicAuth(t *testing.T) {
	line, err := HashPassword("alice", "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	creds, err := ParseCredentials(strings.NewReader("# users\n"+line+"\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	var log testutil.Buffer
	dir := webtest.MakeSite(t)
	fsrv, _ := NewFileServer(dir)
	fsrv.AllowWrite, fsrv.Auth = true, creds
	addr := startServer(t, &Server{Handler: fsrv, AccessLog: &log})
	for _, tc := range []struct {
		user, pass string
		status     int
	}{
		{"", "", 401},
		{"alice", "wrong", 401},
		{"bob", "s3cret", 401},
		{"alice", "s3cret", 201},
	} {
		req, _ := http.NewRequest("PUT", "http://"+addr+"/up.txt", strings.NewReader("data"))
		if tc.user != "" {
			req.SetBasicAuth(tc.user, tc.pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s/%s: status %d, want %d", tc.user, tc.pass, resp.StatusCode, tc.status)
		}
		if tc.status == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic realm=") {
			t.Errorf("401 without a Basic challenge: %q", resp.Header.Get("WWW-Authenticate"))
		}
	}
	// GET needs no credentials.
	resp, err := http.Get("http://" + addr + "/up.txt")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET after PUT: %d", resp.StatusCode)
	}
	if !strings.Contains(log.String(), ` - alice [`) || !strings.Contains(log.String(), `"PUT /up.txt HTTP/1.1" 201 `) {
		t.Errorf("access log lacks the authenticated PUT:\n%s", log.String())
	}
}

func TestSymlinkOutOfRoot(t *testing.T) {
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o644)
	addr, dir := startFileServer(t, nil)
	if err := os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "abs-link")); err != nil {
		t.Fatal(err)
	}
	rel, _ := filepath.Rel(dir, filepath.Join(outside, "secret"))
	os.Symlink(rel, filepath.Join(dir, "rel-link"))
	os.Symlink("a.txt", filepath.Join(dir, "inside-link"))
	for _, tc := range []struct {
		path   string
		status int
	}{
		{"/abs-link", 403},
		{"/rel-link", 403},
		{"/inside-link", 200},
	} {
		resp, err := http.Get("http://" + addr + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || bytes.Contains(b, []byte("secret")) {
			t.Errorf("%s: status %d body %q, want %d", tc.path, resp.StatusCode, b, tc.status)
		}
	}
}

// TestResponseFraming checks how bodies of unknown length are framed: short
// ones get a computed Content-Length, long ones are chunked in 1.1 and
// delimited by the close in 1.0; HEAD, 204 and 304 carry no body.
func TestResponseFraming(t *testing.T) {
	long := strings.Repeat("x", 3*pendingMax)
	srv := &Server{Handler: HandlerFunc(func(w ResponseWriter, r *Request) {
		switch r.Path {
		case "/short":
			io.WriteString(w, "short")
		case "/long":
			for i := 0; i < 3; i++ {
				io.WriteString(w, long[:pendingMax])
			}
		case "/nocontent":
			w.WriteHeader(StatusNoContent)
			io.WriteString(w, "ignored")
		case "/declared":
			w.Header().Set("Content-Length", "3")
			io.WriteString(w, "abcdef")
		}
	})}
	addr := startServer(t, srv)
	tests := []struct {
		raw     string
		want    []string // substrings of the answer
		notWant []string
		closed  bool
	}{
		{"GET /short HTTP/1.1\r\nHost: x\r\n\r\n", []string{"Content-Length: 5\r\n", "\r\n\r\nshort"}, []string{"chunked"}, false},
		{"GET /long HTTP/1.1\r\nHost: x\r\n\r\n", []string{"Transfer-Encoding: chunked\r\n", "\r\n0\r\n\r\n"}, []string{"Content-Length"}, false},
		{"GET /long HTTP/1.0\r\n\r\n", []string{"Connection: close\r\n", long}, []string{"chunked", "Content-Length"}, true},
		{"HEAD /short HTTP/1.1\r\nHost: x\r\n\r\n", []string{"Content-Length: 5\r\n"}, []string{"short"}, false},
		{"GET /nocontent HTTP/1.1\r\nHost: x\r\n\r\n", []string{"204 No Content"}, []string{"ignored", "Content-Length"}, false},
		{"GET /declared HTTP/1.1\r\nHost: x\r\n\r\n", []string{"Content-Length: 3\r\n", "\r\n\r\nabc"}, []string{"abcdef"}, true},
	}
	for _, tc := range tests {
		c, _ := dialHTTP(t, addr, 5*time.Second)
		io.WriteString(c, tc.raw)
		// Read until the server closes or goes quiet.
		var got bytes.Buffer
		buf := make([]byte, 64<<10)
		closed := false
		end := time.Now().Add(5 * time.Second)
		complete := func() bool {
			for _, w := range tc.want {
				if !strings.Contains(got.String(), w) {
					return false
				}
			}
			return true
		}
		for time.Now().Before(end) {
			// Once everything expected is in, a quiet spell ends the read.
			c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			n, err := c.Read(buf)
			got.Write(buf[:n])
			if err == io.EOF {
				closed = true
				break
			}
			if err != nil && complete() {
				break
			}
		}
		c.Close()
		for _, w := range tc.want {
			if !strings.Contains(got.String(), w) {
				t.Errorf("%q: answer lacks %.40q:\n%.300s", tc.raw, w, got.String())
			}
		}
		for _, w := range tc.notWant {
			if strings.Contains(got.String(), w) {
				t.Errorf("%q: answer has %q:\n%.300s", tc.raw, w, got.String())
			}
		}
		if closed != tc.closed {
			t.Errorf("%q: closed = %v, want %v", tc.raw, closed, tc.closed)
		}
	}
}

// TestShortIdleTimeoutKeepsBusyConnection: requests spaced well inside a
// short idle timeout never find the connection closed, though together
// they last longer than it. The pauses are the case tested, not waits for
// an event.
func TestShortIdleTimeoutKeepsBusyConnection(t *testing.T) {
	fsrv, _ := NewFileServer(webtest.MakeSite(t))
	srv := &Server{Handler: fsrv, IdleTimeout: 2 * time.Second}
	addr := startServer(t, srv)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	const pause = 300 * time.Millisecond
	for i := range 10 {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d, %v after the previous one: %v", i+1, pause, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		time.Sleep(pause)
	}
}

// Uploads left half-written by a server that died are swept from their
// directory at the next PUT there; one still being written is not.
func TestPutSweepsStaleTemps(t *testing.T) {
	addr, dir := startFileServer(t, func(f *FileServer) { f.AllowWrite = true })
	stale := filepath.Join(dir, ".put-1-dead.tmp")
	fresh := filepath.Join(dir, ".put-2-live.tmp")
	os.WriteFile(stale, []byte("half"), 0o644)
	os.WriteFile(fresh, []byte("half"), 0o644)
	old := time.Now().Add(-time.Hour)
	os.Chtimes(stale, old, old)
	req, _ := http.NewRequest("PUT", "http://"+addr+"/new.txt", strings.NewReader("new"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != StatusCreated {
		t.Fatalf("PUT: %s", resp.Status)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale upload left: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("upload in progress removed: %v", err)
	}
}
