//go:build linux

package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// The BitTorrent tracker's attacks (`applayer torrent tracker`, HTTP and
// UDP on one port): HTTP connection exhaustion (idle keep-alive,
// slowloris); over UDP, the amplification ratio of every answer a
// spoofed source can get (answer bytes over query bytes), announces with
// forged connection IDs, and an announce flood from one source (distinct
// info-hashes, and one swarm filled with one address's fake peers).

func init() { register(trackerAttacks) }

func trackerAttacks(r *runner) []attack {
	start := func() (*server, error) { return r.env.applayerTracker() }
	return []attack{
		{"tracker-http-idle", "applayer", func() []row {
			return r.exhaustion("tracker-http-idle", "applayer", start, httpIdle, probeHTTP, time.Second, false)
		}},
		{"tracker-http-slowloris", "applayer", func() []row {
			return r.exhaustion("tracker-http-slowloris", "applayer", start, slowloris, probeHTTP, time.Second, false)
		}},
		{"tracker-udp-amplification", "applayer", r.trackerAmp},
		{"tracker-udp-spoofed-id", "applayer", r.trackerSpoofed},
		{"tracker-udp-announce-flood", "applayer", r.trackerFlood},
	}
}

func (e *env) applayerTracker() (*server, error) {
	dir, err := e.subdir("tracker")
	if err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	return e.start("applayer", dir, addr, e.bin, "torrent", "tracker", "--listen", addr, "--log-level", "error")
}

// udpx sends q from src and returns the answer (nil after 1 s).
func udpx(c *net.UDPConn, q []byte) []byte {
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write(q); err != nil {
		return nil
	}
	b := make([]byte, 4096)
	n, err := c.Read(b)
	if err != nil {
		return nil
	}
	return b[:n]
}

func udpFrom(src netip.Addr, addr string) (*net.UDPConn, error) {
	ra, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, err
	}
	return net.DialUDP("udp", &net.UDPAddr{IP: src.AsSlice()}, ra)
}

func trackerConnect(c *net.UDPConn) (uint64, error) {
	q := binary.BigEndian.AppendUint64(nil, 0x41727101980)
	q = binary.BigEndian.AppendUint32(q, 0)
	q = binary.BigEndian.AppendUint32(q, 7)
	a := udpx(c, q)
	if len(a) != 16 || binary.BigEndian.Uint32(a) != 0 {
		return 0, fmt.Errorf("connect: answer %x", a)
	}
	return binary.BigEndian.Uint64(a[8:]), nil
}

func trackerAnnounce(cid uint64, hash, peer [20]byte, port uint16, numWant int32) []byte {
	q := binary.BigEndian.AppendUint64(nil, cid)
	q = binary.BigEndian.AppendUint32(q, 1)
	q = binary.BigEndian.AppendUint32(q, 9)
	q = append(q, hash[:]...)
	q = append(q, peer[:]...)
	q = binary.BigEndian.AppendUint64(q, 0)
	q = binary.BigEndian.AppendUint64(q, 1000) // left
	q = binary.BigEndian.AppendUint64(q, 0)
	q = binary.BigEndian.AppendUint32(q, 2) // started
	q = binary.BigEndian.AppendUint32(q, 0)
	q = binary.BigEndian.AppendUint32(q, 0)
	q = binary.BigEndian.AppendUint32(q, uint32(numWant))
	return binary.BigEndian.AppendUint16(q, port)
}

