package dash

import (
	"cmp"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/applayer/applayer/internal/transcript"
	"github.com/applayer/applayer/video/trace"
	"github.com/applayer/applayer/web"
)

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("dash: server closed")

// Server defaults.
const (
	DefaultAddr = "127.0.0.1:8088"
	// DefaultLinkReset is how long a client must be silent before its
	// shaped link starts the trace again from the beginning.
	DefaultLinkReset = 30 * time.Second
	// DefaultChunk is how many bytes a shaped response releases at once.
	DefaultChunk = 4096
	// SentPath answers, as JSON, what the server sent the asking client
	// on its shaped link: one record per response.
	SentPath = "/_dash/sent"
	// PlayerPath is a page that plays the presentation with dash.js
	// (Server.DashJS) beside a chart of what the server sent.
	PlayerPath = "/_dash/player.html"
	// DashJSPath serves the file Server.DashJS names.
	DashJSPath = "/_dash/dash.all.min.js"
	// ReportPath receives the player page's outcome: ?event=ended or
	// error, with its errors; ReportsPath lists the reports as JSON.
	ReportPath  = "/_dash/report"
	ReportsPath = "/_dash/reports"
)

//go:embed player.html
var playerPage []byte

// Report is what a browser player said about its session.
type Report struct {
	Client string `json:"client"`
	Event  string `json:"event"`
	ABR    string `json:"abr"`
	Errors string `json:"errors"`
	Time   string `json:"time"`
}

// Server streams a packaged presentation (a directory with manifest.mpd)
// over applayer's HTTP/1.1 server (package web): files with range
// requests and validators from web.FileServer, CORS headers so that a
// player on another origin may fetch them, and, with a Throughput trace,
// every response paced in user space to the trace.
//
// Shaping: each client address has one link (the trace clock starts at its
// first request for anything but the MPD, which is never shaped, and
// starts again after LinkReset of silence). A response
// of n bytes that the link starts sending at trace time s releases its
// bytes in Chunk-sized pieces, each when trace.Finish says its last byte
// has crossed the link; responses of one client share the link first come,
// first served. The schedule depends only on the trace and on when
// requests arrive, so an experiment repeats exactly.
type Server struct {
	// Addr is where ListenAndServe listens (default DefaultAddr).
	Addr string
	// Dir is the directory served (required).
	Dir string
	// Throughput, when set, shapes what each client receives.
	Throughput *trace.Trace
	// Offset starts every link this far into the trace.
	Offset time.Duration
	// RTT delays each shaped response's first byte (default 0).
	RTT time.Duration
	// LinkReset (default DefaultLinkReset).
	LinkReset time.Duration
	// Chunk (default DefaultChunk bytes).
	Chunk int
	// DashJS, when set, is dash.js's dash.all.min.js (npm package
	// dashjs), served for the page at PlayerPath.
	DashJS string
	// Live serves the package as a live event that starts with the
	// server: a dynamic MPD whose segments become available one by one,
	// with a sliding window of LiveWindow (default DefaultLiveWindow);
	// see serveLive.
	Live       bool
	LiveWindow time.Duration
	// MaxConns bounds connections (web.Server's default; negative: none).
	MaxConns int
	// MaxConnsPerClient bounds one client address's connections
	// (web.Server's default; negative: none).
	MaxConnsPerClient int
	// AccessLog receives a Combined Log Format line per request.
	AccessLog io.Writer
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// Trace records the HTTP dialogue; nil records nothing.
	Trace *transcript.Recorder

	// clock and sleep are time.Now and time.Sleep but in tests.
	clock func() time.Time
	sleep func(time.Duration)

	once  sync.Once
	lv    *live
	web   web.Server
	fsrv  *web.FileServer
	err   error
	mu    sync.Mutex
	links map[string]*link

	quit     chan struct{}
	quitOnce sync.Once

	reportMu sync.Mutex
	reports  []Report
	reportCh chan struct{} // closed and replaced at each report
}

// Reports returns the player pages' reports so far, and a channel closed
// at the next one.
func (s *Server) Reports() ([]Report, <-chan struct{}) {
	s.init()
	s.reportMu.Lock()
	defer s.reportMu.Unlock()
	return append([]Report(nil), s.reports...), s.reportCh
}

// link is one client's shaped path.
type link struct {
	mu    sync.Mutex
	start time.Time // trace time 0 (less the offset)
	busy  float64   // trace seconds until which the link is taken
	last  time.Time // the latest request
	sent  []Sent
}

// Sent is one response on a shaped link, in trace seconds from the link's
// start.
type Sent struct {
	Path  string  `json:"path"`
	Bytes int64   `json:"bytes"`
	Asked float64 `json:"asked"` // the request arrived
	Begin float64 `json:"begin"` // the link began sending it
	End   float64 `json:"end"`   // its last byte crossed the link
}

