package web

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/applayer/applayer/internal/peertest"
)

// TestClientAgainstNetHTTP uses Go's server as the oracle for our client:
// fixed-length, chunked and close-delimited bodies, HEAD, 304, trailers.
func TestClientAgainstNetHTTP(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/fixed":
			w.Header().Set("Content-Length", "5")
			io.WriteString(w, "fixed")
		case "/chunked":
			w.Header().Set("Trailer", "X-Sum")
			for i := 0; i < 3; i++ {
				io.WriteString(w, strings.Repeat("c", 3000))
				w.(http.Flusher).Flush()
			}
			w.Header().Set("X-Sum", "9000")
		case "/notmod":
			w.WriteHeader(304)
		case "/echo":
			b, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, "%s %d %s %v", r.Method, len(b), b, r.TransferEncoding)
		}
	}))
	defer ts.Close()
	addr := strings.TrimPrefix(ts.URL, "http://")
	ctx := context.Background()
	c, err := Dial(ctx, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, tc := range []struct {
		method, path string
		body         io.Reader
		clen         int64
		status       int
		want         string
		trailer      string
	}{
		{"GET", "/fixed", nil, 0, 200, "fixed", ""},
		{"HEAD", "/fixed", nil, 0, 200, "", ""},
		{"GET", "/chunked", nil, 0, 200, strings.Repeat("c", 9000), "9000"},
		{"GET", "/notmod", nil, 0, 304, "", ""},
		{"POST", "/echo", strings.NewReader("hello"), 5, 200, "POST 5 hello []", ""},
		{"PUT", "/echo", strings.NewReader("streamed"), -1, 200, "PUT 8 streamed [chunked]", ""},
	} {
		resp, err := c.Do(ctx, &OutRequest{Method: tc.method, Target: tc.path, Host: addr, Body: tc.body, ContentLength: tc.clen})
		if err != nil {
			t.Fatalf("%s %s: %v", tc.method, tc.path, err)
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.Status != tc.status || string(b) != tc.want {
			t.Errorf("%s %s: %d %q %v; want %d %q", tc.method, tc.path, resp.Status, b, err, tc.status, tc.want)
		}
		if tc.trailer != "" && resp.Trailer.Get("X-Sum") != tc.trailer {
			t.Errorf("%s: trailer %v", tc.path, resp.Trailer)
		}
	}
	if c.Requests != 6 || !c.Reusable() {
		t.Errorf("after six exchanges: %d requests, reusable %v; want one connection for all", c.Requests, c.Reusable())
	}
	// HTTP/1.0: the server closes, the body ends with the connection.
	c10, _ := Dial(ctx, addr, nil)
	defer c10.Close()
	resp, err := c10.Do(ctx, &OutRequest{Target: "/chunked", Host: addr, HTTP10: true, Close: true})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if len(b) != 9000 || !resp.Close || c10.Reusable() {
		t.Errorf("HTTP/1.0: %d bytes, Close %v, reusable %v", len(b), resp.Close, c10.Reusable())
	}
}

// pageServer serves a page with n objects and counts connections.
func pageServer(t *testing.T, n int) (*httptest.Server, *atomic.Int64) {
	var conns atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		var b strings.Builder
		b.WriteString("<html><head><link rel=stylesheet href=/s.css></head><body>")
		for i := 1; i < n; i++ {
			fmt.Fprintf(&b, "<img src=\"/o/%d.png\">", i)
		}
		b.WriteString("<a href=/not-an-object>x</a></body></html>")
		io.WriteString(w, b.String())
	})
	mux.HandleFunc("/s.css", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "body{}") })
	mux.HandleFunc("/o/", func(w http.ResponseWriter, r *http.Request) { w.Write(bytes.Repeat([]byte("x"), 1000)) })
	ts := httptest.NewUnstartedServer(mux)
	ts.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	ts.Start()
	t.Cleanup(ts.Close)
	return ts, &conns
}

