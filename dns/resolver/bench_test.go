package resolver

import (
	"net/netip"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/applayer/applayer/dns"
)

// BenchmarkCacheMemory reports the live heap one cached answer costs (an A
// record learnt from an authoritative answer), measured after a GC.
//
//	go test -run '^$' -bench CacheMemory ./dns/resolver
func BenchmarkCacheMemory(b *testing.B) {
	const names = 10000
	var answers []*dns.Msg
	for i := 0; i < names; i++ {
		name := "host" + strconv.Itoa(i) + ".example.test."
		m := new(dns.Msg).SetQuestion(1, name, dns.TypeA)
		m.Response, m.Authoritative = true, true
		m.Answer = []dns.RR{{Name: name, Type: dns.TypeA, Class: dns.ClassIN, TTL: 3600, Data: &dns.A{Addr: netip.MustParseAddr("10.0.0.1")}}}
		wire, _ := m.Pack()
		var resp dns.Msg
		resp.Unpack(wire)
		answers = append(answers, &resp)
	}
	var perName float64
	for b.Loop() {
		r := &Resolver{CacheSize: 2 * names}
		r.init()
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		now := time.Now().UnixNano()
		for i, m := range answers {
			r.digest(m, "example.test.", m.Question[0].Name, dns.TypeA, now)
			answers[i] = m
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perName = float64(after.HeapAlloc-before.HeapAlloc) / names
		runtime.KeepAlive(r)
	}
	b.ReportMetric(perName, "heap-bytes/name")
}

// BenchmarkCacheHit measures answering a cached name: the resolver's work
// per cache hit, less the system calls.
func BenchmarkCacheHit(b *testing.B) {
	r := &Resolver{}
	r.init()
	name := "www.example.test."
	m := new(dns.Msg).SetQuestion(1, name, dns.TypeA)
	m.Response, m.Authoritative = true, true
	m.Answer = []dns.RR{{Name: name, Type: dns.TypeA, Class: dns.ClassIN, TTL: 3600, Data: &dns.A{Addr: netip.MustParseAddr("10.0.0.1")}}}
	r.digest(m, "example.test.", name, dns.TypeA, time.Now().UnixNano())
	q := new(dns.Msg).SetQuestion(7, name, dns.TypeA)
	raw, _ := q.Pack()
	w := &discardWriter{}
	var req dns.Msg
	rq := &dns.Request{Msg: &req, Remote: netip.MustParseAddrPort("127.0.0.1:5301")}
	b.ReportAllocs()
	for b.Loop() {
		req.Unpack(raw)
		rq.Raw = raw
		r.ServeDNS(w, rq)
	}
}

type discardWriter struct {
	pk  dns.Packer
	out []byte
}

func (w *discardWriter) WriteMsg(m *dns.Msg) error {
	var err error
	w.out, err = w.pk.PackLimit(w.out[:0], m, 512)
	return err
}
