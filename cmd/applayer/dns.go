package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/applayer/applayer/dns"
	"github.com/applayer/applayer/dns/resolver"
	"github.com/applayer/applayer/dns/zone"
	"github.com/applayer/applayer/internal/netprefix"
	"github.com/applayer/applayer/lab"
	"github.com/spf13/cobra"
)

func newDNSCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "dns",
		Short: "DNS: authoritative server, iterative resolver, zone checker and a dig-like query client",
	}
	c.AddCommand(newDNSServeCmd(g), newDNSCheckCmd(), newDNSQueryCmd(g), newDNSResolveCmd(g))
	return c
}

func newDNSCheckCmd() *cobra.Command {
	var origin string
	return &cobra.Command{
		Use:   "check ZONEFILE...",
		Short: "Check zone files (RFC 1035 master files) and report errors with file and line",
		Long: `Parse each zone file as the authoritative server would and print its origin,
record count and SOA serial, or the first error as FILE:LINE: message. The
origin is the file's $ORIGIN or the owner of its SOA record. A name that
looks like a relative name missing its trailing dot (ns1.example.com in
zone example.com. becomes ns1.example.com.example.com.) is warned about.`,
		Example: exampleLines("applayer dns check example.com.zone", "applayer dns check *.zone"),
		Args:    cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			bad := 0
			for _, f := range args {
				z, err := zone.LoadFile(f, origin)
				if err != nil {
					fmt.Fprintln(c.ErrOrStderr(), err)
					bad++
					continue
				}
				for _, w := range zoneWarnings(z.Origin, z.Records()) {
					fmt.Fprintf(c.ErrOrStderr(), "%s: warning: %s\n", f, w)
				}
				fmt.Fprintf(c.OutOrStdout(), "%s: zone %s, %d records, serial %d: OK\n", f, z.Origin, len(z.Records()), z.Serial())
			}
			if bad > 0 {
				return fmt.Errorf("dns check: %d of %d zone files have errors", bad, len(args))
			}
			return nil
		},
	}
}

