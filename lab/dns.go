package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strings"

	"github.com/applayer/applayer/dns"
	"github.com/applayer/applayer/dns/resolver"
	"github.com/applayer/applayer/dns/zone"
)

// The lab's DNS is the textbook's hierarchy (section 2.4): a root server,
// TLD servers, authoritative servers for the textbook's domains, each on
// its own address in 127.0.53.0/24 at base+53, and a local resolver at
// 127.0.53.53 whose root hints name the lab's root.
//
// Zone contents are computed from the whole topology: every Spec's Records
// go into the deepest zone that holds their name. A name under a domain or
// TLD that no server is configured for gets a zone of its own on the
// "dns-auth" (domains) or "dns-tld" (TLDs) catch-all server, with its
// delegation in the parent zone, so a new service only has to publish its
// records.
const (
	// labRegistrarSecret is the TSIG secret (base64) the TLD servers
	// accept updates with: a lab credential, not a secret.
	labRegistrarSecret = "bGFiLXJlZ2lzdHJhci1rZXktZm9yLXRoZS10bGRzIQ=="
	labRootHost        = "127.0.53.1"
	labRootName        = "a.root-servers.net."
	labResolverHost    = "127.0.53.53"
)

func init() {
	Kinds["dns-auth"] = newDNSAuth
	Kinds["dns-resolver"] = newDNSResolver
	registrar := func(s Spec) Spec {
		s.Args["registrar-key"] = labRegistrarSecret
		return s
	}
	auth := func(name, host, zones, role string) Spec {
		s := Spec{Name: name, Kind: "dns-auth", Host: host, Port: 53, Args: map[string]string{"zones": zones}}
		if role != "" {
			s.Args["default"] = role
		}
		return s
	}
	defaultSpecs = append(defaultSpecs,
		auth("dns-root", labRootHost, ".", ""),
		registrar(auth("dns-com", "127.0.53.2", "com.", "")),
		registrar(auth("dns-edu", "127.0.53.3", "edu.", "")),
		registrar(auth("dns-fr", "127.0.53.4", "fr.", "")),
		auth("dns-tld", "127.0.53.9", "", "tld"),
		auth("dns-crepes", "127.0.53.10", "crepes.fr.", ""),
		auth("dns-hamburger", "127.0.53.11", "hamburger.edu.", ""),
		auth("dns-someschool", "127.0.53.12", "someschool.edu.", ""),
		auth("dns-exotiquecuisine", "127.0.53.13", "exotiquecuisine.com.", ""),
		auth("dns-auth", "127.0.53.19", "", "domain"),
		// The registrar story's server: it serves newschool.com (and .edu,
		// .fr) from the start, but no TLD delegates to it until the
		// "dns update" line registers the domain.
		Spec{Name: "dns-newschool", Kind: "dns-auth", Host: "127.0.53.30", Port: 53,
			Args:    map[string]string{"zones": "newschool.com.,newschool.edu.,newschool.fr.", "unregistered": "true"},
			Records: []string{"www.newschool.com. 300 IN A 127.0.80.30", "www.newschool.edu. 300 IN A 127.0.80.30", "www.newschool.fr. 300 IN A 127.0.80.30"}},
		Spec{Name: "resolver", Kind: "dns-resolver", Host: labResolverHost, Port: 53},
	)
	// The textbook's own examples: a replicated web server whose addresses
	// the authoritative server rotates (load distribution), and host
	// aliasing with a CNAME.
	for i := range defaultSpecs {
		if defaultSpecs[i].Name == "dns-exotiquecuisine" {
			defaultSpecs[i].Records = []string{
				"relay1.west-coast.exotiquecuisine.com. 300 IN A 127.0.80.11",
				"relay1.west-coast.exotiquecuisine.com. 300 IN A 127.0.80.12",
				"relay1.west-coast.exotiquecuisine.com. 300 IN A 127.0.80.13",
				"www.exotiquecuisine.com. 300 IN CNAME relay1.west-coast.exotiquecuisine.com.",
			}
		}
	}
}