func TestFetcherModes(t *testing.T) {
	const n = 6 // stylesheet + 5 images
	for _, tc := range []struct {
		name     string
		f        *Fetcher
		maxConns int64
		minConns int64
	}{
		{"persistent", &Fetcher{}, 1, 1},
		{"non-persistent", &Fetcher{NonPersistent: true}, n + 1, n + 1},
		{"http1.0", &Fetcher{HTTP10: true}, n + 1, n + 1},
		{"persistent parallel 3", &Fetcher{Parallel: 3}, 3, 1},
		{"non-persistent parallel 3", &Fetcher{NonPersistent: true, Parallel: 3}, n + 1, n + 1},
	} {
		ts, conns := pageServer(t, n)
		f := tc.f
		rep, err := f.Page(context.Background(), ts.URL+"/", nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(rep.Objects) != n+1 {
			t.Errorf("%s: %d objects, want %d", tc.name, len(rep.Objects), n+1)
		}
		for _, o := range rep.Objects {
			if o.Err != nil || o.Status != 200 {
				t.Errorf("%s: %s: %d %v", tc.name, o.URL, o.Status, o.Err)
			}
		}
		if got := int64(rep.Conns); got != conns.Load() || got < tc.minConns || got > tc.maxConns {
			t.Errorf("%s: %d connections reported, %d seen by the server, want %d..%d", tc.name, got, conns.Load(), tc.minConns, tc.maxConns)
		}
		if rep.Bytes != int64(6+5*1000)+rep.Objects[0].Bytes {
			t.Errorf("%s: %d bytes", tc.name, rep.Bytes)
		}
		var out bytes.Buffer
		rep.WriteReport(&out)
		if !strings.Contains(out.String(), "<- this run") || !strings.Contains(out.String(), "connections opened:") {
			t.Errorf("%s: report:\n%s", tc.name, out.String())
		}
	}
}

func TestModel(t *testing.T) {
	const rtt = 10 * time.Millisecond
	for _, tc := range []struct {
		n, p       int
		persistent bool
		want       time.Duration
	}{
		{1, 1, false, 2 * rtt},
		{11, 1, false, 22 * rtt},        // 2 RTT per object
		{11, 1, true, 12 * rtt},         // 2 RTT, then 1 per object
		{11, 5, false, 2*rtt + 4*rtt},   // base, then two rounds of five
		{11, 5, true, 3*rtt + 2*rtt},    // base, extra handshakes, two rounds
		{11, 10, true, 3*rtt + 1*rtt},   // one round
		{11, 1, true, 12 * rtt},         //
		{0, 1, true, 0},                 //
		{3, 1, false, 6*rtt + 0*rtt},    //
		{3, 1, true, 4 * rtt},           //
		{14, 4, false, 2*rtt + 4*2*rtt}, // ceil(13/4) = 4 rounds
	} {
		if got := Model(tc.n, tc.p, tc.persistent, rtt, 0); got != tc.want {
			t.Errorf("Model(%d, %d, %v) = %v, want %v", tc.n, tc.p, tc.persistent, got, tc.want)
		}
	}
	if Model(2, 1, true, rtt, 5*time.Millisecond) != 3*rtt+5*time.Millisecond {
		t.Error("transmission time is not added")
	}
}

func TestObjectLinks(t *testing.T) {
	page := `<html><head><link rel="stylesheet" href="a.css"><link rel=canonical href=/c><link rel="icon shortcut" href="/i.png">
<script src="s.js"></script><script>var x = "<img src=no.png>";</script></head>
<body><img src="img/1.png#frag"><img src="img/1.png"><IMG SRC="//other.test/x.png"><img src="data:image/png;base64,AA">
<video poster="p.jpg"><source src="v.webm"></video><a href="page2.html">no</a><input type=image src=btn.png><input src=no2.png></body></html>`
	base, _ := url.Parse("http://h.test/dir/page.html")
	var got []string
	for _, u := range ObjectLinks(strings.NewReader(page), base) {
		got = append(got, u.String())
	}
	want := []string{"http://h.test/dir/a.css", "http://h.test/i.png", "http://h.test/dir/s.js", "http://h.test/dir/img/1.png", "http://other.test/x.png", "http://h.test/dir/p.jpg", "http://h.test/dir/v.webm", "http://h.test/dir/btn.png"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("ObjectLinks:\n got %v\nwant %v", got, want)
	}
}

func TestClientCacheRevalidates(t *testing.T) {
	addr, _ := startFileServer(t, nil)
	cache := &ClientCache{Dir: t.TempDir()}
	for i := 0; i < 3; i++ {
		f := &Fetcher{Cache: cache}
		var out bytes.Buffer
		obj, err := f.Get(context.Background(), "http://"+addr+"/big.bin", &out)
		if err != nil {
			t.Fatal(err)
		}
		if out.String() != siteFiles["big.bin"] {
			t.Fatalf("round %d: body differs (%d bytes)", i, out.Len())
		}
		if cached := i > 0; obj.Cached != cached {
			t.Errorf("round %d: Cached = %v, want %v", i, obj.Cached, cached)
		}
		if i > 0 && obj.Bytes != 0 {
			t.Errorf("round %d: %d bytes over the network after a 304", i, obj.Bytes)
		}
	}
}

func TestCookieJar(t *testing.T) {
	j := &CookieJar{}
	j.SetCookies("www.example.test", "/a/b", Header{
		{"Set-Cookie", "id=1; Path=/; HttpOnly; SameSite=Lax; Max-Age=3600"},
		{"Set-Cookie", "sub=2; Domain=.example.test; Path=/a"},
		{"Set-Cookie", "dir=3"},
		{"Set-Cookie", "gone=4; Max-Age=0"},
		{"Set-Cookie", "evil=5; Domain=other.test"},
		{"Set-Cookie", "sec=6; Secure"},
		{"Set-Cookie", "=nameless"},
		{"Set-Cookie", "tld=7; Domain=test"},
		{"Set-Cookie", "long=8; Max-Age=10000000000"},
	})
	for _, tc := range []struct{ host, path, want string }{
		{"www.example.test", "/", "id=1"},
		{"www.example.test", "/a/b/c", "id=1; sub=2; dir=3; long=8"},
		{"WWW.example.test", "/a", "id=1; sub=2; dir=3; long=8"},
		{"x.example.test", "/a/x", "sub=2"},
		{"example.test", "/ab", ""},
		{"other.test", "/", ""},
		{"elsewhere.test", "/", ""},
	} {
		if got := j.Header(tc.host, tc.path); got != tc.want {
			t.Errorf("Header(%s, %s) = %q, want %q", tc.host, tc.path, got, tc.want)
		}
	}
	path := filepath.Join(t.TempDir(), "cookies.txt")
	if err := j.Save(path); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), "#HttpOnly_www.example.test\tFALSE\t/\tFALSE\t") || !strings.Contains(string(b), ".example.test\tTRUE\t/a\tFALSE\t0\tsub\t2") {
		t.Errorf("saved jar:\n%s", b)
	}
	j2, err := LoadCookieJar(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := j2.Header("www.example.test", "/a/b/c"); got != "id=1; sub=2; dir=3; long=8" {
		t.Errorf("reloaded jar: %q", got)
	}
}

