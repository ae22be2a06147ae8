package resolver

import (
	"net/netip"
	"testing"
	"time"

	"github.com/applayer/applayer/dns"
)

// FuzzDigest feeds arbitrary answers from "the test. servers" to the
// resolver's digestion: no panic, and nothing outside test. is ever
// cached, whatever the answer claims.
func FuzzDigest(f *testing.F) {
	m := new(dns.Msg).SetQuestion(1, "www.example.test.", dns.TypeA)
	m.Response = true
	m.Authority = []dns.RR{{Name: "example.test.", Type: dns.TypeNS, Class: dns.ClassIN, TTL: 60, Data: &dns.NS{Host: "ns.example.test."}}}
	m.Additional = []dns.RR{
		{Name: "ns.example.test.", Type: dns.TypeA, Class: dns.ClassIN, TTL: 60, Data: &dns.A{Addr: netip.MustParseAddr("127.0.0.13")}},
		{Name: "www.example.net.", Type: dns.TypeA, Class: dns.ClassIN, TTL: 60, Data: &dns.A{Addr: netip.MustParseAddr("6.6.6.6")}},
	}
	b, _ := m.Pack()
	f.Add(b, uint16(dns.TypeA))
	m.Rcode = dns.RcodeNXDomain
	m.Authority = []dns.RR{{Name: "test.", Type: dns.TypeSOA, Class: dns.ClassIN, TTL: 60, Data: &dns.SOA{MName: "ns.test.", RName: "a.test.", Minimum: 30}}}
	b, _ = m.Pack()
	f.Add(b, uint16(dns.TypeMX))
	f.Fuzz(func(t *testing.T, raw []byte, qt uint16) {
		var resp dns.Msg
		if resp.Unpack(raw) != nil {
			return
		}
		r := &Resolver{}
		r.init()
		now := time.Now().UnixNano()
		r.digest(&resp, "test.", "www.example.test.", dns.Type(qt), now)
		for i := range r.cache.shard {
			for k := range r.cache.shard[i].m {
				name := k[:len(k)-2]
				if !dns.IsSubdomain(name, "test.") {
					t.Fatalf("cached %q from a server for test.", name)
				}
			}
		}
	})
}
