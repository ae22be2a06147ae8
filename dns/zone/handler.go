package zone

import (
	"sync"
	"sync/atomic"

	"github.com/applayer/applayer/dns"
)

// Authority serves a set of zones authoritatively: it is the [dns.Handler]
// of `applayer dns serve` and of the lab's root, TLD and domain servers.
// Zones can be replaced while serving (an update, a transfer) without a
// lock on the query path: the set is an immutable map swapped atomically.
type Authority struct {
	zones atomic.Pointer[map[string]*Zone]
	mu    sync.Mutex // serialises writers
	pool  sync.Pool
	// Updates, when set, handles UPDATE messages (RFC 2136); nil answers
	// them NOTIMP.
	Updates dns.Handler
	// Transfers, when set, handles AXFR queries over TCP; nil refuses them.
	Transfers dns.Handler
	// Notifies, when set, handles NOTIFY messages (RFC 1996); nil answers
	// them NOTIMP.
	Notifies dns.Handler
}

// NewAuthority serves the given zones.
func NewAuthority(zones ...*Zone) *Authority {
	a := &Authority{}
	m := make(map[string]*Zone, len(zones))
	for _, z := range zones {
		m[z.Origin] = z
	}
	a.zones.Store(&m)
	a.pool.New = func() any { return new(scratch) }
	return a
}

// Put adds or replaces a zone.
func (a *Authority) Put(z *Zone) {
	a.mu.Lock()
	defer a.mu.Unlock()
	old := *a.zones.Load()
	m := make(map[string]*Zone, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[z.Origin] = z
	a.zones.Store(&m)
}

// Zone returns the zone with the given origin.
func (a *Authority) Zone(origin string) *Zone {
	return (*a.zones.Load())[dns.CanonicalName(origin)]
}

// Zones returns every zone served.
func (a *Authority) Zones() []*Zone {
	var zs []*Zone
	for _, z := range *a.zones.Load() {
		zs = append(zs, z)
	}
	return zs
}

// Find returns the zone that holds name: the one with the longest origin
// that name is in.
func (a *Authority) Find(name string) *Zone {
	sc := a.pool.Get().(*scratch)
	defer a.pool.Put(sc)
	return a.find(sc, name)
}

func (a *Authority) find(sc *scratch, name string) *Zone {
	m := *a.zones.Load()
	sc.buf, sc.offs = lowerInto(sc.buf, sc.offs, name)
	for _, o := range sc.offs {
		if z := m[string(sc.buf[o:])]; z != nil {
			return z
		}
	}
	return m["."]
}

// ServeDNS answers one query (RFC 1034 §4.3.2). Malformed questions get
// FORMERR, NOTIFY and UPDATE NOTAUTH unless Notifies and Updates take
// them, other opcodes but QUERY NOTIMP, names outside every zone REFUSED;
// RA is never set.
func (a *Authority) ServeDNS(w dns.ResponseWriter, r *dns.Request) {
	req := r.Msg
	switch {
	case req.Opcode == dns.OpcodeUpdate && a.Updates != nil:
		a.Updates.ServeDNS(w, r)
		return
	case req.Opcode == dns.OpcodeNotify && a.Notifies != nil:
		a.Notifies.ServeDNS(w, r)
		return
	case req.Opcode == dns.OpcodeNotify || req.Opcode == dns.OpcodeUpdate:
		// Known opcodes this server is not set up to take: NOTAUTH, as
		// from Knot, and from BIND for a zone it does not serve (NSD
		// differs again).
		reply(w, req, dns.RcodeNotAuth)
		return
	case req.Opcode != dns.OpcodeQuery:
		reply(w, req, dns.RcodeNotImp)
		return
	case len(req.Question) != 1:
		reply(w, req, dns.RcodeFormErr)
		return
	}
	q := req.Question[0]
	switch {
	case q.Class != dns.ClassIN && q.Class != dns.ClassANY:
		reply(w, req, dns.RcodeRefused)
		return
	case q.Type == dns.TypeAXFR || q.Type == dns.TypeIXFR:
		switch {
		case q.Type == dns.TypeAXFR && !r.TCP:
			// Transfers need TCP (RFC 5936 §4.2): NOTIMP, as from Knot
			// and NSD.
			reply(w, req, dns.RcodeNotImp)
		case a.Transfers == nil:
			// No transfers at all: NOTAUTH ("not authorized"), as from
			// Knot; BIND, Knot and NSD all answer so for a name that is
			// not a zone's apex.
			reply(w, req, dns.RcodeNotAuth)
		default:
			// IXFR over UDP too (RFC 1995 §2): the transfer side answers
			// it with the SOA alone, which sends the client to TCP.
			a.Transfers.ServeDNS(w, r)
		}
		return
	case q.Type == dns.TypeOPT || q.Type == dns.TypeTSIG:
		reply(w, req, dns.RcodeFormErr)
		return
	}
	sc := a.pool.Get().(*scratch)
	defer a.pool.Put(sc)
	resp := &sc.resp
	resp.SetReply(req)
	z := a.find(sc, q.Name)
	if z == nil {
		resp.Rcode = dns.RcodeRefused
	} else {
		z.answer(sc, resp, q.Name, q.Type)
	}
	w.WriteMsg(resp)
	clear(resp.Answer)
	clear(resp.Authority)
	clear(resp.Additional)
}

func reply(w dns.ResponseWriter, req *dns.Msg, rc dns.Rcode) {
	var m dns.Msg
	m.SetReply(req)
	m.Rcode = rc
	w.WriteMsg(&m)
}

// Remove stops serving a zone.
func (a *Authority) Remove(origin string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	old := *a.zones.Load()
	m := make(map[string]*Zone, len(old))
	for k, v := range old {
		m[k] = v
	}
	delete(m, dns.CanonicalName(origin))
	a.zones.Store(&m)
}
