package zone

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/applayer/applayer/dns"
)

func TestParseForms(t *testing.T) {
	src := `$ORIGIN example.org.
$TTL 1h
@ IN SOA ns1 admin.example.org. ( 1 2 3 4 5 )
  NS ns1            ; owner carried over
ns1 60 IN A 192.0.2.1
ns1 IN 61 AAAA 2001:db8::1
txt TXT "a b;c" plain "q\"uote" "\065\\"
sp\ ace A 192.0.2.2
gen TYPE65280 \# 3 ( 01
                     0203 )
$ORIGIN sub.example.org.
x CNAME @
y MX 5 example.org.
`
	recs, err := Parse(strings.NewReader(src), "t.zone", "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, r.RR.String())
	}
	want := []string{
		"example.org.\t3600\tIN\tSOA\tns1.example.org. admin.example.org. 1 2 3 4 5",
		"example.org.\t3600\tIN\tNS\tns1.example.org.",
		"ns1.example.org.\t60\tIN\tA\t192.0.2.1",
		"ns1.example.org.\t61\tIN\tAAAA\t2001:db8::1",
		"txt.example.org.\t3600\tIN\tTXT\t\"a b;c\" \"plain\" \"q\\\"uote\" \"A\\\\\"",
		"sp\\ ace.example.org.\t3600\tIN\tA\t192.0.2.2",
		"gen.example.org.\t3600\tIN\tTYPE65280\t\\# 3 010203",
		"x.sub.example.org.\t3600\tIN\tCNAME\tsub.example.org.",
		"y.sub.example.org.\t3600\tIN\tMX\t5 example.org.",
	}
	if len(got) != len(want) {
		t.Fatalf("Parse gave %d records:\n%s", len(got), strings.Join(got, "\n"))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("record %d = %q, want %q", i, got[i], want[i])
		}
	}
	if recs[4].Line != 7 || recs[6].Line != 9 {
		t.Errorf("lines = %d, %d, want 7, 9", recs[4].Line, recs[6].Line)
	}
}

func TestParseErrors(t *testing.T) {
	head := "$ORIGIN example.org.\n$TTL 60\n"
	for _, tc := range []struct {
		src, want string
	}{
		{"www A 300.1.1.1\n", "t.zone:3: A: bad address 300.1.1.1"},
		{"www A\n", "t.zone:3: A: want 1 fields, have 0"},
		{"www BOGUS x\n", "t.zone:3: unknown type BOGUS"},
		{"www CH A 1.2.3.4\n", "t.zone:3: class CH is not supported; only IN"},
		{"x MX 5 (\nfoo\n", "t.zone:3: unclosed parenthesis"},
		{"x TXT \"abc\n", "t.zone:3: quoted string runs past the end of the line"},
		{strings.Repeat("a", 64) + " A 1.2.3.4\n", "t.zone:3: " + strings.Repeat("a", 64) + ": label longer than 63 octets"},
		{"x TXT " + strings.Repeat("a", 256) + "\n", "t.zone:3: TXT: character-string longer than 255 octets"},
		{"$GENERATE 1-2 a$ A 1.2.3.4\n", "t.zone:3: unsupported directive $GENERATE"},
		{"x 4294967296 A 1.2.3.4\n", "t.zone:3: TTL 4294967296 is over 2147483647 (RFC 2181 §8)"},
		{"x TYPE65280 \\# 2 01\n", "t.zone:3: TYPE65280: \\# length 2 does not match 1 bytes of data"},
		{"x HINFO a b\n", "t.zone:3: HINFO: this type is read in the generic form of RFC 3597 only: \\# length hex"},
		{") x\n", "t.zone:3: unbalanced )"},
		{"x TXT (\n" + strings.Repeat(`"`+strings.Repeat("a", 250)+"\"\n", 300) + ")\n", "t.zone:3: TXT: the record does not fit in a DNS message: dns: message larger than 65535 bytes"},
	} {
		_, err := Parse(strings.NewReader(head+tc.src), "t.zone", "")
		var ze *Error
		if !errors.As(err, &ze) || err.Error() != tc.want {
			t.Errorf("Parse(%q) = %v, want %s", tc.src, err, tc.want)
		}
	}
	if _, err := Parse(strings.NewReader("www A 1.2.3.4\n"), "t.zone", ""); err == nil || !strings.Contains(err.Error(), "no origin") {
		t.Errorf("relative name without origin: %v", err)
	}
}

