package dash

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

func testPresentation() *Presentation {
	return &Presentation{
		Title: "test clip", Duration: 10 * time.Second, SegmentDuration: 2 * time.Second, FrameRate: 24,
		Rungs: []Rung{
			{ID: "v300", Bitrate: 300_000, Width: 320, Height: 180, Codecs: "avc1.64000d"},
			{ID: "v750", Bitrate: 750_000, Width: 640, Height: 360, Codecs: "avc1.64001e"},
		},
	}
}

func TestStaticMPDGolden(t *testing.T) {
	b, err := testPresentation().StaticMPD().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "static.mpd")
	if *update {
		os.WriteFile(golden, b, 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, want) {
		t.Errorf("written MPD differs from %s (go test -update):\n%s", golden, b)
	}
}

func TestRoundTrip(t *testing.T) {
	m := testPresentation().StaticMPD()
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseBytes(b, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	b2, err := got.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, b2) {
		t.Errorf("re-written MPD differs:\n%s\n---\n%s", b, b2)
	}
	ladder, err := got.Ladder()
	if err != nil {
		t.Fatal(err)
	}
	if len(ladder) != 2 || ladder[0].ID != "v300" || ladder[1].Bandwidth != 750_000 {
		t.Fatalf("ladder %+v", ladder)
	}
	tr := ladder[1]
	if tr.Segments != 5 || tr.SegmentDuration != 2*time.Second || tr.Init != "v750/init.mp4" || tr.Media(0) != "v750/seg-00001.m4s" || tr.Media(4) != "v750/seg-00005.m4s" {
		t.Errorf("track %+v: media(0)=%s media(4)=%s", tr, tr.Media(0), tr.Media(4))
	}
}

func TestDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		out  string
	}{
		{"PT4S", 4 * time.Second, "PT4S"},
		{"PT0S", 0, "PT0S"},
		{"PT1M0.5S", 60500 * time.Millisecond, "PT1M0.5S"},
		{"PT1H2M3S", time.Hour + 2*time.Minute + 3*time.Second, "PT1H2M3S"},
		{"P1DT1S", 24*time.Hour + time.Second, "P1DT1S"},
		{"P2D", 48 * time.Hour, "P2D"},
		{"PT0.001S", time.Millisecond, "PT0.001S"},
		{"-PT2S", -2 * time.Second, "-PT2S"},
	} {
		d, err := ParseDuration(tc.in)
		if err != nil || time.Duration(d) != tc.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tc.in, time.Duration(d), err, tc.want)
			continue
		}
		if d.String() != tc.out {
			t.Errorf("%v.String() = %q, want %q", tc.want, d.String(), tc.out)
		}
		if back, err := ParseDuration(d.String()); err != nil || back != d {
			t.Errorf("%q does not parse back: %v %v", d.String(), back, err)
		}
	}
	for _, bad := range []string{"", "P", "PT", "4S", "PT4", "P1Y", "P1M", "PT1.5M", "PT.5S", "PT5.S", "PT1S1M", "PT1M1H", "P1DT", "PTT1S", "PT1S ", "PT99999999999999999999S", "P1D1D", "PT1.2.3S"} {
		if d, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", bad, d)
		}
	}
}

func TestExpand(t *testing.T) {
	for _, tc := range []struct{ tmpl, want string }{
		{"$RepresentationID$/seg-$Number%05d$.m4s", "v1/seg-00042.m4s"},
		{"$RepresentationID$/$Number$.m4s", "v1/42.m4s"},
		{"b$Bandwidth$-t$Time$-$$", "b300000-t9000-$"},
		{"plain.mp4", "plain.mp4"},
		{"$Number%01d$", "42"},
	} {
		got, err := Expand(tc.tmpl, "v1", 42, 300000, 9000)
		if err != nil || got != tc.want {
			t.Errorf("Expand(%q) = %q, %v; want %q", tc.tmpl, got, err, tc.want)
		}
	}
	for _, bad := range []string{"$Number", "$Foo$", "$Number%5d$", "$Number%05x$", "$Number%00d$", "$Number%099d$", "$RepresentationID%02d$"} {
		if got, err := Expand(bad, "v1", 1, 1, 1); err == nil {
			t.Errorf("Expand(%q) = %q, want an error", bad, got)
		}
	}
}

const goodMPD = `<?xml version="1.0"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:isoff-live:2011" type="static" mediaPresentationDuration="PT8S" minBufferTime="PT2S">
 <Period>
  <AdaptationSet contentType="video" mimeType="video/mp4">
   <SegmentTemplate timescale="1000" duration="4000" media="$RepresentationID$/$Number$.m4s" initialization="$RepresentationID$/init.mp4"/>
   <Representation id="a" bandwidth="100000"/>
  </AdaptationSet>
 </Period>
</MPD>`