func newDNSServeCmd(g *globals) *cobra.Command {
	var (
		zones, keys, secondaries, allowXfr []string
		maxConns, perClient                int
		notify                             []string
		listen, primary, secondaryDir      string
	)
	c := &cobra.Command{
		Use:   "serve --zone FILE [--zone FILE...] [--listen 127.0.0.1:5300] [--tsig-key NAME:SECRET]",
		Short: "Serve zones authoritatively over UDP and TCP",
		Long: `Serve the zones in the given files, authoritatively, over UDP and TCP on one
address: AA on answers, NXDOMAIN and NODATA with the zone's SOA, CNAME chains
followed inside the zone, referrals with glue for delegated names, the
addresses of MX, NS and SRV targets in the additional section, rotated
RRsets, TC when an answer does not fit the client's UDP size (the full answer
over TCP), REFUSED for names outside the zones.

A broken zone file stops the server before it starts, with FILE:LINE.

With --tsig-key (as tsig-keygen prints it: NAME:BASE64SECRET), registrars
may change the zones with RFC 2136 UPDATE messages signed by that key
(nsupdate -y hmac-sha256:NAME:SECRET): each accepted update bumps the SOA
serial and is written to the zone file before it is acknowledged. Zones are
given to secondaries by AXFR over TCP (loopback clients, --allow-transfer
networks, or any client that signs with a key).

With --secondary-of ADDR, each --secondary ZONE is loaded from that primary
by AXFR and refreshed on its SOA timers, or at once when the primary sends a
NOTIFY (give the primary --notify with the secondary's address).`,
		Example: exampleLines("applayer dns serve --zone example.com.zone",
			"applayer dns serve --zone a.zone --zone b.zone --listen 127.0.0.1:5300 --trace",
			"dig @127.0.0.1 -p 5300 www.example.com",
			"applayer dns serve --zone example.com.zone --tsig-key update-key:$(head -c32 /dev/urandom | base64)",
			"applayer dns serve --zone example.com.zone --tsig-key update-key:SECRET --notify 127.0.0.2:5300",
			"applayer dns serve --listen 127.0.0.2:5300 --secondary-of 127.0.0.1:5300 --secondary example.com"),
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if len(zones) == 0 && len(secondaries) == 0 {
				return errors.New("dns serve: give at least one --zone FILE (or --secondary ZONE with --secondary-of)")
			}
			if len(secondaries) > 0 && primary == "" {
				return errors.New("dns serve: --secondary needs --secondary-of ADDR")
			}
			logger, err := g.logger()
			if err != nil {
				return err
			}
			var zs []*zone.Zone
			for _, f := range zones {
				z, err := zone.LoadFile(f, "")
				if err != nil {
					return err
				}
				zs = append(zs, z)
			}
			auth := zone.NewAuthority(zs...)
			p := &zone.Primary{Files: map[string]string{}, Logger: logger}
			for i, z := range zs {
				p.Files[z.Origin] = zones[i]
			}
			for _, k := range keys {
				key, err := dns.ParseTSIGKey(k)
				if err != nil {
					return fmt.Errorf("dns serve: --tsig-key: %w", err)
				}
				p.Keys = append(p.Keys, key)
			}
			for _, a := range allowXfr {
				pfx, err := netprefix.Parse(a)
				if err != nil {
					return fmt.Errorf("dns serve: --allow-transfer: %w", err)
				}
				p.AllowTransfer = append(p.AllowTransfer, pfx)
			}
			if len(p.AllowTransfer) > 0 {
				p.AllowTransfer = append(p.AllowTransfer, netprefix.Loopback()...)
			}
			p.Notify = notify
			p.Attach(auth)
			ctx, cancel := signalContext()
			defer cancel()
			var key *dns.TSIGKey
			if len(p.Keys) > 0 {
				key = p.Keys[0]
			}
			var secs []*zone.Secondary
			for _, name := range secondaries {
				sec := &zone.Secondary{Origin: dns.Fqdn(name), Primary: primary, Key: key, Authority: auth, Logger: logger}
				if secondaryDir != "" {
					sec.File = secondaryDir + "/" + strings.TrimSuffix(dns.Fqdn(name), ".") + ".zone"
				}
				if _, err := sec.Load(ctx); err != nil {
					return fmt.Errorf("dns serve: secondary %s: %w", name, err)
				}
				secs = append(secs, sec)
			}
			if len(secs) > 0 {
				auth.Notifies = zone.Notifies(secs)
			}
			srv := &dns.Server{Addr: listen, Handler: auth, UDPBatch: 32, MaxConns: maxConns, MaxConnsPerClient: perClient, Logger: logger, Trace: g.recorder(os.Stderr)}
			pc, l, err := listenBoth(listen)
			if err != nil {
				return err
			}
			for _, z := range auth.Zones() {
				logger.Info("dns: serving zone", "zone", z.Origin, "serial", z.Serial(), "records", len(z.Records()))
			}
			for _, sec := range secs {
				go sec.Run(ctx)
			}
			logger.Info("dns: listening", "addr", pc.LocalAddr().String(), "updates", len(p.Keys) > 0)
			return serveUntilSignal(func() error { return srv.ServeBoth(l, pc) }, srv.Shutdown, dns.ErrServerClosed)
		},
	}
	f := c.Flags()
	f.StringArrayVar(&zones, "zone", nil, "a zone file to serve (repeatable)")
	f.StringVar(&listen, "listen", "127.0.0.1:5300", "UDP and TCP address to serve on")
	f.StringArrayVar(&keys, "tsig-key", nil, "accept UPDATE signed with this HMAC-SHA256 key, NAME:BASE64SECRET (repeatable)")
	f.StringArrayVar(&allowXfr, "allow-transfer", nil, "network allowed to AXFR without a key, besides loopback, as CIDR (repeatable)")
	f.StringVar(&primary, "secondary-of", "", "primary server HOST:PORT to load --secondary zones from by AXFR")
	f.StringArrayVar(&secondaries, "secondary", nil, "a zone to serve as a secondary of --secondary-of (repeatable)")
	f.StringVar(&secondaryDir, "secondary-dir", "", "directory where each transferred secondary zone is saved")
	f.StringArrayVar(&notify, "notify", nil, "secondary HOST:PORT to send a NOTIFY after each accepted update (repeatable)")
	limitFlags(f, &maxConns, &perClient, "TCP connections", "")
	g.addTrace(c)
	return c
}