func TestNewChecks(t *testing.T) {
	for _, tc := range []struct {
		src, want string
	}{
		{"@ SOA ns admin 1 2 3 4 5\n", "t.zone:3: zone example.org. has no NS records at its apex"},
		{"@ NS ns\n", "t.zone: zone example.org. has no SOA record"},
		{"@ SOA ns admin 1 2 3 4 5\n@ NS ns\nx CNAME y\nx A 1.2.3.4\n", "t.zone:6: x.example.org. has a CNAME and other data (RFC 1034 §3.6.2)"},
		{"@ SOA ns admin 1 2 3 4 5\n@ NS ns\nexample.net. A 1.2.3.4\n", "t.zone:5: example.net. is outside the zone example.org."},
	} {
		recs, err := Parse(strings.NewReader("$ORIGIN example.org.\n$TTL 60\n"+tc.src), "t.zone", "")
		if err == nil {
			_, err = New("example.org.", recs)
		}
		if err == nil || err.Error() != tc.want {
			t.Errorf("%q: %v, want %s", tc.src, err, tc.want)
		}
	}
}

// TestDuplicatesDropped: records that differ only in the case of a name
// inside their data are one record (RFC 4343), as BIND reads them; TXT
// strings that differ in case are two.
func TestDuplicatesDropped(t *testing.T) {
	recs, err := Parse(strings.NewReader("$ORIGIN example.org.\n$TTL 60\n@ SOA ns admin 1 2 3 4 5\n@ NS ns\n@ NS NS.Example.ORG.\nns A 192.0.2.1\nt TXT abc\nt TXT ABC\n"), "t.zone", "")
	if err != nil {
		t.Fatal(err)
	}
	z, err := New("example.org.", recs)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(z.Records()); n != 5 {
		t.Errorf("%d records, want 5 (SOA, one NS, A, two TXT): %v", n, z.Records())
	}
}

func TestLoadTestZone(t *testing.T) {
	z, err := LoadFile("testdata/example.com.zone", "")
	if err != nil {
		t.Fatal(err)
	}
	if z.Origin != "example.com." || z.Serial() != 2024010101 {
		t.Errorf("origin %q serial %d", z.Origin, z.Serial())
	}
	if s := z.SOA.Data.(*dns.SOA); s.Refresh != 7200 || s.Expire != 1209600 {
		t.Errorf("SOA timers = %v", s)
	}
}

// FuzzParse: any input gives records or an error naming a line, never a
// panic; the records it gives print and parse back to the same.
func FuzzParse(f *testing.F) {
	f.Add("$ORIGIN example.org.\n$TTL 60\n@ SOA ns admin ( 1 2 3 4 5 )\n@ NS ns\nns A 192.0.2.1\n")
	f.Add("$TTL 1h\nexample.org. IN MX 10 mail.example.org.\n txt TXT \"a\\\"b\" c\n")
	f.Add("x. 60 TYPE9 \\# 2 abcd\n$INCLUDE /nonexistent\n")
	f.Add("a. 60 SRV 1 2 3 b.\na. 60 AAAA ::1\na. 60 PTR b.\n")
	f.Fuzz(func(t *testing.T, src string) {
		if strings.Contains(src, "$INCLUDE") || strings.Contains(strings.ToUpper(src), "$INCLUDE") {
			return // reads files: not for a fuzzer
		}
		recs, err := Parse(strings.NewReader(src), "f.zone", "")
		if err != nil {
			var ze *Error
			if !errors.As(err, &ze) {
				t.Fatalf("error without a place: %v", err)
			}
			return
		}
		var b strings.Builder
		for _, r := range recs {
			b.WriteString(r.RR.String() + "\n")
		}
		again, err := Parse(strings.NewReader(b.String()), "g.zone", "")
		if err != nil {
			t.Fatalf("printed records do not parse: %v\n%s", err, b.String())
		}
		for i := range recs {
			if recs[i].RR.String() != again[i].RR.String() {
				t.Fatalf("record %d: %q then %q", i, recs[i].RR.String(), again[i].RR.String())
			}
		}
	})
}

func TestInclude(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "hosts.inc"), []byte("www A 192.0.2.80\nmail A 192.0.2.25\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "main.zone"), []byte("$ORIGIN example.org.\n$TTL 60\n@ SOA ns admin 1 2 3 4 5\n@ NS ns\n$INCLUDE hosts.inc sub.example.org.\nafter A 192.0.2.1\n"), 0o644)
	recs, err := ParseFile(filepath.Join(dir, "main.zone"), "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, r.Name+"@"+filepath.Base(r.File)+":"+strconv.Itoa(r.Line))
	}
	want := "example.org.@main.zone:3 example.org.@main.zone:4 www.sub.example.org.@hosts.inc:1 mail.sub.example.org.@hosts.inc:2 after.example.org.@main.zone:6"
	if strings.Join(got, " ") != want {
		t.Errorf("records = %s\nwant %s", strings.Join(got, " "), want)
	}
	os.WriteFile(filepath.Join(dir, "loop.zone"), []byte("$ORIGIN example.org.\n$INCLUDE loop.zone\n"), 0o644)
	if _, err := ParseFile(filepath.Join(dir, "loop.zone"), ""); err == nil || !strings.Contains(err.Error(), "nested too deeply") {
		t.Errorf("an $INCLUDE loop: %v", err)
	}
}
