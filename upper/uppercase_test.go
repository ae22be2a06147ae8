package upper

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestUpper(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"hello", "HELLO"},
		{"Hello, World! 123 az AZ `{@[", "HELLO, WORLD! 123 AZ AZ `{@["},
		{"héllo wörld", "HÉLLO WÖRLD"},
		{"ıi", "II"},                 // U+0131 shrinks from 2 bytes to 1
		{"ȿ", "\u2c7e"},              // U+023F grows from 2 bytes to 3
		{"straße", "STRAßE"},         // no single-rune upper case: kept, as strings.ToUpper does
		{"日本語 abc", "日本語 ABC"},       // no case
		{"emoji 😀 ok", "EMOJI 😀 OK"}, // 4-byte rune
		{"bad \xff byte", "BAD \xff BYTE"},
		{"cut \xe2\x82", "CUT \xe2\x82"},     // truncated 3-byte rune at the end
		{"\xc3\x28 x", "\xc3\x28 X"},         // invalid continuation byte
		{"\xed\xa0\x80 s", "\xed\xa0\x80 S"}, // UTF-16 surrogate: not valid UTF-8
		{"\xef\xbf\xbd r", "\xef\xbf\xbd R"}, // a real U+FFFD stays U+FFFD
		{"nul\x00tab\tcr\r\nend", "NUL\x00TAB\tCR\r\nEND"},
		{strings.Repeat("abcdefghijklmnopqrstuvwxyz", 10), strings.Repeat("ABCDEFGHIJKLMNOPQRSTUVWXYZ", 10)},
	}
	for _, tt := range tests {
		if got := string(Upper([]byte(tt.in))); got != tt.want {
			t.Errorf("Upper(%q) = %q, want %q", tt.in, got, tt.want)
		}
		// The same text split at every byte must give the same result.
		for cut := 0; cut <= len(tt.in); cut++ {
			if got := splitUpper([]byte(tt.in), cut); got != tt.want {
				t.Errorf("Upper(%q) split at %d = %q, want %q", tt.in, cut, got, tt.want)
			}
		}
	}
}

// TestUpperBytewise feeds one byte per call: every multi-byte rune is split.
func TestUpperBytewise(t *testing.T) {
	in := "aé€😀\xffz\xe2\x82"
	var u Uppercaser
	var out []byte
	for i := 0; i < len(in); i++ {
		out = u.Append(out, []byte{in[i]})
	}
	out = u.Flush(out)
	if want := "AÉ€😀\xffZ\xe2\x82"; string(out) != want {
		t.Errorf("bytewise = %q, want %q", out, want)
	}
}

// TestASCIIBoundaries checks the eight-bytes-at-a-time path against the
// plain one for every ASCII byte in every lane.
func TestASCIIBoundaries(t *testing.T) {
	for c := 0; c < 0x80; c++ {
		for lane := 0; lane < 9; lane++ {
			in := bytes.Repeat([]byte{'q'}, 17)
			in[lane] = byte(c)
			want := []byte(strings.ToUpper(string(in)))
			if got := Upper(in); !bytes.Equal(got, want) {
				t.Fatalf("Upper(%q) = %q, want %q", in, got, want)
			}
		}
	}
}

func TestTransform(t *testing.T) {
	var u Uppercaser
	b := []byte("all ascii here, in place")
	if got := u.Transform(b, nil); &got[0] != &b[0] || string(got) != "ALL ASCII HERE, IN PLACE" {
		t.Errorf("Transform(ascii) = %q (in place: %v)", got, &got[0] == &b[0])
	}
	// One stream in three pieces, a rune split between the last two.
	var v Uppercaser
	var all []byte
	for _, in := range []string{"mixed é text", "split \xc3", "\xa9 rest"} {
		all = append(all, v.Transform([]byte(in), nil)...)
	}
	if want := "MIXED É TEXTSPLIT É REST"; string(all) != want {
		t.Errorf("Transform stream = %q, want %q", all, want)
	}
}

func splitUpper(in []byte, cut int) string {
	var u Uppercaser
	out := u.Append(nil, in[:cut])
	out = u.Append(out, in[cut:])
	return string(u.Flush(out))
}

