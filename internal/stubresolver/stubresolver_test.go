package stubresolver

import (
	"context"
	"net"
	"testing"
)

// TestAtDialsOnlyAddr: whatever server the stub resolver would ask (here a
// documentation address), the connection goes to addr.
func TestAtDialsOnlyAddr(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	r := At(l.Addr().String())
	if !r.PreferGo {
		t.Error("not the Go resolver: the system's would not use Dial")
	}
	c, err := r.Dial(context.Background(), "tcp", "192.0.2.1:53")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.RemoteAddr().String() != l.Addr().String() {
		t.Errorf("dialled %s, want %s", c.RemoteAddr(), l.Addr())
	}
	s, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}
