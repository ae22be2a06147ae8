package resolver

import (
	"time"

	"github.com/applayer/applayer/dns"
)

// digest reads a server's answer for zone and caches what it may: answer
// RRsets, negative answers, referrals and their glue. Every record whose
// owner lies outside zone is dropped first: a server speaks only for its
// own bailiwick, so a referral from the .com servers cannot plant an
// address for a name under .net (the Kaminsky-style poisoning defence,
// RFC 5452 §6). It returns a result, or the zone and name servers to ask
// next.
func (r *Resolver) digest(m *dns.Msg, zone, name string, t dns.Type, now int64) (*Result, string, []dns.RR) {
	inZone := func(rrs []dns.RR) []dns.RR {
		var out []dns.RR
		for _, rr := range rrs {
			if rr.Class == dns.ClassIN && dns.IsSubdomain(rr.Name, zone) {
				out = append(out, rr)
			}
		}
		return out
	}
	answer, authority, additional := inZone(m.Answer), inZone(m.Authority), inZone(m.Additional)
	var buf [300]byte

	// Follow the answer's CNAME chain from name, caching each RRset.
	res := &Result{Rcode: m.Rcode}
	cur := name
	for i := 0; i <= MaxCNAME; i++ {
		set := rrsetOf(answer, cur, t)
		if len(set) > 0 {
			r.cache.put(appendKey(buf[:0], cur, t), ttlEntry(set, rankAnswer, now, r.maxTTL()), now)
			res.Answer = append(res.Answer, set...)
			res.Rcode = dns.RcodeSuccess
			return res, "", nil
		}
		cn := rrsetOf(answer, cur, dns.TypeCNAME)
		if len(cn) == 0 || t == dns.TypeCNAME {
			break
		}
		cn = cn[:1]
		r.cache.put(appendKey(buf[:0], cur, dns.TypeCNAME), ttlEntry(cn, rankAnswer, now, r.maxTTL()), now)
		res.Answer = append(res.Answer, cn...)
		cur = cn[0].Data.(*dns.CNAME).Target
		if !dns.IsSubdomain(cur, zone) {
			// The target is another zone's: resolve will follow it.
			res.Rcode = dns.RcodeSuccess
			return res, "", nil
		}
	}

	soa := negativeSOA(authority, cur, r.maxNegTTL())
	if m.Rcode == dns.RcodeNXDomain {
		if soa != nil {
			e := &entry{soa: soa, rcode: dns.RcodeNXDomain, rank: rankAnswer, expires: now + int64(soa.TTL)*int64(time.Second)}
			r.cache.put(appendKey(buf[:0], cur, typeNXDomain), e, now)
		}
		res.SOA = soa
		return res, "", nil
	}

	// A referral: NS records for a zone below this one that holds cur.
	var cut string
	var ns []dns.RR
	for _, rr := range authority {
		if rr.Type != dns.TypeNS || !dns.IsSubdomain(cur, rr.Name) || dns.EqualNames(rr.Name, zone) || !dns.IsSubdomain(rr.Name, zone) {
			continue
		}
		if cut == "" {
			cut = rr.Name
		}
		if dns.EqualNames(rr.Name, cut) {
			ns = append(ns, rr)
		}
	}
	if cut != "" && len(res.Answer) == 0 {
		r.cache.put(appendKey(buf[:0], cut, dns.TypeNS), ttlEntry(ns, rankGlue, now, r.maxTTL()), now)
		for _, n := range ns {
			host := n.Data.(*dns.NS).Host
			for _, typ := range [...]dns.Type{dns.TypeA, dns.TypeAAAA} {
				if glue := rrsetOf(additional, host, typ); len(glue) > 0 {
					r.cache.put(appendKey(buf[:0], host, typ), ttlEntry(glue, rankGlue, now, r.maxTTL()), now)
				}
			}
		}
		return nil, cut, ns
	}
	if len(res.Answer) > 0 {
		// A chain inside the zone that ends without data: NODATA or a
		// dangling name; resolve follows the target.
		res.Rcode = dns.RcodeSuccess
		return res, "", nil
	}
	if !m.Authoritative && soa == nil {
		return nil, "", nil // neither answer nor referral: a lame server
	}
	// NODATA (RFC 2308 §2.2).
	if soa != nil {
		e := &entry{soa: soa, rank: rankAnswer, expires: now + int64(soa.TTL)*int64(time.Second)}
		r.cache.put(appendKey(buf[:0], cur, t), e, now)
	}
	res.Rcode, res.SOA = dns.RcodeSuccess, soa
	return res, "", nil
}

// rrsetOf returns the records of type t owned by name.
func rrsetOf(rrs []dns.RR, name string, t dns.Type) []dns.RR {
	var out []dns.RR
	for _, rr := range rrs {
		if rr.Type == t && dns.EqualNames(rr.Name, name) {
			out = append(out, rr)
		}
	}
	return out
}

// negativeSOA finds the SOA that makes an answer about name negative, with
// the TTL of RFC 2308 §5: the smaller of its TTL and MINIMUM, capped.
func negativeSOA(authority []dns.RR, name string, maxTTL uint32) *dns.RR {
	for _, rr := range authority {
		if s, ok := rr.Data.(*dns.SOA); ok && dns.IsSubdomain(name, rr.Name) {
			c := rr
			c.TTL = min(c.TTL, s.Minimum, maxTTL)
			return &c
		}
	}
	return nil
}
