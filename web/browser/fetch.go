package browser

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/applayer/applayer/web"
	"github.com/applayer/applayer/web/timeline"

	"github.com/applayer/applayer/internal/transcript"
)

// Fetcher fetches pages and their objects the ways the textbook compares
// (section 2.2.2): over persistent connections (HTTP/1.1, one request at a
// time per connection) or non-persistent ones (a new TCP connection per
// object), serially or with several connections in parallel.
type Fetcher struct {
	// HTTP10 sends HTTP/1.0 requests; unless Persistent is forced, they
	// use one connection per object, as HTTP/1.0 did.
	HTTP10 bool
	// NonPersistent opens a new connection for every object.
	NonPersistent bool
	// Parallel is how many connections fetch objects at once (default 1).
	Parallel int
	// Timeout bounds each request (default 30 seconds).
	Timeout time.Duration
	// UserAgent is sent as User-Agent (default "applayer").
	UserAgent string
	// Jar, when set, supplies Cookie fields and stores Set-Cookie ones.
	Jar *Jar
	// Cache, when set, keeps objects and revalidates them with
	// conditional GET.
	Cache *Cache
	// Progress, when set, is called as a body arrives with the bytes so
	// far and the total (-1 when unknown).
	Progress func(u *url.URL, done, total int64)
	// Trace records every request and response head.
	Trace *transcript.Recorder
	// RTT, when positive, adds a round-trip delay in user space: once
	// before each connection is set up (the TCP handshake's round trip,
	// also added to the connection's measured RTT) and once per
	// request/response exchange. On loopback, where a real round trip
	// takes microseconds, it shows the textbook's model (persistent: 1
	// RTT per object after the first; non-persistent: 2) on one machine.
	RTT time.Duration
	// Rate, when positive, paces what each connection reads to this many
	// bytes a second: the transmission delay of a slow access link, which
	// loopback does not have (internal/link).
	Rate int64
	// Proxy, when set (host:port), sends every request to that HTTP proxy
	// in absolute-form (RFC 9112 §3.2.2) over connections to it, instead
	// of to each origin; host names are then the proxy's to look up.
	Proxy string
	// Resolver looks up host names (nil: the system's). Each name is
	// looked up once per Get or Page, and the time it took is reported
	// apart from the TCP handshake.
	Resolver *net.Resolver
}

// run is the state of one Get or Page call, shared by its workers.
type run struct {
	mu    sync.Mutex
	conns int
	rtts  []time.Duration
	start time.Time
	hosts map[string]lookup // by host name
}

// lookup is the outcome of one DNS look-up.
type lookup struct {
	ip   string
	took time.Duration
	err  error
}

// resolve returns the address to dial for host:port, looking the host up
// once per run.
func (f *Fetcher) resolve(ctx context.Context, r *run, host, port string) (string, error) {
	if net.ParseIP(host) != nil {
		return net.JoinHostPort(host, port), nil
	}
	r.mu.Lock()
	l, ok := r.hosts[host]
	r.mu.Unlock()
	if !ok {
		res := f.Resolver
		if res == nil {
			res = net.DefaultResolver
		}
		start := time.Now()
		ips, err := res.LookupHost(ctx, host)
		l = lookup{took: time.Since(start), err: err}
		if err == nil && len(ips) > 0 {
			l.ip = ips[0]
		} else if err == nil {
			l.err = fmt.Errorf("%s: no address", host)
		}
		r.mu.Lock()
		if r.hosts == nil {
			r.hosts = map[string]lookup{}
		}
		r.hosts[host] = l
		r.mu.Unlock()
	}
	if l.err != nil {
		return "", l.err
	}
	return net.JoinHostPort(l.ip, port), nil
}

// Object is the outcome of fetching one URL.
type Object struct {
	URL    *url.URL
	Status int
	Bytes  int64 // body bytes received (from the network)
	// Cached reports a 304 answered from the local cache.
	Cached bool
	// XCache is the X-Cache field of the answer ("HIT", "MISS"...): what a
	// proxy on the way says it did.
	XCache string
	// NewConn reports that the object needed a new TCP connection.
	NewConn bool
	Conn    int           // which connection carried it (1-based)
	Start   time.Duration // from the start of the page fetch
	Elapsed time.Duration // request sent to last byte
	// Transfer is first to last byte of the body: the transmission time.
	Transfer    time.Duration
	ContentType string
	// Location is the target of a redirect.
	Location string
	Err      error
}