// listenBoth binds UDP and TCP on one address.
func listenBoth(addr string) (net.PacketConn, net.Listener, error) {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, nil, err
	}
	l, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		pc.Close()
		return nil, nil, err
	}
	return pc, l, nil
}

func newDNSResolveCmd(g *globals) *cobra.Command {
	var (
		listen, hintsFile string
		allow, forward    []string
		upstreamPort      int
		cacheSize         int
		maxConns          int
		perClient         int
		timeout           time.Duration
	)
	c := &cobra.Command{
		Use:   "resolve [--listen 127.0.0.1:5301] [--root-hints FILE] [--upstream-port N]",
		Short: "Run a caching, iterative resolver: the textbook's local DNS server",
		Long: `Answer recursive queries by walking the hierarchy from the root hints (root,
then TLD, then authoritative), caching answers by TTL, negative answers by
the SOA minimum, and referrals, so later questions skip the root and the TLD.

Only loopback clients are served unless --allow adds networks; others get
REFUSED (never an open resolver). --forward sends questions to other
resolvers instead of iterating. Without --root-hints the hints name the lab's
root server, 127.0.53.1, asked on the lab's port 10053 (its base port + 53),
so that with 'applayer lab up' running the defaults just work; with
--root-hints every server is asked on port 53. The default port, 5301, is
one nothing common uses (5353 is mDNS's, taken by avahi on many desktops).
A question answered SERVFAIL is logged with its cause (at most one a
second).`,
		Example: exampleLines("applayer dns resolve",
			"dig @127.0.0.1 -p 5301 www.someschool.edu",
			"applayer dns resolve --root-hints named.root --listen 127.0.0.1:5301 --trace",
			"applayer dns resolve --forward 127.0.53.53:10053"),
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			logger, err := g.logger()
			if err != nil {
				return err
			}
			if !c.Flags().Changed("upstream-port") && hintsFile == "" {
				upstreamPort = labDNSPort
			}
			r := &resolver.Resolver{UpstreamPort: upstreamPort, CacheSize: cacheSize, Timeout: timeout, Logger: logger, Trace: g.recorder(os.Stderr), Forward: forward}
			if hintsFile != "" {
				if r.Hints, err = resolver.LoadHints(hintsFile); err != nil {
					return err
				}
			} else {
				r.Hints = lab.RootHints()
			}
			for _, a := range allow {
				p, err := netprefix.Parse(a)
				if err != nil {
					return fmt.Errorf("dns resolve: --allow: %w", err)
				}
				r.Allow = append(r.Allow, p)
			}
			if len(r.Allow) > 0 {
				r.Allow = append(r.Allow, netprefix.Loopback()...)
			}
			srv := &dns.Server{Handler: r, UDPBatch: 32, MaxConns: maxConns, MaxConnsPerClient: perClient, Logger: logger, Trace: g.recorder(os.Stderr)}
			pc, l, err := listenBoth(listen)
			if err != nil {
				return err
			}
			logger.Info("dns: resolver listening", "addr", pc.LocalAddr().String(), "upstream_port", r.UpstreamPort)
			err = serveUntilSignal(func() error { return srv.ServeBoth(l, pc) }, srv.Shutdown, dns.ErrServerClosed)
			logger.Info("dns: resolver stopped", "cached", r.CacheLen(), "cache_size", cacheSize, "upstream_queries", r.UpstreamQueries())
			return err
		},
	}
	f := c.Flags()
	f.StringVar(&listen, "listen", defaultResolveListen, "UDP and TCP address to serve on")
	f.StringVar(&hintsFile, "root-hints", "", "root hints file (NS records for . and their addresses); default: the lab's root, 127.0.53.1")
	f.IntVar(&upstreamPort, "upstream-port", 53, "port of every name server the resolver asks (default with the lab's root: 10053)")
	f.StringArrayVar(&allow, "allow", nil, "client network to serve besides loopback, as CIDR (repeatable)")
	f.StringArrayVar(&forward, "forward", nil, "forward questions to this resolver, HOST:PORT, instead of iterating (repeatable)")
	f.IntVar(&cacheSize, "cache-size", resolver.DefaultCacheSize, "most RRsets and negative answers kept in the cache")
	f.DurationVar(&timeout, "timeout", 800*time.Millisecond, "how long to wait for one name server before trying the next")
	limitFlags(f, &maxConns, &perClient, "TCP connections", "")
	g.addTrace(c)
	return c
}

