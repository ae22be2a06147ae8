package lab

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/applayer/applayer/dns"
)

// dnsTopology is the default lab's DNS services plus one service that
// publishes records, some under a TLD and domain no server is configured
// for.
func dnsTopology(base int) Topology {
	t := Topology{BasePort: base}
	for _, s := range DefaultTopology().Services {
		if strings.HasPrefix(s.Kind, "dns-") {
			t.Services = append(t.Services, s)
		}
	}
	t.Services = append(t.Services, Spec{Name: "upper", Kind: "upper", Host: "127.0.0.1", Port: 2000, Records: []string{
		"www.someschool.edu. 300 IN A 127.0.80.1",
		"crepes.fr. 300 IN MX 10 mail.crepes.fr.",
		"mail.crepes.fr. 300 IN A 127.0.25.1",
		"cdn.example.org. 300 IN A 127.0.80.9",
	}})
	return t
}

func startDNSLab(t *testing.T) (*Lab, []Endpoint, int) {
	t.Helper()
	for attempt := 0; attempt < 10; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if p < 2100 {
			continue
		}
		base := p - 2000
		lab := &Lab{Topology: dnsTopology(base), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
		eps, err := lab.Start(context.Background())
		if err != nil {
			continue // a port was taken: try another base
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			lab.Shutdown(ctx)
		})
		return lab, eps, base
	}
	t.Fatal("could not start the DNS lab")
	return nil, nil, 0
}

func TestDNSLabResolvesEveryPublishedName(t *testing.T) {
	_, eps, base := startDNSLab(t)
	resolverAddr := "127.0.53.53:" + strconv.Itoa(base+53)
	c := &dns.Client{Timeout: 3 * time.Second}
	for _, tc := range []struct {
		name string
		typ  dns.Type
		want string
	}{
		{"www.someschool.edu.", dns.TypeA, "127.0.80.1"},
		{"crepes.fr.", dns.TypeMX, "10 mail.crepes.fr."},
		{"mail.crepes.fr.", dns.TypeA, "127.0.25.1"},
		{"cdn.example.org.", dns.TypeA, "127.0.80.9"}, // org. and example.org. made on the fly
		{"www.exotiquecuisine.com.", dns.TypeA, "127.0.80.1"},
		{"a.root-servers.net.", dns.TypeA, "127.0.53.1"},
	} {
		r, err := c.Exchange(context.Background(), new(dns.Msg).SetQuestion(0, tc.name, tc.typ), resolverAddr)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var got []string
		for _, rr := range r.Msg.Answer {
			got = append(got, rr.Data.String())
		}
		if r.Msg.Rcode != dns.RcodeSuccess || !strings.Contains(strings.Join(got, " "), tc.want) {
			t.Errorf("%s %v = %v %v, want %s", tc.name, tc.typ, r.Msg.Rcode, got, tc.want)
		}
	}
	// The root refers .edu to its TLD server, with glue.
	r, err := c.Exchange(context.Background(), new(dns.Msg).SetQuestion(0, "www.someschool.edu.", dns.TypeA), "127.0.53.1:"+strconv.Itoa(base+53))
	if err != nil || r.Msg.Authoritative || len(r.Msg.Authority) != 1 || r.Msg.Authority[0].Name != "edu." || len(r.Msg.Additional) != 1 {
		t.Errorf("root's referral: %v %v", r, err)
	}
	var tries []string
	for _, e := range eps {
		tries = append(tries, e.Try)
	}
	all := strings.Join(tries, "\n")
	if !strings.Contains(all, "dig @127.0.53.53 -p "+strconv.Itoa(base+53)) || !strings.Contains(all, "dns query +trace") {
		t.Errorf("try lines lack dig and +trace:\n%s", all)
	}
}

func TestDNSPlanErrors(t *testing.T) {
	topo := dnsTopology(10000)
	topo.Services = append(topo.Services, Spec{Name: "x", Kind: "upper", Host: "127.0.0.2", Port: 2000, Records: []string{"www.crepes.fr. 60 IN CNAME a.crepes.fr.", "www.crepes.fr. 60 IN A 127.0.0.1"}})
	plan, err := planDNS(topo)
	if err != nil {
		t.Fatal(err)
	}
	_, err = newDNSAuth(topo.Services[5], &Env{BasePort: 10000, Topology: topo, Logger: slog.Default()})
	if err == nil || !strings.Contains(err.Error(), "CNAME and other data") {
		t.Errorf("conflicting records: %v (plan %v)", err, plan.server)
	}
}

// TestDNSLabRegistrar: the TLD servers take a registrar's signed UPDATE
// adding a delegation, and then refer the new domain to its server.
func TestDNSLabRegistrar(t *testing.T) {
	_, eps, base := startDNSLab(t)
	edu := "127.0.53.3:" + strconv.Itoa(base+53)
	found := false
	for _, e := range eps {
		if e.Service == "dns-edu" && e.Proto == "dns update" && strings.Contains(e.Try, "nsupdate -y hmac-sha256:registrar:") {
			found = true
		}
	}
	if !found {
		t.Errorf("no registrar try line for dns-edu: %+v", eps)
	}
	key, err := dns.ParseTSIGKey(registrarKeyName + ":" + labRegistrarSecret)
	if err != nil {
		t.Fatal(err)
	}
	m := &dns.Msg{Header: dns.Header{ID: 3, Opcode: dns.OpcodeUpdate}, Question: []dns.Question{{Name: "edu.", Type: dns.TypeSOA, Class: dns.ClassIN}}}
	m.Authority = []dns.RR{
		{Name: "newschool.edu.", Type: dns.TypeNS, Class: dns.ClassIN, TTL: 300, Data: &dns.NS{Host: "ns.newschool.edu."}},
		{Name: "ns.newschool.edu.", Type: dns.TypeA, Class: dns.ClassIN, TTL: 300, Data: &dns.A{Addr: netip.MustParseAddr("127.0.53.30")}},
	}
	wire, _ := m.Pack()
	wire, _, err = dns.SignTSIG(wire, key, nil, time.Now(), 0, false)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", edu)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(3 * time.Second))
	dns.WriteTCP(conn, wire)
	b, err := dns.ReadTCP(conn)
	if err != nil {
		t.Fatal(err)
	}
	var resp dns.Msg
	if resp.Unpack(b); resp.Rcode != dns.RcodeSuccess {
		t.Fatalf("registrar update: %v", resp.Rcode)
	}
	r, err := (&dns.Client{}).Exchange(context.Background(), new(dns.Msg).SetQuestion(0, "www.newschool.edu.", dns.TypeA), edu)
	if err != nil || len(r.Msg.Authority) != 1 || r.Msg.Authority[0].Data.String() != "ns.newschool.edu." || len(r.Msg.Additional) != 1 {
		t.Errorf("edu. after the registration: %v %v", r, err)
	}
}