// Report is what Page measured, beside the textbook model's prediction.
type Report struct {
	Objects   []Object // the base file first
	Conns     int
	RTT       time.Duration // median TCP handshake time
	Bytes     int64
	Total     time.Duration
	Transfer  time.Duration // sum of the objects' transmission times
	Lookups   int           // DNS look-ups made
	DNS       time.Duration // time they took, in all
	Mode      string
	Parallel  int
	Persisted bool
}

// worker is one fetching lane: in persistent mode it keeps its connections.
type worker struct {
	f     *Fetcher
	run   *run
	conns map[string]*web.ClientConn
	ids   map[*web.ClientConn]int
}

func (f *Fetcher) newWorker(r *run) *worker {
	return &worker{f: f, run: r, conns: map[string]*web.ClientConn{}, ids: map[*web.ClientConn]int{}}
}

func (w *worker) close() {
	for _, c := range w.conns {
		c.Close()
	}
}

func (f *Fetcher) persistent() bool { return !f.NonPersistent && !f.HTTP10 }

func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	return net.JoinHostPort(u.Hostname(), "80")
}

// Get fetches one URL and writes its body to dst, following up to ten
// redirects. The returned Object describes the final URL.
func (f *Fetcher) Get(ctx context.Context, rawURL string, dst io.Writer) (Object, error) {
	u, err := parseHTTPURL(rawURL)
	if err != nil {
		return Object{}, err
	}
	w := f.newWorker(&run{start: time.Now()})
	defer w.close()
	return w.getFollowing(ctx, u, dst)
}

func parseHTTPURL(raw string) (*url.URL, error) {
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("%s: only http:// URLs (this client does not speak TLS)", raw)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%s: no host", raw)
	}
	return u, nil
}

// isRedirect reports whether the client follows a response with this
// status to its Location (RFC 9110 §15.4).
func isRedirect(status int) bool {
	switch status {
	case 301, 302, 303, 307, 308:
		return true
	}
	return false
}

// getFollowing streams the final response's body to dst as it arrives (a
// download never sits whole in memory); redirect bodies are dropped.
func (w *worker) getFollowing(ctx context.Context, u *url.URL, dst io.Writer) (Object, error) {
	for range 10 {
		obj := w.fetch(ctx, u, dst, true)
		if obj.Err != nil {
			return obj, obj.Err
		}
		if isRedirect(obj.Status) {
			loc := obj.Location
			next, err := u.Parse(loc)
			if err != nil || loc == "" {
				return obj, fmt.Errorf("%s: redirect without a usable Location", u)
			}
			if next.Scheme != "http" {
				return obj, fmt.Errorf("%s: redirected to %s, which this client cannot fetch", u, next)
			}
			u = next
			continue
		}
		return obj, nil
	}
	return Object{URL: u}, fmt.Errorf("%s: more than ten redirects", u)
}

