package web

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/applayer/applayer/internal/testutil"
	"github.com/applayer/applayer/internal/transcript"
	"github.com/applayer/applayer/web/internal/webtest"
)

func TestNetHTTPClientAgainstServer(t *testing.T) {
	addr, _ := startFileServer(t, nil)
	cl := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	tests := []struct {
		method, path string
		header       map[string]string
		status       int
		body         string
		want         map[string]string
	}{
		{"GET", "/", nil, 200, webtest.SiteFiles["index.html"], map[string]string{"Content-Type": "text/html; charset=utf-8", "Server": "applayer", "Accept-Ranges": "bytes"}},
		{"GET", "/a.txt", nil, 200, webtest.SiteFiles["a.txt"], map[string]string{"Content-Length": "26"}},
		{"HEAD", "/a.txt", nil, 200, "", map[string]string{"Content-Length": "26"}},
		{"GET", "/a.txt", map[string]string{"Range": "bytes=2-4"}, 206, "cde", map[string]string{"Content-Range": "bytes 2-4/26"}},
		{"GET", "/a.txt", map[string]string{"Range": "bytes=-3"}, 206, "xyz", nil},
		{"GET", "/a.txt", map[string]string{"Range": "bytes=24-"}, 206, "yz", nil},
		{"GET", "/a.txt", map[string]string{"Range": "bytes=30-"}, 416, "", map[string]string{"Content-Range": "bytes */26"}},
		{"GET", "/a.txt", map[string]string{"Range": "bytes=0-1,5-6"}, 200, webtest.SiteFiles["a.txt"], nil},
		{"GET", "/dir", nil, 301, "", map[string]string{"Location": "/dir/"}},
		{"GET", "/dir/", nil, 200, webtest.SiteFiles["dir/index.html"], nil},
		{"GET", "/empty/", nil, 403, "", nil},
		{"GET", "/nope", nil, 404, "", nil},
		{"POST", "/a.txt", nil, 405, "", map[string]string{"Allow": "GET, HEAD, OPTIONS"}},
		{"PUT", "/a.txt", nil, 405, "", map[string]string{"Allow": "GET, HEAD, OPTIONS"}},
		{"BREW", "/a.txt", nil, 501, "", nil},
		{"OPTIONS", "/a.txt", nil, 204, "", map[string]string{"Allow": "GET, HEAD, OPTIONS"}},
		{"GET", "/big.bin", nil, 200, webtest.SiteFiles["big.bin"], nil},
		{"GET", "/big.bin", map[string]string{"Range": "bytes=65536-65551"}, 206, "0123456789abcdef", nil},
		{"GET", "/%61.txt", nil, 200, webtest.SiteFiles["a.txt"], nil},
		{"GET", "/.hidden", nil, 404, "", nil},
		{"GET", "/a.txt/", nil, 404, "", nil},
		{"GET", "/dir/.git/config", nil, 404, "", nil},
		{"GET", "/.well-known/x", nil, 404, "", nil},
	}
	for _, tc := range tests {
		req, _ := http.NewRequest(tc.method, "http://"+addr+tc.path, nil)
		for k, v := range tc.header {
			req.Header.Set(k, v)
		}
		resp, err := cl.Do(req)
		if err != nil {
			t.Errorf("%s %s: %v", tc.method, tc.path, err)
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s %v: status = %d, want %d", tc.method, tc.path, tc.header, resp.StatusCode, tc.status)
		}
		if (tc.status == 200 || tc.status == 206) && string(b) != tc.body {
			t.Errorf("%s %s %v: body = %.40q (%d bytes), want %.40q", tc.method, tc.path, tc.header, b, len(b), tc.body)
		}
		for k, v := range tc.want {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("%s %s: %s = %q, want %q", tc.method, tc.path, k, got, v)
			}
		}
		for _, k := range []string{"Date", "Server"} {
			if resp.Header.Get(k) == "" {
				t.Errorf("%s %s: no %s field", tc.method, tc.path, k)
			}
		}
	}
}

func TestConditionalGET(t *testing.T) {
	addr, _ := startFileServer(t, nil)
	resp, err := http.Get("http://" + addr + "/a.txt")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	etag, lm := resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
	if etag == "" || lm == "" {
		t.Fatalf("ETag %q, Last-Modified %q: want both", etag, lm)
	}
	for _, tc := range []struct {
		name, value string
		status      int
	}{
		{"If-None-Match", etag, 304},
		{"If-None-Match", "W/" + etag, 304},
		{"If-None-Match", `"other", ` + etag, 304},
		{"If-None-Match", `"other"`, 200},
		{"If-None-Match", "*", 304},
		{"If-Modified-Since", lm, 304},
		{"If-Modified-Since", "Sat, 01 Jan 2000 00:00:00 GMT", 200},
		{"If-Modified-Since", "garbage", 200},
		{"If-Match", `"other"`, 412},
		{"If-Match", etag, 200},
	} {
		req, _ := http.NewRequest("GET", "http://"+addr+"/a.txt", nil)
		req.Header.Set(tc.name, tc.value)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: %s: status %d, want %d", tc.name, tc.value, resp.StatusCode, tc.status)
		}
		if tc.status == 304 && len(b) != 0 {
			t.Errorf("%s: 304 with a body of %d bytes", tc.name, len(b))
		}
	}
}

