package cache

import (
	"reflect"
	"strings"
	"testing"

	"github.com/applayer/applayer/web"
)

func TestParseVary(t *testing.T) {
	tests := []struct {
		in    []string
		names []string
		star  bool
	}{
		{[]string{"Accept-Encoding"}, []string{"accept-encoding"}, false},
		{[]string{"Foo, Bar", "baz"}, []string{"foo", "bar", "baz"}, false}, // RFC 9110 §5.3: lines are one list
		{[]string{" , FOO ,, foo"}, []string{"foo"}, false},                 // empty elements, case, duplicates
		{[]string{"*"}, nil, true},                                          // RFC 9110 §12.5.5
		{[]string{"Foo, *"}, []string{"foo"}, true},
		{[]string{"Fo o"}, nil, true}, // not a field name: matches nothing
		{nil, nil, false},
	}
	for _, tt := range tests {
		names, star := ParseVary(tt.in)
		if !reflect.DeepEqual(names, tt.names) || star != tt.star {
			t.Errorf("ParseVary(%q) = %q, %v; want %q, %v", tt.in, names, star, tt.names, tt.star)
		}
	}
}

// RFC 9111 §4.1: two requests' fields match when one can be turned into
// the other by whitespace, combining lines, or case where it carries no
// meaning.
func TestNormalizeField(t *testing.T) {
	h := func(kv ...string) web.Header {
		var out web.Header
		for i := 0; i < len(kv); i += 2 {
			out.Add(kv[i], kv[i+1])
		}
		return out
	}
	tests := []struct {
		a, b  web.Header
		name  string
		equal bool
	}{
		{h("Foo", "1, 2"), h("Foo", "1,2"), "foo", true},
		{h("Foo", "1", "Foo", "2"), h("Foo", "1, 2"), "Foo", true},
		{h("Foo", "1,, 2,"), h("Foo", "1, 2"), "foo", true},
		{h("Accept-Encoding", "GZIP, br"), h("Accept-Encoding", "gzip,br"), "accept-encoding", true},
		{h("Accept-Encoding", "gzip ; q=0.5"), h("accept-encoding", "gzip;q=0.5"), "accept-encoding", true},
		{h("Foo", "A"), h("Foo", "a"), "foo", false}, // case matters in an unknown field
		{h("Foo", ""), nil, "foo", false},            // empty differs from absent
		{h("Foo", "1, 2"), h("Foo", "2, 1"), "foo", false},
		{h("Foo", `"a, b"`), h("Foo", `"a,b"`), "foo", false}, // inside quotes, whitespace is data
	}
	for _, tt := range tests {
		a, b := NormalizeField(tt.a, tt.name), NormalizeField(tt.b, tt.name)
		if (a == b) != tt.equal {
			t.Errorf("%v vs %v on %s: %q, %q; want equal=%v", tt.a, tt.b, tt.name, a, b, tt.equal)
		}
	}
}

func FuzzParseVary(f *testing.F) {
	for _, s := range []string{"Accept-Encoding", "foo, bar", "*", " , FOO ,, foo", "a b", "", "Foo,*,Bar"} {
		f.Add(s, "gzip, br")
	}
	f.Fuzz(func(t *testing.T, vary, value string) {
		names, star := ParseVary([]string{vary})
		// Normal: the names written back parse to themselves.
		again, star2 := ParseVary([]string{strings.Join(names, ", ")})
		if !reflect.DeepEqual(names, again) && len(names) > 0 || star2 {
			t.Fatalf("%q: names %q parse back as %q (star %v)", vary, names, again, star2)
		}
		_ = star
		for _, n := range names {
			if n != strings.ToLower(n) || !isToken(n) {
				t.Fatalf("%q: name %q not normal", vary, n)
			}
		}
		// A normal form is its own normal form.
		if strings.ContainsAny(value, "\r\n\x00") {
			return
		}
		n1 := NormalizeField(web.Header{{Name: "Foo", Value: value}}, "foo")
		if n1 == absent {
			t.Fatalf("present field normalised as absent")
		}
		n2 := NormalizeField(web.Header{{Name: "Foo", Value: n1}}, "foo")
		if n1 != n2 {
			t.Fatalf("%q: normal form %q normalises again to %q", value, n1, n2)
		}
	})
}