// RootHints returns the root hints of the default lab: the root server's
// name and address (its port is the lab's base port + 53).
func RootHints() []dns.RR {
	return []dns.RR{
		{Name: ".", Type: dns.TypeNS, Class: dns.ClassIN, TTL: 3600000, Data: &dns.NS{Host: labRootName}},
		{Name: labRootName, Type: dns.TypeA, Class: dns.ClassIN, TTL: 3600000, Data: &dns.A{Addr: netip.MustParseAddr(labRootHost)}},
	}
}

// dnsPlan is every zone of the lab and the server (Spec name) of each.
type dnsPlan struct {
	zones  map[string]*planZone // by origin
	server map[string]string    // origin -> spec name
	sample string               // a name worth trying
	stype  dns.Type             // and its type
}

type planZone struct {
	origin string
	host   string // the server's address
	// unregistered: no delegation in the parent (the registrar adds it).
	unregistered bool
	recs         []zone.Record
}

// nsName is the name server of a zone: "ns.<zone>", in the zone itself so
// that its glue is in the parent's bailiwick; the root's is
// a.root-servers.net.
func nsName(origin string) string {
	if origin == "." {
		return labRootName
	}
	return "ns." + origin
}

// planDNS computes the lab's zones from the topology.
func planDNS(t Topology) (*dnsPlan, error) {
	p := &dnsPlan{zones: map[string]*planZone{}, server: map[string]string{}}
	defaults := map[string]Spec{}
	for _, s := range t.Services {
		if s.Kind != "dns-auth" {
			continue
		}
		if role := s.Args["default"]; role != "" {
			defaults[role] = s
		}
		for _, z := range strings.Split(s.Args["zones"], ",") {
			if z = strings.TrimSpace(z); z == "" {
				continue
			}
			z = dns.CanonicalName(z)
			if other, ok := p.server[z]; ok {
				return nil, fmt.Errorf("dns: zone %s is served by both %s and %s", z, other, s.Name)
			}
			p.server[z] = s.Name
			p.zones[z] = &planZone{origin: z, host: s.Host, unregistered: s.Args["unregistered"] != ""}
		}
	}
	if _, ok := p.zones["."]; !ok {
		return nil, errors.New("dns: no server for the root zone")
	}
	// Every record of every service, plus each server's own address.
	var recs []zone.Record
	for _, s := range t.Services {
		for _, line := range s.Records {
			rs, err := zone.Parse(strings.NewReader(line), s.Name+" record", ".")
			if err != nil {
				return nil, err
			}
			recs = append(recs, rs...)
			if p.sample == "" && s.Kind != "dns-auth" && len(rs) > 0 {
				p.sample, p.stype = rs[0].Name, rs[0].Type
			}
		}
	}
	// Create missing TLD and domain zones on the catch-all servers.
	ensure := func(origin, role string) error {
		if _, ok := p.zones[origin]; ok {
			return nil
		}
		s, ok := defaults[role]
		if !ok {
			return fmt.Errorf("dns: no server for %s and no %q catch-all server", origin, role)
		}
		p.server[origin] = s.Name
		p.zones[origin] = &planZone{origin: origin, host: s.Host}
		return nil
	}
	names := []string{labRootName}
	for _, r := range recs {
		names = append(names, r.Name)
	}
	for _, n := range names {
		labels := dns.Labels(dns.CanonicalName(n))
		if len(labels) >= 1 {
			if err := ensure(labels[len(labels)-1]+".", "tld"); err != nil {
				return nil, err
			}
		}
		if len(labels) >= 2 {
			d := strings.Join(labels[len(labels)-2:], ".") + "."
			if p.deepest(d) == p.zones[labels[len(labels)-1]+"."] {
				if err := ensure(d, "domain"); err != nil {
					return nil, err
				}
			}
		}
	}
	// SOA, NS and the name server's address in each zone; the delegation
	// and glue in its parent.
	origins := make([]string, 0, len(p.zones))
	for o := range p.zones {
		origins = append(origins, o)
	}
	sort.Strings(origins)
	rr := func(name string, ttl uint32, d dns.RData, typ dns.Type) zone.Record {
		return zone.Record{RR: dns.RR{Name: name, Type: typ, Class: dns.ClassIN, TTL: ttl, Data: d}, File: "lab topology"}
	}
	for _, o := range origins {
		z := p.zones[o]
		ns := nsName(o)
		admin := "hostmaster." + strings.TrimPrefix(o, ".")
		if o == "." {
			admin = "hostmaster.root-servers.net."
		}
		z.recs = append(z.recs,
			rr(o, 3600, &dns.SOA{MName: ns, RName: admin, Serial: 1, Refresh: 3600, Retry: 600, Expire: 86400, Minimum: 60}, dns.TypeSOA),
			rr(o, 3600, &dns.NS{Host: ns}, dns.TypeNS))
		addr := &dns.A{Addr: netip.MustParseAddr(z.host)}
		// The name server's address goes where its name lives, and as glue
		// in the parent.
		home := p.deepest(ns)
		home.recs = append(home.recs, rr(ns, 3600, addr, dns.TypeA))
		if o != "." && !z.unregistered {
			parent := p.deepest(mustParent(o))
			parent.recs = append(parent.recs, rr(o, 3600, &dns.NS{Host: ns}, dns.TypeNS))
			if parent != home {
				parent.recs = append(parent.recs, rr(ns, 3600, addr, dns.TypeA))
			}
		}
	}
	for _, r := range recs {
		z := p.deepest(r.Name)
		z.recs = append(z.recs, r)
	}
	if p.sample == "" {
		p.sample, p.stype = "www.exotiquecuisine.com.", dns.TypeA
	}
	return p, nil
}