func TestMalformedRequests(t *testing.T) {
	addr, _ := startFileServer(t, nil)
	long := strings.Repeat("a", DefaultMaxTarget+10)
	tests := []struct {
		name, raw, status string
	}{
		{"ok", "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n", "200"},
		{"1.0 without host", "GET /a.txt HTTP/1.0\r\n\r\n", "200"},
		{"1.1 without host", "GET /a.txt HTTP/1.1\r\n\r\n", "400"},
		{"two hosts", "GET /a.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "400"},
		{"bad host", "GET /a.txt HTTP/1.1\r\nHost: a b/c\r\n\r\n", "400"},
		{"http/3.0", "GET / HTTP/3.0\r\nHost: x\r\n\r\n", "505"},
		{"http/2.0", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", "505"},
		{"http/0.9", "GET / HTTP/0.9\r\nHost: x\r\n\r\n", "505"},
		{"bad version", "GET / HTTP/1.1x\r\nHost: x\r\n\r\n", "400"},
		{"lowercase version", "GET / http/1.1\r\nHost: x\r\n\r\n", "400"},
		{"garbage", "GARBAGE\r\n\r\n", "400"},
		{"double space", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", "400"},
		{"bare LF", "GET / HTTP/1.1\nHost: x\n\n", "400"},
		{"bare CR", "GET / HTTP/1.1\r\nHost: x\rY: z\r\n\r\n", "400"},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", "400"},
		{"space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", "400"},
		{"no colon", "GET / HTTP/1.1\r\nHost: x\r\nnocolon\r\n\r\n", "400"},
		{"NUL in value", "GET / HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n", "400"},
		{"CL and TE", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "400"},
		{"two CLs", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", "400"},
		{"same CL twice", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", "400"},
		{"CL list", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\nabc", "400"},
		{"CL sign", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc", "400"},
		{"CL huge", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n", "400"},
		{"TE in 1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "400"},
		{"TE gzip", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", "501"},
		{"TE chunked twice", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", "400"},
		{"TE chunked not last", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", "501"},
		{"body too large", "PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999999\r\n\r\n", "413"},
		{"target too long", "GET /" + long + " HTTP/1.1\r\nHost: x\r\n\r\n", "414"},
		{"header too large", "GET / HTTP/1.1\r\nHost: x\r\nX: " + strings.Repeat("b", DefaultMaxHeaderBytes) + "\r\n\r\n", "431"},
		{"bad escape", "GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n", "400"},
		{"encoded NUL", "GET /a%00 HTTP/1.1\r\nHost: x\r\n\r\n", "400"},
		{"fragment", "GET /a#b HTTP/1.1\r\nHost: x\r\n\r\n", "400"},
		{"relative target", "GET a.txt HTTP/1.1\r\nHost: x\r\n\r\n", "400"},
		{"absolute form", "GET http://example.test/a.txt HTTP/1.1\r\nHost: x\r\n\r\n", "200"},
		{"asterisk GET", "GET * HTTP/1.1\r\nHost: x\r\n\r\n", "400"},
		{"bad expect", "PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nExpect: teapot\r\n\r\nx", "417"},
		{"leading empty line", "\r\nGET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n", "200"},
		{"dot-dot", "GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", "400"},
		{"encoded dot-dot", "GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", "400"},
		{"mixed dot-dot", "GET /dir/.%2E/.%2e/x HTTP/1.1\r\nHost: x\r\n\r\n", "400"},
		{"backslash", "GET /..\\..\\etc HTTP/1.1\r\nHost: x\r\n\r\n", "400"},
		// Dot segments that stay inside the root are resolved (RFC 3986
		// §5.2.4), as nginx does; only a climb above the root is refused.
		{"dot-dot inside the root", "GET /dir/../a.txt HTTP/1.1\r\nHost: x\r\n\r\n", "200"},
		{"sub/..", "GET /dir/.. HTTP/1.1\r\nHost: x\r\n\r\n", "200"},
		{"encoded dot-dot inside", "GET /dir/%2e%2e/a.txt HTTP/1.1\r\nHost: x\r\n\r\n", "200"},
		{"dot", "GET /./dir/./index.html HTTP/1.1\r\nHost: x\r\n\r\n", "200"},
		{"climb after descent", "GET /dir/../../a.txt HTTP/1.1\r\nHost: x\r\n\r\n", "400"},
		{"into hidden", "GET /dir/../.hidden HTTP/1.1\r\nHost: x\r\n\r\n", "404"},
		{"OPTIONS *", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", "204"},
		{"chunk size bad", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "405"},
	}
	for _, tc := range tests {
		got := rawExchange(t, addr, tc.raw)
		if s := statusOf(got); s != tc.status {
			t.Errorf("%s: status = %s, want %s\n%.200s", tc.name, s, tc.status, got)
		}
	}
}

func TestShutdownLetsRequestFinish(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	srv := &Server{Handler: HandlerFunc(func(w ResponseWriter, r *Request) {
		close(started)
		<-release // until Shutdown has begun
		io.WriteString(w, "finished")
	})}
	addr := startServer(t, srv)
	done := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/")
		if err != nil {
			done <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- string(b)
	}()
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Patience)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(ctx) }()
	testutil.WaitFor(t, "Shutdown closes the listener", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	close(release)
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
	if got := <-done; got != "finished" {
		t.Errorf("request in flight during Shutdown got %q", got)
	}
}

func TestHandlerPanicGets500(t *testing.T) {
	srv := &Server{Handler: HandlerFunc(func(w ResponseWriter, r *Request) {
		if r.Path == "/boom" {
			panic("boom")
		}
		io.WriteString(w, "fine")
	})}
	addr := startServer(t, srv)
	got := rawExchange(t, addr, "GET /boom HTTP/1.1\r\nHost: x\r\n\r\nGET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
	if statusOf(got) != "500" || countResponses(got) != 1 {
		t.Errorf("after a panic: %q; want one 500 and the connection closed", got)
	}
	resp, err := http.Get("http://" + addr + "/ok")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("the server after a panic: %d", resp.StatusCode)
	}
}

func TestTranscript(t *testing.T) {
	var buf testutil.Buffer
	rec := transcript.New(transcript.NewTextSink(&buf))
	fsrv, _ := NewFileServer(webtest.MakeSite(t))
	addr := startServer(t, &Server{Handler: fsrv, Trace: rec})
	req, _ := http.NewRequest("GET", "http://"+addr+"/a.txt", nil)
	req.SetBasicAuth("alice", "s3cret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	testutil.WaitFor(t, "the response head in the transcript", func() bool { return strings.Contains(buf.String(), "S: Content-Length: 26") })
	out := buf.String()
	for _, want := range []string{"C: GET /a.txt HTTP/1.1", "C: Host: " + addr, "S: HTTP/1.1 200 OK", "S: Content-Length: 26", "Authorization: Basic <redacted>"} {
		if !strings.Contains(out, want) {
			t.Errorf("transcript lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "s3cret") || strings.Contains(out, "YWxpY2U6czNjcmV0") {
		t.Errorf("transcript shows the credentials:\n%s", out)
	}
}

func TestAccessLogEscapes(t *testing.T) {
	var log testutil.Buffer
	fsrv, _ := NewFileServer(webtest.MakeSite(t))
	addr := startServer(t, &Server{Handler: fsrv, AccessLog: &log})
	rawExchange(t, addr, "GET /a.txt HTTP/1.1\r\nHost: x\r\nUser-Agent: evil\" 200 1 \"-\" \"x\xff\r\nReferer: \\\r\nConnection: close\r\n\r\n")
	rawExchange(t, addr, "BAD\r\n\r\n")
	lines := strings.Split(strings.TrimSpace(log.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d log lines, want 2:\n%s", len(lines), log.String())
	}
	want0 := `"GET /a.txt HTTP/1.1" 200 26 "\\" "evil\" 200 1 \"-\" \"x\xff"`
	if !strings.HasPrefix(lines[0], "127.0.0.1 - - [") || !strings.HasSuffix(lines[0], want0) {
		t.Errorf("log line:\n%s\nwant it to end in\n%s", lines[0], want0)
	}
	if !strings.Contains(lines[1], `"-" 400 `) {
		t.Errorf("log line for an unparsable request: %s", lines[1])
	}
}

// TestDirectoryRedirectStaysOnHost: the 301 for a directory named without
// its slash must not become an open redirect when the path starts with
// several slashes ("//evil.example" would send browsers to that host).
func TestDirectoryRedirectStaysOnHost(t *testing.T) {
	addr, _ := startFileServer(t, nil)
	for _, tc := range []struct{ target, location string }{
		{"/dir", "/dir/"},
		{"/dir?q=1", "/dir/?q=1"},
		{"//dir", "/dir/"},
		{"///dir?q", "/dir/?q"},
	} {
		got := rawExchange(t, addr, "GET "+tc.target+" HTTP/1.1\r\nHost: x\r\n\r\n")
		if s := statusOf(got); s != "301" || !strings.Contains(got, "\r\nLocation: "+tc.location+"\r\n") {
			t.Errorf("GET %s: want 301 to %s, got\n%.300s", tc.target, tc.location, got)
		}
	}
}

// panicOnce panics on its first Write and then works.
type panicOnce struct{ done bool }

func (p *panicOnce) Write(b []byte) (int, error) {
	if !p.done {
		p.done = true
		panic("access log writer failed")
	}
	return len(b), nil
}

// A panicking access-log writer ends its connection, not the server: the
// log's lock is released.
func TestAccessLogPanicReleasesLock(t *testing.T) {
	addr := startServer(t, &Server{Handler: HandlerFunc(NotFound), AccessLog: &panicOnce{}})
	for i := range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		b, err := io.ReadAll(c)
		c.Close()
		if i == 1 && (err != nil || statusOf(string(b)) != "404") {
			t.Fatalf("request after a panicking log write: %q, %v", b, err)
		}
	}
}