// TestCookieJarSharedWithCurl: curl writes the jar, our client reads and
// extends it, curl reads it again: one identity throughout.
func TestCookieJarSharedWithCurl(t *testing.T) {
	curl := peertest.Require(t, "curl", "curl")
	var n atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie("id")
		if err != nil {
			http.SetCookie(w, &http.Cookie{Name: "id", Value: fmt.Sprint(n.Add(1)), Path: "/", HttpOnly: true, MaxAge: 3600})
			io.WriteString(w, "new")
			return
		}
		io.WriteString(w, "known "+c.Value)
	}))
	defer ts.Close()
	jar := filepath.Join(t.TempDir(), "jar.txt")
	if out, err := exec.Command(curl, "-sS", "-c", jar, ts.URL+"/").CombinedOutput(); err != nil || string(out) != "new" {
		t.Fatalf("curl: %s %v", out, err)
	}
	j, err := LoadCookieJar(jar)
	if err != nil {
		t.Fatal(err)
	}
	f := &Fetcher{Jar: j}
	var out bytes.Buffer
	if _, err := f.Get(context.Background(), ts.URL+"/", &out); err != nil || out.String() != "known 1" {
		t.Fatalf("our client with curl's jar: %q %v", out.String(), err)
	}
	j.Save(jar)
	if out, err := exec.Command(curl, "-sS", "-b", jar, ts.URL+"/").CombinedOutput(); err != nil || string(out) != "known 1" {
		t.Fatalf("curl with our jar: %s %v", out, err)
	}
}

func FuzzReadResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX: y\r\n\r\n",
		"HTTP/1.0 200 OK\r\n\r\nuntil close",
		"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
		"HTTP/1.1 200\r\nContent-Length: 1, 1\r\n\r\nx",
	} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, raw string, head bool) {
		method := "GET"
		if head {
			method = "HEAD"
		}
		resp, err := ReadResponse(bufio.NewReaderSize(strings.NewReader(raw), 32), method)
		if err != nil {
			return
		}
		if resp.Status < 100 || resp.Status > 999 {
			t.Fatalf("status %d", resp.Status)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		if n > int64(len(raw)) {
			t.Fatalf("body of %d bytes from %d bytes of input", n, len(raw))
		}
		if head && n != 0 {
			t.Fatal("a HEAD response with a body")
		}
	})
}

// signalWriter closes seen at its first Write.
type signalWriter struct {
	buf  bytes.Buffer
	seen chan struct{}
}

func (w *signalWriter) Write(p []byte) (int, error) {
	if w.buf.Len() == 0 && len(p) > 0 {
		close(w.seen)
	}
	return w.buf.Write(p)
}

// TestGetStreams: a download reaches its destination while it arrives,
// rather than after it ended (a large file must never sit whole in memory),
// and the body of a redirect on the way is not part of it. The server
// sends half the body, then waits until the client has written some.
func TestGetStreams(t *testing.T) {
	dst := &signalWriter{seen: make(chan struct{})}
	half := strings.Repeat("a", 64<<10)
	streamed := make(chan bool, 1)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/old" {
			http.Redirect(w, r, "/file", http.StatusFound)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(2*len(half)))
		io.WriteString(w, half)
		w.(http.Flusher).Flush()
		select {
		case <-dst.seen:
			streamed <- true
		case <-time.After(5 * time.Second):
			streamed <- false
		}
		io.WriteString(w, half)
	}))
	defer ts.Close()
	obj, err := (&Fetcher{}).Get(context.Background(), ts.URL+"/old", dst)
	if err != nil || obj.Status != 200 {
		t.Fatalf("Get: %d %v", obj.Status, err)
	}
	if !<-streamed {
		t.Error("nothing reached the destination before the whole body had arrived")
	}
	if dst.buf.String() != half+half {
		t.Errorf("got %d bytes (%.40q...), want the file's %d", dst.buf.Len(), dst.buf.String(), 2*len(half))
	}
}

// TestReadResponseFaultyFraming: responses whose framing RFC 9112 calls
// faulty are refused rather than guessed at.
func TestReadResponseFaultyFraming(t *testing.T) {
	for _, tc := range []struct{ name, raw string }{
		// §6.1: Transfer-Encoding in an HTTP/1.0 message is faulty framing.
		{"TE in 1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
		{"differing lengths", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"},
		{"chunked twice", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n"},
		{"bare LF", "HTTP/1.1 200 OK\nContent-Length: 0\n\n"},
	} {
		if resp, err := ReadResponse(bufio.NewReader(strings.NewReader(tc.raw)), "GET"); err == nil {
			t.Errorf("%s: accepted (status %d, length %d)", tc.name, resp.Status, resp.ContentLength)
		}
	}
}
