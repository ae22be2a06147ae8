package timeline

import (
	"encoding/xml"
	"strings"
	"testing"
	"time"
)

const ms = time.Millisecond

func TestBar(t *testing.T) {
	for _, tc := range []struct {
		name string
		row  Row
		want string
	}{
		{"continuous body", Row{Sent: 0, First: 50 * ms, Last: 99 * ms}, "----######"},
		{"after another object", Row{Sent: 50 * ms, First: 60 * ms, Last: 69 * ms}, "    -##   "},
		{"frames", Row{Sent: 0, Head: 10 * ms, First: 20 * ms, Last: 90 * ms, Marks: []time.Duration{20 * ms, 50 * ms, 90 * ms}}, "H#--#---# "},
	} {
		if got := Bar(tc.row, 0, 100*ms, 10); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// The SVG is well-formed XML, names every row, and escapes labels.
func TestSVG(t *testing.T) {
	var b strings.Builder
	c := Chart{Title: "HTTP/1.1 <one connection>", Rows: []Row{
		{Label: "/huge.png", Sent: 0, First: 5 * ms, Last: 800 * ms},
		{Label: "/s1.png & co", Sent: 800 * ms, First: 801 * ms, Last: 802 * ms},
		{Label: "/s2.png", Sent: 1 * ms, Head: 2 * ms, First: 3 * ms, Last: 4 * ms, Marks: []time.Duration{3 * ms, 4 * ms}},
	}}
	if err := c.SVG(&b); err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(strings.NewReader(b.String()))
	for {
		if _, err := d.Token(); err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("not well-formed: %v\n%s", err, b.String())
			}
			break
		}
	}
	for _, s := range []string{"/huge.png", "/s1.png &amp; co", "&lt;one connection&gt;", "802 ms"} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("SVG lacks %q:\n%s", s, b.String())
		}
	}
}
