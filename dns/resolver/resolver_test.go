package resolver

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/applayer/applayer/dns"
	"github.com/applayer/applayer/dns/zone"
	"github.com/applayer/applayer/internal/testutil"
)

// The test hierarchy, each server on its own loopback address and one
// shared port, as in the lab: root, the test. TLD, and example.test. with
// other.test. (delegated to a name server that has no glue).
var hierarchy = map[string]string{
	"127.0.0.11": `$ORIGIN .
$TTL 86400
@ SOA a.root. admin.root. 1 1800 900 604800 86400
@ NS a.root.
a.root. A 127.0.0.11
test. NS ns.test.
ns.test. A 127.0.0.12
evil. NS ns.evil.
ns.evil. A 127.0.0.14
`,
	"127.0.0.12": `$ORIGIN test.
$TTL 86400
@ SOA ns admin 1 1800 900 604800 300
@ NS ns
ns A 127.0.0.12
example NS ns.example
ns.example A 127.0.0.13
other NS ns1.example
`,
	"127.0.0.13": `$ORIGIN example.test.
$TTL 3600
@ SOA ns admin 1 1800 900 604800 60
@ NS ns
ns A 127.0.0.13
ns1 A 127.0.0.13
www 300 A 192.0.2.80
www 300 A 192.0.2.81
mail A 192.0.2.25
alias CNAME www.other.test.
big TXT "` + strings.Repeat("a", 250) + `" "` + strings.Repeat("b", 250) + `" "` + strings.Repeat("c", 250) + `"
big TXT "` + strings.Repeat("d", 250) + `" "` + strings.Repeat("e", 250) + `" "` + strings.Repeat("f", 250) + `"
$ORIGIN other.test.
`,
}

var otherZone = `$ORIGIN other.test.
$TTL 3600
@ SOA ns1.example.test. admin 1 1800 900 604800 60
@ NS ns1.example.test.
www CNAME target.example.test.
`

// serveAt serves h on ip:port over UDP and TCP until the test ends.
func serveAt(t testing.TB, ip string, port int, h dns.Handler) error {
	addr := net.JoinHostPort(ip, itoa(port))
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		pc.Close()
		return err
	}
	s := &dns.Server{Handler: h, UDPWorkers: 2}
	done := make(chan struct{})
	go func() { s.ServeBoth(l, pc); close(done) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		<-done
	})
	return nil
}

func itoa(n int) string { return strconv.Itoa(n) }

func mustZone(t testing.TB, src string) *zone.Zone {
	t.Helper()
	recs, err := zone.Parse(strings.NewReader(src), "test.zone", "")
	if err != nil {
		t.Fatal(err)
	}
	var origin string
	for _, r := range recs {
		if r.Type == dns.TypeSOA {
			origin = r.Name
		}
	}
	z, err := zone.New(origin, recs)
	if err != nil {
		t.Fatal(err)
	}
	return z
}

