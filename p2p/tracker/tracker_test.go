package tracker

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/applayer/applayer/p2p/metainfo"
	"github.com/applayer/applayer/web"
)

// start serves a tracker on 127.0.0.1:0 over HTTP and UDP and returns the
// two announce URLs.
func start(t *testing.T, s *Server) (httpURL, udpURL string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	done := make(chan error, 1)
	go func() { done <- s.ServeBoth(l, pc) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("ServeBoth = %v, want ErrServerClosed", err)
		}
	})
	return "http://" + l.Addr().String() + "/announce", "udp://" + l.Addr().String()
}

func peerID(i int) (id [20]byte) {
	copy(id[:], fmt.Sprintf("-AL0001-%012d", i))
	return id
}

func TestAnnounce(t *testing.T) {
	for _, transport := range []string{"http", "udp"} {
		t.Run(transport, func(t *testing.T) {
			s := &Server{Interval: 10 * time.Minute}
			hu, uu := start(t, s)
			url := map[string]string{"http": hu, "udp": uu}[transport]
			var c Client
			h := metainfo.Hash{1, 2, 3}
			ctx := context.Background()
			// A seeder, then 30 leechers.
			r, err := c.Announce(ctx, url, Request{InfoHash: h, PeerID: peerID(0), Port: 1000, Left: 0, Event: Started, NumWant: -1})
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Peers) != 0 || r.Seeders != 1 || r.Interval != 10*time.Minute {
				t.Fatalf("first announce: %+v", r)
			}
			for i := 1; i <= 30; i++ {
				r, err = c.Announce(ctx, url, Request{InfoHash: h, PeerID: peerID(i), Port: uint16(1000 + i), Left: 5, Event: Started, NumWant: 10})
				if err != nil {
					t.Fatal(err)
				}
				if len(r.Peers) != min(i, 10) {
					t.Fatalf("announce %d got %d peers", i, len(r.Peers))
				}
				for _, p := range r.Peers {
					if p.Addr.Port() == uint16(1000+i) || p.Addr.Addr() != netip.MustParseAddr("127.0.0.1") {
						t.Fatalf("announce %d got %v", i, p.Addr)
					}
				}
			}
			if r.Seeders != 1 || r.Leechers != 30 {
				t.Errorf("counts %d/%d", r.Seeders, r.Leechers)
			}
			// Two announces of the same peer see different subsets.
			a, _ := c.Announce(ctx, url, Request{InfoHash: h, PeerID: peerID(5), Port: 1005, Left: 5, NumWant: 10})
			b, _ := c.Announce(ctx, url, Request{InfoHash: h, PeerID: peerID(5), Port: 1005, Left: 5, NumWant: 10})
			same := 0
			for i := range a.Peers {
				if a.Peers[i].Addr == b.Peers[i].Addr {
					same++
				}
			}
			if same == 10 {
				t.Error("two announces got the same peers in the same order")
			}
			// Completed and stopped count; a seeder gets every peer.
			if _, err := c.Announce(ctx, url, Request{InfoHash: h, PeerID: peerID(7), Port: 1007, Left: 0, Event: Completed, NumWant: 0}); err != nil {
				t.Fatal(err)
			}
			r, _ = c.Announce(ctx, url, Request{InfoHash: h, PeerID: peerID(0), Port: 1000, Left: 0, NumWant: 50})
			if len(r.Peers) != 30 {
				t.Errorf("seeder got %d peers, want the other 30", len(r.Peers))
			}
			c.Announce(ctx, url, Request{InfoHash: h, PeerID: peerID(3), Port: 1003, Left: 5, Event: Stopped})
			st, err := c.Scrape(ctx, url, []metainfo.Hash{h, {9}})
			if err != nil {
				t.Fatal(err)
			}
			if st[0] != (Stats{Complete: 2, Incomplete: 28, Downloaded: 1}) || st[1] != (Stats{}) {
				t.Errorf("scrape %+v", st)
			}
		})
	}
}

func TestExpiry(t *testing.T) {
	now := time.Unix(1e9, 0)
	s := &Server{Interval: time.Minute, now: func() time.Time { return now }}
	h := metainfo.Hash{1}
	s.announce(h, netip.MustParseAddrPort("127.0.0.1:1"), peerID(1), 1, Started, 10)
	now = now.Add(90 * time.Second)
	s.announce(h, netip.MustParseAddrPort("127.0.0.1:2"), peerID(2), 1, Started, 10)
	now = now.Add(45 * time.Second) // the first is 135 s old: past two intervals
	peers, st, _ := s.announce(h, netip.MustParseAddrPort("127.0.0.1:3"), peerID(3), 1, Started, 10)
	if len(peers) != 1 || peers[0].Addr.Port() != 2 || st.Incomplete != 2 {
		t.Errorf("peers %v, stats %+v", peers, st)
	}
}

