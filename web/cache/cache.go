package cache

import (
	"cmp"
	"strings"
	"time"

	"github.com/applayer/applayer/web"
)

// Policy is what kind of cache applies the rules, and its heuristic.
type Policy struct {
	// Shared is true for a proxy (a shared cache: s-maxage, private,
	// proxy-revalidate and Authorization apply, RFC 9111 §3.5, §5.2.2).
	Shared bool
	// Heuristic is the fraction of the time since Last-Modified a
	// response without explicit freshness stays fresh (default
	// DefaultHeuristic, RFC 9111 §4.2.2's "typical setting").
	Heuristic float64
	// MaxHeuristic caps a heuristic lifetime (default DefaultMaxHeuristic).
	MaxHeuristic time.Duration
	// Targets are the targeted cache-control fields this cache obeys
	// (RFC 9213), first first: a reverse proxy in the CDN role lists
	// "CDN-Cache-Control". A response with a valid, non-empty one is
	// cached by it alone: its Cache-Control and Expires are ignored
	// (§2.1), though still sent on.
	Targets []string
}

// ResponseControl is the Cache-Control that governs this cache's use of
// a response: the first valid targeted field (RFC 9213 §2.1), else
// Cache-Control. targeted reports the first case.
func (p Policy) ResponseControl(h web.Header) (cc Control, targeted bool) {
	for _, name := range p.Targets {
		if vs := h.Values(name); len(vs) > 0 {
			if c := ParseControl(vs); !c.Invalid && c.String() != "" {
				return c, true
			}
		}
	}
	return ParseControl(h.Values("Cache-Control")), false
}

// Defaults of Policy.
const (
	DefaultHeuristic    = 0.1
	DefaultMaxHeuristic = 24 * time.Hour
)

func (p Policy) heuristic() float64 { return cmp.Or(p.Heuristic, DefaultHeuristic) }
func (p Policy) maxHeuristic() time.Duration {
	return cmp.Or(p.MaxHeuristic, DefaultMaxHeuristic)
}

// Key is the primary cache key of a request (RFC 9111 §2): the target URI
// reconstructed as scheme://host/path?query, with the scheme and host in
// lower case and the default port (80 for http) removed, so that
// "http://EXAMPLE.com:80/a" and "http://example.com/a" are one key. The
// path and query are kept exactly as sent (no percent-decoding: "/a%2Fb"
// and "/a/b" may be different resources). The method is not part of the
// key: only GET responses are stored, and they answer HEAD too.
func Key(scheme, host, rawPath, rawQuery string) string {
	scheme = strings.ToLower(cmp.Or(scheme, "http"))
	host = strings.ToLower(host)
	if scheme == "http" {
		host = strings.TrimSuffix(host, ":80")
	} else if scheme == "https" {
		host = strings.TrimSuffix(host, ":443")
	}
	k := scheme + "://" + host + cmp.Or(rawPath, "/")
	if rawQuery != "" {
		k += "?" + rawQuery
	}
	return k
}

// RequestKey is Key for a request a server read.
func RequestKey(r *web.Request) string {
	return Key(r.Scheme, r.Host, r.RawPath, r.RawQuery)
}

// RequestControl is a request's Cache-Control, with "Pragma: no-cache"
// read as no-cache when the request has no Cache-Control (RFC 9111 §5.4).
func RequestControl(h web.Header) Control {
	vs := h.Values("Cache-Control")
	cc := ParseControl(vs)
	if len(vs) == 0 {
		for _, p := range h.Values("Pragma") {
			for e := range splitList(p) {
				if strings.EqualFold(e, "no-cache") {
					cc.NoCache = true
				}
			}
		}
	}
	return cc
}