// FuzzUppercaser checks the streaming uppercaser against strings.ToUpper on
// valid UTF-8, and on any input that splitting it into pieces changes nothing
// and that invalid bytes survive.
func FuzzUppercaser(f *testing.F) {
	for _, s := range []string{"hello", "héllo wörld", "ıiȿß", "😀\xff\xe2\x82", "\xc3", "abc\xf0\x9f\x98", strings.Repeat("xY", 40)} {
		f.Add([]byte(s), uint8(3), uint8(7))
	}
	f.Fuzz(func(t *testing.T, in []byte, a, b uint8) {
		whole := Upper(in)
		if utf8.Valid(in) {
			if want := strings.ToUpper(string(in)); string(whole) != want {
				t.Fatalf("Upper(%q) = %q, want %q", in, whole, want)
			}
		}
		// Split into three pieces at fuzzer-chosen points.
		i, j := int(a)%(len(in)+1), int(b)%(len(in)+1)
		if i > j {
			i, j = j, i
		}
		var u Uppercaser
		out := u.Append(nil, in[:i])
		out = u.Append(out, in[i:j])
		out = u.Append(out, in[j:])
		if u.Pending() >= utf8.UTFMax {
			t.Fatalf("Pending() = %d, want < %d", u.Pending(), utf8.UTFMax)
		}
		out = u.Flush(out)
		if !bytes.Equal(out, whole) {
			t.Fatalf("split %q at %d,%d = %q, want %q", in, i, j, out, whole)
		}
		// Transform, which works in place where it can, agrees.
		var v Uppercaser
		buf := bytes.Clone(in)
		var tr []byte
		tr = append(tr, v.Transform(buf[:i], nil)...)
		tr = append(tr, v.Transform(buf[i:j], nil)...)
		tr = append(tr, v.Transform(buf[j:], nil)...)
		tr = v.Flush(tr)
		if !bytes.Equal(tr, whole) {
			t.Fatalf("Transform of %q split at %d,%d = %q, want %q", in, i, j, tr, whole)
		}
		// Invalid bytes pass through: removing every valid rune from both
		// sides leaves the same bytes.
		if got, want := invalidBytes(out), invalidBytes(in); !bytes.Equal(got, want) {
			t.Fatalf("invalid bytes of Upper(%q) = %q, want %q", in, got, want)
		}
	})
}

func invalidBytes(b []byte) []byte {
	var out []byte
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 {
			out = append(out, b[0])
		}
		b = b[n:]
	}
	return out
}

func BenchmarkUppercaserASCII(b *testing.B) {
	in := bytes.Repeat([]byte("The quick brown fox jumps over the lazy dog. "), 3000)
	out := make([]byte, 0, len(in))
	b.SetBytes(int64(len(in)))
	var u Uppercaser
	for b.Loop() {
		out = u.Append(out[:0], in)
	}
}

func BenchmarkUppercaserMixed(b *testing.B) {
	in := bytes.Repeat([]byte("Größe ça va? ıi 日本 😀 "), 3000)
	out := make([]byte, 0, 2*len(in))
	b.SetBytes(int64(len(in)))
	var u Uppercaser
	for b.Loop() {
		out = u.Append(out[:0], in)
	}
}

// TestUpperASCIIFast checks the vectorised path against the portable one at
// every length and with a non-ASCII byte at every position.
func TestUpperASCIIFast(t *testing.T) {
	if !hasAVX2 {
		t.Skip("no AVX2 on this processor: the portable path is the only one")
	}
	src := make([]byte, 200)
	for i := range src {
		src[i] = byte(i*37) & 0x7f
	}
	for n := 0; n <= len(src); n++ {
		for bad := -1; bad < n; bad += 7 {
			in := bytes.Clone(src[:n])
			if bad >= 0 {
				in[bad] = 0xc3
			}
			fast := make([]byte, n)
			k := upperASCIIFast(fast, in)
			if k%32 != 0 || k > n || bad >= 0 && k > bad {
				t.Fatalf("n=%d bad=%d: upperASCIIFast did %d bytes", n, bad, k)
			}
			want := []byte(strings.ToUpper(string(in[:k])))
			if !bytes.Equal(fast[:k], want) {
				t.Fatalf("n=%d: upperASCIIFast = %q, want %q", n, fast[:k], want)
			}
		}
	}
}
