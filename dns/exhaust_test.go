package dns

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"testing"
	"time"
)

// tcpAsk sends one query on c and reads its answer (RFC 1035 §4.2.2).
func tcpAsk(c net.Conn, id uint16) error {
	q, err := new(Msg).SetQuestion(id, "example.com.", TypeA).Pack()
	if err != nil {
		return err
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(q))), q...)); err != nil {
		return err
	}
	var lb [2]byte
	if _, err := io.ReadFull(c, lb[:]); err != nil {
		return err
	}
	b := make([]byte, binary.BigEndian.Uint16(lb[:]))
	if _, err := io.ReadFull(c, b); err != nil {
		return err
	}
	var m Msg
	if err := m.Unpack(b); err != nil || m.ID != id {
		return fmt.Errorf("answer %+v, %v", m, err)
	}
	return nil
}

// TestIdleTCPDoesNotLockOut: MaxConns idle TCP connections from a few
// addresses (each at its per-client limit) leave room for a fresh client
// from another address: an idle connection makes room.
func TestIdleTCPDoesNotLockOut(t *testing.T) {
	const max = 32
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{MaxConns: max, Handler: HandlerFunc(func(w ResponseWriter, r *Request) {
		var m Msg
		m.SetReply(r.Msg)
		w.WriteMsg(&m)
	})}
	go s.Serve(l)
	defer s.Close()
	dial := func(from string) net.Conn {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
		c, err := d.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	per := max / 8 // the default per-client limit
	for i := range max {
		if err := tcpAsk(dial(fmt.Sprintf("127.0.0.%d", 1+i/per)), uint16(i)); err != nil {
			t.Fatalf("held connection %d: %v", i, err)
		}
	}
	if err := tcpAsk(dial("127.0.0.1"), 99); err == nil {
		t.Error("a client over its per-client limit was served")
	}
	if err := tcpAsk(dial("127.0.0.200"), 100); err != nil {
		t.Errorf("fresh client while %d connections were held: %v", max, err)
	}
}
