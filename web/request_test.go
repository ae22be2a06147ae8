package web

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestReadRequest(t *testing.T) {
	raw := "POST http://Example.TEST:8080/a%20b/c?x=1&y=%41 HTTP/1.1\r\n" +
		"Host: ignored.test\r\n" +
		"Content-Length: 5\r\n" +
		"X-Spaces:   padded value \t\r\n" +
		"X-Multi: a\r\n" +
		"x-multi: b\r\n" +
		"Connection: keep-alive, close\r\n" +
		"\r\nhelloGET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"
	br := bufio.NewReader(strings.NewReader(raw))
	req, err := ReadRequest(br, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct{ name, got, want string }{
		{"Method", req.Method, "POST"},
		{"Form", req.Form.String(), "absolute-form"},
		{"Scheme", req.Scheme, "http"},
		{"Host", req.Host, "Example.TEST:8080"},
		{"Path", req.Path, "/a b/c"},
		{"RawPath", req.RawPath, "/a%20b/c"},
		{"RawQuery", req.RawQuery, "x=1&y=%41"},
		{"Proto", req.Proto, "HTTP/1.1"},
		{"X-Spaces", req.Header.Get("x-spaces"), "padded value"},
		{"X-Multi", strings.Join(req.Header.Values("X-MULTI"), ","), "a,b"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if !req.Close {
		t.Error("Connection: keep-alive, close: Close = false, want true")
	}
	body, err := io.ReadAll(req.Body)
	if err != nil || string(body) != "hello" {
		t.Errorf("body = %q, %v; want hello", body, err)
	}
	req2, err := ReadRequest(br, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if req2.Proto != "HTTP/1.0" || req2.Close || req2.Path != "/" || req2.Host != "" {
		t.Errorf("second request: %+v", req2)
	}
	if _, err := ReadRequest(br, Limits{}); err != io.EOF {
		t.Errorf("at the end: err = %v, want io.EOF", err)
	}
}

func TestReadRequestErrors(t *testing.T) {
	tests := []struct {
		name, raw string
		status    int
	}{
		{"truncated head", "GET / HTTP/1.1\r\nHost: x\r\n", 0},
		{"1.0 close default", "GET / HTTP/1.0\r\n\r\n", -1},
		{"CONNECT", "CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n", -1},
		{"CONNECT no port", "CONNECT example.test HTTP/1.1\r\nHost: example.test\r\n\r\n", 400},
		{"OPTIONS *", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", -1},
		{"userinfo", "GET http://u@h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"ftp scheme", "GET ftp://h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"method not token", "G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"tab separator", "GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"empty TE", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: ,\r\n\r\n", 400},
		{"two TE fields", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
		{"TE with CL 0", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n", 400},
		{"CL with space inside", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1 2\r\n\r\n", 400},
		{"CL hex", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x10\r\n\r\n", 400},
		{"field name with slash", "GET / HTTP/1.1\r\nHost: h\r\nX/Y: 1\r\n\r\n", 400},
		{"empty field name", "GET / HTTP/1.1\r\nHost: h\r\n: 1\r\n\r\n", 400},
		{"tab before colon", "GET / HTTP/1.1\r\nHost\t: h\r\n\r\n", 400},
		{"DEL in value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\x7fb\r\n\r\n", 400},
		{"high bytes in value ok", "GET / HTTP/1.1\r\nHost: h\r\nX: caf\xc3\xa9\r\n\r\n", -1},
		{"high byte in target", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"HTTP/1.9 as 1.1", "GET / HTTP/1.9\r\nHost: h\r\n\r\n", -1},
		{"HTTP/1.9 needs host", "GET / HTTP/1.9\r\n\r\n", 400},
		{"only LF after line", "GET / HTTP/1.1\r\nHost: h\r\n\n", 400},
		{"space before first field", "GET / HTTP/1.1\r\n Host: h\r\n\r\n", 400},
		{"TE with leading VT", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \x0bchunked\r\n\r\n", 400},
		{"TE xchunked", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n", 501},
		{"TE quoted", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", 400},
		{"CL with trailing junk", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5x\r\n\r\n", 400},
		{"CL negative", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400},
		{"CL empty", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n", 400},
		{"NUL in field name", "GET / HTTP/1.1\r\nHost: h\r\nX\x00Y: 1\r\n\r\n", 400},
		{"Host with userinfo", "GET / HTTP/1.1\r\nHost: a@b\r\n\r\n", 400},
		{"version with space", "GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400},
	}
	for _, tc := range tests {
		_, err := ReadRequest(bufio.NewReader(strings.NewReader(tc.raw)), Limits{})
		var e *Error
		switch {
		case tc.status == -1:
			if err != nil {
				t.Errorf("%s: err = %v, want none", tc.name, err)
			}
		case tc.status == 0:
			if !errors.Is(err, errIncomplete) {
				t.Errorf("%s: err = %v, want errIncomplete", tc.name, err)
			}
		case !errors.As(err, &e):
			t.Errorf("%s: err = %v, want *Error %d", tc.name, err, tc.status)
		case e.Status != tc.status:
			t.Errorf("%s: status = %d (%s), want %d", tc.name, e.Status, e.Reason, tc.status)
		}
	}
}

func TestChunkedReader(t *testing.T) {
	tests := []struct {
		name, in string
		out      string
		status   int // 0: no error
		trailer  string
	}{
		{"simple", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world", 0, ""},
		{"hex upper", "A\r\n0123456789\r\n0\r\n\r\n", "0123456789", 0, ""},
		{"extension", "5;name=value\r\nhello\r\n0;last\r\n\r\n", "hello", 0, ""},
		{"quoted extension", "5 ; a=\"x y\"\r\nhello\r\n0\r\n\r\n", "hello", 0, ""},
		{"trailer", "5\r\nhello\r\n0\r\nX-Sum: 42\r\n\r\n", "hello", 0, "42"},
		{"leading zeros", "0005\r\nhello\r\n0\r\n\r\n", "hello", 0, ""},
		{"bare LF size line", "5\nhello\r\n0\r\n\r\n", "", 400, ""},
		{"bare LF after data", "5\r\nhello\n0\r\n\r\n", "hello", 400, ""},
		{"no CRLF after data", "5\r\nhelloX\r\n0\r\n\r\n", "hello", 400, ""},
		{"negative size", "-5\r\nhello\r\n0\r\n\r\n", "", 400, ""},
		{"0x prefix", "0x5\r\nhello\r\n0\r\n\r\n", "", 400, ""},
		{"empty size", "\r\nhello\r\n0\r\n\r\n", "", 400, ""},
		{"size overflow", "ffffffffffffffffff\r\n", "", 400, ""},
		{"space in size", "5 5\r\nhello\r\n", "", 400, ""},
		{"bad extension", "5;=x\r\nhello\r\n", "", 400, ""},
		{"CR in extension", "5;a\rb\r\nhello\r\n", "", 400, ""},
		{"obs-fold trailer", "0\r\nX: a\r\n b\r\n\r\n", "", 400, ""},
		{"truncated data", "5\r\nhel", "hel", -1, ""},
		{"trailing space", "5 \r\nhello\r\n0\r\n\r\n", "", 400, ""},
		{"trailing tab after ext", "5;a=b\t\r\nhello\r\n0\r\n\r\n", "", 400, ""},
		{"LF-only last chunk", "5\r\nhello\r\n0\n\r\n", "hello", 400, ""},
		{"smuggled after last chunk bare LF", "0\r\n\nGET /admin HTTP/1.1\r\n\r\n", "", 400, ""},
		{"truncated trailer", "0\r\nX: 1\r\n", "", -1, ""},
		{"over limit", "9\r\n123456789\r\n0\r\n\r\n", "", 413, ""},
		{"one byte per chunk", strings.Repeat("1\r\nx\r\n", 50000) + "0\r\n\r\n", strings.Repeat("x", 50000), 0, ""},
		{"long extensions on large chunks", strings.Repeat("1000;"+strings.Repeat("e", 3000)+"\r\n"+strings.Repeat("x", 4096)+"\r\n", 20) + "0\r\n\r\n", strings.Repeat("x", 20*4096), 0, ""},
		// One data byte under a 4 KB extension, again and again: the
		// framing outgrows the data and the reader gives up.
		{"extension flood", strings.Repeat("1;"+strings.Repeat("e", 4000)+"\r\nx\r\n", 1000) + "0\r\n\r\n", "xxxx", 400, ""},
	}
	for _, tc := range tests {
		var tr Header
		r := NewChunkedReader(bufio.NewReader(strings.NewReader(tc.in)), &tr, 8)
		if tc.status != 413 {
			r = NewChunkedReader(bufio.NewReader(strings.NewReader(tc.in)), &tr, 1<<20)
		}
		got, err := io.ReadAll(r)
		if string(got) != tc.out {
			t.Errorf("%s: body %q, want %q", tc.name, got, tc.out)
		}
		var e *Error
		switch {
		case tc.status == 0 && err != nil:
			t.Errorf("%s: err %v, want none", tc.name, err)
		case tc.status == -1 && err != io.ErrUnexpectedEOF:
			t.Errorf("%s: err %v, want unexpected EOF", tc.name, err)
		case tc.status > 0 && (!errors.As(err, &e) || e.Status != tc.status):
			t.Errorf("%s: err %v, want status %d", tc.name, err, tc.status)
		}
		if tc.trailer != "" && tr.Get("X-Sum") != tc.trailer {
			t.Errorf("%s: trailer %v", tc.name, tr)
		}
	}
}

func FuzzReadRequest(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /a?b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nT: 1\r\n\r\n",
		"GET http://h:1/p HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n",
		"\r\nOPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /%2e%2e/ HTTP/1.1\r\nHost: x\r\n\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		br := bufio.NewReaderSize(strings.NewReader(raw), 64)
		for i := 0; i < 4; i++ {
			req, err := ReadRequest(br, Limits{MaxTarget: 256, MaxHeaderBytes: 1024, MaxBodyBytes: 4096})
			if err != nil {
				var e *Error
				if errors.As(err, &e) && (e.Status < 400 || e.Status > 505 || StatusText(e.Status) == "") {
					t.Fatalf("status %d is not a client or server error with a reason phrase", e.Status)
				}
				return
			}
			if req.ProtoMinor == 1 && !req.Header.Has("Host") {
				t.Fatal("accepted HTTP/1.1 without Host")
			}
			if req.Header.Has("Transfer-Encoding") && req.Header.Has("Content-Length") {
				t.Fatal("accepted both Transfer-Encoding and Content-Length")
			}
			n, err := io.Copy(io.Discard, req.Body)
			if req.ContentLength >= 0 && err == nil && n != req.ContentLength {
				t.Fatalf("read %d body bytes, Content-Length %d", n, req.ContentLength)
			}
			if n > 4096 {
				t.Fatalf("read %d body bytes past the limit", n)
			}
			if err != nil {
				return
			}
		}
	})
}

func FuzzChunkedReader(f *testing.F) {
	for _, s := range []string{
		"5\r\nhello\r\n0\r\n\r\n",
		"5;a=b\r\nhello\r\n0\r\nX: y\r\n\r\n",
		"5\nhello\n0\n\n",
		"ffffffff\r\n",
		"0\r\n\r\nGET / HTTP/1.1\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var tr Header
		r := NewChunkedReader(bufio.NewReaderSize(strings.NewReader(in), 16), &tr, 1<<16)
		out, err := io.ReadAll(r)
		if len(out) > len(in) {
			t.Fatalf("decoded %d bytes from %d", len(out), len(in))
		}
		if err == nil {
			// A body that decoded cleanly must re-encode to something that
			// decodes to the same bytes.
			var sb strings.Builder
			bw := bufio.NewWriter(&sb)
			cw := &chunkedWriter{w: bw}
			cw.Write(out)
			cw.close(nil)
			bw.Flush()
			again, err := io.ReadAll(NewChunkedReader(bufio.NewReader(strings.NewReader(sb.String())), nil, -1))
			if err != nil || string(again) != string(out) {
				t.Fatalf("round trip: %q, %v", again, err)
			}
		}
	})
}