// Storable reports whether a response may be stored (RFC 9111 §3): the
// request method is GET, neither message says no-store, a shared cache
// sees no private and, for a request with Authorization, one of public,
// must-revalidate or s-maxage (§3.5); the status is final, not 206 or 304
// (partial content is passed on, not stored), and understood when the
// response says must-understand; and the response has explicit freshness,
// public, or a status that is heuristically cacheable. A response with
// "Vary: *" is not stored either.
func Storable(p Policy, method string, reqHeader web.Header, status int, h web.Header) bool {
	if method != "GET" || status < 200 || status == 206 || status == 304 {
		return false
	}
	req := RequestControl(reqHeader)
	cc, targeted := p.ResponseControl(h)
	if cc.MustUnderstand {
		if !understood(status) {
			return false
		}
	} else if cc.NoStore {
		return false
	}
	if req.NoStore {
		return false
	}
	if p.Shared && cc.Private && cc.PrivateFields == nil {
		return false
	}
	if p.Shared && reqHeader.Has("Authorization") && !cc.Public && !cc.MustRevalidate && cc.SMaxAge < 0 {
		return false
	}
	if _, star := ParseVary(h.Values("Vary")); star {
		return false
	}
	switch {
	case cc.Public, cc.MaxAge >= 0, p.Shared && cc.SMaxAge >= 0, !targeted && h.Has("Expires"):
		return true
	case !p.Shared && cc.Private:
		return true
	case HeuristicStatus(status):
		return true
	}
	return false
}

// understood reports the status codes RFC 9110 §15 defines, the ones
// this cache understands for must-understand (RFC 9111 §5.2.2.3).
func understood(code int) bool {
	switch {
	case code >= 200 && code <= 206, code >= 300 && code <= 305, code == 307, code == 308,
		code >= 400 && code <= 418, code == 421, code == 422, code == 426,
		code >= 500 && code <= 505:
		return true
	}
	return false
}

// Hop-by-hop fields (RFC 9110 §7.6.1) and those a proxy handles itself:
// never stored, never forwarded.
var hopByHop = []string{"Connection", "Keep-Alive", "Proxy-Connection", "TE", "Transfer-Encoding", "Upgrade", "Trailer", "Proxy-Authenticate", "Proxy-Authorization"}

// IsHopByHop reports whether name is a hop-by-hop field, or one the
// message's Connection field lists.
func IsHopByHop(h web.Header, name string) bool {
	for _, n := range hopByHop {
		if strings.EqualFold(n, name) {
			return true
		}
	}
	for _, v := range h.Values("Connection") {
		for e := range splitList(v) {
			if strings.EqualFold(e, name) {
				return true
			}
		}
	}
	return false
}

// EndToEnd returns h without its hop-by-hop fields (a new slice).
func EndToEnd(h web.Header) web.Header {
	out := make(web.Header, 0, len(h))
	for _, f := range h {
		if !IsHopByHop(h, f.Name) {
			out = append(out, f)
		}
	}
	return out
}

// NewEntry builds the entry to store for a response (RFC 9111 §3.1):
// hop-by-hop fields are dropped and, in a shared cache, the fields a
// private="..." directive names.
func NewEntry(p Policy, key string, reqHeader web.Header, status int, h web.Header, body []byte, reqTime, respTime time.Time) *Entry {
	stored := EndToEnd(h)
	if p.Shared {
		if cc := ParseControl(h.Values("Cache-Control")); cc.Private {
			for _, f := range cc.PrivateFields {
				stored.Del(f)
			}
		}
	}
	vary, _ := ParseVary(h.Values("Vary"))
	e := &Entry{
		Key: key, Vary: vary, VaryKey: SecondaryKey(reqHeader, vary),
		Status: status, Header: stored, Body: body,
		RequestTime: reqTime, ResponseTime: respTime,
		Targets: p.Targets,
	}
	return e.parsed()
}

// A State is what a cache may do with a stored response for a request.
type State int

const (
	// Miss: nothing stored matches; forward the request.
	Miss State = iota
	// Fresh: serve the stored response.
	Fresh
	// StaleOK: stale, but the request's max-stale accepts it: serve it.
	StaleOK
	// StaleRevalidate: stale within the response's stale-while-revalidate
	// window (RFC 5861 §3): serve it and revalidate in the background.
	StaleRevalidate
	// Validate: the stored response may be used only once the origin
	// confirms it (a conditional request, RFC 9111 §4.3).
	Validate
)

func (s State) String() string {
	return [...]string{"miss", "fresh", "stale-ok", "stale-while-revalidate", "validate"}[s]
}

// Decision is the outcome of Decide.
type Decision struct {
	State State
	Age   time.Duration // the entry's current age
	// StaleIfError is how long past its lifetime the entry may still be
	// served if the origin fails (RFC 5861 §4): the larger of the
	// request's and the response's stale-if-error. -1 when neither said.
	StaleIfError time.Duration
	// Staleness is how far past its lifetime the entry is (0 if fresh).
	Staleness time.Duration
}

