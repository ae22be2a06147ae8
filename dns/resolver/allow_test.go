package resolver

import (
	"context"
	"net/netip"
	"testing"

	"github.com/applayer/applayer/dns"
)

// TestAllowMapped: an allow list written in the IPv4-mapped form
// (--allow ::ffff:127.0.0.0/104) serves the IPv4 clients it names; it was
// accepted and never matched.
func TestAllowMapped(t *testing.T) {
	port := startHierarchy(t, nil)
	c := &dns.Client{}
	for _, allow := range []string{"::ffff:127.0.0.0/104", "::ffff:127.0.0.1/128"} {
		addr := serveResolver(t, &Resolver{Hints: rootHints(), UpstreamPort: port, Allow: []netip.Prefix{netip.MustParsePrefix(allow)}})
		resp, err := c.Exchange(context.Background(), new(dns.Msg).SetQuestion(0, "www.example.test.", dns.TypeA), addr)
		if err != nil || resp.Msg.Rcode != dns.RcodeSuccess {
			t.Errorf("Allow %s, client 127.0.0.1: %v, %v; want an answer", allow, resp, err)
		}
	}
}