func newDNSQueryCmd(g *globals) *cobra.Command {
	var (
		port         int
		timeout      time.Duration
		hintsFile    string
		upstreamPort int
	)
	c := &cobra.Command{
		Use:   "query NAME [TYPE] [@SERVER[:PORT]] [+tcp] [+norecurse] [+trace] [+short]",
		Short: "Ask a DNS server a question and print the answer the way dig does",
		Long: `Send one query and print the whole answer like dig: header, flags, and the
question, answer, authority and additional sections. TYPE defaults to A;
SERVER defaults to the lab's local resolver, 127.0.53.53 port 10053 (@system
asks the first nameserver of /etc/resolv.conf instead).

+tcp asks over TCP; +norecurse clears RD; +short prints only the answers'
data; +trace walks from the root itself,
printing each server asked and its answer: the root (from --root-hints, or
@SERVER, or the lab's root 127.0.53.1), then the TLD, then the authoritative
server. With +trace, every server is asked on --upstream-port, else
@SERVER's port, else the lab's 10053 when the walk starts at the lab's root,
else 53.`,
		Example: exampleLines("applayer dns query www.example.com @127.0.0.1:5300",
			"applayer dns query example.com MX @127.0.0.1 -p 5300 +norecurse",
			"applayer dns query +trace www.someschool.edu @127.0.53.1:10053",
			"applayer dns query www.someschool.edu @127.0.53.53:10053"),
		Args: cobra.RangeArgs(1, 6),
		RunE: func(c *cobra.Command, args []string) error {
			q, err := parseQueryArgs(args)
			if err != nil {
				return err
			}
			if c.Flags().Changed("port") {
				if port < 1 || port > 65535 {
					return fmt.Errorf("dns query: bad port %d", port)
				}
				q.port = port
			}
			out := c.OutOrStdout()
			ctx, cancel := signalContext()
			defer cancel()
			rec := g.recorder(c.ErrOrStderr())
			if q.trace {
				tr := &resolver.Tracer{Port: upstreamPort, Timeout: timeout, TCP: q.tcp}
				switch {
				case hintsFile != "":
					if tr.Hints, err = resolver.LoadHints(hintsFile); err != nil {
						return err
					}
				case q.server != "":
					tr.Hints = []dns.RR{
						{Name: ".", Type: dns.TypeNS, Class: dns.ClassIN, TTL: 3600, Data: &dns.NS{Host: q.server + "."}},
					}
					ip, err := netip.ParseAddr(q.server)
					if err != nil {
						return fmt.Errorf("dns query: +trace needs @SERVER as an IP address, not %q", q.server)
					}
					tr.Hints = append(tr.Hints, addrRR(q.server+".", ip))
					if q.port != 0 {
						tr.Port = q.port
					}
				default:
					tr.Hints = lab.RootHints()
					if tr.Port == 0 {
						tr.Port = labDNSPort
					}
				}
				if tr.Port == 0 {
					tr.Port = 53
				}
				fmt.Fprintf(out, "; <<>> applayer dns query <<>> +trace %s %s\n", q.name, q.typ)
				return tr.Trace(ctx, q.name, q.typ, func(s resolver.Step) { printStep(out, s) })
			}
			q.server, q.port = queryTarget(q.server, q.port)
			addr := net.JoinHostPort(q.server, strconv.Itoa(q.port))
			m := new(dns.Msg).SetQuestion(0, q.name, q.typ).SetEDNS(dns.DefaultEDNSSize)
			m.RecursionDesired = !q.norec
			cl := &dns.Client{TCP: q.tcp, Timeout: timeout, Trace: rec}
			if !q.short {
				fmt.Fprintf(out, "; <<>> applayer dns query <<>> %s %s @%s\n", q.name, q.typ, addr)
			}
			resp, err := cl.Exchange(ctx, m, addr)
			if err != nil {
				if errors.Is(err, dns.ErrTimeout) {
					return fmt.Errorf("no answer from %s within %v", addr, timeout)
				}
				return err
			}
			if q.short {
				for _, rr := range resp.Msg.Answer {
					fmt.Fprintln(out, rr.Data.String())
				}
				return nil
			}
			fmt.Fprintln(out, ";; Got answer:")
			fmt.Fprint(out, resp.Msg.String())
			proto := "UDP"
			if resp.TCP {
				proto = "TCP"
			}
			fmt.Fprintf(out, "\n;; Query time: %d msec\n;; SERVER: %s#%d(%s) (%s)\n;; WHEN: %s\n;; MSG SIZE  rcvd: %d\n\n",
				resp.RTT.Milliseconds(), q.server, q.port, q.server, proto, time.Now().Format(time.RFC1123), resp.Size)
			return nil
		},
	}
	f := c.Flags()
	f.IntVarP(&port, "port", "p", 53, "server port (also @SERVER:PORT)")
	f.DurationVar(&timeout, "timeout", 2*time.Second, "how long to wait for an answer")
	f.StringVar(&hintsFile, "root-hints", "", "+trace: root hints file")
	f.IntVar(&upstreamPort, "upstream-port", 0, "+trace: port of every server asked (default @SERVER's port, else 53)")
	g.addTrace(c)
	return c
}