func TestLimitsAndAllow(t *testing.T) {
	s := &Server{MaxTorrents: 1, MaxPeers: 2, Allow: map[metainfo.Hash]bool{{1}: true, {2}: true}}
	a := func(h byte, port uint16) error {
		_, _, err := s.announce(metainfo.Hash{h}, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port), peerID(int(port)), 1, Started, 5)
		return err
	}
	if a(1, 1) != nil || a(1, 2) != nil {
		t.Fatal("first two peers refused")
	}
	if a(1, 3) == nil {
		t.Error("a third peer over MaxPeers was accepted")
	}
	if a(2, 1) == nil {
		t.Error("a second torrent over MaxTorrents was accepted")
	}
	if err := a(3, 1); err == nil || !strings.Contains(err.Error(), "not tracked") {
		t.Errorf("a torrent not allowed: %v", err)
	}
}

// TestUDPConnectionID checks that requests with a wrong or stale
// connection ID are refused, and a fresh one from the previous minute is
// still accepted.
func TestUDPConnectionID(t *testing.T) {
	now := time.Unix(1e9, 0)
	s := &Server{now: func() time.Time { return now }}
	s.init()
	from := netip.MustParseAddrPort("127.0.0.1:5000")
	connect := binary.BigEndian.AppendUint64(nil, udpProtocolID)
	connect = binary.BigEndian.AppendUint32(connect, actionConnect)
	connect = binary.BigEndian.AppendUint32(connect, 77)
	resp := s.handleUDP(nil, connect, from)
	if len(resp) != 16 || binary.BigEndian.Uint32(resp[4:]) != 77 {
		t.Fatalf("connect answer %x", resp)
	}
	id := binary.BigEndian.Uint64(resp[8:])
	announce := func(id uint64, from netip.AddrPort) uint32 {
		p := binary.BigEndian.AppendUint64(nil, id)
		p = binary.BigEndian.AppendUint32(p, actionAnnounce)
		p = binary.BigEndian.AppendUint32(p, 78)
		p = append(p, make([]byte, 82)...)
		binary.BigEndian.PutUint16(p[96:], 6881)
		return binary.BigEndian.Uint32(s.handleUDP(nil, p, from))
	}
	if a := announce(id, from); a != actionAnnounce {
		t.Errorf("fresh id: action %d", a)
	}
	if a := announce(id^1, from); a != actionError {
		t.Errorf("wrong id: action %d", a)
	}
	if a := announce(id, netip.MustParseAddrPort("127.0.0.2:5000")); a != actionError {
		t.Errorf("id from another address: action %d", a)
	}
	now = now.Add(time.Minute)
	if a := announce(id, from); a != actionAnnounce {
		t.Errorf("id a minute old: action %d", a)
	}
	now = now.Add(2 * time.Minute)
	if a := announce(id, from); a != actionError {
		t.Errorf("id three minutes old: action %d", a)
	}
	if r := s.handleUDP(nil, connect[:15], from); r != nil {
		t.Errorf("short packet answered %x", r)
	}
}

func TestHTTPErrors(t *testing.T) {
	s := &Server{}
	hu, _ := start(t, s)
	base := strings.TrimSuffix(hu, "/announce")
	for _, q := range []string{"/announce?info_hash=abc", "/announce?info_hash=aaaaaaaaaaaaaaaaaaaa&peer_id=x",
		"/announce?info_hash=aaaaaaaaaaaaaaaaaaaa&peer_id=bbbbbbbbbbbbbbbbbbbb&port=0",
		"/announce?info_hash=aaaaaaaaaaaaaaaaaaaa&peer_id=bbbbbbbbbbbbbbbbbbbb&port=1&event=bogus"} {
		body := get(t, base+q)
		if !strings.HasPrefix(body, "d14:failure reason") {
			t.Errorf("%s: %q", q, body)
		}
	}
	// Non-compact answers carry dictionaries.
	get(t, base+"/announce?info_hash=aaaaaaaaaaaaaaaaaaaa&peer_id=bbbbbbbbbbbbbbbbbbbb&port=7&left=1")
	body := get(t, base+"/announce?info_hash=aaaaaaaaaaaaaaaaaaaa&peer_id=cccccccccccccccccccc&port=8&left=1&compact=0")
	if !strings.Contains(body, "5:peersld2:ip9:127.0.0.17:peer id20:bbbbbbbbbbbbbbbbbbbb4:porti7eee") {
		t.Errorf("non-compact: %q", body)
	}
	if page := get(t, base+"/stats"); !strings.Contains(page, "6161616161616161616161616161616161616161") {
		t.Errorf("stats page: %q", page)
	}
}