func (s *Server) now() time.Time {
	if s.clock != nil {
		return s.clock()
	}
	return time.Now()
}

// wait sleeps for d, and reports false, early, once the server is
// stopping: a shaped response in flight is cut rather than waited for.
func (s *Server) wait(d time.Duration) bool {
	if s.sleep != nil {
		s.sleep(d)
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.quit:
		return false
	}
}

// errStopping cuts a shaped response when the server stops.
var errStopping = errors.New("dash: server stopping")

func (s *Server) stop() {
	s.quitOnce.Do(func() { close(s.quit) })
}

func (s *Server) init() error {
	s.once.Do(func() {
		if s.Dir == "" {
			s.err = errors.New("dash: Server.Dir not set")
			return
		}
		s.fsrv, s.err = web.NewFileServer(s.Dir)
		if s.err != nil {
			return
		}
		s.fsrv.Logger = s.Logger
		if s.Live {
			if s.err = s.initLive(); s.err != nil {
				return
			}
		}
		s.links = map[string]*link{}
		s.quit = make(chan struct{})
		s.reportCh = make(chan struct{})
		s.web.Addr = cmp.Or(s.Addr, DefaultAddr)
		s.web.Handler = web.HandlerFunc(s.serveHTTP)
		s.web.MaxConns = s.MaxConns
		s.web.MaxConnsPerClient = s.MaxConnsPerClient
		s.web.AccessLog = s.AccessLog
		s.web.Logger = s.Logger
		s.web.Trace = s.Trace
	})
	return s.err
}

// Serve serves connections from l until Shutdown or Close.
func (s *Server) Serve(l net.Listener) error {
	if err := s.init(); err != nil {
		return err
	}
	return s.wrapErr(s.web.Serve(l))
}

// ListenAndServe listens on Addr and serves.
func (s *Server) ListenAndServe() error {
	if err := s.init(); err != nil {
		return err
	}
	return s.wrapErr(s.web.ListenAndServe())
}

func (s *Server) wrapErr(err error) error {
	if errors.Is(err, web.ErrServerClosed) {
		return ErrServerClosed
	}
	return err
}

// Shutdown stops accepting and lets responses in flight finish.
func (s *Server) Shutdown(ctx context.Context) error {
	if err := s.init(); err != nil {
		return err
	}
	s.stop()
	err := s.web.Shutdown(ctx)
	s.fsrv.Close()
	return err
}

// Close stops at once.
func (s *Server) Close() error {
	if err := s.init(); err != nil {
		return err
	}
	s.stop()
	err := s.web.Close()
	s.fsrv.Close()
	return err
}

// clientKey is the client's address without its port.
func clientKey(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return remote
	}
	return host
}

// linkFor returns the client's link, new when it was silent long enough.
func (s *Server) linkFor(remote string, now time.Time) *link {
	key := clientKey(remote)
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.links[key]
	reset := cmp.Or(s.LinkReset, DefaultLinkReset)
	if l != nil {
		l.mu.Lock()
		stale := now.Sub(l.last) > reset && l.busyUntil().Before(now)
		l.mu.Unlock()
		if stale {
			l = nil
		}
	}
	if l == nil {
		// Forget every stale link while here, so the map stays small.
		for k, o := range s.links {
			o.mu.Lock()
			if now.Sub(o.last) > reset && o.busyUntil().Before(now) {
				delete(s.links, k)
			}
			o.mu.Unlock()
		}
		l = &link{start: now.Add(-s.Offset), busy: s.Offset.Seconds(), last: now}
		s.links[key] = l
	}
	return l
}

func (l *link) busyUntil() time.Time {
	return l.start.Add(time.Duration(l.busy * float64(time.Second)))
}

func (l *link) at(t time.Time) float64 { return t.Sub(l.start).Seconds() }

