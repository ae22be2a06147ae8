package zone

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/applayer/applayer/dns"
)

// rrset is the records of one owner and type. next rotates the order in
// which they are sent (load distribution); it is the only thing that
// changes while a zone is served.
type rrset struct {
	typ  dns.Type
	rrs  []dns.RR
	next atomic.Uint32
}

// node is one owner name with its RRsets. A node with no sets is an empty
// non-terminal (RFC 4592 §2.2.2): it exists, so a query for it is NODATA,
// not NXDOMAIN.
type node struct {
	sets []*rrset
	cut  bool // a delegation point: NS here, not at the apex
	// below is true when a strict ancestor inside the zone is a cut: the
	// node holds glue, not authoritative data.
	below bool
}

func (n *node) get(t dns.Type) *rrset {
	for _, s := range n.sets {
		if s.typ == t {
			return s
		}
	}
	return nil
}

// Zone is one zone's data, indexed for answering. It is immutable once
// built; an update builds a new Zone.
type Zone struct {
	Origin string // absolute, lowercase
	SOA    dns.RR
	nodes  map[string]*node // by lowercase owner name
	recs   []dns.RR         // as loaded, in file order (AXFR, rewrite)
}

// Records returns the zone's records, SOA first.
func (z *Zone) Records() []dns.RR { return z.recs }

// Serial returns the SOA serial.
func (z *Zone) Serial() uint32 { return z.SOA.Data.(*dns.SOA).Serial }

// New builds a zone from its records and checks it: one SOA at the apex,
// NS at the apex, every name inside the zone, no CNAME beside other data
// (RFC 1034 §3.6.2; RFC 2181 §10.1), RRsets with one TTL (RFC 2181 §5.2:
// differing TTLs are lowered to the smallest, as BIND does after a
// warning). The first problem found is returned with its file and line.
func New(origin string, recs []Record) (*Zone, error) {
	origin = dns.CanonicalName(origin)
	z := &Zone{Origin: origin, nodes: make(map[string]*node)}
	fail := func(r Record, format string, args ...any) error {
		return &Error{File: r.File, Line: r.Line, Msg: fmt.Sprintf(format, args...)}
	}
	var soa *Record
	for i := range recs {
		r := &recs[i]
		if !dns.IsSubdomain(r.Name, origin) {
			return nil, fail(*r, "%s is outside the zone %s", r.Name, origin)
		}
		if r.Class != dns.ClassIN {
			// A transfer could carry any class; only IN data is served.
			return nil, fail(*r, "%s has class %v; only IN", r.Name, r.Class)
		}
		key := dns.CanonicalName(r.Name)
		n := z.nodes[key]
		if n == nil {
			n = &node{}
			z.nodes[key] = n
		}
		if r.Type == dns.TypeSOA {
			if key != origin {
				return nil, fail(*r, "SOA for %s, which is not the zone's apex %s", r.Name, origin)
			}
			if soa != nil {
				return nil, fail(*r, "a second SOA record (the first is at line %d)", soa.Line)
			}
			soa = r
		}
		s := n.get(r.Type)
		if s == nil {
			s = &rrset{typ: r.Type}
			n.sets = append(n.sets, s)
		}
		dup := false
		for _, o := range s.rrs {
			if dataKey(r.Type, o.Data) == dataKey(r.Type, r.Data) {
				dup = true // RFC 2181 §5: an RRset has no duplicates
			}
		}
		if dup {
			continue
		}
		if len(s.rrs) > 0 && s.rrs[0].TTL != r.TTL {
			m := min(s.rrs[0].TTL, r.TTL)
			for j := range s.rrs {
				s.rrs[j].TTL = m
			}
			r.TTL = m
		}
		if r.Type == dns.TypeCNAME && (len(n.sets) > 1 || len(s.rrs) > 0) || r.Type != dns.TypeCNAME && n.get(dns.TypeCNAME) != nil {
			return nil, fail(*r, "%s has a CNAME and other data (RFC 1034 §3.6.2)", r.Name)
		}
		s.rrs = append(s.rrs, r.RR)
		if r.Type == dns.TypeSOA {
			z.recs = append([]dns.RR{r.RR}, z.recs...)
		} else {
			z.recs = append(z.recs, r.RR)
		}
	}
	if soa == nil {
		return nil, &Error{File: fileOf(recs), Msg: "zone " + origin + " has no SOA record"}
	}
	z.SOA = soa.RR
	if z.nodes[origin].get(dns.TypeNS) == nil {
		return nil, &Error{File: soa.File, Line: soa.Line, Msg: "zone " + origin + " has no NS records at its apex"}
	}
	// Delegation points, glue below them, and empty non-terminals.
	for key, n := range z.nodes {
		if key != origin && n.get(dns.TypeNS) != nil {
			n.cut = true
		}
	}
	keys := make([]string, 0, len(z.nodes))
	for key := range z.nodes {
		keys = append(keys, key)
	}
	for _, key := range keys {
		n := z.nodes[key]
		for p, ok := dns.Parent(key); ok && p != origin && dns.IsSubdomain(p, origin); p, ok = dns.Parent(p) {
			a := z.nodes[p]
			if a == nil {
				a = &node{}
				z.nodes[p] = a
			}
			if a.cut {
				n.below = true
			}
		}
	}
	return z, nil
}

func fileOf(recs []Record) string {
	if len(recs) > 0 {
		return recs[0].File
	}
	return "zone"
}

// LoadFile parses a zone file and builds its zone. origin may be empty: it
// is then the file's first $ORIGIN, or the owner of its SOA record.
func LoadFile(path, origin string) (*Zone, error) {
	recs, err := ParseFile(path, origin)
	if err != nil {
		return nil, err
	}
	if origin == "" {
		origin = inferOrigin(recs)
		if origin == "" {
			return nil, &Error{File: path, Msg: "no SOA record, so the zone's origin is unknown"}
		}
	}
	return New(origin, recs)
}

func inferOrigin(recs []Record) string {
	for _, r := range recs {
		if r.Type == dns.TypeSOA {
			return r.Name
		}
	}
	return ""
}

// ErrNoZone is returned when a name belongs to none of the served zones.
var ErrNoZone = errors.New("zone: no zone for that name")
