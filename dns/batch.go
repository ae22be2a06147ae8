package dns

import (
	"errors"
	"net"

	"golang.org/x/net/ipv4"
)

// udpBatch holds one worker's batch of queued answers.
type udpBatch struct {
	out  []ipv4.Message
	bufs [][]byte
	n    int
}

// queue packs m for the datagram w is answering and adds it to the batch.
func (b *udpBatch) queue(w *udpWriter, m *Msg) error {
	out, err := w.pk.PackLimit(b.bufs[b.n][:0], m, w.limit)
	if err != nil {
		if out, err = w.pk.Pack(b.bufs[b.n][:0], serverFailure(m)); err != nil {
			return err
		}
	}
	b.bufs[b.n] = out
	if w.tr.Enabled() {
		var back Msg
		if back.Unpack(out) == nil {
			w.tr.Server(back.Summary())
		}
	}
	b.out[b.n].Buffers[0] = out
	b.out[b.n].Addr = w.toAddr
	b.n++
	return nil
}

// udpBatchWorker is udpWorker reading and writing many datagrams per
// system call. ipv4.PacketConn's batch calls work on IPv6 sockets too:
// they only move buffers and addresses.
func (s *Server) udpBatchWorker(uc *net.UDPConn) error {
	t := s.tracker()
	pc := ipv4.NewPacketConn(uc)
	size := s.UDPBatch
	in := make([]ipv4.Message, size)
	for i := range in {
		in[i].Buffers = [][]byte{make([]byte, 65536)}
	}
	b := &udpBatch{out: make([]ipv4.Message, size), bufs: make([][]byte, size)}
	for i := range b.out {
		b.out[i].Buffers = [][]byte{nil}
		b.bufs[i] = make([]byte, 0, 4096)
	}
	w := &udpWriter{s: s, uc: uc, pc: uc, batch: b}
	var req Msg
	r := &Request{Msg: &req}
	for {
		n, err := pc.ReadBatch(in, 0)
		if err != nil {
			if t.ShuttingDown() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			s.logger().Debug("dns: udp read", "err", err)
			continue
		}
		b.n = 0
		for i := 0; i < n; i++ {
			ua, ok := in[i].Addr.(*net.UDPAddr)
			if !ok {
				continue
			}
			w.wrote, w.to, w.toAddr = false, ua.AddrPort(), ua
			w.tr = nil
			if s.Trace != nil {
				w.tr = s.Trace.Session("dns/udp", w.to.String())
			}
			r.Raw, r.Remote, r.TCP = in[i].Buffers[0][:in[i].N], w.to, false
			if s.handleUDP(w, r, true) {
				s.answerLater(uc, r.Raw, w.to, w.toAddr, w.tr)
			}
		}
		for sent := 0; sent < b.n; {
			k, err := pc.WriteBatch(b.out[sent:b.n], 0)
			if err != nil {
				s.logger().Debug("dns: udp write", "err", err)
				break
			}
			sent += k
		}
	}
}
