package web

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/applayer/applayer/internal/testutil"
)

// TestIdleKeepAliveDoesNotLockOut: MaxConns idle keep-alive connections
// from a few addresses (each at its per-client limit) leave room for a
// fresh client from another address, which is answered instead of told
// 503: idle connections are evicted first.
func TestIdleKeepAliveDoesNotLockOut(t *testing.T) {
	for _, pollers := range []int{0, -1} {
		t.Run(fmt.Sprintf("pollers=%d", pollers), func(t *testing.T) {
			const max = 32
			addr := startServer(t, &Server{Handler: HandlerFunc(NotFound), MaxConns: max, Pollers: pollers})
			get := func(from string) (*bufio.Reader, error) {
				d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
				c, err := d.Dial("tcp", addr)
				if err != nil {
					return nil, err
				}
				t.Cleanup(func() { c.Close() })
				c.SetDeadline(time.Now().Add(10 * time.Second))
				io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
				r := bufio.NewReader(c)
				status, err := r.ReadString('\n')
				if err != nil {
					return r, err
				}
				for {
					l, err := r.ReadString('\n')
					if err != nil || l == "\r\n" {
						break
					}
					if n, ok := strings.CutPrefix(strings.ToLower(l), "content-length: "); ok {
						var cl int
						fmt.Sscan(n, &cl)
						defer io.CopyN(io.Discard, r, int64(cl))
					}
				}
				if !strings.HasPrefix(status, "HTTP/1.1 404 ") {
					return r, fmt.Errorf("status %q", status)
				}
				return r, nil
			}
			per := max / 8 // the default per-client limit
			var oldest *bufio.Reader
			for i := range max {
				r, err := get(fmt.Sprintf("127.0.0.%d", 1+i/per))
				if err != nil {
					t.Fatalf("held connection %d: %v", i, err)
				}
				if i == 0 {
					oldest = r
				}
			}
			if _, err := get("127.0.0.1"); err == nil {
				t.Error("a client over its per-client limit was served")
			}
			if _, err := get("127.0.0.200"); err != nil {
				t.Errorf("fresh client while %d connections were held: %v", max, err)
			}
			if b, err := io.ReadAll(oldest); err != nil || len(b) != 0 {
				t.Errorf("the longest idle connection: %q, %v; want closed (evicted)", b, err)
			}
		})
	}
}

// TestSlowHeadsDoNotLockOut: MaxConns connections from a few addresses,
// each holding a request head that never ends (slowloris), leave room for
// a fresh client from another address: a connection waiting for the rest
// of its head is evicted as an idle one is. Without eviction the slow
// heads would hold every slot for the whole (long) header timeout.
func TestSlowHeadsDoNotLockOut(t *testing.T) {
	for _, pollers := range []int{0, -1} {
		t.Run(fmt.Sprintf("pollers=%d", pollers), func(t *testing.T) {
			const max = 32
			srv := &Server{Handler: HandlerFunc(NotFound), MaxConns: max, Pollers: pollers, HeaderTimeout: time.Hour}
			addr := startServer(t, srv)
			per := max / 8 // the default per-client limit
			var closed atomic.Int32
			for i := range max {
				d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(fmt.Sprintf("127.0.0.%d", 1+i/per))}}
				c, err := d.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { c.Close() })
				if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n"); err != nil {
					t.Fatal(err)
				}
				go func() {
					io.Copy(io.Discard, c)
					closed.Add(1)
				}()
			}
			testutil.WaitFor(t, "the server to hold every slow head", func() bool { return srv.Conns() == max })
			served := func() bool {
				d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.200")}}
				c, err := d.Dial("tcp", addr)
				if err != nil {
					return false
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
				status, _ := bufio.NewReader(c).ReadString('\n')
				return strings.HasPrefix(status, "HTTP/1.1 404 ")
			}
			// The first try may find slow heads not yet marked waiting
			// (their goroutines not yet in the read): try again then.
			testutil.WaitFor(t, "a fresh client to be served while slow heads hold every slot", served)
			testutil.WaitFor(t, "a slow head to be evicted", func() bool { return closed.Load() > 0 })
		})
	}
}
