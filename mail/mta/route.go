package mta

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/applayer/applayer/internal/stubresolver"
	"github.com/applayer/applayer/mail/smtp"
)

// Resolver is the part of DNS the MTA needs. *net.Resolver satisfies it;
// so does StaticResolver. A name that does not exist (or has no records of
// the type) must be reported as a *net.DNSError with IsNotFound set, which
// is how a missing MX is told from a DNS failure.
type Resolver interface {
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// DNSResolver returns a Resolver that asks the DNS server at addr
// (host:port) over UDP, then TCP for truncated answers, using the standard
// library's stub resolver. With addr "" it uses the system's resolver.
func DNSResolver(addr string) Resolver {
	if addr == "" {
		return net.DefaultResolver
	}
	return stubresolver.At(addr)
}

// hop is one address to try for a domain.
type hop struct {
	Host string // the exchanger's name, for logs and DSNs
	Addr string // ip:port
}

// routeError is a failure to find where a domain's mail goes.
type routeError struct {
	reply *smtp.Reply
}

func (e *routeError) Error() string { return e.reply.Error() }

func notFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

// maxAddresses bounds the addresses tried for one domain in one attempt
// (Postfix's smtp_mx_address_limit): a domain that publishes dozens of
// unreachable exchangers must not hold a delivery slot for hours.
const maxAddresses = 5

// route returns the addresses to try for domain, best first (RFC 5321
// section 5.1). Temporary DNS trouble is a 4xx routeError, a domain that
// cannot receive mail a 5xx one.
func route(ctx context.Context, r Resolver, domain string, port int) ([]hop, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if strings.HasPrefix(domain, "[") {
		// An address literal names the host directly (section 4.1.3).
		lit := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(domain, "["), "IPv6:"), "]")
		ip, err := netip.ParseAddr(lit)
		if err != nil {
			return nil, &routeError{smtp.R(553, smtp.CodeBadDomain, "bad address literal "+domain)}
		}
		return []hop{{Host: domain, Addr: net.JoinHostPort(ip.String(), strconv.Itoa(port))}}, nil
	}
	mxs, err := r.LookupMX(ctx, domain)
	var hosts []string
	switch {
	case err != nil && notFound(err):
		// No MX: the domain itself is the implicit MX (section 5.1).
		hosts = []string{domain}
	case err != nil:
		return nil, &routeError{smtp.R(451, smtp.CodeRouting, "MX lookup for "+domain+" failed: "+err.Error())}
	case len(mxs) == 0:
		hosts = []string{domain}
	case len(mxs) == 1 && (mxs[0].Host == "." || mxs[0].Host == ""):
		// RFC 7505 section 3: a null MX says the domain takes no mail.
		return nil, &routeError{smtp.R(556, smtp.CodeNullMX, domain+" does not accept mail (null MX)")}
	default:
		sort.SliceStable(mxs, func(i, j int) bool { return mxs[i].Pref < mxs[j].Pref })
		// Equal preferences are tried in random order (section 5.1).
		for i := 0; i < len(mxs); {
			j := i
			for j < len(mxs) && mxs[j].Pref == mxs[i].Pref {
				j++
			}
			group := mxs[i:j]
			rand.Shuffle(len(group), func(a, b int) { group[a], group[b] = group[b], group[a] })
			i = j
		}
		for _, mx := range mxs {
			if mx.Host != "." {
				hosts = append(hosts, strings.TrimSuffix(mx.Host, "."))
			}
		}
	}
	var hops []hop
	var lastErr error
	allNotFound := true
	for _, h := range hosts {
		if len(hops) >= maxAddresses {
			break
		}
		ips, err := r.LookupIPAddr(ctx, h)
		if err != nil {
			lastErr = err
			allNotFound = allNotFound && notFound(err)
			continue
		}
		allNotFound = false
		for _, ip := range ips {
			if len(hops) < maxAddresses {
				hops = append(hops, hop{Host: h, Addr: net.JoinHostPort(ip.IP.String(), strconv.Itoa(port))})
			}
		}
	}
	if len(hops) == 0 {
		if allNotFound {
			return nil, &routeError{smtp.R(550, smtp.CodeBadDomain, "no mail exchanger or address for "+domain)}
		}
		return nil, &routeError{smtp.R(451, smtp.CodeRouting, fmt.Sprintf("address lookup for %s failed: %v", domain, lastErr))}
	}
	return hops, nil
}

