package demo

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/applayer/applayer/web"
	"github.com/applayer/applayer/web/http2"
	"github.com/applayer/applayer/web/sample"
	"github.com/applayer/applayer/web/timeline"
)

var holRoot string // the site startHOL wrote last

// startHOL serves the sample site with HTTP/1.1 and h2c on one port, and
// the HOL page, as the lab does.
func startHOL(t *testing.T, rate int64) (*HOL, string) {
	t.Helper()
	root := filepath.Join(t.TempDir(), "site")
	holRoot = root
	if err := sample.Write(root); err != nil {
		t.Fatal(err)
	}
	fsrv, err := web.NewFileServer(root)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := &HOL{Origin: "http://" + l.Addr().String(), Page: "/" + sample.HOLPage, Rate: rate, Logger: logger}
	mux := &web.Mux{}
	mux.Handle("/", fsrv)
	mux.Handle(HOLPrefix, h)
	srv := &web.Server{Handler: mux, Logger: logger, HTTP2: &http2.Server{Handler: mux, Logger: logger}}
	go srv.Serve(l)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		fsrv.Close()
	})
	return h, h.Origin
}

// The measurement shows what the textbook says, in the order of events
// (no durations are compared, so a loaded machine cannot fail it): over
// one HTTP/1.1 connection every small object is requested only after the
// large one's last byte; over HTTP/2 every request is out before the large
// object ends, so its frames and theirs share the connection.
func TestHOLMeasure(t *testing.T) {
	h, _ := startHOL(t, 40<<20)
	run, err := h.Measure(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, rows []timeline.Row, wantObjects int) (big timeline.Row, small []timeline.Row) {
		if len(rows) != wantObjects {
			t.Fatalf("%s: %d rows, want the page and its %d objects", name, len(rows), wantObjects-1)
		}
		for _, r := range rows[1:] {
			if strings.HasSuffix(r.Label, "big.png") {
				big = r
			} else {
				small = append(small, r)
			}
		}
		if big.Label == "" || len(small) != holTiles(t) {
			t.Fatalf("%s: no big.png or not every tile in %v", name, rows)
		}
		return big, small
	}
	n := 2 + holTiles(t)
	big, small := check("HTTP/1.1", run.HTTP1, n)
	for _, r := range small {
		if r.Sent < big.Last {
			t.Errorf("HTTP/1.1: %s requested at %v, before the large object's last byte at %v: not one connection in turn", r.Label, r.Sent, big.Last)
		}
	}
	big, small = check("HTTP/2", run.HTTP2, n)
	for _, r := range small {
		if r.Sent >= big.Last {
			t.Errorf("HTTP/2: %s requested at %v, after the large object's end at %v: not all at once", r.Label, r.Sent, big.Last)
		}
	}
	if len(big.Marks) < 2 {
		t.Errorf("HTTP/2: the large object came in %d DATA frames", len(big.Marks))
	}
	s1, l1 := run.Done(run.HTTP1)
	s2, l2 := run.Done(run.HTTP2)
	t.Logf("HTTP/1.1: small done at %v, large at %v; HTTP/2: small at %v, large at %v", s1, l1, s2, l2)
}

// holTiles is how many small objects the HOL page references.
func holTiles(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(holRoot, sample.HOLPage, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), `src="tile-`)
}

// The page holds both pictures and the summary both lines; other paths
// and methods get the usual answers.
func TestHOLPages(t *testing.T) {
	_, base := startHOL(t, 40<<20)
	get := func(method, path string) (int, string) {
		req, _ := http.NewRequest(method, base+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	code, page := get("GET", HOLPrefix)
	if code != 200 || strings.Count(page, "<svg") != 2 || !strings.Contains(page, "HTTP/2, one connection") {
		t.Errorf("GET %s: %d\n%.400s", HOLPrefix, code, page)
	}
	code, sum := get("GET", HOLPrefix+"summary")
	re := regexp.MustCompile(`(?m)^HTTP/(1\.1|2  ) over \d+ Mbit/s: the \d+ small objects done at +\d+ ms, the large one at +\d+ ms$`)
	if code != 200 || len(re.FindAllString(sum, -1)) != 2 {
		t.Errorf("GET summary: %d %q", code, sum)
	}
	if code, _ := get("POST", HOLPrefix); code != web.StatusMethodNotAllowed {
		t.Errorf("POST: %d, want 405", code)
	}
	if code, _ := get("GET", HOLPrefix+"other"); code != 404 {
		t.Errorf("GET other: %d, want 404", code)
	}
}