func get(t *testing.T, rawURL string) string {
	t.Helper()
	rest := strings.TrimPrefix(rawURL, "http://")
	host, target, _ := strings.Cut(rest, "/")
	c, err := web.Dial(context.Background(), host, web.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r, err := c.Do(context.Background(), &web.OutRequest{Target: "/" + target, Host: host})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r.Body)
	return string(b)
}

func FuzzHandleUDP(f *testing.F) {
	s := &Server{}
	s.init()
	from := netip.MustParseAddrPort("127.0.0.1:5000")
	id := s.connID(from, s.now().UnixNano()/int64(connIDEpoch))
	p := binary.BigEndian.AppendUint64(nil, id)
	p = binary.BigEndian.AppendUint32(p, actionAnnounce)
	p = append(p, make([]byte, 86)...)
	f.Add(p)
	c := binary.BigEndian.AppendUint64(nil, udpProtocolID)
	f.Add(append(c, make([]byte, 8)...))
	sc := binary.BigEndian.AppendUint64(nil, id)
	sc = binary.BigEndian.AppendUint32(sc, actionScrape)
	f.Add(append(sc, make([]byte, 24)...))
	f.Fuzz(func(t *testing.T, p []byte) {
		out := s.handleUDP(nil, p, from)
		if len(out) > 1500 {
			t.Fatalf("answer of %d bytes", len(out))
		}
	})
}

// TestClaimedIP: a loopback client may name another loopback address (a
// lab's peers); anyone's claim of a non-loopback one is ignored.
func TestClaimedIP(t *testing.T) {
	for _, transport := range []string{"http", "udp"} {
		t.Run(transport, func(t *testing.T) {
			s := &Server{}
			hu, uu := start(t, s)
			url := map[string]string{"http": hu, "udp": uu}[transport]
			var c Client
			h := metainfo.Hash{7}
			ctx := context.Background()
			c.Announce(ctx, url, Request{InfoHash: h, PeerID: peerID(1), Port: 1, Left: 1, IP: netip.MustParseAddr("127.0.69.3")})
			c.Announce(ctx, url, Request{InfoHash: h, PeerID: peerID(2), Port: 2, Left: 1, IP: netip.MustParseAddr("192.0.2.1")})
			r, err := c.Announce(ctx, url, Request{InfoHash: h, PeerID: peerID(3), Port: 3, Left: 1, NumWant: 10})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			for _, p := range r.Peers {
				got[p.Addr.String()] = true
			}
			if !got["127.0.69.3:1"] || !got["127.0.0.1:2"] || len(got) != 2 {
				t.Errorf("peers %v", got)
			}
		})
	}
}

// TestNoAmplification: a datagram with a forged connection ID (its source
// may be forged too) never gets an answer larger than itself.
func TestNoAmplification(t *testing.T) {
	s := &Server{}
	s.init()
	from := netip.MustParseAddrPort("127.0.0.1:5000")
	for _, size := range []int{16, 20, 24, 32, 98, 16 + 20*74} {
		for action := uint32(1); action <= 3; action++ {
			p := binary.BigEndian.AppendUint64(nil, 0x1234567890abcdef)
			p = binary.BigEndian.AppendUint32(p, action)
			p = binary.BigEndian.AppendUint32(p, 7)
			p = append(p, make([]byte, size-16)...)
			if r := s.handleUDP(nil, p, from); len(r) > len(p) {
				t.Errorf("action %d, %d bytes with a forged ID: %d bytes back", action, size, len(r))
			}
		}
	}
}

// TestPeersPerAddr: one address cannot fill a swarm with fake peers on
// many ports; another address still gets in.
func TestPeersPerAddr(t *testing.T) {
	s := &Server{}
	h := metainfo.Hash{9}
	one := netip.MustParseAddr("127.0.0.1")
	refused := 0
	for port := range uint16(DefaultMaxPeersPerAddr + 10) {
		if _, _, err := s.announce(h, netip.AddrPortFrom(one, 1000+port), peerID(int(port)), 1, Started, 0); err != nil {
			refused++
		}
	}
	if refused != 10 {
		t.Errorf("%d of %d peers from one address refused, want 10", refused, DefaultMaxPeersPerAddr+10)
	}
	peers, _, err := s.announce(h, netip.MustParseAddrPort("127.0.0.2:7000"), peerID(99999), 1, Started, 200)
	if err != nil || len(peers) != DefaultMaxPeersPerAddr {
		t.Errorf("another address: %d peers, %v", len(peers), err)
	}
	// A stopped peer frees its place.
	s.announce(h, netip.AddrPortFrom(one, 1000), peerID(0), 1, Stopped, 0)
	if _, _, err := s.announce(h, netip.AddrPortFrom(one, 5000), peerID(5000), 1, Started, 0); err != nil {
		t.Errorf("after a stop: %v", err)
	}
}