func mustParent(n string) string {
	p, _ := dns.Parent(n)
	return p
}

// deepest returns the zone with the longest origin that holds name.
func (p *dnsPlan) deepest(name string) *planZone {
	for n := dns.CanonicalName(name); ; {
		if z, ok := p.zones[n]; ok {
			return z
		}
		parent, ok := dns.Parent(n)
		if !ok {
			return p.zones["."]
		}
		n = parent
	}
}

// dnsAuth is one authoritative server of the lab.
type dnsAuth struct {
	spec  Spec
	env   *Env
	addr  string
	key   string // the registrar key's secret, when updates are accepted
	zones []*zone.Zone
	srv   *dns.Server
	l     net.Listener
	pc    net.PacketConn
}

func newDNSAuth(spec Spec, env *Env) (Service, error) {
	topo := env.Topology
	if len(topo.Services) == 0 {
		topo = Topology{BasePort: env.BasePort, Services: []Spec{spec}}
	}
	plan, err := planDNS(topo)
	if err != nil {
		return nil, err
	}
	var zs []*zone.Zone
	for origin, name := range plan.server {
		if name != spec.Name {
			continue
		}
		z, err := zone.New(origin, plan.zones[origin].recs)
		if err != nil {
			return nil, fmt.Errorf("zone %s: %w", origin, err)
		}
		zs = append(zs, z)
	}
	sort.Slice(zs, func(i, j int) bool { return zs[i].Origin < zs[j].Origin })
	auth := zone.NewAuthority(zs...)
	logger := env.Logger.With("service", spec.Name)
	s := &dnsAuth{spec: spec, env: env, addr: env.Addr(spec), zones: zs}
	if secret := spec.Args["registrar-key"]; secret != "" {
		// The textbook's registrar: whoever holds the lab's key may add a
		// domain's NS and glue to this TLD with RFC 2136 UPDATE.
		key, err := dns.ParseTSIGKey(registrarKeyName + ":" + secret)
		if err != nil {
			return nil, err
		}
		(&zone.Primary{Keys: []*dns.TSIGKey{key}, Logger: logger}).Attach(auth)
		s.key = secret
	}
	s.srv = &dns.Server{Handler: auth, UDPBatch: 16, Logger: logger, Trace: env.Trace}
	return s, nil
}

// registrarKeyName names the lab's registrar key. Its secret is a
// throw-away lab credential, printed in the try line like the mail
// servers' passwords.
const registrarKeyName = "registrar"