// startHierarchy starts the servers and returns the shared port.
func startHierarchy(t testing.TB, extra map[string]dns.Handler) int {
	t.Helper()
	for attempt := 0; attempt < 20; attempt++ {
		pc, err := net.ListenPacket("udp", "127.0.0.11:0")
		if err != nil {
			t.Fatal(err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		pc.Close()
		ok := true
		for ip, src := range hierarchy {
			zs := []*zone.Zone{mustZone(t, src)}
			if ip == "127.0.0.13" {
				zs = append(zs, mustZone(t, otherZone))
			}
			if serveAt(t, ip, port, zone.NewAuthority(zs...)) != nil {
				ok = false
				break
			}
		}
		for ip, h := range extra {
			if ok && serveAt(t, ip, port, h) != nil {
				ok = false
			}
		}
		if ok {
			return port
		}
	}
	t.Fatal("no common free port")
	return 0
}

func rootHints() []dns.RR {
	return []dns.RR{
		{Name: ".", Type: dns.TypeNS, Class: dns.ClassIN, TTL: 3600000, Data: &dns.NS{Host: "a.root."}},
		{Name: "a.root.", Type: dns.TypeA, Class: dns.ClassIN, TTL: 3600000, Data: &dns.A{Addr: netip.MustParseAddr("127.0.0.11")}},
	}
}

func answerStrings(res *Result) []string {
	var out []string
	for _, rr := range res.Answer {
		out = append(out, rr.Name+" "+rr.Type.String()+" "+rr.Data.String())
	}
	return out
}

func TestIterateThroughHierarchy(t *testing.T) {
	port := startHierarchy(t, nil)
	r := &Resolver{Hints: rootHints(), UpstreamPort: port}
	ctx := context.Background()

	res, err := r.Resolve(ctx, "www.example.test.", dns.TypeA)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(answerStrings(res), "; "); !strings.Contains(got, "192.0.2.80") || !strings.Contains(got, "192.0.2.81") {
		t.Fatalf("www.example.test A = %s", got)
	}
	if n := r.UpstreamQueries(); n != 3 {
		t.Errorf("cold resolution took %d upstream queries, want 3 (root, TLD, authoritative)", n)
	}
	// The referrals are cached: a sibling name costs one query.
	before := r.UpstreamQueries()
	if _, err := r.Resolve(ctx, "mail.example.test.", dns.TypeA); err != nil {
		t.Fatal(err)
	}
	if n := r.UpstreamQueries() - before; n != 1 {
		t.Errorf("sibling resolution took %d queries, want 1", n)
	}
	// The answer is cached: no query at all.
	before = r.UpstreamQueries()
	r.Resolve(ctx, "www.example.test.", dns.TypeA)
	if n := r.UpstreamQueries() - before; n != 0 {
		t.Errorf("cached answer took %d queries", n)
	}
	// Negative answers are cached with the SOA's minimum (RFC 2308).
	res, err = r.Resolve(ctx, "nope.example.test.", dns.TypeA)
	if err != nil || res.Rcode != dns.RcodeNXDomain || res.SOA == nil || res.SOA.TTL != 60 {
		t.Fatalf("nope.example.test = %+v, %v; want NXDOMAIN with SOA TTL 60", res, err)
	}
	before = r.UpstreamQueries()
	res, _ = r.Resolve(ctx, "nope.example.test.", dns.TypeMX)
	if n := r.UpstreamQueries() - before; n != 0 || res.Rcode != dns.RcodeNXDomain {
		t.Errorf("cached NXDOMAIN for another type: %d queries, %v", n, res.Rcode)
	}
	res, _ = r.Resolve(ctx, "mail.example.test.", dns.TypeAAAA)
	if res.Rcode != dns.RcodeSuccess || len(res.Answer) != 0 || res.SOA == nil {
		t.Errorf("NODATA: %+v", res)
	}
}

func TestCNAMEAcrossZonesAndGluelessNS(t *testing.T) {
	port := startHierarchy(t, nil)
	r := &Resolver{Hints: rootHints(), UpstreamPort: port}
	// alias.example.test -> www.other.test (a zone whose name server has
	// no glue) -> target.example.test, which does not exist.
	res, err := r.Resolve(context.Background(), "alias.example.test.", dns.TypeA)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(answerStrings(res), "; ")
	want := "alias.example.test. CNAME www.other.test.; www.other.test. CNAME target.example.test."
	if got != want || res.Rcode != dns.RcodeNXDomain {
		t.Errorf("alias = %s (%v), want %s (NXDOMAIN)", got, res.Rcode, want)
	}
}

func TestTruncatedAnswerRetriedOverTCP(t *testing.T) {
	port := startHierarchy(t, nil)
	r := &Resolver{Hints: rootHints(), UpstreamPort: port}
	res, err := r.Resolve(context.Background(), "big.example.test.", dns.TypeTXT)
	if err != nil || len(res.Answer) != 2 {
		t.Fatalf("big TXT: %v, %v", res, err)
	}
}

func TestInFlightMerged(t *testing.T) {
	port := startHierarchy(t, nil)
	r := &Resolver{Hints: rootHints(), UpstreamPort: port}
	r.Resolve(context.Background(), "www.example.test.", dns.TypeA) // warm the referrals
	before := r.UpstreamQueries()
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := r.Resolve(context.Background(), "mail.example.test.", dns.TypeMX); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := r.UpstreamQueries() - before; n != 1 {
		t.Errorf("20 identical questions at once took %d upstream queries, want 1", n)
	}
}

// evilReferral is a server for evil. that answers every question with a
// referral carrying out-of-bailiwick "glue": addresses for names under
// test., which a careless resolver would cache.
//
// Asked for cname.evil., it answers authoritatively with a CNAME into
// test. and, beside it, an address for the target that is not its to give.
func evilReferral(w dns.ResponseWriter, req *dns.Request) {
	var m dns.Msg
	m.SetReply(req.Msg)
	if dns.EqualNames(req.Msg.Question[0].Name, "cname.evil.") {
		m.Authoritative = true
		m.Answer = []dns.RR{
			{Name: "cname.evil.", Type: dns.TypeCNAME, Class: dns.ClassIN, TTL: 86400, Data: &dns.CNAME{Target: "www.example.test."}},
			{Name: "www.example.test.", Type: dns.TypeA, Class: dns.ClassIN, TTL: 86400, Data: &dns.A{Addr: netip.MustParseAddr("6.6.6.6")}},
		}
		w.WriteMsg(&m)
		return
	}
	m.Authority = []dns.RR{{Name: "sub.evil.", Type: dns.TypeNS, Class: dns.ClassIN, TTL: 86400, Data: &dns.NS{Host: "ns.example.test."}}}
	m.Additional = []dns.RR{
		{Name: "ns.example.test.", Type: dns.TypeA, Class: dns.ClassIN, TTL: 86400, Data: &dns.A{Addr: netip.MustParseAddr("127.0.0.66")}},
		{Name: "www.example.test.", Type: dns.TypeA, Class: dns.ClassIN, TTL: 86400, Data: &dns.A{Addr: netip.MustParseAddr("6.6.6.6")}},
	}
	m.Answer = []dns.RR{{Name: "mail.example.test.", Type: dns.TypeA, Class: dns.ClassIN, TTL: 86400, Data: &dns.A{Addr: netip.MustParseAddr("6.6.6.6")}}}
	w.WriteMsg(&m)
}

func TestOutOfBailiwickGlueNotCached(t *testing.T) {
	port := startHierarchy(t, map[string]dns.Handler{"127.0.0.14": dns.HandlerFunc(evilReferral)})
	r := &Resolver{Hints: rootHints(), UpstreamPort: port, Timeout: 300 * time.Millisecond}
	ctx := context.Background()
	r.Resolve(ctx, "x.sub.evil.", dns.TypeA) // whatever happens, nothing may be planted
	// The CNAME is the evil. server's to give; the target's address is not:
	// the resolver must ask the servers for test. itself.
	res, err := r.Resolve(ctx, "cname.evil.", dns.TypeA)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(answerStrings(res), "; "); strings.Contains(got, "6.6.6.6") || !strings.Contains(got, "www.example.test. A 192.0.2.80") {
		t.Errorf("cname.evil. A = %s", got)
	}
	// Look at once, before a legitimate referral could overwrite a planted
	// address: none of the server for evil.'s addresses may be cached (the
	// resolver may have looked ns.example.test up properly meanwhile).
	for i := range r.cache.shard {
		for k, e := range r.cache.shard[i].m {
			for _, rr := range e.rrs {
				if s := rr.Data.String(); s == "127.0.0.66" || s == "6.6.6.6" {
					t.Errorf("the server for evil. planted %s for %q in the cache", s, k[:len(k)-2])
				}
			}
		}
	}
	for _, name := range []string{"www.example.test.", "mail.example.test."} {
		res, err := r.Resolve(ctx, name, dns.TypeA)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range answerStrings(res) {
			if strings.Contains(s, "6.6.6.6") {
				t.Errorf("%s resolved to the planted address: %s", name, s)
			}
		}
	}
	var buf [300]byte
	for _, a := range r.cachedAddrs("ns.example.test.", time.Now().UnixNano(), buf[:0]) {
		if a.String() == "127.0.0.66" {
			t.Errorf("out-of-bailiwick glue for ns.example.test was cached")
		}
	}
}

func TestCacheBounded(t *testing.T) {
	c := newCache(64)
	now := time.Now().UnixNano()
	rr := []dns.RR{{Name: "x.", Type: dns.TypeA, Class: dns.ClassIN, TTL: 60, Data: &dns.A{Addr: netip.MustParseAddr("192.0.2.1")}}}
	for i := 0; i < 10000; i++ {
		c.put(appendKey(nil, "n"+itoa(i)+".example.", dns.TypeA), ttlEntry(rr, rankAnswer, now, 3600), now)
	}
	if n := c.Len(); n > 64 {
		t.Errorf("cache holds %d entries after a flood, bound 64", n)
	}
}

func serveResolver(t *testing.T, r *Resolver) string {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &dns.Server{Handler: r, UDPWorkers: 2, UDPBatch: 8}
	done := make(chan struct{})
	go func() { s.ServePacket(pc); close(done) }()
	t.Cleanup(func() { s.Close(); <-done })
	return pc.LocalAddr().String()
}

func TestServeAllowAndRA(t *testing.T) {
	port := startHierarchy(t, nil)
	c := &dns.Client{}
	addr := serveResolver(t, &Resolver{Hints: rootHints(), UpstreamPort: port})
	resp, err := c.Exchange(context.Background(), new(dns.Msg).SetQuestion(0, "www.example.test.", dns.TypeA), addr)
	if err != nil {
		t.Fatal(err)
	}
	if m := resp.Msg; !m.RecursionAvailable || m.Authoritative || len(m.Answer) != 2 {
		t.Errorf("answer: %v", m)
	}
	addr = serveResolver(t, &Resolver{Hints: rootHints(), UpstreamPort: port, Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	resp, err = c.Exchange(context.Background(), new(dns.Msg).SetQuestion(0, "www.example.test.", dns.TypeA), addr)
	if err != nil || resp.Msg.Rcode != dns.RcodeRefused {
		t.Errorf("client outside Allow: %v, %v; want REFUSED", resp, err)
	}
}

// TestDeadServerSkipped gives test. two name servers, the first a black
// hole that never answers: the resolver times out on it and asks the
// other, and a CNAME loop ends in SERVFAIL rather than a hang.
func TestDeadServerSkipped(t *testing.T) {
	blackhole := dns.HandlerFunc(func(dns.ResponseWriter, *dns.Request) {})
	saved := hierarchy["127.0.0.11"]
	t.Cleanup(func() { hierarchy["127.0.0.11"] = saved })
	hierarchy["127.0.0.11"] = strings.Replace(saved, "test. NS ns.test.\n", "test. NS ns.test.\ntest. NS dead.test.\ndead.test. A 127.0.0.15\n", 1)
	port := startHierarchy(t, map[string]dns.Handler{"127.0.0.15": blackhole})
	for i := 0; i < 4; i++ { // the order of the servers is random: try a few fresh resolvers
		r := &Resolver{Hints: rootHints(), UpstreamPort: port, Timeout: 100 * time.Millisecond}
		res, err := r.Resolve(context.Background(), "www.example.test.", dns.TypeA)
		if err != nil || len(res.Answer) != 2 {
			t.Fatalf("with a dead server: %+v, %v", res, err)
		}
	}
}

func TestForward(t *testing.T) {
	port := startHierarchy(t, nil)
	upstream := serveResolver(t, &Resolver{Hints: rootHints(), UpstreamPort: port})
	r := &Resolver{Forward: []string{"127.0.0.1:1", upstream}, Timeout: 200 * time.Millisecond} // the first forwarder is dead
	for i := 0; i < 2; i++ {
		res, err := r.Resolve(context.Background(), "www.example.test.", dns.TypeA)
		if err != nil || len(res.Answer) != 2 {
			t.Fatalf("forwarded: %+v, %v", res, err)
		}
	}
	res, err := r.Resolve(context.Background(), "nope.example.test.", dns.TypeA)
	if err != nil || res.Rcode != dns.RcodeNXDomain {
		t.Errorf("forwarded NXDOMAIN: %+v, %v", res, err)
	}
}

// TestLameServerSkipped: one of test.'s name servers answers with nothing
// (no data, no referral, AA clear); the resolver asks the other.
func TestLameServerSkipped(t *testing.T) {
	lameServer := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Request) {
		var m dns.Msg
		m.SetReply(r.Msg)
		w.WriteMsg(&m)
	})
	saved := hierarchy["127.0.0.11"]
	t.Cleanup(func() { hierarchy["127.0.0.11"] = saved })
	hierarchy["127.0.0.11"] = strings.Replace(saved, "test. NS ns.test.\n", "test. NS ns.test.\ntest. NS lame.test.\nlame.test. A 127.0.0.16\n", 1)
	port := startHierarchy(t, map[string]dns.Handler{"127.0.0.16": lameServer})
	for i := 0; i < 4; i++ {
		r := &Resolver{Hints: rootHints(), UpstreamPort: port}
		res, err := r.Resolve(context.Background(), "www.example.test.", dns.TypeA)
		if err != nil || len(res.Answer) != 2 {
			t.Fatalf("with a lame server: %+v, %v", res, err)
		}
	}
}

// TestRandomIDAndPort records what reaches a name server: every upstream
// query has its own random ID and comes from its own source port (RFC
// 5452 §9.2, §10).
func TestRandomIDAndPort(t *testing.T) {
	var mu sync.Mutex
	ids, ports := map[uint16]bool{}, map[uint16]bool{}
	n := 0
	auth := zone.NewAuthority(mustZone(t, `$ORIGIN rnd.
$TTL 60
@ SOA ns admin 1 2 3 4 5
@ NS ns
ns A 127.0.0.17
* A 192.0.2.1
`))
	recording := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Request) {
		mu.Lock()
		ids[r.Msg.ID], ports[r.Remote.Port()] = true, true
		n++
		mu.Unlock()
		auth.ServeDNS(w, r)
	})
	saved := hierarchy["127.0.0.11"]
	t.Cleanup(func() { hierarchy["127.0.0.11"] = saved })
	hierarchy["127.0.0.11"] = saved + "rnd. NS ns.rnd.\nns.rnd. A 127.0.0.17\n"
	port := startHierarchy(t, map[string]dns.Handler{"127.0.0.17": recording})
	r := &Resolver{Hints: rootHints(), UpstreamPort: port}
	for i := 0; i < 20; i++ {
		if _, err := r.Resolve(context.Background(), "h"+itoa(i)+".rnd.", dns.TypeA); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if n != 20 || len(ids) < 18 || len(ports) < 18 {
		t.Errorf("%d queries reached the server with %d distinct IDs and %d distinct source ports; want 20 of each (give or take a coincidence)", n, len(ids), len(ports))
	}
}

// TestFailureCached: a name whose servers all fail is answered SERVFAIL
// from the cache for FailureTTL, without another walk.
func TestFailureCached(t *testing.T) {
	port := startHierarchy(t, map[string]dns.Handler{"127.0.0.14": dns.HandlerFunc(func(dns.ResponseWriter, *dns.Request) {})})
	r := &Resolver{Hints: rootHints(), UpstreamPort: port, Timeout: 50 * time.Millisecond, FailureTTL: time.Minute}
	if _, err := r.Resolve(context.Background(), "x.evil.", dns.TypeA); err == nil {
		t.Fatal("resolved through a black hole")
	}
	before := r.UpstreamQueries()
	res, err := r.Resolve(context.Background(), "x.evil.", dns.TypeA)
	if err != nil || res.Rcode != dns.RcodeServFail || r.UpstreamQueries() != before {
		t.Errorf("second ask: %+v, %v, %d more queries; want SERVFAIL from the cache", res, err, r.UpstreamQueries()-before)
	}
}

// TestHintsKeepBothAddressTypes: a root server listed with an A and an
// AAAA record (as in named.root) keeps both addresses.
func TestHintsKeepBothAddressTypes(t *testing.T) {
	for _, first := range []dns.Type{dns.TypeA, dns.TypeAAAA} {
		a := dns.RR{Name: "a.root.", Type: dns.TypeA, Class: dns.ClassIN, TTL: 3600000, Data: &dns.A{Addr: netip.MustParseAddr("127.0.0.11")}}
		aaaa := dns.RR{Name: "A.Root.", Type: dns.TypeAAAA, Class: dns.ClassIN, TTL: 3600000, Data: &dns.AAAA{Addr: netip.MustParseAddr("::1")}}
		ns := dns.RR{Name: ".", Type: dns.TypeNS, Class: dns.ClassIN, TTL: 3600000, Data: &dns.NS{Host: "a.root."}}
		hints := []dns.RR{ns, a, aaaa}
		if first == dns.TypeAAAA {
			hints = []dns.RR{ns, aaaa, a}
		}
		r := &Resolver{Hints: hints}
		r.init()
		var buf [300]byte
		got := r.cachedAddrs("a.root.", time.Now().UnixNano(), buf[:0])
		if len(got) != 2 {
			t.Errorf("hints with %v first: cached addresses %v, want 127.0.0.11 and ::1", first, got)
		}
	}
}

// TestRootHintsSurviveTheCache: the root hints are the resolver's only way
// in, so neither a flood of names that fills the cache nor an answer for
// ". NS" (or for a root server's address) that later expires may lose them.
func TestRootHintsSurviveTheCache(t *testing.T) {
	port := startHierarchy(t, nil)
	ctx := context.Background()
	r := &Resolver{Hints: rootHints(), UpstreamPort: port, CacheSize: 16}
	for i := 0; i < 300; i++ {
		r.Resolve(ctx, "flood"+itoa(i)+".example.test.", dns.TypeA)
	}
	if res, err := r.Resolve(ctx, "www.example.test.", dns.TypeA); err != nil || len(res.Answer) != 2 {
		t.Errorf("after a flood of 300 names through a cache of 16: %+v, %v", res, err)
	}

	r = &Resolver{Hints: rootHints(), UpstreamPort: port, MaxTTL: 1}
	for _, q := range []struct {
		name string
		t    dns.Type
	}{{".", dns.TypeNS}, {"a.root.", dns.TypeA}} {
		if _, err := r.Resolve(ctx, q.name, q.t); err != nil {
			t.Fatal(err)
		}
	}
	// Time passing is the case tested, not a wait for an event: a sleep
	// lasts at least as long as asked, so both answers expire (MaxTTL 1 s).
	time.Sleep(1100 * time.Millisecond)
	if res, err := r.Resolve(ctx, "www.example.test.", dns.TypeA); err != nil || len(res.Answer) != 2 {
		t.Errorf("after the answers for . NS and a.root. A expired: %+v, %v", res, err)
	}
}

// TestServfailSaysWhy: a resolver whose root does not answer says so in
// its log when it answers SERVFAIL (it was silent at the default level).
func TestServfailSaysWhy(t *testing.T) {
	var logs testutil.Buffer
	dead, err := net.ListenPacket("udp", "127.0.0.1:0") // bound, never read: no answer
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	r := &Resolver{Hints: rootHints(), UpstreamPort: dead.LocalAddr().(*net.UDPAddr).Port, Timeout: 50 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	addr := serveResolver(t, r)
	resp, err := (&dns.Client{Timeout: 10 * time.Second}).Exchange(context.Background(), new(dns.Msg).SetQuestion(0, "www.example.test.", dns.TypeA), addr)
	if err != nil || resp.Msg.Rcode != dns.RcodeServFail {
		t.Fatalf("with a dead root: %v, %v; want SERVFAIL", resp, err)
	}
	testutil.WaitFor(t, "the SERVFAIL logged", func() bool { return strings.Contains(logs.String(), "SERVFAIL") })
	if out := logs.String(); !strings.Contains(out, "level=WARN") || !strings.Contains(out, "www.example.test.") || !strings.Contains(out, "err=") {
		t.Errorf("log says %q; want a warning naming the question and the cause", out)
	}
}
