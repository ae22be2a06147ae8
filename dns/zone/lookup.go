package zone

import (
	"github.com/applayer/applayer/dns"
)

// maxCNAME bounds a CNAME chain followed inside one zone.
const maxCNAME = 8

// lowerInto writes name in lowercase into buf and returns it with the
// offsets at which each of its suffixes starts (the name itself first).
func lowerInto(buf []byte, offs []int, name string) ([]byte, []int) {
	buf = buf[:0]
	offs = append(offs[:0], 0)
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf = append(buf, c)
		switch c {
		case '\\':
			if i+1 < len(name) {
				i++
				buf = append(buf, name[i])
			}
		case '.':
			if i+1 < len(name) {
				offs = append(offs, i+1)
			}
		}
	}
	if len(buf) == 0 || buf[len(buf)-1] != '.' {
		if len(buf) > 0 {
			offs = append(offs, len(buf)+1)
		}
		buf = append(buf, '.')
	}
	return buf, offs
}

// scratch is per-query working memory, reused through a pool.
type scratch struct {
	buf  []byte
	offs []int
	resp dns.Msg
}

// answer fills resp with the zone's answer to (qname, qtype), following RFC
// 1034 §4.3.2: delegation first, then the exact name, a CNAME, a wildcard
// (RFC 4592), or a negative answer with the SOA (RFC 2308 §3).
func (z *Zone) answer(sc *scratch, resp *dns.Msg, qname string, qtype dns.Type) {
	resp.Authoritative = true
	for chain := 0; ; chain++ {
		next, ok := z.step(sc, resp, qname, qtype)
		if !ok {
			return
		}
		// A CNAME was added: follow it while it stays in this zone and
		// does not come back to a name already answered (a loop).
		if chain >= maxCNAME || !dns.IsSubdomain(next, z.Origin) {
			return
		}
		for _, rr := range resp.Answer {
			if dns.EqualNames(rr.Name, next) {
				return
			}
		}
		qname = next
	}
}

// step answers one name; it returns the CNAME target to follow, if any.
func (z *Zone) step(sc *scratch, resp *dns.Msg, qname string, qtype dns.Type) (string, bool) {
	sc.buf, sc.offs = lowerInto(sc.buf, sc.offs, qname)
	key := sc.buf
	apexLen := len(z.Origin)
	// Walk from the apex down to qname: the highest cut wins (RFC 1034
	// §4.3.2 step 3b), and the deepest existing name is the closest
	// encloser for wildcards (RFC 4592 §3.3.1).
	var exact *node
	encloser := -1 // index into offs of the closest encloser
	for i := len(sc.offs) - 1; i >= 0; i-- {
		suffix := key[sc.offs[i]:]
		if len(suffix) < apexLen {
			continue
		}
		if len(suffix) == apexLen && string(suffix) != z.Origin {
			continue
		}
		n := z.nodes[string(suffix)]
		if n == nil {
			break
		}
		encloser = i
		if n.cut && !(i == 0 && qtype == dns.TypeDS) {
			z.referral(resp, n, string(suffix))
			return "", false
		}
		if i == 0 {
			exact = n
		}
	}
	owner := ""
	if exact == nil && encloser > 0 {
		// RFC 4592 §3.3.1: a wildcard at the closest encloser.
		wild := "*." + string(key[sc.offs[encloser]:])
		if n := z.nodes[wild]; n != nil {
			exact, owner = n, qname
		}
	}
	if exact == nil {
		resp.Rcode = dns.RcodeNXDomain
		z.negative(resp)
		return "", false
	}
	if qtype != dns.TypeCNAME && qtype != dns.TypeANY {
		if s := exact.get(dns.TypeCNAME); s != nil {
			resp.Answer = appendSet(resp.Answer, s, owner, false)
			return s.rrs[0].Data.(*dns.CNAME).Target, true
		}
	}
	if qtype == dns.TypeANY {
		// One RRset, not everything at the name (RFC 8482 §4.1), as Knot
		// and NSD answer: ANY is no amplifier. The one with the lowest
		// type number, with its additional records as if asked for it.
		var one *rrset
		for _, s := range exact.sets {
			if one == nil || s.typ < one.typ {
				one = s
			}
		}
		if one != nil {
			resp.Answer = appendSet(resp.Answer, one, owner, false)
			z.additional(resp, one)
			return "", false
		}
	} else if s := exact.get(qtype); s != nil {
		resp.Answer = appendSet(resp.Answer, s, owner, true)
		z.additional(resp, s)
		return "", false
	}
	z.negative(resp) // NODATA (RFC 2308 §2.2)
	return "", false
}

// appendSet adds an RRset, rotated by one position at each use when rotate
// is set (the textbook's load distribution), under owner when it comes from
// a wildcard.
func appendSet(dst []dns.RR, s *rrset, owner string, rotate bool) []dns.RR {
	n := len(s.rrs)
	start := 0
	if rotate && n > 1 {
		start = int(s.next.Add(1) % uint32(n))
	}
	for i := 0; i < n; i++ {
		rr := s.rrs[(start+i)%n]
		if owner != "" {
			rr.Name = owner
		}
		dst = append(dst, rr)
	}
	return dst
}

// negative puts the SOA in the authority section with the TTL of RFC 2308
// §3: the smaller of the SOA's TTL and its MINIMUM field.
func (z *Zone) negative(resp *dns.Msg) {
	soa := z.SOA
	if m := soa.Data.(*dns.SOA).Minimum; m < soa.TTL {
		soa.TTL = m
	}
	resp.Authority = append(resp.Authority, soa)
}

// referral answers with the delegation's NS records in the authority
// section, AA clear, and the glue addresses of the name servers in the
// additional section (RFC 1034 §4.3.2 step 3b).
func (z *Zone) referral(resp *dns.Msg, n *node, cut string) {
	resp.Authoritative = false
	s := n.get(dns.TypeNS)
	resp.Authority = appendSet(resp.Authority, s, "", false)
	for _, rr := range s.rrs {
		z.addresses(resp, rr.Data.(*dns.NS).Host, true)
	}
}

// additional adds the addresses of the hosts an MX, NS or SRV answer names,
// when this zone has them (RFC 1035 §3.3.9, §3.3.11; RFC 2782).
func (z *Zone) additional(resp *dns.Msg, s *rrset) {
	switch s.typ {
	case dns.TypeMX, dns.TypeNS, dns.TypeSRV:
	default:
		return
	}
	for _, rr := range s.rrs {
		z.addresses(resp, dns.Target(rr.Data), s.typ == dns.TypeNS)
	}
}

// addresses appends host's A and AAAA records; glue (data below a cut) is
// used only when glue is set.
func (z *Zone) addresses(resp *dns.Msg, host string, glue bool) {
	if !dns.IsSubdomain(host, z.Origin) {
		return
	}
	n := z.nodes[dns.CanonicalName(host)]
	if n == nil || n.below && !glue {
		return
	}
	for _, t := range [2]dns.Type{dns.TypeA, dns.TypeAAAA} {
		if s := n.get(t); s != nil {
			resp.Additional = appendSet(resp.Additional, s, "", false)
		}
	}
}
