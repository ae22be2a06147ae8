package smtp

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		in   string
		want Command
		err  error
	}{
		{"HELO crepes.fr", Command{"HELO", "crepes.fr"}, nil},
		{"ehlo  crepes.fr ", Command{"EHLO", "crepes.fr"}, nil},
		{"MAIL FROM:<alice@crepes.fr>", Command{"MAIL", "FROM:<alice@crepes.fr>"}, nil},
		{"QUIT", Command{"QUIT", ""}, nil},
		{"", Command{}, ErrEmptyCommand},
		{"   ", Command{}, ErrEmptyCommand},
		{"HE LO", Command{"HE", "LO"}, nil},
		{"HEL0 x", Command{}, ErrBadCommand},
		{"HELO a\x00b", Command{}, ErrBadCommand},
		{"ABCDEFGHIJKLMNOPQ", Command{}, ErrBadCommand},
	}
	for _, tt := range tests {
		got, err := ParseCommand(tt.in)
		if got != tt.want || !errors.Is(err, tt.err) {
			t.Errorf("ParseCommand(%q) = %+v, %v; want %+v, %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestParseMailArg(t *testing.T) {
	tests := []struct {
		arg, kw string
		want    string // Path.String()
		params  string // KEY=V,...
		err     error
	}{
		{"FROM:<alice@crepes.fr>", "FROM", "<alice@crepes.fr>", "", nil},
		{"from: <Alice@Crepes.FR> SIZE=1000 body=8BITMIME", "FROM", "<Alice@crepes.fr>", "SIZE=1000,BODY=8BITMIME", nil},
		{"FROM:<>", "FROM", "<>", "", nil},
		{"TO:<>", "TO", "", "", ErrBadPath},
		{"TO:<@a.example,@b.example:bob@hamburger.edu>", "TO", "<bob@hamburger.edu>", "", nil},
		{"TO:<\"bob smith\"@hamburger.edu>", "TO", "<\"bob smith\"@hamburger.edu>", "", nil},
		{"TO:<\"a>b\"@x.example> NOTIFY=NEVER", "TO", "<\"a>b\"@x.example>", "NOTIFY=NEVER", nil},
		{"TO:<bob@[127.0.0.1]>", "TO", "<bob@[127.0.0.1]>", "", nil},
		{"TO:<bob@[IPv6:0::1]>", "TO", "<bob@[IPv6:::1]>", "", nil},
		{"TO:bob@hamburger.edu", "TO", "", "", ErrBadPath},
		{"TO:<bob@hamburger.edu", "TO", "", "", ErrBadPath},
		{"TO:<bob>", "TO", "", "", ErrBadPath},
		{"TO:<Postmaster>", "TO", "<postmaster>", "", nil}, // section 4.1.1.3
		{"FROM:<postmaster>", "FROM", "", "", ErrBadPath},
		{"TO:<bob@>", "TO", "", "", ErrBadDomain},
		{"TO:<bob@a..b>", "TO", "", "", ErrBadDomain},
		{"TO:<bob@hamburger.edu.>", "TO", "", "", ErrBadDomain},
		{"TO:<bob@-x.edu>", "TO", "", "", ErrBadDomain},
		{"TO:<.bob@x.edu>", "TO", "", "", ErrBadLocal},
		{"TO:<bo b@x.edu>", "TO", "", "", ErrBadLocal},
		{"TO:<" + strings.Repeat("a", 65) + "@x.edu>", "TO", "", "", ErrBadLocal},
		{"TO:<a@x.edu>junk", "TO", "", "", ErrBadParam},
		{"TO:<a@x.edu> =x", "TO", "", "", ErrBadParam},
		{"FROM<a@x.edu>", "FROM", "", "", ErrBadCommand},
		{"TO:<a@x.edu>", "FROM", "", "", ErrBadCommand},
		{"TO:<a@[300.1.1.1]>", "TO", "", "", ErrBadDomain},
	}
	for _, tt := range tests {
		p, params, err := ParseMailArg(tt.arg, tt.kw)
		if !errors.Is(err, tt.err) {
			t.Errorf("ParseMailArg(%q) err = %v, want %v", tt.arg, err, tt.err)
			continue
		}
		if err != nil {
			continue
		}
		var ps []string
		for _, x := range params {
			ps = append(ps, x.Key+"="+x.Value)
		}
		if p.String() != tt.want || strings.Join(ps, ",") != tt.params {
			t.Errorf("ParseMailArg(%q) = %s %v, want %s %s", tt.arg, p, ps, tt.want, tt.params)
		}
	}
}

func TestReplyWire(t *testing.T) {
	r := &Reply{Code: 250, Lines: []string{"hamburger.edu", "PIPELINING", "SIZE 1000"}}
	got := strings.Join(r.WireLines(), "|")
	if want := "250-hamburger.edu|250-PIPELINING|250 SIZE 1000"; got != want {
		t.Errorf("WireLines = %q, want %q", got, want)
	}
	r = R(550, CodeRelayDenied, "Relaying denied")
	if got, want := strings.Join(r.WireLines(), "|"), "550 5.7.1 Relaying denied"; got != want {
		t.Errorf("WireLines = %q, want %q", got, want)
	}
	if e, text := SplitEnhanced(550, "5.7.1 Relaying denied"); e != CodeRelayDenied || text != "Relaying denied" {
		t.Errorf("SplitEnhanced = %v %q", e, text)
	}
	if e, _ := SplitEnhanced(250, "5.7.1 x"); e != (EnhancedCode{}) {
		t.Errorf("SplitEnhanced(250, 5.7.1) = %v, want none (class mismatch)", e)
	}
	for _, l := range []string{"250 ok", "250-more", "250", "354 go"} {
		if _, _, _, ok := ParseReplyLine(l); !ok {
			t.Errorf("ParseReplyLine(%q) not ok", l)
		}
	}
	for _, l := range []string{"", "25", "2500", "abc def", "100 x", "250x"} {
		if _, _, _, ok := ParseReplyLine(l); ok {
			t.Errorf("ParseReplyLine(%q) ok, want not", l)
		}
	}
}

func TestReadData(t *testing.T) {
	tests := []struct {
		in   string
		max  int64
		want string
		err  error
		rest string // what remains unread
	}{
		{"Subject: hi\r\n\r\nHello\r\n.\r\nQUIT\r\n", 0, "Subject: hi\r\n\r\nHello\r\n", nil, "QUIT\r\n"},
		{".\r\n", 0, "", nil, ""},
		{"..leading dot\r\n.\r\n", 0, ".leading dot\r\n", nil, ""},
		{"a\r\n.x\r\n.\r\n", 0, "a\r\nx\r\n", nil, ""},
		{"a\nb\r\n.\r\nNOOP\r\n", 0, "", ErrBareLF, "NOOP\r\n"},
		{"a\r\n.\nstill body\r\n.\r\n", 0, "a\r\n", ErrBareLF, ""},
		// SMTP smuggling: "\n.\r\n" is not the end; what follows is body.
		{"a\n.\r\nMAIL FROM:<x@y.z>\r\n.\r\nNOOP\r\n", 0, "", ErrBareLF, "NOOP\r\n"},
		{"a\r\nb\n.\r\nRSET\r\n.\r\n", 0, "a\r\n", ErrBareLF, ""},
		{"a\x00b\r\n.\r\n", 0, "", ErrNULByte, ""},
		// Bare CR, in every place a smuggler puts it: "\r.\r" and
		// "\r.\n" do not end the body and the whole body is refused.
		{"a\r.\rMAIL FROM:<x@y.z>\r\n.\r\nNOOP\r\n", 0, "", ErrBareCR, "NOOP\r\n"},
		{"a\r.\nMAIL FROM:<x@y.z>\r\n.\r\nNOOP\r\n", 0, "", ErrBareCR, "NOOP\r\n"},
		{"a\n.\nMAIL FROM:<x@y.z>\r\n.\r\nNOOP\r\n", 0, "", ErrBareLF, "NOOP\r\n"},
		{"in a\rline\r\n.\r\n", 0, "", ErrBareCR, ""},
		{"a\r\r\n.\r\n", 0, "", ErrBareCR, ""},
		{"ends\r\n.\r\r\n.\r\n", 0, "ends\r\n", ErrBareCR, ""},
		// A CR at the end of one buffer and what follows it in the next.
		{"0123456789abcde\rX\r\n.\r\n", 0, "0123456789abcde\r", ErrBareCR, ""},
		{"0123456789abcde\r\n.\r\n", 0, "0123456789abcde\r\n", nil, ""},
		{"0123456789\r\n0123456789\r\n.\r\nRSET\r\n", 15, "0123456789\r\n", ErrTooBig, "RSET\r\n"},
		{"no end\r\n", 0, "no end\r\n", io.ErrUnexpectedEOF, ""},
		{strings.Repeat("x", 100) + "\r\n.\r\n", 0, strings.Repeat("x", 100) + "\r\n", nil, ""},
		{"." + strings.Repeat("x", 40) + "\r\n.\r\n", 0, strings.Repeat("x", 40) + "\r\n", nil, ""},
	}
	for _, tt := range tests {
		r := bufio.NewReaderSize(strings.NewReader(tt.in), 16)
		var out bytes.Buffer
		_, err := ReadData(r, &out, tt.max)
		rest, _ := io.ReadAll(r)
		if !errors.Is(err, tt.err) || out.String() != tt.want || string(rest) != tt.rest {
			t.Errorf("ReadData(%q) = %q, %v, rest %q; want %q, %v, rest %q", tt.in, out.String(), err, rest, tt.want, tt.err, tt.rest)
		}
	}
}

func TestDotWriterRoundTrip(t *testing.T) {
	for _, body := range []string{"", "a", "a\n", ".\n", "..\r\n.x\nend", "line\r\n.\r\nafter",
		"a\r.\rb", "a\r.\nb", "a\n.\nb", "a\n.\r\nb", "a\r", "a\r\r\n.", "\r.\r"} {
		var wire bytes.Buffer
		bw := bufio.NewWriter(&wire)
		d := DotWriter(bw)
		io.WriteString(d, body)
		d.Close()
		bw.Flush()
		var got bytes.Buffer
		if _, err := ReadData(bufio.NewReader(&wire), &got, 0); err != nil {
			t.Errorf("ReadData(DotWriter(%q)) err = %v", body, err)
		}
		want := strings.ReplaceAll(strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\r", "\n"), "\n", "\r\n")
		if want != "" && !strings.HasSuffix(want, "\r\n") {
			want += "\r\n"
		}
		if got.String() != want {
			t.Errorf("round trip of %q = %q, want %q", body, got.String(), want)
		}
	}
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"HELO crepes.fr", "MAIL FROM:<alice@crepes.fr> SIZE=10", "RCPT TO:<@a,@b:c@d>",
		"RCPT TO:<\"x\\\"y\"@[IPv6:::1]>", "MAIL FROM:<>", "AUTH PLAIN AGFsaWNlAHB3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		c, err := ParseCommand(line)
		if err != nil {
			return
		}
		for _, kw := range []string{"FROM", "TO"} {
			p, _, err := ParseMailArg(c.Arg, kw)
			if err != nil || p.Null {
				continue
			}
			// A parsed path renders to something that parses to itself.
			q, _, err := ParseMailArg(kw+":"+p.String(), kw)
			if err != nil || q != p {
				t.Fatalf("ParseMailArg(%q) = %v, %v; want %v", kw+":"+p.String(), q, err, p)
			}
		}
	})
}

func FuzzReadData(f *testing.F) {
	f.Add([]byte("Subject: x\r\n\r\nbody\r\n..dot\r\n.\r\n"), int64(0))
	f.Add([]byte("a\nb\x00\r\n.\r\n"), int64(3))
	f.Add([]byte(".\r"), int64(1))
	f.Add([]byte("a\n.\r\nMAIL FROM:<x@y.z>\r\n.\r\n"), int64(0))
	f.Add([]byte("a\r.\rMAIL FROM:<x@y.z>\r\n.\r\n"), int64(0))
	f.Add([]byte("0123456789abcde\rX\r\n.\r\n"), int64(0))
	f.Fuzz(func(t *testing.T, in []byte, max int64) {
		var out bytes.Buffer
		src := bytes.NewReader(in)
		br := bufio.NewReaderSize(src, 16)
		n, err := ReadData(br, &out, max)
		consumed := in[:len(in)-src.Len()-br.Buffered()]
		if err == nil && (bytes.Contains(bytes.ReplaceAll(out.Bytes(), []byte("\r\n"), nil), []byte("\r")) ||
			bytes.Contains(bytes.ReplaceAll(out.Bytes(), []byte("\r\n"), nil), []byte("\n"))) {
			t.Fatalf("body of %q accepted with a bare CR or LF: %q", in, out.Bytes())
		}
		if err == nil || errors.Is(err, ErrBareLF) || errors.Is(err, ErrBareCR) || errors.Is(err, ErrNULByte) || errors.Is(err, ErrTooBig) {
			// The body ends only at CRLF "." CRLF (or "." CRLF first).
			if !bytes.Equal(consumed, []byte(".\r\n")) && !bytes.HasSuffix(consumed, []byte("\r\n.\r\n")) {
				t.Fatalf("body of %q ended after %q", in, consumed)
			}
		}
		if n != int64(out.Len()) {
			t.Fatalf("ReadData returned %d, wrote %d", n, out.Len())
		}
		if max > 0 && n > max {
			t.Fatalf("ReadData wrote %d bytes over max %d", n, max)
		}
		if err == nil && bytes.Contains(out.Bytes(), []byte("\r\n.\r\n")) && !bytes.HasPrefix(in, out.Bytes()) {
			// A body may contain "\r\n.\r\n" only if it was stuffed on the wire.
			if !bytes.Contains(in, []byte("\r\n..\r\n")) {
				t.Fatalf("unstuffed end marker in body from %q", in)
			}
		}
	})
}

// FuzzDotWriter: whatever a queued body holds, what DotWriter sends is
// read back whole by ReadData, with canonical CRLF lines only.
func FuzzDotWriter(f *testing.F) {
	for _, s := range []string{"a\r.\rb", "a\n.\nb", "a\r.\nb", "a\n.\r\nb", ".\r\n.\r\n", "\r", "x\r\n..\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if bytes.IndexByte(body, 0) >= 0 {
			return
		}
		var wire bytes.Buffer
		bw := bufio.NewWriter(&wire)
		d := DotWriter(bw)
		d.Write(body)
		d.Close()
		bw.Flush()
		r := bufio.NewReaderSize(bytes.NewReader(wire.Bytes()), 16)
		var got bytes.Buffer
		if _, err := ReadData(r, &got, 0); err != nil {
			t.Fatalf("ReadData(DotWriter(%q)) = %v; wire %q", body, err, wire.Bytes())
		}
		if r.Buffered() != 0 {
			t.Fatalf("DotWriter(%q) ended early; wire %q", body, wire.Bytes())
		}
	})
}

func FuzzParseReply(f *testing.F) {
	for _, s := range []string{"250 ok", "250-hamburger.edu", "550 5.7.1 Relaying denied", "421", "354 go ahead", "250 2.0.0", "999 x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		code, more, text, ok := ParseReplyLine(line)
		if !ok {
			return
		}
		if code < 200 || code > 599 || len(text) > len(line) {
			t.Fatalf("ParseReplyLine(%q) = %d %v %q", line, code, more, text)
		}
		e, rest := SplitEnhanced(code, text)
		if e != (EnhancedCode{}) {
			if e[0] != code/100 || len(rest) >= len(text) {
				t.Fatalf("SplitEnhanced(%d, %q) = %v %q", code, text, e, rest)
			}
			if back, ok := ParseEnhancedCode(e.String()); !ok || back != e {
				t.Fatalf("enhanced code %v does not round-trip", e)
			}
		}
		r := &Reply{Code: code, Enhanced: e, Lines: []string{rest}}
		if got := r.WireLines(); len(got) != 1 {
			t.Fatalf("WireLines = %q", got)
		}
	})
}
