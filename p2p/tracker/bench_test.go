package tracker

import (
	"encoding/binary"
	"net/netip"
	"testing"
)

// BenchmarkUDPAnnounce is one announce datagram answered, in a swarm of
// 800 peers, 50 wanted.
func BenchmarkUDPAnnounce(b *testing.B) {
	s := &Server{}
	s.init()
	from := netip.MustParseAddrPort("127.0.0.1:5000")
	id := s.connID(from, s.now().UnixNano()/int64(connIDEpoch))
	p := binary.BigEndian.AppendUint64(nil, id)
	p = binary.BigEndian.AppendUint32(p, actionAnnounce)
	p = append(p, make([]byte, 86)...)
	binary.BigEndian.PutUint32(p[92:], 50)
	var out []byte
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		binary.BigEndian.PutUint16(p[96:], uint16(1+i%800))
		i++
		out = s.handleUDP(out[:0], p, from)
		if binary.BigEndian.Uint32(out) != actionAnnounce {
			b.Fatalf("answer %q", out)
		}
	}
}
