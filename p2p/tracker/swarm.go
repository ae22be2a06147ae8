package tracker

import (
	"math/rand/v2"
	"net/netip"
	"sync"
	"time"

	"github.com/applayer/applayer/p2p/metainfo"
)

// Event is an announce's event (BEP 3; the numbers are BEP 15's).
type Event int32

// The events of an announce.
const (
	None Event = iota
	Completed
	Started
	Stopped
)

func (e Event) String() string {
	switch e {
	case Completed:
		return "completed"
	case Started:
		return "started"
	case Stopped:
		return "stopped"
	}
	return ""
}

// ParseEvent reads an HTTP announce's event parameter.
func ParseEvent(s string) (Event, bool) {
	switch s {
	case "":
		return None, true
	case "completed":
		return Completed, true
	case "started":
		return Started, true
	case "stopped":
		return Stopped, true
	}
	return None, false
}

// Peer is a peer as a tracker hands it out.
type Peer struct {
	ID   [20]byte // zero when the tracker's answer was compact
	Addr netip.AddrPort
}

// Stats count a torrent's peers.
type Stats struct {
	Complete   int // seeders
	Incomplete int // leechers
	Downloaded int // completed events seen
}

type entry struct {
	id      [20]byte
	left    int64
	expires time.Time
}

type swarm struct {
	peers      map[netip.AddrPort]*entry
	perAddr    map[netip.Addr]int // peers per IP address
	order      []netip.AddrPort   // for random subsets; rebuilt lazily
	dirty      bool
	seeders    int
	downloaded int
	expired    time.Time // when expire last ran
}

// store is the tracker's state: the swarms by info-hash.
type store struct {
	mu          sync.Mutex
	swarms      map[metainfo.Hash]*swarm
	maxTorrents int
	maxPeers    int
	maxPerAddr  int
	announces   uint64
	scrapes     uint64
}

// announce records a peer's announce and returns up to numWant other
// peers picked at random, with the swarm's counts. ok is false when the
// tracker is full.
func (st *store) announce(now time.Time, ttl time.Duration, h metainfo.Hash, addr netip.AddrPort, id [20]byte, left int64, ev Event, numWant int) (peers []Peer, stats Stats, ok bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.announces++
	sw := st.swarms[h]
	if sw == nil {
		if ev == Stopped {
			return nil, Stats{}, true
		}
		if len(st.swarms) >= st.maxTorrents {
			st.expireAll(now)
			if len(st.swarms) >= st.maxTorrents {
				return nil, Stats{}, false
			}
		}
		sw = &swarm{peers: map[netip.AddrPort]*entry{}, perAddr: map[netip.Addr]int{}}
		st.swarms[h] = sw
	}
	sw.expire(now)
	e := sw.peers[addr]
	switch {
	case ev == Stopped:
		if e != nil {
			sw.remove(addr, e)
		}
	case e == nil:
		if len(sw.peers) >= st.maxPeers || st.maxPerAddr > 0 && sw.perAddr[addr.Addr()] >= st.maxPerAddr {
			return nil, sw.stats(), false
		}
		e = &entry{id: id, left: left, expires: now.Add(ttl)}
		sw.peers[addr] = e
		sw.perAddr[addr.Addr()]++
		sw.order = append(sw.order, addr)
		if left == 0 {
			sw.seeders++
		}
	default:
		if (e.left == 0) != (left == 0) {
			if left == 0 {
				sw.seeders++
			} else {
				sw.seeders--
			}
		}
		e.id, e.left, e.expires = id, left, now.Add(ttl)
	}
	if ev == Completed {
		sw.downloaded++
	}
	if ev != Stopped && numWant > 0 {
		peers = sw.pick(addr, numWant)
	}
	stats = sw.stats()
	if len(sw.peers) == 0 && sw.downloaded == 0 {
		delete(st.swarms, h)
	}
	return peers, stats, true
}

func (st *store) scrape(now time.Time, hashes []metainfo.Hash) []Stats {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.scrapes++
	out := make([]Stats, len(hashes))
	for i, h := range hashes {
		if sw := st.swarms[h]; sw != nil {
			sw.expire(now)
			out[i] = sw.stats()
		}
	}
	return out
}

// all returns every torrent's stats, at most limit of them.
func (st *store) all(now time.Time, limit int) map[metainfo.Hash]Stats {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := map[metainfo.Hash]Stats{}
	for h, sw := range st.swarms {
		if len(out) >= limit {
			break
		}
		sw.expire(now)
		out[h] = sw.stats()
	}
	return out
}

func (st *store) expireAll(now time.Time) {
	for h, sw := range st.swarms {
		sw.expire(now)
		if len(sw.peers) == 0 {
			delete(st.swarms, h)
		}
	}
}

func (sw *swarm) stats() Stats {
	return Stats{Complete: sw.seeders, Incomplete: len(sw.peers) - sw.seeders, Downloaded: sw.downloaded}
}

func (sw *swarm) remove(addr netip.AddrPort, e *entry) {
	if e.left == 0 {
		sw.seeders--
	}
	delete(sw.peers, addr)
	if sw.perAddr[addr.Addr()]--; sw.perAddr[addr.Addr()] <= 0 {
		delete(sw.perAddr, addr.Addr())
	}
	sw.dirty = true
}

// expire forgets peers that have not announced within their time to live.
// It walks the swarm at most once a second: a peer lives two intervals,
// so a second late is nothing, and a big swarm is not walked per announce.
func (sw *swarm) expire(now time.Time) {
	if now.Sub(sw.expired) < time.Second && !now.Before(sw.expired) {
		return
	}
	sw.expired = now
	for addr, e := range sw.peers {
		if now.After(e.expires) {
			sw.remove(addr, e)
		}
	}
}

// pick returns up to n peers other than self, chosen uniformly at random
// (a partial Fisher-Yates shuffle of the swarm's order). Seeders get
// seeders too: a client fetching a magnet link's metadata announces
// left=0 because it does not know the size yet (aria2 does).
func (sw *swarm) pick(self netip.AddrPort, n int) []Peer {
	if sw.dirty || len(sw.order) > 2*len(sw.peers)+16 {
		sw.order = sw.order[:0]
		for a := range sw.peers {
			sw.order = append(sw.order, a)
		}
		sw.dirty = false
	}
	out := make([]Peer, 0, min(n, len(sw.order)))
	o := sw.order
	for i := 0; i < len(o) && len(out) < n; i++ {
		j := i + rand.IntN(len(o)-i)
		o[i], o[j] = o[j], o[i]
		a := o[i]
		e := sw.peers[a]
		if e == nil || a == self {
			continue
		}
		out = append(out, Peer{ID: e.id, Addr: a})
	}
	return out
}