func addrRR(name string, ip netip.Addr) dns.RR {
	if ip.Is4() {
		return dns.RR{Name: name, Type: dns.TypeA, Class: dns.ClassIN, TTL: 3600, Data: &dns.A{Addr: ip}}
	}
	return dns.RR{Name: name, Type: dns.TypeAAAA, Class: dns.ClassIN, TTL: 3600, Data: &dns.AAAA{Addr: ip}}
}

type queryArgs struct {
	name              string
	typ               dns.Type
	server            string
	port              int
	tcp, norec, trace bool
	short             bool
}

// parseQueryArgs reads dig-style arguments in any order.
func parseQueryArgs(args []string) (*queryArgs, error) {
	q := &queryArgs{typ: dns.TypeA}
	haveType := false
	for _, a := range args {
		switch {
		case strings.HasPrefix(a, "@"):
			s := a[1:]
			if s == "" {
				return nil, fmt.Errorf("dns query: @ needs a server, as in @127.0.0.1:5300")
			}
			if h, p, err := net.SplitHostPort(s); err == nil {
				n, err := strconv.Atoi(p)
				if err != nil || n < 1 || n > 65535 {
					return nil, fmt.Errorf("dns query: bad port in %q", a)
				}
				s, q.port = h, n
			}
			q.server = s
		case strings.HasPrefix(a, "+"):
			switch strings.ToLower(a) {
			case "+tcp", "+vc":
				q.tcp = true
			case "+norecurse", "+norec":
				q.norec = true
			case "+trace":
				q.trace = true
			case "+short":
				q.short = true
			default:
				return nil, fmt.Errorf("dns query: unknown option %s (want +tcp, +norecurse, +trace or +short)", a)
			}
		default:
			if t, ok := dns.ParseType(a); ok && q.name != "" && !haveType {
				q.typ, haveType = t, true
				continue
			}
			if q.name != "" {
				if t, ok := dns.ParseType(a); ok && !haveType {
					q.typ, haveType = t, true
					continue
				}
				return nil, fmt.Errorf("dns query: unexpected argument %q", a)
			}
			if err := dns.CheckName(a); err != nil {
				return nil, fmt.Errorf("dns query: %q is not a domain name: %v", a, err)
			}
			q.name = dns.Fqdn(a)
		}
	}
	if q.name == "" {
		return nil, errors.New("dns query: give a NAME to look up")
	}
	return q, nil
}

