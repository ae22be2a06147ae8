package mta

import (
	"net"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// TestRouteOverDNS asks a real DNS server (miekg/dns as an independent
// implementation) through DNSResolver, so MX, null MX, NODATA and NXDOMAIN
// travel over the wire as they will from the lab's resolver.
func TestRouteOverDNS(t *testing.T) {
	zone := map[string][]string{
		"hamburger.edu.":        {"hamburger.edu. 300 IN MX 20 backup.hamburger.edu.", "hamburger.edu. 300 IN MX 10 mail.hamburger.edu."},
		"mail.hamburger.edu.":   {"mail.hamburger.edu. 300 IN A 127.0.25.2"},
		"backup.hamburger.edu.": {"backup.hamburger.edu. 300 IN A 127.0.25.3"},
		"nomail.example.":       {"nomail.example. 300 IN MX 0 ."},
		"implicit.example.":     {"implicit.example. 300 IN A 127.0.0.7"},
	}
	mux := dns.NewServeMux()
	mux.HandleFunc(".", func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Authoritative = true
		q := r.Question[0]
		recs, exists := zone[strings.ToLower(q.Name)]
		if !exists {
			m.Rcode = dns.RcodeNameError
		}
		for _, s := range recs {
			rr, err := dns.NewRR(s)
			if err == nil && rr.Header().Rrtype == q.Qtype {
				m.Answer = append(m.Answer, rr)
			}
		}
		w.WriteMsg(m)
	})
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: mux}
	go srv.ActivateAndServe()
	defer srv.Shutdown()

	res := DNSResolver(pc.LocalAddr().String())
	checkRoutes(t, "route(%s) over DNS", res, 10025, []routeCase{
		{"hamburger.edu", "127.0.25.2:10025 127.0.25.3:10025", 0},
		{"implicit.example", "127.0.0.7:10025", 0},
		{"nomail.example", "", 556},
		{"nx.example", "", 550},
	})
}
