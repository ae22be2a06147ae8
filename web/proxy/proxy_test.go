package proxy

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/applayer/applayer/internal/peertest"
	"github.com/applayer/applayer/internal/testutil"
	"github.com/applayer/applayer/web"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// origin is a test origin server that counts the requests per path.
type origin struct {
	addr    string
	mu      sync.Mutex
	count   map[string]int
	release chan struct{} // /slow waits for it
	etag    atomic.Value
}

func (o *origin) n(path string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.count[path]
}

func (o *origin) ServeHTTP(w web.ResponseWriter, r *web.Request) {
	o.mu.Lock()
	o.count[r.Path]++
	o.mu.Unlock()
	h := w.Header()
	etag := o.etag.Load().(string)
	switch r.Path {
	case "/fresh":
		h.Set("Cache-Control", "max-age=3600")
	case "/validate":
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", etag)
		if r.Header.Get("If-None-Match") == etag {
			h.Set("X-Validated", "yes")
			w.WriteHeader(web.StatusNotModified)
			return
		}
	case "/slow":
		<-o.release
		h.Set("Cache-Control", "max-age=3600")
	case "/private":
		h.Set("Cache-Control", "private, max-age=3600")
	case "/vary":
		h.Set("Cache-Control", "max-age=3600")
		h.Set("Vary", "Accept-Language")
		io.WriteString(w, "lang="+r.Header.Get("Accept-Language"))
		return
	case "/form":
		if r.Method == "POST" {
			b, _ := io.ReadAll(r.Body)
			h.Set("Location", "/fresh")
			w.WriteHeader(web.StatusSeeOther)
			io.WriteString(w, "posted "+string(b))
			return
		}
	case "/swr":
		h.Set("Cache-Control", "max-age=60, stale-while-revalidate=3600")
		h.Set("Age", "100") // stale at once, within the window
	case "/sie":
		if o.count[r.Path] > 1 {
			w.WriteHeader(500)
			io.WriteString(w, "origin down")
			return
		}
		h.Set("Cache-Control", "max-age=60, stale-if-error=3600")
		h.Set("Age", "100")
	case "/big":
		h.Set("Cache-Control", "max-age=3600")
		w.Write([]byte(strings.Repeat("x", 64<<10)))
		return
	}
	io.WriteString(w, "body of "+r.Path+" #"+strconv.Itoa(o.count[r.Path]))
}

func serve(t *testing.T, h web.Handler) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &web.Server{Handler: h, Logger: quiet}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

func newOrigin(t *testing.T) *origin {
	o := &origin{count: map[string]int{}, release: make(chan struct{})}
	o.etag.Store(`"v1"`)
	o.addr = serve(t, o)
	return o
}

func startProxy(t *testing.T, p *Server) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.HTTP.Logger = quiet
	go p.Serve(l)
	t.Cleanup(func() { p.Close() })
	return l.Addr().String()
}

