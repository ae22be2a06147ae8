package cache

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/applayer/applayer/web"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func hdr(kv ...string) web.Header {
	var h web.Header
	for i := 0; i < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func date(d time.Duration) string { return t0.Add(d).Format(web.TimeFormat) }

var shared = Policy{Shared: true}

func TestLifetime(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		h         web.Header
		p         Policy
		want      time.Duration
		heuristic bool
	}{
		{"§4.2.1 s-maxage first in a shared cache", 200, hdr("Cache-Control", "max-age=10, s-maxage=20"), shared, 20 * time.Second, false},
		{"§4.2.1 s-maxage ignored by a private cache", 200, hdr("Cache-Control", "max-age=10, s-maxage=20"), Policy{}, 10 * time.Second, false},
		{"§4.2.1 max-age over Expires", 200, hdr("Date", date(0), "Cache-Control", "max-age=10", "Expires", date(time.Hour)), shared, 10 * time.Second, false},
		{"§4.2.1 Expires minus Date", 200, hdr("Date", date(0), "Expires", date(time.Hour)), shared, time.Hour, false},
		{"§5.3 invalid Expires is in the past", 200, hdr("Date", date(0), "Expires", "0"), shared, 0, false},
		{"§5.3 Expires before Date", 200, hdr("Date", date(0), "Expires", date(-time.Hour)), shared, 0, false},
		{"§4.2.2 heuristic: 10% of Date minus Last-Modified", 200, hdr("Date", date(0), "Last-Modified", date(-100*time.Hour)), shared, 10 * time.Hour, true},
		{"§4.2.2 heuristic capped", 200, hdr("Date", date(0), "Last-Modified", date(-1000*24*time.Hour)), shared, DefaultMaxHeuristic, true},
		{"§4.2.2 no heuristic for 302", 302, hdr("Date", date(0), "Last-Modified", date(-100*time.Hour)), shared, 0, false},
		{"§4.2.2 public allows a heuristic for any status", 302, hdr("Date", date(0), "Cache-Control", "public", "Last-Modified", date(-100*time.Hour)), shared, 10 * time.Hour, true},
		{"§4.2.2 no Last-Modified, no heuristic lifetime", 200, hdr("Date", date(0)), shared, 0, true},
		{"§4.2.1 invalid max-age: stale", 200, hdr("Cache-Control", "max-age=abc", "Expires", date(time.Hour), "Date", date(0)), shared, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &Entry{Status: tt.status, Header: tt.h, RequestTime: t0, ResponseTime: t0}
			life, heur := e.Lifetime(e.Control(), tt.p)
			if life != tt.want || heur != tt.heuristic {
				t.Errorf("lifetime %v heuristic %v, want %v %v", life, heur, tt.want, tt.heuristic)
			}
		})
	}
}

func TestAge(t *testing.T) {
	tests := []struct {
		name     string
		h        web.Header
		req, rsp time.Duration // request and response times after t0
		now      time.Duration
		want     time.Duration
	}{
		{"§4.2.3 resident time", hdr("Date", date(0)), 0, 0, 30 * time.Second, 30 * time.Second},
		{"§4.2.3 Age plus response delay", hdr("Date", date(0), "Age", "100"), 0, 2 * time.Second, 2 * time.Second, 102 * time.Second},
		{"§4.2.3 apparent age from Date", hdr("Date", date(-50*time.Second)), 0, 0, 0, 50 * time.Second},
		{"§4.2.3 apparent age never negative", hdr("Date", date(time.Hour)), 0, 0, 0, 0},
		{"§5.1 first member of a list", hdr("Date", date(0), "Age", "10, 20"), 0, 0, 0, 10 * time.Second},
		{"§5.1 invalid Age: of unknown age, stale", hdr("Date", date(0), "Age", "-5"), 0, 0, 0, time.Duration(maxDelta) * time.Second},
		{"§5.1 non-numeric Age: stale", hdr("Date", date(0), "Age", "7200;foo=1"), 0, 0, 0, time.Duration(maxDelta) * time.Second},
		{"§5.1 several Age lines: stale", hdr("Date", date(0), "Age", "7", "Age", "0"), 0, 0, 0, time.Duration(maxDelta) * time.Second},
		{"§1.2.2 huge Age saturates", hdr("Date", date(0), "Age", "99999999999999"), 0, 0, 0, time.Duration(maxDelta) * time.Second},
		{"RFC 9110 §6.6.1 no Date: the receipt time", hdr(), 0, 5 * time.Second, 10 * time.Second, 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &Entry{Status: 200, Header: tt.h, RequestTime: t0.Add(tt.req), ResponseTime: t0.Add(tt.rsp)}
			if got := e.Age(t0.Add(tt.now)); got != tt.want {
				t.Errorf("age %v, want %v", got, tt.want)
			}
		})
	}
}