// delay waits one simulated round trip (RTT), or until ctx ends.
func (f *Fetcher) delay(ctx context.Context) error {
	if f.RTT <= 0 {
		return nil
	}
	t := time.NewTimer(f.RTT)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// fetch gets one URL over the worker's connection for its host (or a new
// one) and writes the body to dst.
func (w *worker) fetch(ctx context.Context, u *url.URL, dst io.Writer, redirects bool) (obj Object) {
	f, run := w.f, w.run
	obj = Object{URL: u, Start: time.Since(run.start)}
	timeout := f.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	addr := hostPort(u)
	if f.Proxy != "" {
		addr = f.Proxy
	}
	begin := time.Now()
	for attempt := 0; ; attempt++ {
		c := w.conns[addr]
		if c == nil || !c.Reusable() {
			port := u.Port()
			if port == "" {
				port = "80"
			}
			dial, err := f.resolve(ctx, run, u.Hostname(), port)
			if f.Proxy != "" {
				dial, err = f.Proxy, nil
			}
			if err == nil {
				err = f.delay(ctx)
			}
			if err == nil {
				c, err = web.Dial(ctx, dial, web.Options{Trace: f.Trace, Rate: f.Rate})
			}
			if err == nil {
				c.Connect += f.RTT
			}
			if err != nil {
				obj.Err = err
				return obj
			}
			run.mu.Lock()
			run.conns++
			w.ids[c] = run.conns
			run.rtts = append(run.rtts, c.Connect)
			run.mu.Unlock()
			obj.NewConn = true
			w.conns[addr] = c
		}
		obj.Conn = w.ids[c]
		err := f.delay(ctx)
		if err == nil {
			err = w.exchange(ctx, c, u, dst, &obj, redirects)
		}
		if err == nil {
			break
		}
		// A kept-alive connection the server closed meanwhile is retried
		// once on a new one (RFC 9112 §9.3.1: GET is idempotent).
		delete(w.conns, addr)
		c.Close()
		if obj.NewConn || attempt > 0 || obj.Bytes > 0 {
			obj.Err = err
			return obj
		}
	}
	obj.Elapsed = time.Since(begin)
	if c := w.conns[addr]; c != nil && (!f.persistent() || !c.Reusable()) {
		c.Close()
		delete(w.conns, addr)
	}
	return obj
}

func (w *worker) exchange(ctx context.Context, c *web.ClientConn, u *url.URL, dst io.Writer, obj *Object, redirects bool) error {
	f := w.f
	req := &web.OutRequest{Method: "GET", Target: u.RequestURI(), Host: u.Host, HTTP10: f.HTTP10, Close: !f.persistent()}
	if f.Proxy != "" {
		abs := *u
		abs.Fragment, abs.RawFragment = "", ""
		req.Target = abs.String()
	}
	ua := f.UserAgent
	if ua == "" {
		ua = "applayer"
	}
	req.Header = web.Header{{Name: "User-Agent", Value: ua}, {Name: "Accept", Value: "*/*"}}
	if f.Jar != nil {
		if ck := f.Jar.Header(u.Hostname(), u.EscapedPath()); ck != "" {
			req.Header.Add("Cookie", ck)
		}
	}
	key := u.String()
	var cached CacheEntry
	haveCached := false
	if f.Cache != nil {
		if cached, haveCached = f.Cache.Lookup(key); haveCached {
			if cached.ETag != "" {
				req.Header.Add("If-None-Match", cached.ETag)
			}
			if cached.LastModified != "" {
				req.Header.Add("If-Modified-Since", cached.LastModified)
			}
		}
	}
	resp, err := c.Do(ctx, req)
	if err != nil {
		return err
	}
	obj.Status = resp.Status
	obj.XCache = resp.Header.Get("X-Cache")
	obj.ContentType = resp.Header.Get("Content-Type")
	if f.Jar != nil {
		f.Jar.SetCookies(u.Hostname(), u.EscapedPath(), resp.Header)
	}
	var sink io.Writer = dst
	if redirects && isRedirect(resp.Status) {
		// The body of a redirect is for people; the client follows it.
		obj.Location = resp.Header.Get("Location")
		sink = io.Discard
	}
	var tmp *os.File
	if f.Cache != nil && resp.Status == 200 && (resp.Header.Get("ETag") != "" || resp.Header.Get("Last-Modified") != "") {
		if tmp, err = f.Cache.Temp(); err == nil {
			sink = io.MultiWriter(dst, tmp)
		}
	}
	body := resp.Body
	if f.Progress != nil {
		body = &progressReader{r: body, u: u, total: resp.ContentLength, fn: f.Progress}
	}
	first := time.Now()
	n, err := io.Copy(sink, body)
	obj.Bytes = n
	obj.Transfer = time.Since(first)
	if tmp != nil {
		name := tmp.Name()
		cerr := tmp.Close()
		if err == nil && cerr == nil {
			f.Cache.Store(CacheEntry{URL: key, ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified"), ContentType: obj.ContentType, Size: n}, name)
		} else {
			os.Remove(name)
		}
	}
	if err != nil {
		return err
	}
	if resp.Status == 304 && haveCached {
		cf, err := f.Cache.Open(key)
		if err != nil {
			return err
		}
		defer cf.Close()
		obj.Cached = true
		obj.ContentType = cached.ContentType
		obj.Status = 200
		if _, err := io.Copy(dst, cf); err != nil {
			return err
		}
	}
	return nil
}

// maxPage bounds how much of a base page is searched for objects.
const maxPage = 16 << 20

// headBuffer keeps the first max bytes written to it and drops the rest.
type headBuffer struct {
	b   []byte
	max int
}

func (h *headBuffer) Write(p []byte) (int, error) {
	if room := h.max - len(h.b); room > 0 {
		h.b = append(h.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

type progressReader struct {
	r           io.Reader
	u           *url.URL
	done, total int64
	fn          func(*url.URL, int64, int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.done += int64(n)
	p.fn(p.u, p.done, p.total)
	return n, err
}

// Page fetches an HTML page and every object it references (see
// ObjectLinks), writes the page's body to base (which may be nil), and
// reports what happened beside the textbook's model.
func (f *Fetcher) Page(ctx context.Context, rawURL string, base io.Writer) (*Report, error) {
	u, err := parseHTTPURL(rawURL)
	if err != nil {
		return nil, err
	}
	r := &run{start: time.Now()}
	par := max(f.Parallel, 1)
	workers := make([]*worker, par)
	for i := range workers {
		workers[i] = f.newWorker(r)
		defer workers[i].close()
	}
	// The page goes to base as it arrives; the first maxPage bytes are
	// kept for finding the objects it references.
	page := &headBuffer{max: maxPage}
	var dst io.Writer = page
	if base != nil {
		dst = io.MultiWriter(base, page)
	}
	baseObj, err := workers[0].getFollowing(ctx, u, dst)
	if err != nil {
		return nil, err
	}
	if baseObj.Status >= 400 {
		return nil, fmt.Errorf("%s: %d %s", baseObj.URL, baseObj.Status, web.StatusText(baseObj.Status))
	}
	links := ObjectLinks(bytes.NewReader(page.b), baseObj.URL)
	objs := make([]Object, len(links))
	next := make(chan int)
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if links[i].Scheme != "http" {
					objs[i] = Object{URL: links[i], Err: errors.New("not http: skipped")}
					continue
				}
				objs[i] = w.fetch(ctx, links[i], io.Discard, false)
			}
		}()
	}
	for i := range links {
		select {
		case next <- i:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	rep := &Report{Objects: append([]Object{baseObj}, objs...), Total: time.Since(r.start), Conns: r.conns, Parallel: par, Persisted: f.persistent()}
	for _, o := range rep.Objects {
		rep.Bytes += o.Bytes
		rep.Transfer += o.Transfer
	}
	for _, l := range r.hosts {
		rep.Lookups++
		rep.DNS += l.took
	}
	rtts := slices.Clone(r.rtts)
	slices.Sort(rtts)
	if len(rtts) > 0 {
		rep.RTT = rtts[len(rtts)/2]
	}
	proto := "HTTP/1.1"
	if f.HTTP10 {
		proto = "HTTP/1.0"
	}
	if rep.Persisted {
		rep.Mode = "persistent " + proto
	} else {
		rep.Mode = "non-persistent " + proto
	}
	return rep, ctx.Err()
}

// Model returns the textbook's prediction of the page's response time for
// n objects (the base file included) over p parallel connections: a TCP
// handshake costs one RTT and each request-response another; a
// non-persistent connection pays both for every object, a persistent one
// pays the handshake once per connection; transmission time adds on.
func Model(n, p int, persistent bool, rtt, transmission time.Duration) time.Duration {
	if n <= 0 {
		return 0
	}
	p = max(p, 1)
	rounds := time.Duration(math.Ceil(float64(n-1) / float64(p)))
	if !persistent {
		return 2*rtt + rounds*2*rtt + transmission
	}
	extra := time.Duration(0)
	if p > 1 && n > 1 {
		extra = rtt // the other connections' handshakes, in parallel
	}
	return 2*rtt + extra + rounds*rtt + transmission
}

// Rows is the report's objects as timeline rows: '-' from the request to
// the first byte of the body, '#' from there to the last.
func (rep *Report) Rows() []timeline.Row {
	rows := make([]timeline.Row, len(rep.Objects))
	for i, o := range rep.Objects {
		end := o.Start + o.Elapsed
		rows[i] = timeline.Row{Label: o.URL.RequestURI(), Sent: o.Start, First: end - o.Transfer, Last: end}
	}
	return rows
}

// WriteReport prints rep as the textbook would lay it out.
func (rep *Report) WriteReport(w io.Writer) {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d)/1e6) }
	n := len(rep.Objects)
	fmt.Fprintf(w, "page %s: %d objects (the base file and %d referenced)\n", rep.Objects[0].URL, n, n-1)
	fmt.Fprintf(w, "mode: %s, %d connection(s) at a time\n\n", rep.Mode, rep.Parallel)
	rows := rep.Rows()
	start, end := timeline.Start(rows), timeline.End(rows)
	const width = 30
	fmt.Fprintf(w, "  %-6s %10s  %-5s %-4s %11s  %-*s  %s\n", "status", "bytes", "conn", "new", "time", width, "timeline (0 to "+ms(end-start)+")", "object")
	for i, o := range rep.Objects {
		st := fmt.Sprint(o.Status)
		if o.Cached {
			st = "304*"
		}
		if o.Err != nil {
			st = "error"
		}
		newc := ""
		if o.NewConn {
			newc = "yes"
		}
		name := o.URL.String()
		if o.Err != nil {
			name += " (" + o.Err.Error() + ")"
		}
		fmt.Fprintf(w, "  %-6s %10d  %-5d %-4s %11s  %s  %s\n", st, o.Bytes, o.Conn, newc, ms(o.Elapsed), timeline.Bar(rows[i], start, end, width), name)
	}
	fmt.Fprintf(w, "\nconnections opened:  %d\n", rep.Conns)
	if rep.Lookups > 0 {
		fmt.Fprintf(w, "DNS look-ups:        %d, %s in all\n", rep.Lookups, ms(rep.DNS))
	}
	fmt.Fprintf(w, "RTT (TCP handshake): %s (median)\n", ms(rep.RTT))
	fmt.Fprintf(w, "bytes received:      %d (bodies)\n", rep.Bytes)
	fmt.Fprintf(w, "transmission time:   %s (first to last byte of each body, summed)\n", ms(rep.Transfer))
	fmt.Fprintf(w, "total time:          %s (measured)\n\n", ms(rep.Total))
	fmt.Fprintf(w, "textbook model for %d objects:\n", n)
	mark := func(persistent bool, p int) string {
		if persistent == rep.Persisted && p == rep.Parallel {
			return "   <- this run"
		}
		return ""
	}
	p := rep.Parallel
	fmt.Fprintf(w, "  non-persistent, serial:        2 RTT x %d + transmission = %s%s\n", n, ms(Model(n, 1, false, rep.RTT, rep.Transfer)), mark(false, 1))
	if p > 1 {
		fmt.Fprintf(w, "  non-persistent, %d in parallel: 2 RTT x (1 + %d rounds) + transmission = %s%s\n", p, (n-1+p-1)/p, ms(Model(n, p, false, rep.RTT, rep.Transfer)), mark(false, p))
	}
	fmt.Fprintf(w, "  persistent, serial:            2 RTT + 1 RTT x %d + transmission = %s%s\n", n-1, ms(Model(n, 1, true, rep.RTT, rep.Transfer)), mark(true, 1))
	if p > 1 {
		fmt.Fprintf(w, "  persistent, %d in parallel:     3 RTT + 1 RTT x %d rounds + transmission = %s%s\n", p, (n-1+p-1)/p, ms(Model(n, p, true, rep.RTT, rep.Transfer)), mark(true, p))
	}
	fmt.Fprintf(w, "measured:                        %s (the model leaves out server and client processing time)\n", ms(rep.Total))
}