func (s *Server) serveHTTP(w web.ResponseWriter, r *web.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Expose-Headers", "Content-Length, Content-Range, Date, Last-Modified, ETag")
	if r.Method == "OPTIONS" && r.Header.Get("Access-Control-Request-Method") != "" {
		// A CORS preflight (Fetch standard §3.2.2).
		h.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
		h.Set("Access-Control-Allow-Headers", "Range, If-None-Match, If-Modified-Since")
		h.Set("Access-Control-Max-Age", "600")
		h.Set("Content-Length", "0")
		w.WriteHeader(web.StatusNoContent)
		return
	}
	switch r.Path {
	case SentPath:
		s.serveSent(w, r)
		return
	case PlayerPath:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(playerPage)
		return
	case DashJSPath:
		s.serveDashJS(w, r)
		return
	case ReportPath:
		s.report(w, r)
		return
	case ReportsPath:
		list, _ := s.Reports()
		b, _ := json.Marshal(list)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(b)
		return
	}
	if s.lv != nil && (r.Method == "GET" || r.Method == "HEAD") && s.serveLive(w, r) {
		return
	}
	if s.Throughput == nil || r.Method != "GET" || strings.HasSuffix(r.Path, ".mpd") {
		// The manifest is not shaped: a link's trace starts with the
		// player's first segment request.
		s.fsrv.ServeHTTP(w, r)
		return
	}
	now := s.now()
	l := s.linkFor(r.RemoteAddr, now)
	l.mu.Lock()
	l.last = now
	l.mu.Unlock()
	if s.RTT > 0 && !s.wait(s.RTT) {
		web.WriteError(w, web.StatusServiceUnavailable, "shutting down")
		return
	}
	pw := &pacedWriter{w: w, s: s, l: l, asked: l.at(now)}
	s.fsrv.ServeHTTP(pw, r)
	if pw.sent > 0 {
		l.mu.Lock()
		if len(l.sent) < 100_000 {
			l.sent = append(l.sent, Sent{Path: r.Path, Bytes: pw.sent, Asked: pw.asked, Begin: pw.begin, End: pw.end})
		}
		l.mu.Unlock()
	}
}

// serveSent answers with the deliveries of the asking client's link.
func (s *Server) serveSent(w web.ResponseWriter, r *web.Request) {
	s.mu.Lock()
	l := s.links[clientKey(r.RemoteAddr)]
	s.mu.Unlock()
	out := []Sent{}
	if l != nil {
		l.mu.Lock()
		out = append(out, l.sent...)
		l.mu.Unlock()
	}
	b, _ := json.Marshal(out)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b)
}

func (s *Server) serveDashJS(w web.ResponseWriter, r *web.Request) {
	if s.DashJS == "" {
		web.WriteError(w, web.StatusNotFound, "no dash.js: start the server with --dashjs FILE (npm package dashjs, dist/dash.all.min.js)")
		return
	}
	b, err := os.ReadFile(s.DashJS)
	if err != nil {
		web.WriteError(w, web.StatusNotFound, "dash.js: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Write(b)
}

func (s *Server) report(w web.ResponseWriter, r *web.Request) {
	q, _ := url.ParseQuery(r.RawQuery)
	clip := func(v string) string {
		if len(v) > 2000 {
			return v[:2000]
		}
		return v
	}
	rep := Report{Client: clientKey(r.RemoteAddr), Event: clip(q.Get("event")), ABR: clip(q.Get("abr")), Errors: clip(q.Get("errors")), Time: clip(q.Get("time"))}
	s.reportMu.Lock()
	if len(s.reports) < 1000 {
		s.reports = append(s.reports, rep)
	}
	close(s.reportCh)
	s.reportCh = make(chan struct{})
	s.reportMu.Unlock()
	s.logger().Info("dash: player report", "client", rep.Client, "event", rep.Event, "abr", rep.ABR, "errors", rep.Errors)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(web.StatusNoContent)
}

func (s *Server) logger() *slog.Logger { return cmp.Or(s.Logger, slog.Default()) }

// pacedWriter releases a response's body on the client's link.
type pacedWriter struct {
	w                 web.ResponseWriter
	s                 *Server
	l                 *link
	asked, begin, end float64
	sent              int64
}

func (p *pacedWriter) Header() *web.Header    { return p.w.Header() }
func (p *pacedWriter) WriteHeader(status int) { p.w.WriteHeader(status) }

func (p *pacedWriter) Write(b []byte) (int, error) {
	chunk := cmp.Or(p.s.Chunk, DefaultChunk)
	written := 0
	for len(b) > 0 {
		n := min(len(b), chunk)
		// Reserve the link for this piece: it starts when the link is
		// free (or now, if it has been idle) and ends when trace.Finish
		// says.
		l := p.l
		l.mu.Lock()
		from := max(l.busy, l.at(p.s.now()))
		if p.sent == 0 {
			p.begin = from
		}
		end := p.s.Throughput.Finish(from, float64(n))
		l.busy = end
		release := l.start.Add(time.Duration(end * float64(time.Second)))
		l.mu.Unlock()
		if d := release.Sub(p.s.now()); d > 0 && !p.s.wait(d) {
			return written, errStopping
		}
		m, err := p.w.Write(b[:n])
		written += m
		p.sent += int64(m)
		p.end = end
		if err != nil {
			return written, err
		}
		b = b[n:]
	}
	return written, nil
}
