package http2

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/applayer/applayer/web/internal/webtest"
	xhttp2 "golang.org/x/net/http2"
)

// h2cClient is Go's HTTP/2 client (x/net/http2) speaking h2c by prior
// knowledge: the oracle for these tests.
func h2cClient() *http.Client {
	return &http.Client{Transport: &xhttp2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}}
}

func tlsClient(ts *testServer) *http.Client {
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: ts.pool},
		ForceAttemptHTTP2: true,
	}}
}

func fetch(t *testing.T, c *http.Client, method, url string, body io.Reader) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxT(t), method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, url, err)
	}
	return resp, b
}

func TestGoClient(t *testing.T) {
	ts := startServer(t, testSite(t), nil)
	for _, tc := range []struct {
		name   string
		client *http.Client
		base   string
	}{
		{"h2c", h2cClient(), "http://" + ts.addr},
		{"h2 over TLS", tlsClient(ts), "https://" + ts.tlsAddr},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/index.html", "/a.txt", "/big.bin", "/dir/"} {
				resp, b := fetch(t, tc.client, "GET", tc.base+path, nil)
				name := strings.TrimPrefix(path, "/")
				if path == "/dir/" {
					name = "dir/index.html"
				}
				if resp.StatusCode != 200 || resp.ProtoMajor != 2 || string(b) != webtest.SiteFiles[name] {
					t.Errorf("GET %s: %s %s, %d bytes; want 200 over HTTP/2 with %d bytes", path, resp.Proto, resp.Status, len(b), len(webtest.SiteFiles[name]))
				}
				if resp.Header.Get("Etag") == "" || resp.Header.Get("Last-Modified") == "" || resp.Header.Get("Date") == "" || resp.Header.Get("Server") != "applayer" {
					t.Errorf("GET %s: header %v lacks ETag, Last-Modified, Date or Server", path, resp.Header)
				}
				if resp.ContentLength != int64(len(b)) {
					t.Errorf("GET %s: content-length %d, body %d", path, resp.ContentLength, len(b))
				}
			}
			resp, b := fetch(t, tc.client, "HEAD", tc.base+"/a.txt", nil)
			if resp.StatusCode != 200 || len(b) != 0 || resp.ContentLength != 26 {
				t.Errorf("HEAD: %s, %d bytes, length %d", resp.Status, len(b), resp.ContentLength)
			}
			resp, _ = fetch(t, tc.client, "GET", tc.base+"/missing", nil)
			if resp.StatusCode != 404 {
				t.Errorf("GET /missing: %s", resp.Status)
			}
			req, _ := http.NewRequestWithContext(ctxT(t), "GET", tc.base+"/a.txt", nil)
			req.Header.Set("If-None-Match", resp.Header.Get("Etag"))
			resp, b = fetch(t, tc.client, "GET", tc.base+"/a.txt", nil)
			req.Header.Set("If-None-Match", resp.Header.Get("Etag"))
			resp2, err := tc.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp2.Body.Close()
			if resp2.StatusCode != 304 {
				t.Errorf("If-None-Match: %s, want 304", resp2.Status)
			}
			// A body larger than every window: flow control both ways.
			big := bytes.Repeat([]byte("0123456789"), 300_000)
			resp, b = fetch(t, tc.client, "POST", tc.base+"/echo", bytes.NewReader(big))
			if resp.StatusCode != 200 || !bytes.Equal(b, big) || resp.Header.Get("X-Proto") != "HTTP/2.0" {
				t.Errorf("POST 3 MB echo: %s, %d bytes back, proto %q", resp.Status, len(b), resp.Header.Get("X-Proto"))
			}
			resp, b = fetch(t, tc.client, "GET", tc.base+"/stream/1000000", nil)
			if resp.StatusCode != 200 || len(b) != 1000000 {
				t.Errorf("GET /stream/1000000: %s, %d bytes", resp.Status, len(b))
			}
			resp, _ = fetch(t, tc.client, "GET", tc.base+"/panic", nil)
			if resp.StatusCode != 500 {
				t.Errorf("a panicking handler: %s, want 500", resp.Status)
			}
		})
	}
}