// Decide applies RFC 9111 §4 to one stored response e that matches the
// request's key and Vary (§4.1): whether it is fresh (§4.2), whether the
// request's directives accept it (§5.2.1), and whether it must be
// validated (no-cache, must-revalidate, proxy-revalidate, s-maxage).
func Decide(p Policy, e *Entry, reqHeader web.Header, now time.Time) Decision {
	req := RequestControl(reqHeader)
	cc := e.Control()
	life, _ := e.Lifetime(cc, p)
	age := e.Age(now)
	d := Decision{Age: age, StaleIfError: -1}
	if age > life {
		d.Staleness = age - life
	}
	if sie := max(req.StaleIfError, cc.StaleIfError); sie >= 0 {
		d.StaleIfError = time.Duration(sie) * time.Second
	}
	// Immutable (RFC 8246): while fresh, a client's reload (no-cache)
	// need not reach the origin; other request directives still apply.
	if req.NoCache && !(cc.Immutable && age < life) || cc.NoCache && cc.NoCacheFields == nil {
		d.State = Validate
		return d
	}
	fresh := age < life
	acceptable := true
	if req.MaxAge >= 0 && age > time.Duration(req.MaxAge)*time.Second {
		acceptable = false
	}
	if req.MinFresh >= 0 && life-age < time.Duration(req.MinFresh)*time.Second {
		acceptable = false
	}
	if fresh && acceptable {
		d.State = Fresh
		return d
	}
	mustRevalidate := cc.MustRevalidate || p.Shared && (cc.ProxyRevalidate || cc.SMaxAge >= 0)
	switch {
	case fresh || mustRevalidate:
		d.State = Validate
	case req.MaxStale >= 0 && (req.MaxStale == MaxStaleAny || d.Staleness <= time.Duration(req.MaxStale)*time.Second) && (req.MaxAge < 0 || age <= time.Duration(req.MaxAge)*time.Second) && req.MinFresh < 0:
		d.State = StaleOK
	case cc.StaleWhileRevalidate >= 0 && d.Staleness <= time.Duration(cc.StaleWhileRevalidate)*time.Second && req.MaxAge < 0 && req.MinFresh < 0:
		d.State = StaleRevalidate
	default:
		d.State = Validate
	}
	return d
}

// MayServeStaleOnError reports whether, the origin having failed (an
// error, or a 500, 502, 503 or 504), d's entry may be served stale.
func (d Decision) MayServeStaleOnError(e *Entry) bool {
	cc := e.Control()
	if cc.MustRevalidate || cc.NoCache && cc.NoCacheFields == nil {
		return false
	}
	return d.StaleIfError >= 0 && d.Staleness <= d.StaleIfError
}

// ServedHeader is the header to send for an entry served from the cache
// at age: the stored fields with Age set (RFC 9111 §5.1), and without the
// fields a no-cache="..." directive names when the entry was not just
// validated (§5.2.2.4).
func ServedHeader(e *Entry, age time.Duration, validated bool) web.Header {
	h := make(web.Header, 0, len(e.Header)+1)
	h = append(h, e.Header...)
	if !validated {
		if cc := e.Control(); cc.NoCache {
			for _, f := range cc.NoCacheFields {
				h.Del(f)
			}
		}
	}
	h.Set("Age", AgeField(age))
	return h
}

// Conditional returns the validators to send to the origin to revalidate
// e (RFC 9111 §4.3.1): If-None-Match with its ETag, If-Modified-Since
// with its Last-Modified. ok is false when it has neither.
func Conditional(e *Entry) (h web.Header, ok bool) {
	if et := e.Header.Get("ETag"); et != "" {
		h = append(h, web.Field{Name: "If-None-Match", Value: et})
	}
	if lm := e.Header.Get("Last-Modified"); lm != "" {
		h = append(h, web.Field{Name: "If-Modified-Since", Value: lm})
	}
	return h, len(h) > 0
}

