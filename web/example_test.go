package web_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/applayer/applayer/web"
)

// A file server on loopback, asked for a page the way the textbook writes
// a request by hand.
func Example() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "index.html"), []byte("<p>hello</p>\n"), 0o644)

	files, _ := web.NewFileServer(dir)
	defer files.Close()
	srv := &web.Server{Handler: files, Name: "-", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(l)
	defer srv.Shutdown(context.Background())

	c, _ := net.Dial("tcp", l.Addr().String())
	defer c.Close()
	fmt.Fprint(c, "GET /somedir/../index.html HTTP/1.1\r\nHost: www.someschool.edu\r\nConnection: close\r\n\r\n")
	resp, _ := web.ReadResponse(bufio.NewReader(c), "GET")
	fmt.Println(resp.Status, resp.Reason)

	c2, _ := net.Dial("tcp", l.Addr().String())
	defer c2.Close()
	fmt.Fprint(c2, "GET /index.html HTTP/1.1\r\nHost: www.someschool.edu\r\nConnection: close\r\n\r\n")
	resp, _ = web.ReadResponse(bufio.NewReader(c2), "GET")
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.Status, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Length"))
	fmt.Print(string(body))
	// Output:
	// 200 OK
	// 200 text/html; charset=utf-8 13
	// <p>hello</p>
}

// ReadRequest parses a request head and frames its body.
func ExampleReadRequest() {
	raw := "POST /cgi-bin/form HTTP/1.1\r\nHost: www.someschool.edu\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n"
	req, err := web.ReadRequest(bufio.NewReader(strings.NewReader(raw)), web.Limits{})
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(req.Body)
	fmt.Println(req.Method, req.Path, req.Host, req.Chunked)
	fmt.Println(string(body))

	// Request smuggling defence: both framings at once are refused.
	_, err = web.ReadRequest(bufio.NewReader(strings.NewReader(
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n")), web.Limits{})
	fmt.Println(err)
	// Output:
	// POST /cgi-bin/form www.someschool.edu true
	// hello world
	// web: 400 Bad Request: both Transfer-Encoding and Content-Length (RFC 9112 §6.1)
}