func TestStorable(t *testing.T) {
	tests := []struct {
		name   string
		method string
		req    web.Header
		status int
		h      web.Header
		want   bool
	}{
		{"§3 GET with max-age", "GET", nil, 200, hdr("Cache-Control", "max-age=60"), true},
		{"§3 POST is not stored", "POST", nil, 200, hdr("Cache-Control", "max-age=60"), false},
		{"§3 HEAD is not stored here", "HEAD", nil, 200, hdr("Cache-Control", "max-age=60"), false},
		{"§5.2.2.5 response no-store", "GET", nil, 200, hdr("Cache-Control", "no-store, max-age=60"), false},
		{"§5.2.1.5 request no-store", "GET", hdr("Cache-Control", "no-store"), 200, hdr("Cache-Control", "max-age=60"), false},
		{"§5.2.2.7 private in a shared cache", "GET", nil, 200, hdr("Cache-Control", "private, max-age=60"), false},
		{"§5.2.2.7 private in a private cache", "GET", nil, 200, hdr("Cache-Control", "private"), true},
		{"§5.2.2.7 private with fields is stored without them", "GET", nil, 200, hdr("Cache-Control", `private="x", max-age=60`), true},
		{"§3.5 Authorization without permission", "GET", hdr("Authorization", "Basic x"), 200, hdr("Cache-Control", "max-age=60"), false},
		{"§3.5 Authorization with public", "GET", hdr("Authorization", "Basic x"), 200, hdr("Cache-Control", "public, max-age=60"), true},
		{"§3.5 Authorization with s-maxage", "GET", hdr("Authorization", "Basic x"), 200, hdr("Cache-Control", "s-maxage=60"), true},
		{"§3.5 Authorization with must-revalidate", "GET", hdr("Authorization", "Basic x"), 200, hdr("Cache-Control", "must-revalidate, max-age=60"), true},
		{"§3 206 is not stored", "GET", nil, 206, hdr("Cache-Control", "max-age=60"), false},
		{"§3 heuristically cacheable 404", "GET", nil, 404, hdr("Last-Modified", date(-time.Hour)), true},
		{"§3 302 without freshness", "GET", nil, 302, hdr(), false},
		{"§3 302 with Expires", "GET", nil, 302, hdr("Expires", date(time.Hour)), true},
		{"§3 an unknown status with max-age", "GET", nil, 599, hdr("Cache-Control", "max-age=60"), true},
		{"§5.2.2.3 must-understand overrides no-store for a known status", "GET", nil, 200, hdr("Cache-Control", "must-understand, no-store, max-age=60"), true},
		{"§5.2.2.3 must-understand, unknown status", "GET", nil, 599, hdr("Cache-Control", "must-understand, no-store, max-age=60"), false},
		{"§4.1 Vary: * is not stored", "GET", nil, 200, hdr("Cache-Control", "max-age=60", "Vary", "*"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Storable(shared.withShared(tt.name), tt.method, tt.req, tt.status, tt.h); got != tt.want {
				t.Errorf("Storable = %v, want %v", got, tt.want)
			}
		})
	}
}

// withShared makes the "private cache" rows private.
func (p Policy) withShared(name string) Policy {
	if len(name) > 0 && strings.Contains(name, "private cache") {
		p.Shared = false
	}
	return p
}