// routeCacheTTL is how long a domain's route is reused. The stub
// resolvers behind Resolver do not cache, and a busy queue relays many
// messages to the same domain.
const routeCacheTTL = 30 * time.Second

// routeCache remembers the routes of recent domains, and the permanent
// failures (a null MX, a domain that does not exist); temporary failures
// are not remembered. The zero value is ready to use.
type routeCache struct {
	mu sync.Mutex
	m  map[string]cachedRoute
}

type cachedRoute struct {
	hops    []hop
	err     error
	expires time.Time
}

func (c *routeCache) get(ctx context.Context, r Resolver, domain string, port int) ([]hop, error) {
	now := time.Now()
	c.mu.Lock()
	e, ok := c.m[domain]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.hops, e.err
	}
	hops, err := route(ctx, r, domain, port)
	var re *routeError
	if err == nil || errors.As(err, &re) && re.reply.Permanent() {
		c.mu.Lock()
		if c.m == nil || len(c.m) > 10000 {
			c.m = map[string]cachedRoute{}
		}
		c.m[domain] = cachedRoute{hops: hops, err: err, expires: now.Add(routeCacheTTL)}
		c.mu.Unlock()
	}
	return hops, err
}

// StaticResolver answers from a fixed set of records: the lab uses it when
// no DNS service runs. The zero value knows nothing.
type StaticResolver struct {
	MX map[string][]*net.MX // lower-case name without trailing dot
	IP map[string][]net.IPAddr
}

// ParseRecords builds a StaticResolver from zone-file lines with absolute
// names ("hamburger.edu. 300 IN MX 10 mail.hamburger.edu.",
// "mail.hamburger.edu. 300 IN A 127.0.25.2"); other types are ignored.
func ParseRecords(lines []string) (*StaticResolver, error) {
	s := &StaticResolver{MX: map[string][]*net.MX{}, IP: map[string][]net.IPAddr{}}
	for _, line := range lines {
		sc := bufio.NewScanner(strings.NewReader(line))
		sc.Split(bufio.ScanWords)
		var f []string
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), ";") {
				break
			}
			f = append(f, sc.Text())
		}
		if len(f) == 0 {
			continue
		}
		name := strings.ToLower(strings.TrimSuffix(f[0], "."))
		rest := f[1:]
		// Optional TTL and class, in either order.
		for len(rest) > 0 {
			if _, err := strconv.Atoi(rest[0]); err == nil || strings.EqualFold(rest[0], "IN") {
				rest = rest[1:]
				continue
			}
			break
		}
		if len(rest) < 2 {
			return nil, fmt.Errorf("mta: bad record %q", line)
		}
		switch strings.ToUpper(rest[0]) {
		case "MX":
			if len(rest) != 3 {
				return nil, fmt.Errorf("mta: bad MX record %q", line)
			}
			pref, err := strconv.ParseUint(rest[1], 10, 16)
			if err != nil {
				return nil, fmt.Errorf("mta: bad MX preference in %q", line)
			}
			host := rest[2]
			if host != "." {
				host = strings.ToLower(strings.TrimSuffix(host, "."))
			}
			s.MX[name] = append(s.MX[name], &net.MX{Host: host, Pref: uint16(pref)})
		case "A", "AAAA":
			ip := net.ParseIP(rest[1])
			if ip == nil {
				return nil, fmt.Errorf("mta: bad address in %q", line)
			}
			s.IP[name] = append(s.IP[name], net.IPAddr{IP: ip})
		}
	}
	return s, nil
}

// LookupMX implements Resolver.
func (s *StaticResolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	mx := s.MX[strings.ToLower(strings.TrimSuffix(name, "."))]
	if len(mx) == 0 {
		return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
	}
	out := make([]*net.MX, len(mx))
	for i, m := range mx {
		c := *m
		out[i] = &c
	}
	return out, nil
}

// LookupIPAddr implements Resolver.
func (s *StaticResolver) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	ips := s.IP[strings.ToLower(strings.TrimSuffix(host, "."))]
	if len(ips) == 0 {
		if ip := net.ParseIP(host); ip != nil {
			return []net.IPAddr{{IP: ip}}, nil
		}
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return append([]net.IPAddr(nil), ips...), nil
}
