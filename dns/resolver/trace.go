package resolver

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"strconv"
	"time"

	"github.com/applayer/applayer/dns"
)

// Step is one query of a traced walk: which server was asked, about which
// zone, and what it said.
type Step struct {
	Zone   string // the zone whose server was asked ("." for the root)
	Server string // its name
	Addr   string // host:port asked
	Resp   *dns.Response
	Err    error
}

// Tracer walks from the root to the answer itself, as `dig +trace` does,
// reporting each step: the textbook's iterative query made visible.
type Tracer struct {
	// Hints are the root name servers and their addresses.
	Hints []dns.RR
	// Port is the port of every server (default 53).
	Port    int
	Timeout time.Duration // per query (default 2 s)
	TCP     bool
}

// Trace asks the root, then each referred zone's servers, for (name, t)
// until an answer, a negative answer or an error; report sees every step.
// Name servers without glue are resolved with a Resolver on the same hints.
func (tr *Tracer) Trace(ctx context.Context, name string, t dns.Type, report func(Step)) error {
	port := tr.Port
	if port == 0 {
		port = 53
	}
	zone := "."
	var servers []dns.RR
	addrs := map[string][]string{}
	for _, rr := range tr.Hints {
		switch d := rr.Data.(type) {
		case *dns.NS:
			servers = append(servers, rr)
		case *dns.A:
			k := dns.CanonicalName(rr.Name)
			addrs[k] = append(addrs[k], d.Addr.String())
		case *dns.AAAA:
			k := dns.CanonicalName(rr.Name)
			addrs[k] = append(addrs[k], d.Addr.String())
		}
	}
	var helper *Resolver
	name = dns.Fqdn(name)
	for hop := 0; hop <= MaxReferrals; hop++ {
		if len(servers) == 0 {
			return errors.New("trace: no name servers for " + zone)
		}
		// Pick a server at random among those we can reach.
		var resp *dns.Response
		var lastErr error
		for _, i := range rand.Perm(len(servers)) {
			host := servers[i].Data.(*dns.NS).Host
			ips := addrs[dns.CanonicalName(host)]
			if len(ips) == 0 {
				if helper == nil {
					helper = &Resolver{Hints: tr.Hints, UpstreamPort: port}
				}
				res, err := helper.Resolve(ctx, host, dns.TypeA)
				if err == nil {
					for _, rr := range res.Answer {
						if a, ok := rr.Data.(*dns.A); ok {
							ips = append(ips, a.Addr.String())
						}
					}
				}
			}
			for _, ip := range ips {
				addr := net.JoinHostPort(ip, strconv.Itoa(port))
				q := new(dns.Msg).SetQuestion(0, name, t).SetEDNS(dns.DefaultEDNSSize)
				q.RecursionDesired = false
				c := &dns.Client{Timeout: tr.Timeout, TCP: tr.TCP}
				r, err := c.Exchange(ctx, q, addr)
				report(Step{Zone: zone, Server: host, Addr: addr, Resp: r, Err: err})
				if err == nil {
					resp = r
					break
				}
				lastErr = err
			}
			if resp != nil {
				break
			}
		}
		if resp == nil {
			if lastErr == nil {
				lastErr = errors.New("no address for any name server")
			}
			return errors.New("trace: no server for " + zone + " answered: " + lastErr.Error())
		}
		m := resp.Msg
		if len(m.Answer) > 0 || m.Rcode != dns.RcodeSuccess || m.Authoritative {
			return nil
		}
		// Follow the referral, keeping glue in the zone's bailiwick.
		var next []dns.RR
		cut := ""
		for _, rr := range m.Authority {
			if rr.Type == dns.TypeNS && dns.IsSubdomain(name, rr.Name) && dns.IsSubdomain(rr.Name, zone) && !dns.EqualNames(rr.Name, zone) {
				if cut == "" || dns.EqualNames(rr.Name, cut) {
					cut = rr.Name
					next = append(next, rr)
				}
			}
		}
		if cut == "" {
			return errors.New("trace: " + zone + " server gave neither an answer nor a referral")
		}
		for _, rr := range m.Additional {
			if !dns.IsSubdomain(rr.Name, zone) {
				continue
			}
			k := dns.CanonicalName(rr.Name)
			switch d := rr.Data.(type) {
			case *dns.A:
				addrs[k] = append(addrs[k], d.Addr.String())
			case *dns.AAAA:
				addrs[k] = append(addrs[k], d.Addr.String())
			}
		}
		zone, servers = cut, next
	}
	return ErrLoop
}
