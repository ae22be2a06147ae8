package web

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/applayer/applayer/internal/testutil"
)

// TestClientAgainstNetHTTP uses Go's server as the oracle for our client:
// fixed-length, chunked and close-delimited bodies, HEAD, 304, trailers.
func TestClientAgainstNetHTTP(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/fixed":
			w.Header().Set("Content-Length", "5")
			io.WriteString(w, "fixed")
		case "/chunked":
			w.Header().Set("Trailer", "X-Sum")
			for i := 0; i < 3; i++ {
				io.WriteString(w, strings.Repeat("c", 3000))
				w.(http.Flusher).Flush()
			}
			w.Header().Set("X-Sum", "9000")
		case "/notmod":
			w.WriteHeader(304)
		case "/echo":
			b, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, "%s %d %s %v", r.Method, len(b), b, r.TransferEncoding)
		}
	}))
	defer ts.Close()
	addr := strings.TrimPrefix(ts.URL, "http://")
	ctx := context.Background()
	c, err := Dial(ctx, addr, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, tc := range []struct {
		method, path string
		body         io.Reader
		clen         int64
		status       int
		want         string
		trailer      string
	}{
		{"GET", "/fixed", nil, 0, 200, "fixed", ""},
		{"HEAD", "/fixed", nil, 0, 200, "", ""},
		{"GET", "/chunked", nil, 0, 200, strings.Repeat("c", 9000), "9000"},
		{"GET", "/notmod", nil, 0, 304, "", ""},
		{"POST", "/echo", strings.NewReader("hello"), 5, 200, "POST 5 hello []", ""},
		{"PUT", "/echo", strings.NewReader("streamed"), -1, 200, "PUT 8 streamed [chunked]", ""},
	} {
		resp, err := c.Do(ctx, &OutRequest{Method: tc.method, Target: tc.path, Host: addr, Body: tc.body, ContentLength: tc.clen})
		if err != nil {
			t.Fatalf("%s %s: %v", tc.method, tc.path, err)
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.Status != tc.status || string(b) != tc.want {
			t.Errorf("%s %s: %d %q %v; want %d %q", tc.method, tc.path, resp.Status, b, err, tc.status, tc.want)
		}
		if tc.trailer != "" && resp.Trailer.Get("X-Sum") != tc.trailer {
			t.Errorf("%s: trailer %v", tc.path, resp.Trailer)
		}
	}
	if c.Requests != 6 || !c.Reusable() {
		t.Errorf("after six exchanges: %d requests, reusable %v; want one connection for all", c.Requests, c.Reusable())
	}
	// HTTP/1.0: the server closes, the body ends with the connection.
	c10, _ := Dial(ctx, addr, Options{})
	defer c10.Close()
	resp, err := c10.Do(ctx, &OutRequest{Target: "/chunked", Host: addr, HTTP10: true, Close: true})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if len(b) != 9000 || !resp.Close || c10.Reusable() {
		t.Errorf("HTTP/1.0: %d bytes, Close %v, reusable %v", len(b), resp.Close, c10.Reusable())
	}
}

func FuzzReadResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX: y\r\n\r\n",
		"HTTP/1.0 200 OK\r\n\r\nuntil close",
		"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
		"HTTP/1.1 200\r\nContent-Length: 1, 1\r\n\r\nx",
	} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, raw string, head bool) {
		method := "GET"
		if head {
			method = "HEAD"
		}
		resp, err := ReadResponse(bufio.NewReaderSize(strings.NewReader(raw), 32), method)
		if err != nil {
			return
		}
		if resp.Status < 100 || resp.Status > 999 {
			t.Fatalf("status %d", resp.Status)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		if n > int64(len(raw)) {
			t.Fatalf("body of %d bytes from %d bytes of input", n, len(raw))
		}
		if head && n != 0 {
			t.Fatal("a HEAD response with a body")
		}
	})
}

// TestReadResponseFaultyFraming: responses whose framing RFC 9112 calls
// faulty are refused rather than guessed at.
func TestReadResponseFaultyFraming(t *testing.T) {
	for _, tc := range []struct{ name, raw string }{
		// §6.1: Transfer-Encoding in an HTTP/1.0 message is faulty framing.
		{"TE in 1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
		{"differing lengths", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"},
		{"chunked twice", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n"},
		{"bare LF", "HTTP/1.1 200 OK\nContent-Length: 0\n\n"},
	} {
		if resp, err := ReadResponse(bufio.NewReader(strings.NewReader(tc.raw)), "GET"); err == nil {
			t.Errorf("%s: accepted (status %d, length %d)", tc.name, resp.Status, resp.ContentLength)
		}
	}
}

// TestClientTimeoutWithoutDeadline: a server that accepts and never
// answers cannot hold a client whose context has no deadline.
func TestClientTimeoutWithoutDeadline(t *testing.T) {
	addr := testutil.SilentServer(t)
	c, err := Dial(context.Background(), addr, Options{Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Do(context.Background(), &OutRequest{Host: "x"})
	if ne, ok := errors.AsType[net.Error](err); !ok || !ne.Timeout() {
		t.Errorf("Do against a silent server = %v; want a timeout", err)
	}
}
