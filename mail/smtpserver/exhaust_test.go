package smtpserver

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// dialFrom connects to addr from the loopback address from.
func dialFrom(t *testing.T, addr, from string) (net.Conn, *bufio.Reader) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c, bufio.NewReader(c)
}

// TestIdleSessionsDoNotLockOut: MaxConns silent sessions from a few
// addresses (each at its per-client limit) leave room for a fresh client
// from another address, which is greeted instead of told 421: an idle
// session makes room.
func TestIdleSessionsDoNotLockOut(t *testing.T) {
	const max = 32
	_, _, addr := startServer(t, func(s *Server) { s.MaxConns = max })
	per := max / 8 // the default per-client limit
	var oldest *bufio.Reader
	for i := range max {
		_, r := dialFrom(t, addr, fmt.Sprintf("127.0.0.%d", 1+i/per))
		if greet, err := r.ReadString('\n'); !strings.HasPrefix(greet, "220 ") {
			t.Fatalf("held session %d: greeting %q, %v", i, greet, err)
		}
		if i == 0 {
			oldest = r
		}
	}
	// One more from a held address is over its limit.
	_, r := dialFrom(t, addr, "127.0.0.1")
	if got, _ := r.ReadString('\n'); !strings.HasPrefix(got, "421 4.3.2 ") {
		t.Errorf("a client over its per-client limit read %q, want 421 4.3.2", got)
	}
	fresh, r := dialFrom(t, addr, "127.0.0.200")
	if greet, err := r.ReadString('\n'); !strings.HasPrefix(greet, "220 ") {
		t.Fatalf("fresh client while %d sessions were held: %q, %v; want the greeting", max, greet, err)
	}
	fmt.Fprintf(fresh, "NOOP\r\n")
	if got, _ := r.ReadString('\n'); !strings.HasPrefix(got, "250") {
		t.Errorf("fresh client's NOOP: %q", got)
	}
	if got, _ := oldest.ReadString('\n'); !strings.HasPrefix(got, "421 ") || !strings.Contains(got, "Timeout") {
		t.Errorf("the longest idle session read %q, want 421 Timeout (evicted)", got)
	}
}