func TestDecide(t *testing.T) {
	tests := []struct {
		name  string
		h     web.Header // response, received at t0 with Date t0
		req   web.Header
		now   time.Duration
		state State
	}{
		{"§4.2 fresh", hdr("Cache-Control", "max-age=60"), nil, 30 * time.Second, Fresh},
		{"§4.2 stale", hdr("Cache-Control", "max-age=60"), nil, 61 * time.Second, Validate},
		{"§4.2 age equal to lifetime is stale", hdr("Cache-Control", "max-age=60"), nil, 60 * time.Second, Validate},
		{"§5.2.2.4 response no-cache", hdr("Cache-Control", "no-cache, max-age=60"), nil, 0, Validate},
		{"§5.2.2.4 no-cache with fields serves fresh", hdr("Cache-Control", `no-cache="x", max-age=60`), nil, 0, Fresh},
		{"§5.2.1.4 request no-cache", hdr("Cache-Control", "max-age=60"), hdr("Cache-Control", "no-cache"), 0, Validate},
		{"§5.4 Pragma: no-cache", hdr("Cache-Control", "max-age=60"), hdr("Pragma", "no-cache"), 0, Validate},
		{"§5.4 Pragma ignored beside Cache-Control", hdr("Cache-Control", "max-age=60"), hdr("Pragma", "no-cache", "Cache-Control", "max-stale=1"), 0, Fresh},
		{"§5.2.1.1 request max-age", hdr("Cache-Control", "max-age=60"), hdr("Cache-Control", "max-age=10"), 20 * time.Second, Validate},
		{"§5.2.1.3 request min-fresh", hdr("Cache-Control", "max-age=60"), hdr("Cache-Control", "min-fresh=50"), 20 * time.Second, Validate},
		{"§5.2.1.2 request max-stale accepts", hdr("Cache-Control", "max-age=60"), hdr("Cache-Control", "max-stale=30"), 80 * time.Second, StaleOK},
		{"§5.2.1.2 request max-stale too stale", hdr("Cache-Control", "max-age=60"), hdr("Cache-Control", "max-stale=10"), 80 * time.Second, Validate},
		{"§5.2.1.2 max-stale without value", hdr("Cache-Control", "max-age=60"), hdr("Cache-Control", "max-stale"), time.Hour, StaleOK},
		{"§5.2.2.2 must-revalidate beats max-stale", hdr("Cache-Control", "max-age=60, must-revalidate"), hdr("Cache-Control", "max-stale"), 80 * time.Second, Validate},
		{"§5.2.2.8 proxy-revalidate in a shared cache", hdr("Cache-Control", "max-age=60, proxy-revalidate"), hdr("Cache-Control", "max-stale"), 80 * time.Second, Validate},
		{"§5.2.2.10 s-maxage implies proxy-revalidate", hdr("Cache-Control", "s-maxage=60"), hdr("Cache-Control", "max-stale"), 80 * time.Second, Validate},
		{"RFC 5861 §3 stale-while-revalidate", hdr("Cache-Control", "max-age=60, stale-while-revalidate=30"), nil, 80 * time.Second, StaleRevalidate},
		{"RFC 5861 §3 past the window", hdr("Cache-Control", "max-age=60, stale-while-revalidate=30"), nil, 100 * time.Second, Validate},
		{"RFC 8246 immutable ignores a reload while fresh", hdr("Cache-Control", "max-age=60, immutable"), hdr("Cache-Control", "no-cache"), 10 * time.Second, Fresh},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := append(hdr("Date", date(0)), tt.h...)
			e := &Entry{Status: 200, Header: h, RequestTime: t0, ResponseTime: t0}
			if d := Decide(shared, e, tt.req, t0.Add(tt.now)); d.State != tt.state {
				t.Errorf("state %v, want %v", d.State, tt.state)
			}
		})
	}
}

func TestStaleIfError(t *testing.T) {
	tests := []struct {
		h, req web.Header
		now    time.Duration
		want   bool
	}{
		{hdr("Cache-Control", "max-age=60, stale-if-error=60"), nil, 100 * time.Second, true},
		{hdr("Cache-Control", "max-age=60, stale-if-error=10"), nil, 100 * time.Second, false},
		{hdr("Cache-Control", "max-age=60"), hdr("Cache-Control", "stale-if-error=100"), 100 * time.Second, true},
		{hdr("Cache-Control", "max-age=60"), nil, 100 * time.Second, false},
		{hdr("Cache-Control", "max-age=60, stale-if-error=60, must-revalidate"), nil, 100 * time.Second, false},
	}
	for i, tt := range tests {
		e := &Entry{Status: 200, Header: append(hdr("Date", date(0)), tt.h...), RequestTime: t0, ResponseTime: t0}
		d := Decide(shared, e, tt.req, t0.Add(tt.now))
		if got := d.MayServeStaleOnError(e); got != tt.want {
			t.Errorf("%d: %v, want %v", i, got, tt.want)
		}
	}
}