// Freshened returns e updated by a 304 answer to its revalidation (RFC
// 9111 §4.3.4, §3.2): every field of the 304 replaces the stored fields
// of that name, except hop-by-hop fields, Content-Length, and the fields
// the stored body depends on (ETag, Content-Encoding, Content-Range,
// Content-MD5: a 304 cannot change the bytes they describe). The times
// are those of the validating exchange, so the stored Age goes unless the
// 304 brings one. e itself is not changed.
func Freshened(e *Entry, h web.Header, reqTime, respTime time.Time) *Entry {
	n := *e
	n.Header = append(web.Header(nil), e.Header...)
	n.Header.Del("Age")
	replaced := map[string]bool{}
	for _, f := range h {
		name := strings.ToLower(f.Name)
		switch name {
		case "content-length", "etag", "content-encoding", "content-range", "content-md5":
			continue
		}
		if IsHopByHop(h, f.Name) {
			continue
		}
		if !replaced[name] {
			n.Header.Del(f.Name)
			replaced[name] = true
		}
		n.Header.Add(f.Name, f.Value)
	}
	n.RequestTime, n.ResponseTime = reqTime, respTime
	return n.parsed()
}

// NotModified evaluates a client's conditional request against a response
// the cache serves (RFC 9110 §13.2.2, as RFC 9111 §4.3.2 asks of a
// cache): If-None-Match, compared weakly, wins over If-Modified-Since.
func NotModified(reqHeader, h web.Header) bool {
	if inm := reqHeader.Values("If-None-Match"); len(inm) > 0 {
		et := h.Get("ETag")
		for _, v := range inm {
			for e := range splitList(v) {
				if e == "*" || et != "" && strings.TrimPrefix(e, "W/") == strings.TrimPrefix(et, "W/") {
					return true
				}
			}
		}
		return false
	}
	ims, ok := web.ParseTime(reqHeader.Get("If-Modified-Since"))
	if !ok {
		return false
	}
	lm, ok := web.ParseTime(h.Get("Last-Modified"))
	if !ok {
		lm, ok = web.ParseTime(h.Get("Date"))
	}
	return ok && !lm.After(ims)
}

// Invalidates reports whether a response to method invalidates stored
// responses (RFC 9111 §4.4): an unsafe method (anything but GET, HEAD,
// OPTIONS and TRACE) answered with a non-error status (2xx or 3xx).
func Invalidates(method string, status int) bool {
	switch method {
	case "GET", "HEAD", "OPTIONS", "TRACE":
		return false
	}
	return status >= 200 && status < 400
}

// InvalidatedKeys returns the keys an unsafe request's response
// invalidates: its own target, and the URIs in Location and
// Content-Location when they are on the same host (§4.4: not another
// origin's, which would let one site purge another's entries). base is
// the request's key.
func InvalidatedKeys(base string, h web.Header) []string {
	keys := []string{base}
	scheme, rest, _ := strings.Cut(base, "://")
	host, _, _ := strings.Cut(rest, "/")
	for _, name := range []string{"Location", "Content-Location"} {
		v := h.Get(name)
		if v == "" {
			continue
		}
		if k, ok := resolve(scheme, host, base, v); ok {
			keys = append(keys, k)
		}
	}
	return keys
}

// resolve turns a Location or Content-Location value into a key on the
// same scheme and host, or reports that it names another origin.
func resolve(scheme, host, base, ref string) (string, bool) {
	if i := strings.IndexByte(ref, '#'); i >= 0 {
		ref = ref[:i]
	}
	switch {
	case strings.HasPrefix(ref, "//"):
		ref = scheme + ":" + ref
	case strings.Contains(ref, "://"):
	case strings.HasPrefix(ref, "/"):
		ref = scheme + "://" + host + ref
	default:
		// Relative to the base's directory.
		b, _, _ := strings.Cut(base, "?")
		ref = b[:strings.LastIndexByte(b, '/')+1] + ref
	}
	s, rest, _ := strings.Cut(ref, "://")
	i := strings.IndexAny(rest, "/?")
	if i < 0 {
		i = len(rest)
	}
	path, query, _ := strings.Cut(rest[i:], "?")
	k := Key(s, rest[:i], path, query)
	ks, krest, _ := strings.Cut(k, "://")
	kh, _, _ := strings.Cut(krest, "/")
	if ks != scheme || kh != host {
		return "", false
	}
	return k, true
}
