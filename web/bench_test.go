package web

import (
	"bufio"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkKeepAlive1K measures one small file over one kept-alive
// connection; run with -benchmem to see allocations per request.
func BenchmarkKeepAlive1K(b *testing.B) {
	dir := b.TempDir()
	os.WriteFile(filepath.Join(dir, "1k.html"), []byte(strings.Repeat("a", 1024)), 0o644)
	fsrv, err := NewFileServer(dir)
	if err != nil {
		b.Fatal(err)
	}
	addr := startServer(b, &Server{Handler: fsrv})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	req := []byte("GET /1k.html HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		// Read the head, then the 1024-byte body.
		n := -1
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				b.Fatal(err)
			}
			if len(line) == 2 {
				break
			}
			if strings.HasPrefix(string(line), "Content-Length: ") {
				n = len(line)
			}
		}
		if n < 0 {
			b.Fatal("no Content-Length")
		}
		if _, err := io.CopyN(io.Discard, br, 1024); err != nil {
			b.Fatal(err)
		}
	}
}
