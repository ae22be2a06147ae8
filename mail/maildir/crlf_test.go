package maildir

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestCRLFReader(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"a", "a\r\n"},
		{"a\n", "a\r\n"},
		{"a\r\n", "a\r\n"},
		{"a\nb\r\nc", "a\r\nb\r\nc\r\n"},
		{"\n\n", "\r\n\r\n"},
		{"x\r", "x\r\n"},
		{"x\ry\n", "x\ry\r\n"},
		{strings.Repeat("l\n", 50000), strings.Repeat("l\r\n", 50000)},
	} {
		for _, small := range []bool{false, true} {
			var r io.Reader = CRLFReader(strings.NewReader(tc.in))
			if small {
				r = iotest.OneByteReader(r)
			}
			got, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(got, []byte(tc.want)) {
				t.Errorf("CRLFReader(%.20q) small=%v = %.40q, %v; want %.40q", tc.in, small, got, err, tc.want)
			}
		}
	}
}

func FuzzCRLFReader(f *testing.F) {
	f.Add([]byte("a\nb\r\nc"))
	f.Add([]byte("\r\r\n\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		w := append([]byte(nil), in...)
		if len(w) > 0 && w[len(w)-1] != '\n' {
			w = append(w, '\n')
		}
		want := bytes.ReplaceAll(w, []byte("\r\n"), []byte("\n"))
		got, err := io.ReadAll(iotest.HalfReader(CRLFReader(bytes.NewReader(in))))
		if err != nil {
			t.Fatal(err)
		}
		// Every LF has a CR before it, and taking the CRs of CRLF out
		// again gives the input with its CRLFs as LFs (plus the line end
		// added at the end).
		if bytes.Count(got, []byte("\n")) != bytes.Count(got, []byte("\r\n")) {
			t.Fatalf("bare LF left in %q", got)
		}
		back := bytes.ReplaceAll(got, []byte("\r\n"), []byte("\n"))
		if !bytes.Equal(back, want) {
			t.Fatalf("CRLFReader(%q) = %q", in, got)
		}
	})
}