// probeTrackerUDP: a fresh client's connect and announce over UDP.
func probeTrackerUDP(_ context.Context, src netip.Addr, addr string) error {
	c, err := udpFrom(src, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	cid, err := trackerConnect(c)
	if err != nil {
		return err
	}
	var h, p [20]byte
	h[0], p[0] = 0xfe, 0xfe
	a := udpx(c, trackerAnnounce(cid, h, p, 6881, 50))
	if len(a) < 20 || binary.BigEndian.Uint32(a) != 1 {
		return fmt.Errorf("announce: answer %x", a)
	}
	return nil
}

// trackerAmp measures what each query a spoofer could send (it never sees
// the connection ID) brings back, and, for reference, the legitimate
// announce's answer.
func (r *runner) trackerAmp() []row {
	srv, err := r.env.applayerTracker()
	if err != nil {
		return failed("tracker-udp-amplification", "applayer", err)
	}
	defer srv.stop()
	rw := row{attack: "tracker-udp-amplification", server: "applayer", sent: "connect (16 B), 16-byte datagrams of every action with a forged ID, a forged-ID announce (98 B) and scrape (16+20x74 B); legitimate announce of a 200-peer swarm"}
	rw.rssBefore = rssKiB(srv.pids())
	c, err := udpFrom(attacker, srv.addr)
	if err != nil {
		return failed(rw.attack, rw.server, err)
	}
	defer c.Close()
	worst := 0.0
	var lines []string
	measure := func(name string, q []byte) {
		a := udpx(c, q)
		ratio := float64(len(a)) / float64(len(q))
		lines = append(lines, fmt.Sprintf("%s %d->%d B (%.2f)", name, len(q), len(a), ratio))
		if ratio > worst {
			worst = ratio
		}
	}
	conn := binary.BigEndian.AppendUint64(nil, 0x41727101980)
	conn = binary.BigEndian.AppendUint64(conn, 7)
	measure("connect", conn)
	for action := range uint32(4) {
		if action == 0 {
			continue
		}
		q := binary.BigEndian.AppendUint64(nil, 0x1234567890abcdef)
		q = binary.BigEndian.AppendUint32(q, action)
		q = binary.BigEndian.AppendUint32(q, 7)
		measure(fmt.Sprintf("16-byte action %d, forged ID", action), q)
	}
	var h, p [20]byte
	measure("announce, forged ID", trackerAnnounce(0x1234567890abcdef, h, p, 6881, 200))
	sc := binary.BigEndian.AppendUint64(nil, 0x1234567890abcdef)
	sc = binary.BigEndian.AppendUint32(sc, 2)
	sc = binary.BigEndian.AppendUint32(sc, 7)
	sc = append(sc, make([]byte, 20*74)...)
	measure("scrape x74, forged ID", sc)
	// Reference: a real peer's announce into a swarm of 200 (needs the ID).
	cid, err := trackerConnect(c)
	if err == nil {
		h[0] = 1
		for i := range 200 {
			p[0], p[1] = byte(i), 1
			udpx(c, trackerAnnounce(cid, h, p, uint16(10000+i), 0))
		}
		p[0], p[1] = 0xff, 0xff
		q := trackerAnnounce(cid, h, p, 6881, 200)
		a := udpx(c, q)
		lines = append(lines, fmt.Sprintf("legitimate announce from the same address (needs the ID, not spoofable; its swarm capped at 32 peers of one address) %d->%d B (%.2f)", len(q), len(a), float64(len(a))/float64(len(q))))
	}
	rw.rssAfter = rssKiB(srv.pids())
	rw.note = fmt.Sprintf("worst spoofable ratio %.2f: %v", worst, lines)
	if worst > 1 {
		rw.problems = append(rw.problems, fmt.Sprintf("a spoofed source gets %.2fx its bytes back", worst))
	}
	return []row{rw}
}

// trackerSpoofed: announces with random connection IDs; none may enter a
// swarm (the fresh client's announce sees no peer of theirs).
func (r *runner) trackerSpoofed() []row {
	srv, err := r.env.applayerTracker()
	if err != nil {
		return failed("tracker-udp-spoofed-id", "applayer", err)
	}
	defer srv.stop()
	const n = 10000
	rw := row{attack: "tracker-udp-spoofed-id", server: "applayer", target: time.Second, sent: fmt.Sprintf("%d announces into one swarm with random connection IDs from 127.0.0.1", n)}
	rw.rssBefore = rssKiB(srv.pids())
	c, err := udpFrom(attacker, srv.addr)
	if err != nil {
		return failed(rw.attack, rw.server, err)
	}
	defer c.Close()
	var h, p [20]byte
	h[0] = 0xfe
	answers := 0
	for i := range n {
		var id [8]byte
		rand.Read(id[:])
		p[0], p[1] = byte(i), byte(i>>8)
		c.SetDeadline(time.Now().Add(50 * time.Millisecond))
		c.Write(trackerAnnounce(binary.BigEndian.Uint64(id[:]), h, p, uint16(1+i), 0))
		b := make([]byte, 512)
		if _, err := c.Read(b); err == nil && binary.BigEndian.Uint32(b) == 1 {
			answers++
		}
	}
	pr := runProbes(probeTrackerUDP, fresh, srv.addr, r.cfg.Tries, r.cfg.Hold/4)
	rw.probes = &pr
	// How many peers the swarm holds now: a fresh peer asks for 200.
	fc, _ := udpFrom(fresh, srv.addr)
	peers := -1
	if fc != nil {
		if cid, err := trackerConnect(fc); err == nil {
			p[0], p[1] = 0xee, 0xee
			if a := udpx(fc, trackerAnnounce(cid, h, p, 7000, 200)); len(a) >= 20 {
				peers = (len(a) - 20) / 6
			}
		}
		fc.Close()
	}
	rw.rssAfter = rssKiB(srv.pids())
	rw.note = fmt.Sprintf("announce answers to forged IDs: %d; peers a fresh announce then got: %d (the probes' own peer is 1)", answers, peers)
	if answers > 0 || peers > 1 {
		rw.problems = append(rw.problems, "forged connection IDs were accepted")
	}
	return []row{rw}
}

// trackerFlood: one source with a valid ID announces n distinct torrents,
// then fills one swarm with n fake peers (distinct peer IDs and ports).
func (r *runner) trackerFlood() []row {
	srv, err := r.env.applayerTracker()
	if err != nil {
		return failed("tracker-udp-announce-flood", "applayer", err)
	}
	defer srv.stop()
	const n = 20000
	rw := row{attack: "tracker-udp-announce-flood", server: "applayer", target: time.Second,
		sent: fmt.Sprintf("from 127.0.0.1 with a valid ID: %d announces of distinct info-hashes, then %d fake peers (distinct IDs and ports) into one swarm", n, n)}
	probeTrackerUDP(context.Background(), fresh, srv.addr)
	rw.rssBefore = rssKiB(srv.pids())
	c, err := udpFrom(attacker, srv.addr)
	if err != nil {
		return failed(rw.attack, rw.server, err)
	}
	defer c.Close()
	cid, err := trackerConnect(c)
	if err != nil {
		return failed(rw.attack, rw.server, err)
	}
	codes := map[uint32]int{}
	send := func(h, p [20]byte, port uint16) {
		c.SetDeadline(time.Now().Add(200 * time.Millisecond))
		c.Write(trackerAnnounce(cid, h, p, port, 0))
		b := make([]byte, 512)
		if n, err := c.Read(b); err == nil && n >= 4 {
			codes[binary.BigEndian.Uint32(b)]++
		} else {
			codes[99]++
		}
	}
	var h, p [20]byte
	for i := range n {
		binary.BigEndian.PutUint32(h[:], uint32(i)+1)
		p[0], p[1], p[2] = byte(i), byte(i>>8), byte(i>>16)
		send(h, p, uint16(1+i%60000))
	}
	h = [20]byte{0xaa}
	for i := range n {
		p[0], p[1], p[2], p[3] = byte(i), byte(i>>8), byte(i>>16), 0xaa
		send(h, p, uint16(1+i%60000))
	}
	rw.rssHeld = rssKiB(srv.pids())
	pr := runProbes(probeTrackerUDP, fresh, srv.addr, r.cfg.Tries, r.cfg.Hold/4)
	rw.probes = &pr
	// How much of the flooded swarm is the attacker's: a fresh peer asks for 200.
	fc, _ := udpFrom(fresh, srv.addr)
	got, attackers := -1, 0
	if fc != nil {
		if cid, err := trackerConnect(fc); err == nil {
			p = [20]byte{0xee}
			if a := udpx(fc, trackerAnnounce(cid, h, p, 7000, 200)); len(a) >= 20 && binary.BigEndian.Uint32(a) == 1 {
				got = (len(a) - 20) / 6
				for i := 20; i+6 <= len(a); i += 6 {
					if netip.AddrFrom4([4]byte(a[i:i+4])) == attacker {
						attackers++
					}
				}
				rw.note = fmt.Sprintf("swarm: seeders+leechers %d", binary.BigEndian.Uint32(a[12:])+binary.BigEndian.Uint32(a[16:]))
			}
		}
		fc.Close()
	}
	time.Sleep(time.Second)
	rw.rssAfter = rssKiB(srv.pids())
	rw.note = fmt.Sprintf("answers by action %v (3 error, 99 none); a fresh announce for 200 peers of the flooded swarm got %d, %d of them 127.0.0.1's; %s", codes, got, attackers, rw.note)
	// The fresh peer must get into the flooded swarm, and one address must
	// not hold more than a few dozen of its places.
	if got < 0 {
		rw.problems = append(rw.problems, "the fresh peer was refused from the flooded swarm")
	}
	if attackers > 64 {
		rw.problems = append(rw.problems, fmt.Sprintf("one address holds %d of the %d peers given", attackers, got))
	}
	return []row{rw}
}
