package demo

import (
	"context"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/applayer/applayer/web"
	"github.com/applayer/applayer/web/browser"
	"github.com/applayer/applayer/web/http2"
	"github.com/applayer/applayer/web/timeline"
)

// HOLPrefix is where the head-of-line demonstration is served.
const HOLPrefix = "/_hol/"

// DefaultHOLRate is the access link HOL simulates unless told otherwise:
// 20 Mbit/s, slow enough that a 1.5 MB picture takes most of a second.
const DefaultHOLRate = 20e6 / 8

// HOL is the textbook's demonstration of head-of-line blocking (section
// 2.2.6) under /_hol/. Each GET fetches Page, a page with one large object
// first and many small ones, from Origin twice with applayer's own clients
// through a simulated access link (reads paced to Rate): over HTTP/1.1 on
// one persistent connection, then over HTTP/2 (h2c) on one connection. It
// answers with the two timelines drawn side by side on one time scale:
// over HTTP/1.1 the small objects start only after the large one's last
// byte; over HTTP/2 their frames are interleaved with its frames and they
// are done at once.
//
//	GET /_hol/         the page with the two timelines (measured on each load)
//	GET /_hol/summary  the same measurement in two lines of text
type HOL struct {
	// Origin is the server's own http:// URL (scheme and authority),
	// which must speak HTTP/1.1 and h2c on the same port.
	Origin string
	// Page is the path of the page to fetch (e.g. "/hol/").
	Page string
	// Rate is the simulated link in bytes a second (default
	// DefaultHOLRate).
	Rate   int64
	Logger *slog.Logger

	mu sync.Mutex // one measurement at a time: they would share the link
}

// HOLRun is one measurement: the same page over both protocols.
type HOLRun struct {
	HTTP1, HTTP2 []timeline.Row
	Rate         int64
}

// Measure fetches the page over HTTP/1.1 and then over HTTP/2.
func (h *HOL) Measure(ctx context.Context) (*HOLRun, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	run := &HOLRun{Rate: h.Rate}
	if run.Rate <= 0 {
		run.Rate = DefaultHOLRate
	}
	raw := strings.TrimSuffix(h.Origin, "/") + h.Page
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("hol: origin %q is not an http:// URL", h.Origin)
	}
	f := &browser.Fetcher{Rate: run.Rate}
	rep, err := f.Page(ctx, raw, io.Discard)
	if err != nil {
		return nil, fmt.Errorf("hol: HTTP/1.1: %w", err)
	}
	run.HTTP1 = rep.Rows()
	cc, err := http2.Dial(ctx, u.Host, http2.Options{Rate: run.Rate})
	if err != nil {
		return nil, fmt.Errorf("hol: HTTP/2: %w", err)
	}
	defer cc.Close()
	fetches, err := cc.Page(ctx, u, 1<<20)
	if err != nil {
		return nil, fmt.Errorf("hol: HTTP/2: %w", err)
	}
	run.HTTP2 = http2.Rows(fetches)
	// Both from their first request.
	for _, rows := range [][]timeline.Row{run.HTTP1, run.HTTP2} {
		start := timeline.Start(rows)
		for i := range rows {
			shift(&rows[i], start)
		}
	}
	return run, nil
}

func shift(r *timeline.Row, by time.Duration) {
	at := func(d time.Duration) time.Duration {
		if d == 0 {
			return 0
		}
		return d - by
	}
	r.Sent, r.Head, r.First, r.Last = r.Sent-by, at(r.Head), at(r.First), at(r.Last)
	for i := range r.Marks {
		r.Marks[i] -= by
	}
}

// Done is when the last small object of rows (all but the base file and
// the large object, the largest) arrived, and when the large one did.
func (run *HOLRun) Done(rows []timeline.Row) (small, large time.Duration) {
	big := -1
	var bigSpan time.Duration
	for i, r := range rows[1:] {
		if d := r.Last - r.First; big < 0 || d > bigSpan {
			big, bigSpan = i+1, d
		}
	}
	for i, r := range rows[1:] {
		if i+1 == big {
			large = r.Last
		} else {
			small = max(small, r.Last)
		}
	}
	return small, large
}

func (h *HOL) logger() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (h *HOL) ServeHTTP(w web.ResponseWriter, r *web.Request) {
	if r.Path != HOLPrefix && r.Path != HOLPrefix+"summary" {
		web.NotFound(w, r)
		return
	}
	if r.Method != "GET" && r.Method != "HEAD" {
		w.Header().Set("Allow", "GET, HEAD")
		web.WriteError(w, web.StatusMethodNotAllowed, r.Method+" is not allowed here")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	run, err := h.Measure(ctx)
	if err != nil {
		h.logger().Warn("hol: measuring", "err", err)
		web.WriteError(w, web.StatusBadGateway, err.Error())
		return
	}
	if r.Path == HOLPrefix+"summary" {
		var b strings.Builder
		for _, c := range []struct {
			name string
			rows []timeline.Row
		}{{"HTTP/1.1", run.HTTP1}, {"HTTP/2  ", run.HTTP2}} {
			small, large := run.Done(c.rows)
			fmt.Fprintf(&b, "%s over %.0f Mbit/s: the %d small objects done at %4.0f ms, the large one at %4.0f ms\n", c.name, float64(run.Rate)*8/1e6, max(len(c.rows)-2, 0), ms(small), ms(large))
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		io.WriteString(w, b.String())
		return
	}
	var b strings.Builder
	end := max(timeline.End(run.HTTP1), timeline.End(run.HTTP2))
	fmt.Fprintf(&b, `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Head-of-line blocking: HTTP/1.1 and HTTP/2</title>
<style>body { font-family: sans-serif; margin: 1.5em; line-height: 1.4; } .pair { display: flex; flex-wrap: wrap; gap: 1.5em; } figure { margin: 0; } figcaption { max-width: 630px; }</style>
</head>
<body>
<h1>Head-of-line blocking: HTTP/1.1 and HTTP/2</h1>
<p>The page <a href="%s">%s</a> (one large picture first, then %d small tiles), fetched just now by
applayer's own client over a simulated %.0f Mbit/s access link, twice: over one persistent HTTP/1.1
connection, and over one HTTP/2 connection. Light: waiting for the response; dark: its bytes arriving.
Reload to measure again.</p>
<div class="pair">
`, html.EscapeString(h.Page), html.EscapeString(h.Page), max(len(run.HTTP1)-2, 0), float64(run.Rate)*8/1e6)
	for _, c := range []struct {
		title, caption string
		rows           []timeline.Row
	}{
		{"HTTP/1.1, one persistent connection", "Each request waits for the previous response: the small objects start after the large one's last byte.", run.HTTP1},
		{"HTTP/2, one connection", "All requests at once; the server interleaves the responses' frames, so the small objects are not stuck behind the large one.", run.HTTP2},
	} {
		small, large := run.Done(c.rows)
		b.WriteString("<figure>\n")
		timeline.Chart{Title: c.title, Rows: c.rows, End: end}.SVG(&b)
		fmt.Fprintf(&b, "<figcaption>%s Small objects done at %.0f ms, the large one at %.0f ms.</figcaption>\n</figure>\n",
			html.EscapeString(c.caption), ms(small), ms(large))
	}
	b.WriteString(`</div>
<p>The same from a terminal: <code>applayer web get URL --objects --rate 20Mbit</code>, then with <code>--http2</code>.</p>
</body>
</html>
`)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	io.WriteString(w, b.String())
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
