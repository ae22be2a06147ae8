package browser

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/applayer/applayer/internal/testutil"
	"github.com/applayer/applayer/web/internal/webtest"
)

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
	addr := siteServer(t)
	cache := &Cache{Dir: t.TempDir()}
	for i := 0; i < 3; i++ {
		f := &Fetcher{Cache: cache}
		var out bytes.Buffer
		obj, err := f.Get(context.Background(), "http://"+addr+"/big.bin", &out)
		if err != nil {
			t.Fatal(err)
		}
		if out.String() != webtest.SiteFiles["big.bin"] {
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

// signalWriter closes seen at its first Write.
type signalWriter struct {
	buf  bytes.Buffer
	seen chan struct{}
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
		case <-time.After(testutil.Patience): // a Fetcher that buffers the body never writes it
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

func (w *signalWriter) Write(p []byte) (int, error) {
	if w.buf.Len() == 0 && len(p) > 0 {
		close(w.seen)
	}
	return w.buf.Write(p)
}

// TestRTTDelay: with RTT set, every connection's measured round trip
// includes the added delay, so the report's RTT is at least RTT whatever
// loopback's own round trip.
func TestRTTDelay(t *testing.T) {
	addr := siteServer(t)
	for _, nonPersistent := range []bool{false, true} {
		f := &Fetcher{RTT: 3 * time.Millisecond, NonPersistent: nonPersistent}
		rep, err := f.Page(context.Background(), "http://"+addr+"/", nil)
		if err != nil {
			t.Fatal(err)
		}
		if rep.RTT < f.RTT || rep.Conns < 1 {
			t.Errorf("non-persistent %v: report RTT %v over %d connections, want at least %v", nonPersistent, rep.RTT, rep.Conns, f.RTT)
		}
	}
}
