package bencode

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

type file struct {
	Length int64    `bencode:"length"`
	Path   []string `bencode:"path"`
}

type info struct {
	Name        string     `bencode:"name"`
	PieceLength int64      `bencode:"piece length"`
	Pieces      []byte     `bencode:"pieces"`
	Files       []file     `bencode:"files,omitempty"`
	Private     bool       `bencode:"private,omitempty"`
	Raw         RawMessage `bencode:"x-raw,omitempty"`
	Skipped     string     `bencode:"-"`
	unexported  int
}

func TestMarshal(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{0, "i0e"},
		{-42, "i-42e"},
		{uint64(1<<64 - 1), "i18446744073709551615e"},
		{"spam", "4:spam"},
		{"", "0:"},
		{[]byte{0, 0xff}, "2:\x00\xff"},
		{[2]byte{'a', 'b'}, "2:ab"},
		{[]string{"spam", "eggs"}, "l4:spam4:eggse"},
		{[]int{}, "le"},
		{map[string]any{"spam": []any{"a", int64(1)}, "cow": "moo"}, "d3:cow3:moo4:spaml1:ai1eee"},
		{true, "i1e"},
		{RawMessage("i5e"), "i5e"},
		{&info{Name: "a", PieceLength: 16, Pieces: []byte("x")}, "d4:name1:a12:piece lengthi16e6:pieces1:xe"},
		{info{Name: "a", Files: []file{{1, []string{"b"}}}, Private: true, Raw: RawMessage("le")},
			"d5:filesld6:lengthi1e4:pathl1:beee4:name1:a12:piece lengthi0e6:pieces0:7:privatei1e5:x-rawlee"},
	}
	for _, tt := range tests {
		got, err := Marshal(tt.in)
		if err != nil {
			t.Errorf("Marshal(%#v): %v", tt.in, err)
			continue
		}
		if string(got) != tt.want {
			t.Errorf("Marshal(%#v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestMarshalErrors(t *testing.T) {
	var p *int
	for _, in := range []any{nil, p, map[int]int{1: 1}, 1.5, RawMessage(nil), struct{ F func() }{}} {
		if b, err := Marshal(in); err == nil {
			t.Errorf("Marshal(%#v) = %q, want an error", in, b)
		}
	}
}

func TestUnmarshalStruct(t *testing.T) {
	in := "d5:filesld6:lengthi1e4:pathl1:beee4:name1:a12:piece lengthi16e6:pieces1:x7:privatei1e7:unknownd1:xli1eee5:x-rawl1:ae1:zi0ee"
	var got info
	if err := Unmarshal([]byte(in), &got); err != nil {
		t.Fatal(err)
	}
	want := info{Name: "a", PieceLength: 16, Pieces: []byte("x"), Files: []file{{1, []string{"b"}}}, Private: true, Raw: RawMessage("l1:ae")}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestUnmarshalGeneric(t *testing.T) {
	var got any
	if err := Unmarshal([]byte("d1:ai-3e1:bl0:d1:c2:xyee1:ci9223372036854775807ee"), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"a": int64(-3), "b": []any{"", map[string]any{"c": "xy"}}, "c": int64(1<<63 - 1)}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v, want %#v", got, want)
	}
}

// TestStrict lists inputs a canonical decoder must refuse.
func TestStrict(t *testing.T) {
	tests := []struct{ in, msg string }{
		{"", "unexpected end"},
		{"i01e", "leading zero"},
		{"i-0e", "negative zero"},
		{"i-e", "expected a digit"},
		{"ie", "expected a digit"},
		{"i1", "unexpected end"},
		{"i1x", "expected 'e'"},
		{"i99999999999999999999e", "overflows"},
		{"01:a", "leading zero"},
		{"5:ab", "runs past"},
		{"-1:a", "unexpected byte"},
		{"l", "end of input in a list"},
		{"d1:a", "unexpected end"},
		{"d1:b0:1:a0:e", "out of order"},
		{"d1:a0:1:a0:e", "duplicate key"},
		{"di1e0:e", "not a string"},
		{"i1ei2e", "after the top-level"},
		{"x", "unexpected byte"},
		{strings.Repeat("l", 65) + strings.Repeat("e", 65), "nesting"},
	}
	for _, tt := range tests {
		var v any
		err := Unmarshal([]byte(tt.in), &v)
		var se *SyntaxError
		if !errors.As(err, &se) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("Unmarshal(%q) = %v, want a syntax error with %q", tt.in, err, tt.msg)
		}
		var raw RawMessage
		if err := Unmarshal([]byte(tt.in), &raw); err == nil {
			t.Errorf("Unmarshal(%q) into RawMessage succeeded", tt.in)
		}
		var st info
		if err := Unmarshal([]byte(tt.in), &st); err == nil {
			t.Errorf("Unmarshal(%q) into a struct succeeded", tt.in)
		}
	}
}

func TestLimits(t *testing.T) {
	d := Decoder{MaxDepth: 2, MaxSize: 10}
	var v any
	if err := d.Unmarshal([]byte("llee"), &v); err != nil {
		t.Errorf("depth 2: %v", err)
	}
	if err := d.Unmarshal([]byte("llleee"), &v); err == nil {
		t.Error("depth 3 accepted with MaxDepth 2")
	}
	if err := d.Unmarshal([]byte("11:abcdefghijk"), &v); err == nil {
		t.Error("13 bytes accepted with MaxSize 10")
	}
}

func TestTypeErrors(t *testing.T) {
	var s struct {
		N int8    `bencode:"n"`
		U uint    `bencode:"u"`
		H [4]byte `bencode:"h"`
		S string  `bencode:"s"`
	}
	for _, in := range []string{"d1:ni300ee", "d1:ui-1ee", "d1:h3:abce", "d1:sli1eee", "d1:nl" + "ee", "le"} {
		err := Unmarshal([]byte(in), &s)
		var te *UnmarshalTypeError
		if !errors.As(err, &te) {
			t.Errorf("Unmarshal(%q) = %v, want a type error", in, err)
		}
	}
	if err := Unmarshal([]byte("i1e"), s); err == nil {
		t.Error("Unmarshal into a non-pointer succeeded")
	}
}

func TestRoundTrip(t *testing.T) {
	for _, in := range []string{"i0e", "le", "de", "d0:0:e", "d1:ad1:bl1:ci-7eeee", "l0:0:0:e"} {
		var v any
		if err := Unmarshal([]byte(in), &v); err != nil {
			t.Fatalf("Unmarshal(%q): %v", in, err)
		}
		out, err := Marshal(v)
		if err != nil || !bytes.Equal(out, []byte(in)) {
			t.Errorf("Marshal(Unmarshal(%q)) = %q, %v", in, out, err)
		}
	}
}

// FuzzUnmarshal checks that whatever the decoder accepts re-encodes to the
// same bytes (canonical form) and that nothing panics.
func FuzzUnmarshal(f *testing.F) {
	for _, s := range []string{"i0e", "i-1e", "4:spam", "le", "de", "d3:cow3:moo4:spaml1:a1:bee",
		"d8:announce9:http://x/4:infod6:lengthi1e4:name1:a12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee",
		"i01e", "d1:b0:1:a0:e", "lllllee"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var v any
		if err := Unmarshal(data, &v); err != nil {
			var raw RawMessage
			if Unmarshal(data, &raw) == nil {
				t.Fatalf("RawMessage accepts %q that any refuses: %v", data, err)
			}
			return
		}
		out, err := Marshal(v)
		if err != nil {
			t.Fatalf("Marshal of decoded %q: %v", data, err)
		}
		if !bytes.Equal(out, data) {
			t.Fatalf("not canonical: %q re-encodes as %q", data, out)
		}
		var st info
		_ = Unmarshal(data, &st)
	})
}

func TestUnmarshalPrefix(t *testing.T) {
	var m map[string]int
	rest, err := UnmarshalPrefix([]byte("d1:ai1eeDATA"), &m)
	if err != nil || string(rest) != "DATA" || m["a"] != 1 {
		t.Errorf("got %v %q %v", m, rest, err)
	}
	if _, err := UnmarshalPrefix([]byte("d1:ai1e"), &m); err == nil {
		t.Error("a truncated prefix was accepted")
	}
}