// RFC 9111 §3.2 and §4.3.4: a 304 replaces the stored fields it carries,
// not Content-Length or hop-by-hop fields, and adds new ones.
func TestFreshened(t *testing.T) {
	e := &Entry{Status: 200, Header: hdr("Content-Length", "5", "ETag", `"a"`, "Content-Encoding", "gzip", "Age", "100", "X-Keep", "1", "X-Up", "old", "X-Up", "older", "Cache-Control", "max-age=1"), Body: []byte("hello")}
	n := Freshened(e, hdr("Content-Length", "0", "ETag", `"b"`, "Content-Encoding", "br", "X-Up", "new", "X-New", "n", "Cache-Control", "max-age=60", "Connection", "close, X-Hop", "X-Hop", "h"), t0, t0)
	want := hdr("Content-Length", "5", "ETag", `"a"`, "Content-Encoding", "gzip", "X-Keep", "1", "X-Up", "new", "X-New", "n", "Cache-Control", "max-age=60")
	if !reflect.DeepEqual(n.Header, want) {
		t.Errorf("got %v\nwant %v", n.Header, want)
	}
	if e.Header.Get("X-Up") != "old" {
		t.Error("the stored entry was changed in place")
	}
}

func TestNotModified(t *testing.T) {
	resp := hdr("ETag", `"v1"`, "Last-Modified", date(-time.Hour))
	tests := []struct {
		req  web.Header
		want bool
	}{
		{hdr("If-None-Match", `"v1"`), true},
		{hdr("If-None-Match", `W/"v1"`), true}, // RFC 9110 §13.1.2: weak comparison
		{hdr("If-None-Match", `"x", "v1"`), true},
		{hdr("If-None-Match", "*"), true},
		{hdr("If-None-Match", `"x"`, "If-Modified-Since", date(0)), false}, // INM wins (§13.2.2)
		{hdr("If-Modified-Since", date(0)), true},
		{hdr("If-Modified-Since", date(-2*time.Hour)), false},
		{hdr("If-Modified-Since", "garbage"), false},
		{nil, false},
	}
	for _, tt := range tests {
		if got := NotModified(tt.req, resp); got != tt.want {
			t.Errorf("%v: %v, want %v", tt.req, got, tt.want)
		}
	}
}

func TestKey(t *testing.T) {
	tests := []struct{ scheme, host, path, query, want string }{
		{"", "Example.COM", "/a", "", "http://example.com/a"},
		{"HTTP", "example.com:80", "/a", "b=1", "http://example.com/a?b=1"},
		{"http", "example.com:8080", "", "", "http://example.com:8080/"},
		{"https", "example.com:443", "/%2F", "", "https://example.com/%2F"},
	}
	for _, tt := range tests {
		if got := Key(tt.scheme, tt.host, tt.path, tt.query); got != tt.want {
			t.Errorf("Key(%q,%q,%q,%q) = %q, want %q", tt.scheme, tt.host, tt.path, tt.query, got, tt.want)
		}
	}
}

