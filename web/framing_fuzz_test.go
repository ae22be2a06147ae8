package web

import (
	"bufio"
	"io"
	"net/http"
	"strings"
	"testing"
)

// FuzzFramingAgreesWithNetHTTP uses Go's net/http as an oracle for request
// framing, the property request smuggling attacks: whenever both parsers
// accept a request and its body, they must agree on the method, the body's
// bytes and where the next request starts. (Ours is stricter, so inputs
// only one of them accepts are not compared.)
func FuzzFramingAgreesWithNetHTTP(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /a?b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nT: 1\r\n\r\nGET / HTTP/1.1\r\n",
		"POST / HTTP/1.0\r\nContent-Length: 2\r\n\r\nabcd",
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;x=\"y\"\r\nabc\r\n0\r\n\r\nX",
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 03\r\n\r\nabcd",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		ours := bufio.NewReader(strings.NewReader(raw))
		req, err := ReadRequest(ours, Limits{MaxBodyBytes: 1 << 20})
		if err != nil {
			return
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return
		}
		theirs := bufio.NewReader(strings.NewReader(raw))
		hreq, err := http.ReadRequest(theirs)
		if err != nil {
			return
		}
		hbody, err := io.ReadAll(hreq.Body)
		if err != nil {
			return
		}
		if hreq.Method != req.Method || string(hbody) != string(body) {
			t.Fatalf("ours: %s with body %q; net/http: %s with body %q", req.Method, body, hreq.Method, hbody)
		}
		rest, _ := io.ReadAll(ours)
		hrest, _ := io.ReadAll(theirs)
		if string(rest) != string(hrest) {
			t.Fatalf("the next request starts at %q for us, at %q for net/http", rest, hrest)
		}
	})
}

// FuzzResponseFramingAgreesWithNetHTTP is the same oracle for the client:
// when both parsers accept a response to a GET and read its body, they
// agree on the status, the body and what follows it.
func FuzzResponseFramingAgreesWithNetHTTP(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcHTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nT: 1\r\n\r\nrest",
		"HTTP/1.0 200 OK\r\n\r\nuntil the close",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx",
		"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nabc",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		ours := bufio.NewReader(strings.NewReader(raw))
		resp, err := ReadResponse(ours, "GET")
		if err != nil {
			return
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return
		}
		theirs := bufio.NewReader(strings.NewReader(raw))
		// net/http hands interim responses back; ours skips them.
		var hresp *http.Response
		for hresp == nil || hresp.StatusCode < 200 && hresp.StatusCode != 101 {
			if hresp, err = http.ReadResponse(theirs, &http.Request{Method: "GET"}); err != nil {
				return
			}
		}
		hbody, err := io.ReadAll(hresp.Body)
		if err != nil {
			return
		}
		if hresp.StatusCode != resp.Status || string(hbody) != string(body) {
			t.Fatalf("ours: %d with body %q; net/http: %d with body %q", resp.Status, body, hresp.StatusCode, hbody)
		}
		rest, _ := io.ReadAll(ours)
		hrest, _ := io.ReadAll(theirs)
		if string(rest) != string(hrest) {
			t.Fatalf("the next response starts at %q for us, at %q for net/http", rest, hrest)
		}
	})
}
