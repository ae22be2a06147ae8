package resolver_test

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/applayer/applayer/dns"
	"github.com/applayer/applayer/dns/resolver"
)

// A resolver is configured with root hints and the port its upstream
// servers listen on, then serves clients as a dns.Handler or answers
// questions directly with Resolve.
func Example() {
	r := &resolver.Resolver{
		Hints: []dns.RR{
			{Name: ".", Type: dns.TypeNS, Class: dns.ClassIN, TTL: 3600000, Data: &dns.NS{Host: "a.root-servers.net."}},
			{Name: "a.root-servers.net.", Type: dns.TypeA, Class: dns.ClassIN, TTL: 3600000, Data: &dns.A{Addr: netip.MustParseAddr("127.0.53.1")}},
		},
		UpstreamPort: 10053, // the lab's base port + 53
	}
	// As the lab's local DNS server: loopback clients ask it with RD set.
	srv := &dns.Server{Addr: "127.0.0.1:5301", Handler: r, UDPWorkers: 64}
	go srv.ListenAndServe()
	defer srv.Close()

	// Or directly: root, then edu., then someschool.edu.'s server.
	res, err := r.Resolve(context.Background(), "www.someschool.edu.", dns.TypeA)
	if err != nil {
		fmt.Println("resolution failed:", err)
		return
	}
	for _, rr := range res.Answer {
		fmt.Println(rr)
	}
}