// RFC 9111 §4.4: the target, and Location and Content-Location on the
// same origin, are invalidated after an unsafe method.
func TestInvalidation(t *testing.T) {
	if Invalidates("GET", 200) || Invalidates("POST", 500) || !Invalidates("POST", 201) || !Invalidates("DELETE", 204) || !Invalidates("PUT", 303) || !Invalidates("PATCH", 200) {
		t.Error("Invalidates disagrees with §4.4")
	}
	base := "http://example.com/dir/page?x=1"
	got := InvalidatedKeys(base, hdr("Location", "/other", "Content-Location", "sibling"))
	want := []string{base, "http://example.com/other", "http://example.com/dir/sibling"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	got = InvalidatedKeys(base, hdr("Location", "http://evil.example/x", "Content-Location", "//EXAMPLE.com:80/y"))
	want = []string{base, "http://example.com/y"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("cross-origin: got %q, want %q", got, want)
	}
}

func TestMemoryLRU(t *testing.T) {
	m := &Memory{}
	mk := func(k string, n int) *Entry { return &Entry{Key: k, Status: 200, Body: make([]byte, n)} }
	one := mk("a", 1000).Size()
	m.MaxSize = 3 * one
	m.Put(mk("a", 1000))
	m.Put(mk("b", 1000))
	m.Put(mk("c", 1000))
	m.Get("a") // a is now the most recent
	m.Put(mk("d", 1000))
	if m.Get("b") != nil {
		t.Error("b, the least recently used, was not evicted")
	}
	for _, k := range []string{"a", "c", "d"} {
		if m.Get(k) == nil {
			t.Errorf("%s evicted", k)
		}
	}
	if n, size := m.Stats(); n != 3 || size > m.MaxSize {
		t.Errorf("stats %d entries %d bytes", n, size)
	}
	m.Put(mk("huge", 10000)) // larger than the bound: not kept
	if m.Get("huge") != nil {
		t.Error("an entry over the bound was kept")
	}
	// Variants share a key and replace by VaryKey.
	v1 := &Entry{Key: "v", VaryKey: "1"}
	v2 := &Entry{Key: "v", VaryKey: "2"}
	m.Put(v1)
	m.Put(v2)
	m.Put(&Entry{Key: "v", VaryKey: "1"})
	if got := m.Get("v"); len(got) != 2 || got[1] != v2 {
		t.Errorf("variants: %v", got)
	}
	m.Delete("v")
	if m.Get("v") != nil {
		t.Error("Delete left variants")
	}
}

func TestSelectVary(t *testing.T) {
	m := &Memory{}
	gz := NewEntry(shared, "k", hdr("Accept-Encoding", "gzip"), 200, hdr("Vary", "Accept-Encoding", "Cache-Control", "max-age=60"), []byte("gz"), t0, t0)
	id := NewEntry(shared, "k", nil, 200, hdr("Vary", "Accept-Encoding", "Cache-Control", "max-age=60"), []byte("id"), t0, t0)
	m.Put(gz)
	m.Put(id)
	if e := Select(m, "k", hdr("Accept-Encoding", "GZIP")); e != gz {
		t.Errorf("gzip request got %v", e)
	}
	if e := Select(m, "k", nil); e != id {
		t.Errorf("no Accept-Encoding got %v", e)
	}
	if e := Select(m, "k", hdr("Accept-Encoding", "br")); e != nil {
		t.Errorf("br request got %v", e)
	}
}

// RFC 9213 §2.1: a cache that targets CDN-Cache-Control uses a valid one
// instead of Cache-Control and Expires; an invalid one is ignored.
func TestTargeted(t *testing.T) {
	cdn := Policy{Shared: true, Targets: []string{"CDN-Cache-Control"}}
	tests := []struct {
		name     string
		h        web.Header
		storable bool
		life     time.Duration
	}{
		{"CDN-Cache-Control alone", hdr("CDN-Cache-Control", "max-age=600"), true, 600 * time.Second},
		{"it wins over Cache-Control", hdr("Cache-Control", "no-store", "CDN-Cache-Control", "max-age=600"), true, 600 * time.Second},
		{"its no-store wins over a fresh Cache-Control", hdr("Cache-Control", "max-age=600", "CDN-Cache-Control", "no-store"), false, 0},
		{"Expires is ignored beside it", hdr("Date", date(0), "Expires", date(time.Hour), "CDN-Cache-Control", "max-age=60"), true, time.Minute},
		{"an invalid one is ignored", hdr("Cache-Control", "max-age=30", "CDN-Cache-Control", "max-age=x"), true, 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Storable(cdn, "GET", nil, 200, tt.h); got != tt.storable {
				t.Fatalf("Storable %v, want %v", got, tt.storable)
			}
			if !tt.storable {
				return
			}
			e := NewEntry(cdn, "k", nil, 200, tt.h, nil, t0, t0)
			if life, _ := e.Lifetime(e.Control(), cdn); life != tt.life {
				t.Errorf("lifetime %v, want %v", life, tt.life)
			}
		})
	}
	// A cache that does not target it ignores it.
	if !Storable(shared, "GET", nil, 200, hdr("Cache-Control", "max-age=600", "CDN-Cache-Control", "no-store")) {
		t.Error("CDN-Cache-Control obeyed by a cache that does not target it")
	}
}