// get sends one request through the proxy at addr.
func get(t *testing.T, addr, method, url string, hdr ...string) (*web.Response, string) {
	t.Helper()
	c, err := web.Dial(context.Background(), addr, web.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	host, _, _ := strings.Cut(strings.TrimPrefix(url, "http://"), "/")
	req := &web.OutRequest{Method: method, Target: url, Host: host}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// The textbook's exchange, counted at the origin: a miss reaches it, a hit
// does not, a stale copy is revalidated with a conditional GET that
// costs a 304 and no body.
func TestHitMissRevalidate(t *testing.T) {
	o := newOrigin(t)
	px := &Server{}
	addr := startProxy(t, px)
	url := "http://" + o.addr
	steps := []struct {
		path, xcache string
		origin       int
		hdr          []string
		status       int
	}{
		{"/fresh", "MISS", 1, nil, 200},
		{"/fresh", "HIT", 1, nil, 200},
		{"/fresh", "HIT", 1, []string{"If-None-Match", "*"}, 304},         // RFC 9111 §4.3.2: answered by the cache
		{"/fresh", "MISS", 2, []string{"Cache-Control", "no-cache"}, 200}, // §5.2.1.4; no validator: a full GET
		{"/validate", "MISS", 1, nil, 200},
		{"/validate", "REVALIDATED", 2, nil, 200}, // no-cache: 304 from the origin, body from the cache
		{"/validate", "REVALIDATED", 3, []string{"If-None-Match", `"v1"`}, 304},
		{"/private", "MISS", 1, nil, 200},
		{"/private", "MISS", 2, nil, 200}, // §5.2.2.7: not stored by a shared cache
	}
	for i, s := range steps {
		resp, body := get(t, addr, "GET", url+s.path, s.hdr...)
		if got := resp.Header.Get("X-Cache"); got != s.xcache || resp.Status != s.status {
			t.Errorf("step %d %s: %d X-Cache %q, want %d %q", i, s.path, resp.Status, got, s.status, s.xcache)
		}
		if n := o.n(s.path); n != s.origin {
			t.Errorf("step %d %s: origin saw %d requests, want %d", i, s.path, n, s.origin)
		}
		if s.status == 200 && !strings.HasPrefix(body, "body of "+s.path) {
			t.Errorf("step %d: body %q", i, body)
		}
		if !strings.Contains(resp.Header.Get("Via"), "1.1 applayer") {
			t.Errorf("step %d: Via %q", i, resp.Header.Get("Via"))
		}
	}
	// The 304's fields were merged into the stored response (§3.2).
	resp, _ := get(t, addr, "GET", url+"/validate")
	if resp.Header.Get("X-Validated") != "yes" {
		t.Errorf("304 fields not merged: %v", resp.Header)
	}
	// A changed ETag: the conditional request gets 200 and the new body.
	o.etag.Store(`"v2"`)
	resp, body := get(t, addr, "GET", url+"/validate")
	if resp.Header.Get("ETag") != `"v2"` || resp.Header.Get("X-Cache") != "MISS" || !strings.Contains(body, "#5") {
		t.Errorf("after the change: %v %q", resp.Header, body)
	}
	st := px.Stats()
	if st.Hits != 2 || st.Revalidated != 3 {
		t.Errorf("stats %+v", st)
	}
}

func TestVaryAndHead(t *testing.T) {
	o := newOrigin(t)
	addr := startProxy(t, &Server{})
	url := "http://" + o.addr + "/vary"
	for i, s := range []struct {
		lang, want, xcache string
	}{{"en", "lang=en", "MISS"}, {"fr", "lang=fr", "MISS"}, {"EN", "lang=en", "MISS"}, {"en", "lang=en", "HIT"}, {"fr", "lang=fr", "HIT"}} {
		// Accept-Language is compared case-insensitively: "EN" matches "en"
		// only after the normal form; here it is a third variant's first
		// request, stored under the same secondary key as "en".
		resp, body := get(t, addr, "GET", url, "Accept-Language", s.lang)
		if i == 2 {
			s.xcache = "HIT"
		}
		if body != s.want && !(i == 2 && body == "lang=en") || resp.Header.Get("X-Cache") != s.xcache {
			t.Errorf("%d %s: %q %s, want %q %s", i, s.lang, body, resp.Header.Get("X-Cache"), s.want, s.xcache)
		}
	}
	if n := o.n("/vary"); n != 2 {
		t.Errorf("origin saw %d, want 2", n)
	}
	resp, body := get(t, addr, "HEAD", url, "Accept-Language", "en")
	if resp.Header.Get("X-Cache") != "HIT" || body != "" || resp.Header.Get("Content-Length") != "7" {
		t.Errorf("HEAD: %v %q", resp.Header, body)
	}
}

// RFC 9111 §4.4: a POST that succeeds invalidates its target and the
// Location it names.
func TestInvalidation(t *testing.T) {
	o := newOrigin(t)
	addr := startProxy(t, &Server{})
	url := "http://" + o.addr
	get(t, addr, "GET", url+"/fresh")
	if resp, _ := get(t, addr, "GET", url+"/fresh"); resp.Header.Get("X-Cache") != "HIT" {
		t.Fatal("not stored")
	}
	c, _ := web.Dial(context.Background(), addr, web.Options{})
	defer c.Close()
	resp, err := c.Do(context.Background(), &web.OutRequest{Method: "POST", Target: url + "/form", Host: o.addr, Body: strings.NewReader("a=1"), ContentLength: 3})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.Status != 303 || string(b) != "posted a=1" {
		t.Fatalf("POST: %d %q", resp.Status, b)
	}
	if resp, _ := get(t, addr, "GET", url+"/fresh"); resp.Header.Get("X-Cache") != "MISS" || o.n("/fresh") != 2 {
		t.Errorf("after POST with Location: /fresh: %s, origin %d", resp.Header.Get("X-Cache"), o.n("/fresh"))
	}
	// PURGE from loopback.
	if resp, _ := get(t, addr, "PURGE", url+"/fresh"); resp.Status != 200 {
		t.Errorf("PURGE: %d", resp.Status)
	}
	if resp, _ := get(t, addr, "PURGE", url+"/fresh"); resp.Status != 404 {
		t.Errorf("second PURGE: %d", resp.Status)
	}
}

// 100 concurrent requests for one cold object reach the origin once.
func TestCollapsedForwarding(t *testing.T) {
	o := newOrigin(t)
	px := &Server{}
	addr := startProxy(t, px)
	const n = 100
	var wg sync.WaitGroup
	bodies := make([]string, n)
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := web.Dial(context.Background(), addr, web.Options{})
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			resp, err := c.Do(context.Background(), &web.OutRequest{Target: "http://" + o.addr + "/slow", Host: o.addr})
			if err != nil {
				errs <- err
				return
			}
			b, _ := io.ReadAll(resp.Body)
			bodies[i] = string(b)
		}()
	}
	testutil.WaitFor(t, "99 requests waiting behind the first", func() bool { return px.stats.waiting.Load() == n-1 })
	close(o.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := o.n("/slow"); got != 1 {
		t.Errorf("origin saw %d requests, want 1", got)
	}
	for i, b := range bodies {
		if b != "body of /slow #1" {
			t.Fatalf("client %d got %q", i, b)
		}
	}
	if st := px.Stats(); st.Collapsed != n-1 {
		t.Errorf("collapsed %d, want %d", st.Collapsed, n-1)
	}
}

func TestRefusals(t *testing.T) {
	o := newOrigin(t)
	// Only 10.0.0.0/8 allowed: the loopback test client is refused.
	addr := startProxy(t, &Server{Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	if resp, _ := get(t, addr, "GET", "http://"+o.addr+"/fresh"); resp.Status != 403 || o.n("/fresh") != 0 {
		t.Errorf("client outside Allow: %d", resp.Status)
	}
	addr = startProxy(t, &Server{})
	if resp, _ := get(t, addr, "GET", "/fresh"); resp.Status != 400 {
		t.Errorf("origin-form to a forward proxy: %d", resp.Status)
	}
	// CONNECT to a port not allowed.
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	fmt.Fprintf(nc, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", o.addr, o.addr)
	resp, err := web.ReadResponse(bufio.NewReader(nc), "CONNECT")
	if err != nil || resp.Status != 403 {
		t.Errorf("CONNECT to a port not allowed: %v %v", resp, err)
	}
}

// CONNECT to an allowed port relays bytes both ways, including what the
// client sent right after its request head.
func TestConnect(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c) // echo until the client half-closes
	}()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	p, _ := strconv.Atoi(port)
	addr := startProxy(t, &Server{ConnectPorts: []int{p}})
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	fmt.Fprintf(nc, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\nearly bytes;", l.Addr(), l.Addr())
	br := bufio.NewReader(nc)
	line, _ := br.ReadString('\n')
	if !strings.HasPrefix(line, "HTTP/1.1 200") {
		t.Fatalf("CONNECT answered %q", line)
	}
	if blank, _ := br.ReadString('\n'); blank != "\r\n" {
		t.Fatalf("after the status line: %q", blank)
	}
	io.WriteString(nc, "later bytes")
	nc.(*net.TCPConn).CloseWrite()
	got, _ := io.ReadAll(br)
	if string(got) != "early bytes;later bytes" {
		t.Errorf("echo %q", got)
	}
}

// Real clients through the forward proxy: curl -x and Python's urllib
// with a ProxyHandler.
func TestPeers(t *testing.T) {
	o := newOrigin(t)
	addr := startProxy(t, &Server{})
	url := "http://" + o.addr + "/fresh"
	t.Run("curl", func(t *testing.T) {
		curl := peertest.Require(t, "curl", "curl")
		for i, want := range []string{"MISS", "HIT"} {
			out, err := exec.Command(curl, "-s", "-i", "-x", "http://"+addr, url).CombinedOutput()
			if err != nil {
				t.Fatalf("curl: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), "X-Cache: "+want) || !strings.Contains(string(out), "body of /fresh #1") {
				t.Errorf("request %d: want %s:\n%s", i, want, out)
			}
		}
	})
	t.Run("python", func(t *testing.T) {
		py := peertest.RequirePython(t, "python3", "urllib.request")
		script := `import sys, urllib.request
op = urllib.request.build_opener(urllib.request.ProxyHandler({"http": "http://" + sys.argv[1]}))
r = op.open(sys.argv[2])
print(r.status, r.headers["X-Cache"], r.read().decode())`
		out, err := exec.Command(py, "-c", script, addr, url).CombinedOutput()
		if err != nil {
			t.Fatalf("python: %v\n%s", err, out)
		}
		if got := strings.TrimSpace(string(out)); got != "200 HIT body of /fresh #1" {
			t.Errorf("python got %q", got)
		}
	})
	if n := o.n("/fresh"); n != 1 {
		t.Errorf("origin saw %d, want 1", n)
	}
}

func TestReverse(t *testing.T) {
	o := newOrigin(t)
	px := &Server{Origin: o.addr}
	addr := startProxy(t, px)
	for _, want := range []string{"MISS", "HIT"} {
		resp, body := get(t, addr, "GET", "/fresh")
		if resp.Header.Get("X-Cache") != want || body != "body of /fresh #1" {
			t.Errorf("%s: %v %q", want, resp.Header, body)
		}
	}
	// A body over MaxObject is passed through, not stored.
	px2 := &Server{Origin: o.addr, MaxObject: 1 << 10}
	addr2 := startProxy(t, px2)
	for range 2 {
		if _, body := get(t, addr2, "GET", "/big"); len(body) != 64<<10 {
			t.Fatalf("big body %d bytes", len(body))
		}
	}
	if n := o.n("/big"); n != 2 {
		t.Errorf("big object: origin saw %d, want 2 (not stored)", n)
	}
	resp, body := get(t, addr, "GET", "/_proxy/metrics")
	if resp.Status != 200 || !strings.Contains(body, "applayer_proxy_hits_total 1\n") {
		t.Errorf("metrics: %d\n%s", resp.Status, body)
	}
}

// RFC 5861: within stale-while-revalidate the stale copy is served at once
// and revalidated in the background; within stale-if-error it stands in
// for an origin's 500.
func TestStale(t *testing.T) {
	o := newOrigin(t)
	addr := startProxy(t, &Server{})
	url := "http://" + o.addr
	get(t, addr, "GET", url+"/swr")
	resp, body := get(t, addr, "GET", url+"/swr")
	if resp.Header.Get("X-Cache") != "STALE" || body != "body of /swr #1" {
		t.Errorf("stale-while-revalidate: %s %q", resp.Header.Get("X-Cache"), body)
	}
	testutil.WaitFor(t, "the background revalidation to reach the origin", func() bool { return o.n("/swr") == 2 })
	testutil.WaitFor(t, "the revalidated copy to be stored", func() bool {
		_, body := get(t, addr, "GET", url+"/swr")
		return body == "body of /swr #2"
	})

	get(t, addr, "GET", url+"/sie")
	resp, body = get(t, addr, "GET", url+"/sie")
	if resp.Status != 200 || resp.Header.Get("X-Cache") != "STALE" || body != "body of /sie #1" || o.n("/sie") != 2 {
		t.Errorf("stale-if-error: %d %s %q (origin %d)", resp.Status, resp.Header.Get("X-Cache"), body, o.n("/sie"))
	}
}

// A request carrying a field the cache key does not hold (X-Forwarded-Host
// and its kind, which applications reflect) or a body on GET must not set
// what other clients get (web cache poisoning); a GET's body must reach
// the origin framed, or the pooled connection would desynchronise.
func TestCachePoisoning(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	reflect := serve(t, web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen[r.Path]++
		mu.Unlock()
		w.Header().Set("Cache-Control", "max-age=3600")
		io.WriteString(w, "host="+cmp.Or(r.Header.Get("X-Forwarded-Host"), r.Header.Get("Forwarded"), r.Header.Get("X-Original-URL"), r.Header.Get("X-Forwarded-Proto"), string(b), "clean"))
	}))
	addr := startProxy(t, &Server{Origin: reflect, OriginTimeout: 5 * time.Second})
	for i, h := range [][]string{
		{"X-Forwarded-Host", "evil.test"},
		{"Forwarded", "host=evil.test"},
		{"X-Original-URL", "/evil.test"},
		{"X-Forwarded-Proto", "evil.test"},
	} {
		path := "/p" + strconv.Itoa(i)
		if _, body := get(t, addr, "GET", path, h...); !strings.Contains(body, "evil.test") {
			t.Fatalf("%s: the origin did not see it: %q", h[0], body)
		}
		if _, body := get(t, addr, "GET", path); body != "host=clean" {
			t.Errorf("%s poisoned the cache: a plain GET got %q", h[0], body)
		}
		// What was stored by a clean request is not replaced either.
		if _, body := get(t, addr, "GET", path, h...); body != "host=clean" {
			t.Errorf("%s: the stored copy was not served: %q", h[0], body)
		}
	}
	// A fat GET: its body reaches the origin framed, is not stored, and the
	// next request on the pooled connection is intact.
	c, err := web.Dial(context.Background(), addr, web.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	resp, err := c.Do(context.Background(), &web.OutRequest{Method: "GET", Target: "/fat", Body: strings.NewReader("evil.test"), ContentLength: 9})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if string(b) != "host=evil.test" {
		t.Errorf("fat GET: %q", b)
	}
	for range 2 {
		if _, body := get(t, addr, "GET", "/fat"); body != "host=clean" {
			t.Errorf("fat GET poisoned the cache: %q", body)
		}
	}
}