// defaultNameserver returns the first nameserver of /etc/resolv.conf, or
// 127.0.0.1.
// The lab's DNS on its default base port: every server, and the local
// resolver at labResolverHost, listens on labDNSPort.
const (
	labDNSPort      = lab.DefaultBasePort + 53
	labResolverHost = "127.0.53.53"
	// defaultResolveListen is dns resolve's address: a port nothing common
	// uses (5353 is mDNS's, which avahi holds on many desktops).
	defaultResolveListen = "127.0.0.1:5301"
)

// queryTarget is where dns query sends its question: @SERVER[:PORT] as
// given, by default the lab's resolver, and "@system" for the first
// nameserver of /etc/resolv.conf.
func queryTarget(server string, port int) (string, int) {
	switch server {
	case "":
		server = labResolverHost
		if port == 0 {
			port = labDNSPort
		}
	case "system":
		server = defaultNameserver()
	}
	if port == 0 {
		port = 53
	}
	return server, port
}

func defaultNameserver() string {
	b, err := os.ReadFile("/etc/resolv.conf")
	if err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) >= 2 && f[0] == "nameserver" {
				return f[1]
			}
		}
	}
	return "127.0.0.1"
}

// printStep prints one server's answer in a +trace walk, as dig does.
func printStep(out io.Writer, s resolver.Step) {
	if s.Err != nil {
		fmt.Fprintf(out, ";; %s (%s) for zone %s: %v\n\n", s.Server, s.Addr, s.Zone, s.Err)
		return
	}
	m := s.Resp.Msg
	server := s.Server
	if _, err := netip.ParseAddr(strings.TrimSuffix(server, ".")); err == nil {
		server = "the root hint" // +trace @IP: the server has no name
	}
	fmt.Fprintf(out, ";; asked %s (%s), a server for zone %s: %s, flags: %s\n", server, s.Addr, s.Zone, m.Rcode, m.FlagString())
	for _, sec := range [][]dns.RR{m.Answer, m.Authority, m.Additional} {
		for _, rr := range sec {
			fmt.Fprintln(out, rr.String())
		}
	}
	fmt.Fprintf(out, ";; Received %d bytes from %s in %d ms\n\n", s.Resp.Size, s.Addr, s.Resp.RTT.Milliseconds())
}

// commonTLDs are the last labels that make a relative name in a zone file
// look like an absolute one missing its trailing dot.
var commonTLDs = map[string]bool{"com": true, "net": true, "org": true, "edu": true, "gov": true, "int": true,
	"arpa": true, "io": true, "fr": true, "de": true, "uk": true, "cn": true, "jp": true, "nl": true, "eu": true}

// zoneWarnings names the owners and targets that probably lack their
// trailing dot: the origin twice at the end (ns1.example.com.example.com.),
// or a common TLD just before the origin (mail.other.org.example.com.).
func zoneWarnings(origin string, rrs []dns.RR) []string {
	origin = strings.ToLower(origin)
	doubled := strings.TrimSuffix(origin, ".") + "." + origin
	suspect := func(name string) bool {
		name = strings.ToLower(name)
		if name == doubled || strings.HasSuffix(name, "."+doubled) {
			return true
		}
		rel, ok := strings.CutSuffix(name, "."+origin)
		if !ok {
			return false
		}
		labels := strings.Split(rel, ".")
		return len(labels) > 1 && commonTLDs[labels[len(labels)-1]]
	}
	var out []string
	seen := map[string]bool{}
	add := func(name, what string) {
		if suspect(name) && !seen[name+what] {
			seen[name+what] = true
			out = append(out, fmt.Sprintf("%s (%s) looks like a relative name that lacks its trailing dot", name, what))
		}
	}
	for _, rr := range rrs {
		add(rr.Name, "owner of "+rr.Type.String())
		target := dns.Target(rr.Data)
		if target != "" {
			add(target, rr.Type.String()+" target of "+rr.Name)
		}
	}
	return out
}