func (s *dnsAuth) Bind(ctx context.Context) ([]Endpoint, error) {
	var err error
	if s.pc, s.l, err = bindBoth(ctx, s.addr); err != nil {
		return nil, err
	}
	host, port, _ := net.SplitHostPort(s.addr)
	var names []string
	for _, z := range s.zones {
		names = append(names, z.Origin)
	}
	if len(names) == 0 {
		names = []string{"(no zones)"}
	}
	try := "dig @" + host + " -p " + port + " +norec " + names[0] + " SOA"
	if names[0] == "." {
		// The root answers with a referral: the first step of the walk.
		try = "dig @" + host + " -p " + port + " +norec www.exotiquecuisine.com"
	}
	eps := []Endpoint{{Service: s.spec.Name, Proto: "dns " + strings.Join(names, " "), Addr: s.addr, Try: try}}
	if s.key != "" && len(s.zones) > 0 {
		tld := strings.TrimSuffix(s.zones[0].Origin, ".")
		eps = append(eps, Endpoint{Service: s.spec.Name, Proto: "dns update", Addr: s.addr, Try: fmt.Sprintf(
			`printf 'server %s %s\nzone %s\nupdate add newschool.%s. 300 NS ns.newschool.%s.\nupdate add ns.newschool.%s. 300 A 127.0.53.30\nsend\n' | nsupdate -y hmac-sha256:%s:%s && dig @%s -p %s www.newschool.%s`,
			host, port, tld, tld, tld, tld, registrarKeyName, s.key, labResolverHost, port, tld)})
	}
	return eps, nil
}

func (s *dnsAuth) Serve() error { return s.srv.ServeBoth(s.l, s.pc) }

func (s *dnsAuth) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	closeBoth(s.pc, s.l)
	return err
}

// dnsResolver is the lab's local DNS server.
type dnsResolver struct {
	spec   Spec
	env    *Env
	addr   string
	sample string
	stype  dns.Type
	srv    *dns.Server
	l      net.Listener
	pc     net.PacketConn
}

func newDNSResolver(spec Spec, env *Env) (Service, error) {
	hints := RootHints()
	// Point the hints at wherever the topology puts the root.
	for _, s := range env.Topology.Services {
		if s.Kind == "dns-auth" && strings.TrimSpace(s.Args["zones"]) == "." {
			hints[1].Data = &dns.A{Addr: netip.MustParseAddr(s.Host)}
		}
	}
	sample, stype := "www.exotiquecuisine.com.", dns.TypeA
	if plan, err := planDNS(env.Topology); err == nil {
		sample, stype = plan.sample, plan.stype
	}
	r := &resolver.Resolver{Hints: hints, UpstreamPort: env.BasePort + 53, Logger: env.Logger.With("service", spec.Name), Trace: env.Trace}
	return &dnsResolver{spec: spec, env: env, addr: env.Addr(spec), sample: sample, stype: stype, srv: &dns.Server{
		Handler: r, UDPBatch: 16, Logger: env.Logger.With("service", spec.Name), Trace: env.Trace,
	}}, nil
}

func (s *dnsResolver) Bind(ctx context.Context) ([]Endpoint, error) {
	var err error
	if s.pc, s.l, err = bindBoth(ctx, s.addr); err != nil {
		return nil, err
	}
	host, port, _ := net.SplitHostPort(s.addr)
	name := strings.TrimSuffix(s.sample, ".") + " " + s.stype.String()
	root := net.JoinHostPort(labRootHost, port)
	for _, sp := range s.env.Topology.Services {
		if sp.Kind == "dns-auth" && strings.TrimSpace(sp.Args["zones"]) == "." {
			root = s.env.Addr(sp)
		}
	}
	return []Endpoint{
		{Service: s.spec.Name, Proto: "dns resolver", Addr: s.addr, Try: "dig @" + host + " -p " + port + " " + name},
		{Service: s.spec.Name, Proto: "dns resolver", Addr: s.addr, Try: s.env.Bin + " dns query +trace " + name + " @" + root},
	}, nil
}

func (s *dnsResolver) Serve() error { return s.srv.ServeBoth(s.l, s.pc) }

func (s *dnsResolver) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	closeBoth(s.pc, s.l)
	return err
}

func bindBoth(ctx context.Context, addr string) (net.PacketConn, net.Listener, error) {
	var lc net.ListenConfig
	pc, err := lc.ListenPacket(ctx, "udp", addr)
	if err != nil {
		return nil, nil, err
	}
	l, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		pc.Close()
		return nil, nil, err
	}
	return pc, l, nil
}

func closeBoth(pc net.PacketConn, l net.Listener) {
	if pc != nil {
		pc.Close()
	}
	if l != nil {
		l.Close()
	}
}