func TestParseRejects(t *testing.T) {
	if _, err := ParseBytes([]byte(goodMPD), Limits{}); err != nil {
		t.Fatalf("good MPD: %v", err)
	}
	for _, tc := range []struct{ name, from, to string }{
		{"wrong namespace", `xmlns="urn:mpeg:dash:schema:mpd:2011"`, `xmlns="urn:example"`},
		{"no profiles", `profiles="urn:mpeg:dash:profile:isoff-live:2011"`, ``},
		{"no minBufferTime", `minBufferTime="PT2S"`, ``},
		{"static without duration", `mediaPresentationDuration="PT8S"`, ``},
		{"bad type", `type="static"`, `type="live"`},
		{"dynamic without availabilityStartTime", `type="static"`, `type="dynamic"`},
		{"bad duration", `PT8S`, `P1Y`},
		{"no Period", "<Period>", "<Perio>"},
		{"no Representation", `<Representation id="a" bandwidth="100000"/>`, ``},
		{"zero bandwidth", `bandwidth="100000"`, `bandwidth="0"`},
		{"negative bandwidth", `bandwidth="100000"`, `bandwidth="-5"`},
		{"id with space", `id="a"`, `id="a b"`},
		{"duplicate id", `<Representation id="a" bandwidth="100000"/>`, `<Representation id="a" bandwidth="100000"/><Representation id="a" bandwidth="200000"/>`},
		{"no template", `<SegmentTemplate timescale="1000" duration="4000" media="$RepresentationID$/$Number$.m4s" initialization="$RepresentationID$/init.mp4"/>`, ``},
		{"template without number", `/$Number$.m4s`, `/x.m4s`},
		{"template unknown identifier", `$RepresentationID$/$Number$`, `$Rep$/$Number$`},
		{"template zero duration", `duration="4000"`, `duration="0"`},
		{"too many segments", `duration="4000"`, `duration="1"`},
		{"trailing element", `</MPD>`, `</MPD><MPD/>`},
		{"trailing text", `</MPD>`, `</MPD>junk`},
		{"unclosed", `</MPD>`, ``},
		{"undefined entity", `id="a"`, `id="&foo;"`},
	} {
		doc := strings.Replace(goodMPD, tc.from, tc.to, 1)
		if doc == goodMPD {
			t.Fatalf("%s: replacement did not apply", tc.name)
		}
		lim := Limits{MaxSegments: 1000}
		if _, err := ParseBytes([]byte(doc), lim); err == nil {
			t.Errorf("%s: parsed, want an error", tc.name)
		}
	}
	big := strings.Replace(goodMPD, "<Period>", "<Period>"+strings.Repeat(" ", 2000), 1)
	if _, err := Parse(strings.NewReader(big), Limits{MaxBytes: 1000}); err != ErrTooLarge {
		t.Errorf("over MaxBytes: %v, want ErrTooLarge", err)
	}
	many := strings.Replace(goodMPD, `<Representation id="a" bandwidth="100000"/>`, `<Representation id="a" bandwidth="1"/><Representation id="b" bandwidth="2"/><Representation id="c" bandwidth="3"/>`, 1)
	if _, err := ParseBytes([]byte(many), Limits{MaxRepresentations: 2}); err == nil {
		t.Error("over MaxRepresentations: parsed")
	}
}

func TestParseKeeps(t *testing.T) {
	m, err := ParseBytes([]byte(goodMPD), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := SegmentTemplate{Timescale: 1000, Duration: 4000, Media: "$RepresentationID$/$Number$.m4s", Initialization: "$RepresentationID$/init.mp4"}
	if got := *m.Periods[0].AdaptationSets[0].SegmentTemplate; !reflect.DeepEqual(got, want) {
		t.Errorf("template %+v, want %+v", got, want)
	}
	l, err := m.Ladder()
	if err != nil || len(l) != 1 || l[0].Segments != 2 || l[0].Media(1) != "a/2.m4s" {
		t.Errorf("ladder %+v %v", l, err)
	}
}

// TestSchema validates written MPDs against MPEG's DASH-MPD.xsd with
// xmllint. The schema is not in Debian: APPLAYER_DASH_SCHEMA names a
// directory holding DASH-MPD.xsd and the xlink.xsd it imports (see
// docs/video.md); without it the test skips.
func TestSchema(t *testing.T) {
	dir := os.Getenv("APPLAYER_DASH_SCHEMA")
	if dir == "" {
		t.Skip("APPLAYER_DASH_SCHEMA unset: no DASH-MPD.xsd to validate against")
	}
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		t.Fatal("xmllint (Debian libxml2-utils) not found")
	}
	tmp := t.TempDir()
	for name, m := range map[string]*MPD{
		"static.mpd": testPresentation().StaticMPD(),
		"live.mpd":   testPresentation().LiveMPD(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), time.Date(2026, 1, 2, 3, 5, 5, 0, time.UTC), 30*time.Second),
	} {
		b, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(tmp, name)
		os.WriteFile(p, b, 0o644)
		out, err := exec.Command(xmllint, "--noout", "--nonet", "--schema", filepath.Join(dir, "DASH-MPD.xsd"), p).CombinedOutput()
		if err != nil {
			t.Errorf("%s does not validate: %v\n%s\n%s", name, err, out, b)
		}
	}
}