// TestConcurrentStreams sends many requests at once over one connection.
func TestConcurrentStreams(t *testing.T) {
	ts := startServer(t, testSite(t), nil)
	c := h2cClient()
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			path := []string{"/big.bin", "/a.txt", "/index.html", "/stream/200000"}[i%4]
			req, _ := http.NewRequestWithContext(ctxT(t), "GET", "http://"+ts.addr+path, nil)
			resp, err := c.Do(req)
			if err != nil {
				errs <- err.Error()
				return
			}
			n, err := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			want := int64(len(webtest.SiteFiles[strings.TrimPrefix(path, "/")]))
			if path == "/stream/200000" {
				want = 200000
			}
			if err != nil || n != want {
				errs <- path + ": short body"
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if n := ts.web.Conns(); n != 1 {
		t.Errorf("%d connections open, want the one the client shares", n)
	}
}

func TestCookiesJoined(t *testing.T) {
	ts := startServer(t, testSite(t), nil)
	req, _ := http.NewRequestWithContext(ctxT(t), "GET", "http://"+ts.addr+"/echo", nil)
	req.Header.Add("Cookie", "a=1")
	req.Header.Add("Cookie", "b=2")
	resp, err := h2cClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Cookie"); got != "a=1; b=2" {
		t.Errorf("cookie seen by the handler: %q, want the crumbs joined", got)
	}
}

func TestClientConn(t *testing.T) {
	ts := startServer(t, testSite(t), nil)
	for _, tc := range []struct {
		name string
		addr string
		opt  Options
	}{
		{"h2c", ts.addr, Options{}},
		{"TLS", ts.tlsAddr, Options{TLS: &tls.Config{RootCAs: ts.pool, ServerName: "127.0.0.1"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cc, err := Dial(ctxT(t), tc.addr, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			defer cc.Close()
			paths := []string{"/big.bin", "/a.txt", "/missing", "/stream/100000"}
			fs, err := cc.Get(ctxT(t), "http", "x", paths, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			want := []struct {
				status int
				n      int
			}{{200, len(webtest.SiteFiles["big.bin"])}, {200, 26}, {404, -1}, {200, 100000}}
			for i, f := range fs {
				if f.Err != nil || f.Status != want[i].status || want[i].n >= 0 && len(f.Body) != want[i].n {
					t.Errorf("%s: %d, %d bytes, %v; want %d, %d bytes", f.Path, f.Status, len(f.Body), f.Err, want[i].status, want[i].n)
				}
			}
			if string(fs[1].Body) != webtest.SiteFiles["a.txt"] {
				t.Errorf("a.txt: %q", fs[1].Body)
			}
			var b strings.Builder
			Timeline(&b, fs, 40)
			if lines := strings.Split(strings.TrimSpace(b.String()), "\n"); len(lines) != 5 || !strings.Contains(lines[1], "#") || !strings.HasSuffix(lines[1], "/big.bin") {
				t.Errorf("timeline:\n%s", b.String())
			}
			// The connection carries a second round.
			fs, err = cc.Get(ctxT(t), "http", "x", []string{"/a.txt"}, 100)
			if err != nil || fs[0].Status != 200 || fs[0].Stream != 9 {
				t.Errorf("second round: %+v %v", fs[0], err)
			}
		})
	}
}

// TestPriorityOrder: with every response queued behind a closed window,
// opening it sends them in RFC 9218 urgency order, then a
// PRIORITY_UPDATE reorders what is still queued.
func TestPriorityOrder(t *testing.T) {
	ts := startServer(t, testSite(t), nil)
	c := dialRaw(t, ts.addr, Setting{SettingInitialWindowSize, 0})
	var b []byte
	for i, u := range []string{"u=7", "u=0", "u=3", "u=5"} {
		b = AppendHeaderBlock(b, uint32(2*i+1), 0, c.block(":method", "GET", ":scheme", "http", ":authority", "x", ":path", "/a.txt", "priority", u), true, MinMaxFrameSize)
	}
	// Stream 7 (u=5) goes to the front.
	b = AppendFrame(b, FramePriorityUpdate, 0, 0, []byte{0, 0, 0, 7, 'u', '=', '0', ',', ' ', 'i'})
	c.send(b)
	heads := map[uint32]bool{}
	for len(heads) < 4 {
		f := c.until("four response heads", func(f Frame) bool { return f.Type == FrameHeaders })
		c.status(f)
		heads[f.StreamID] = true
	}
	// Every body is queued; open the windows.
	c.send(AppendSettings(nil, Setting{SettingInitialWindowSize, 1 << 20}))
	var order []uint32
	for len(order) < 4 {
		f := c.until("DATA", func(f Frame) bool { return f.Type == FrameData })
		order = append(order, f.StreamID)
	}
	// u=0 incremental (7, updated) and u=0 (3) share the top urgency; the
	// non-incremental one goes first (RFC 9218 §4: incremental ones share
	// what is left), then u=3 (5), then u=7 (1).
	if want := []uint32{3, 7, 5, 1}; !slices.Equal(order, want) {
		t.Errorf("DATA order %v, want %v", order, want)
	}
}
