package resolver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/applayer/applayer/dns"
	"github.com/applayer/applayer/internal/transcript"
)

// Limits on one resolution (a bound on every loop a stranger's data could
// drive).
const (
	MaxReferrals = 20 // referrals followed for one name
	MaxCNAME     = 8  // CNAMEs followed from the question
	MaxDepth     = 4  // nested resolutions of name-server names
	MaxQueries   = 64 // upstream queries for one client question
)

// Errors of a resolution; a client sees SERVFAIL.
var (
	ErrNoServers   = errors.New("resolver: no name server answered")
	ErrLoop        = errors.New("resolver: referral or CNAME limit reached")
	ErrTooManyWork = errors.New("resolver: too many upstream queries for one question")
)

// Resolver is an iterative, caching resolver: the textbook's local DNS
// server. Its exported fields are configuration; the zero value iterates
// from Hints on port 53.
type Resolver struct {
	// Hints are the root name servers: NS records for "." and their
	// addresses (a root hints file). Empty means none: set them, or
	// Forward.
	Hints []dns.RR
	// Forward, when set, sends every question with RD to these servers
	// (host:port) instead of iterating.
	Forward []string
	// UpstreamPort is the port of every name server asked (default 53),
	// so that a whole hierarchy can run on a high port.
	UpstreamPort int
	// Timeout bounds one upstream query before the next server is tried
	// (default 800 ms); ResolveTimeout bounds a whole question (default 5 s).
	Timeout        time.Duration
	ResolveTimeout time.Duration
	// CacheSize bounds the cached RRsets and negative answers (default
	// DefaultCacheSize).
	CacheSize int
	// MaxTTL caps cached TTLs (default one day); MaxNegativeTTL caps
	// negative answers (default 3 hours, RFC 2308 §5).
	MaxTTL, MaxNegativeTTL uint32
	// FailureTTL is how long a failed resolution is answered SERVFAIL from
	// the cache (default 5 seconds; RFC 2308 §7.1 allows up to 5 minutes).
	FailureTTL time.Duration
	// Allow lists the client networks served; others get REFUSED. Empty
	// means loopback only: never an open resolver.
	Allow  []netip.Prefix
	Logger *slog.Logger
	// Trace records every upstream query and answer, the walk the textbook
	// draws.
	Trace *transcript.Recorder

	once      sync.Once
	hintNS    []dns.RR                // the root's NS records, from Hints
	hintAddrs map[string][]netip.Addr // their addresses, by lowercase name
	cache     *cache
	mu        sync.Mutex
	inflight  map[string]*call
	// Upstream counts queries sent to other servers.
	upstream   atomic.Int64
	failLogged atomic.Int64 // when a SERVFAIL was last logged (UnixNano)
}

func (r *Resolver) init() {
	r.once.Do(func() {
		r.cache = newCache(r.CacheSize)
		r.inflight = make(map[string]*call)
		// The hints are kept apart from the cache: neither eviction nor an
		// expired answer for ". NS" may leave the resolver without a way
		// to the root.
		r.hintAddrs = map[string][]netip.Addr{}
		for _, rr := range r.Hints {
			switch d := rr.Data.(type) {
			case *dns.NS:
				if rr.Name == "." {
					r.hintNS = append(r.hintNS, rr)
				}
			case *dns.A:
				k := dns.CanonicalName(rr.Name)
				r.hintAddrs[k] = append(r.hintAddrs[k], d.Addr)
			case *dns.AAAA:
				k := dns.CanonicalName(rr.Name)
				r.hintAddrs[k] = append(r.hintAddrs[k], d.Addr)
			}
		}
	})
}

// UpstreamQueries returns how many queries the resolver has sent.
func (r *Resolver) UpstreamQueries() int64 { return r.upstream.Load() }

// CacheLen returns the number of cached RRsets and negative answers.
func (r *Resolver) CacheLen() int { r.init(); return r.cache.Len() }

// logFailure says why a query is answered SERVFAIL, at most once a second,
// so that a flood of failing names cannot flood the log.
func (r *Resolver) logFailure(name string, t dns.Type, err error) {
	now, last := time.Now().UnixNano(), r.failLogged.Load()
	if now-last < int64(time.Second) || !r.failLogged.CompareAndSwap(last, now) {
		return
	}
	r.logger().Warn("resolver: answering SERVFAIL", "name", name, "type", t.String(), "err", err)
}

func (r *Resolver) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.Default()
}

func (r *Resolver) port() string {
	if r.UpstreamPort > 0 {
		return strconv.Itoa(r.UpstreamPort)
	}
	return "53"
}

func (r *Resolver) maxTTL() uint32 {
	if r.MaxTTL > 0 {
		return r.MaxTTL
	}
	return 86400
}

func (r *Resolver) failureTTL() time.Duration {
	if r.FailureTTL > 0 {
		return r.FailureTTL
	}
	return 5 * time.Second
}

func (r *Resolver) maxNegTTL() uint32 {
	if r.MaxNegativeTTL > 0 {
		return r.MaxNegativeTTL
	}
	return 10800
}

// Result is the outcome of a resolution.
type Result struct {
	Rcode  dns.Rcode // NOERROR or NXDOMAIN
	Answer []dns.RR  // the CNAME chain and the final RRset, TTLs as cached
	SOA    *dns.RR   // for a negative answer, the zone's SOA
}

// call is one resolution in flight that identical questions wait for.
type call struct {
	done chan struct{}
	res  *Result
	err  error
}

// Resolve answers (name, t) from the cache or by iterating from the root.
// Identical questions asked at once share one resolution.
func (r *Resolver) Resolve(ctx context.Context, name string, t dns.Type) (*Result, error) {
	r.init()
	key := string(appendKey(nil, name, t))
	r.mu.Lock()
	if c, ok := r.inflight[key]; ok {
		r.mu.Unlock()
		select {
		case <-c.done:
			return c.res, c.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	c := &call{done: make(chan struct{})}
	r.inflight[key] = c
	r.mu.Unlock()

	rt := r.ResolveTimeout
	if rt <= 0 {
		rt = 5 * time.Second
	}
	// The shared resolution must not die with the first asker's context.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rt)
	w := &walk{r: r, budget: MaxQueries}
	if r.Trace != nil {
		w.tr = r.Trace.Session("dns/resolve", dns.Fqdn(name)+" "+t.String())
	}
	c.res, c.err = w.resolve(rctx, dns.Fqdn(name), t, 0)
	cancel()
	if c.err != nil {
		// Remember the failure briefly (RFC 2308 §7.1), so that clients
		// asking again at once do not send the whole walk again.
		now := time.Now().UnixNano()
		r.cache.put([]byte(key), &entry{rcode: dns.RcodeServFail, rank: rankAnswer, expires: now + int64(r.failureTTL())}, now)
	}
	r.mu.Lock()
	delete(r.inflight, key)
	r.mu.Unlock()
	close(c.done)
	return c.res, c.err
}

// walk is one client question's resolution: its budget of upstream
// queries and its trace.
type walk struct {
	r      *Resolver
	budget int
	tr     *transcript.Session
}

// fromCache answers (name, t) from cached answers alone, following cached
// CNAMEs. ok is false when something is missing.
func (r *Resolver) fromCache(name string, t dns.Type, now int64, buf []byte, res *Result) bool {
	*res = Result{Answer: res.Answer[:0]}
	for i := 0; i <= MaxCNAME; i++ {
		buf = appendKey(buf[:0], name, typeNXDomain)
		if e := r.cache.get(buf, rankAnswer, now); e != nil {
			res.Rcode, res.SOA = dns.RcodeNXDomain, withTTL(e.soa, e.remaining(now))
			return true
		}
		buf = appendKey(buf[:0], name, t)
		if e := r.cache.get(buf, rankAnswer, now); e != nil {
			if e.rcode == dns.RcodeServFail {
				res.Rcode = dns.RcodeServFail
				return true
			}
			res.Answer = appendTTL(res.Answer, e, now)
			if len(e.rrs) == 0 {
				res.SOA = withTTL(e.soa, e.remaining(now))
			}
			return true
		}
		if t == dns.TypeCNAME {
			return false
		}
		buf = appendKey(buf[:0], name, dns.TypeCNAME)
		e := r.cache.get(buf, rankAnswer, now)
		if e == nil {
			return false
		}
		res.Answer = appendTTL(res.Answer, e, now)
		name = e.rrs[0].Data.(*dns.CNAME).Target
	}
	return false
}

func withTTL(rr *dns.RR, ttl uint32) *dns.RR {
	if rr == nil {
		return nil
	}
	c := *rr
	c.TTL = min(c.TTL, ttl)
	return &c
}

func appendTTL(dst []dns.RR, e *entry, now int64) []dns.RR {
	ttl := e.remaining(now)
	for _, rr := range e.rrs {
		rr.TTL = ttl
		dst = append(dst, rr)
	}
	return dst
}

// resolve is RFC 1034 §5.3.3: look in the cache, find the closest known
// name servers, ask them, and follow referrals and CNAMEs.
func (w *walk) resolve(ctx context.Context, name string, t dns.Type, depth int) (*Result, error) {
	var chain []dns.RR
	for cnames := 0; ; cnames++ {
		if cnames > MaxCNAME {
			return nil, ErrLoop
		}
		res, err := w.resolveOne(ctx, name, t, depth)
		if err != nil {
			return nil, err
		}
		res.Answer = append(chain, res.Answer...)
		// A CNAME at the end of the chain whose target is not answered:
		// follow it, across zones (RFC 1034 §5.3.3 step 4c).
		last := lastCNAME(res.Answer, name, t)
		if last == "" || res.Rcode != dns.RcodeSuccess {
			return res, nil
		}
		chain = res.Answer
		name = last
	}
}

// lastCNAME follows the chain from name through answer and returns the
// final target if the answer holds no records of type t for it.
func lastCNAME(answer []dns.RR, name string, t dns.Type) string {
	if t == dns.TypeCNAME {
		return ""
	}
	cur := name
	for i := 0; i <= MaxCNAME; i++ {
		next := ""
		for _, rr := range answer {
			if !dns.EqualNames(rr.Name, cur) {
				continue
			}
			if rr.Type == t {
				return ""
			}
			if c, ok := rr.Data.(*dns.CNAME); ok {
				next = c.Target
			}
		}
		if next == "" {
			if cur == name {
				return ""
			}
			return cur
		}
		cur = next
	}
	return ""
}

// resolveOne resolves one name without following a CNAME beyond the
// answer it gets.
func (w *walk) resolveOne(ctx context.Context, name string, t dns.Type, depth int) (*Result, error) {
	r := w.r
	now := time.Now().UnixNano()
	var buf [300]byte
	if res := new(Result); r.fromCache(name, t, now, buf[:0], res) {
		return res, nil
	}
	if len(r.Forward) > 0 {
		return w.forward(ctx, name, t)
	}
	zone, servers := r.closestServers(name, now)
	climbed := false
	for referrals := 0; ; referrals++ {
		if referrals > MaxReferrals {
			return nil, ErrLoop
		}
		if servers == nil {
			return nil, ErrNoServers
		}
		resp, zoneServed, err := w.askZone(ctx, zone, servers, name, t, depth)
		if errors.Is(err, ErrNoServers) && referrals == 0 && !climbed && zone != "." {
			// The cached name servers of zone could not be used (their
			// glue evicted from a full cache, say): start once more from
			// the parent's servers, whose referral brings the glue again.
			climbed = true
			p, _ := dns.Parent(zone)
			zone, servers = r.closestServers(p, time.Now().UnixNano())
			referrals = -1
			w.tr.Note("no usable server for the cached zone; asking its parent " + zone)
			continue
		}
		if err != nil {
			return nil, err
		}
		now = time.Now().UnixNano()
		res, next, nextServers := r.digest(resp, zoneServed, name, t, now)
		if res != nil {
			return res, nil
		}
		if next == "" {
			return nil, ErrNoServers
		}
		w.tr.Note("referral to " + next)
		zone, servers = next, nextServers
	}
}

// closestServers returns the deepest zone above name whose name servers
// are cached (the root at worst), skipping the root and TLD once known.
func (r *Resolver) closestServers(name string, now int64) (string, []dns.RR) {
	var buf [300]byte
	for z := name; ; {
		if e := r.cache.get(appendKey(buf[:0], z, dns.TypeNS), rankGlue, now); e != nil {
			return z, e.rrs
		}
		p, ok := dns.Parent(z)
		if !ok {
			return ".", r.hintNS
		}
		z = p
	}
}

// askZone asks the name servers of zone, in random order, until one gives
// a usable answer. Servers without cached addresses are looked up (a
// resolution of their own, bounded by MaxDepth).
func (w *walk) askZone(ctx context.Context, zone string, servers []dns.RR, name string, t dns.Type, depth int) (*dns.Msg, string, error) {
	r := w.r
	order := rand.Perm(len(servers))
	var missing []string
	tried := 0
	var lastErr string // what the last server tried did, for the error
	try := func(addr netip.Addr, host string) (*dns.Msg, bool) {
		if w.budget <= 0 {
			return nil, false
		}
		w.budget--
		tried++
		q := new(dns.Msg).SetQuestion(0, name, t).SetEDNS(dns.DefaultEDNSSize)
		q.RecursionDesired = false
		to := r.Timeout
		if to <= 0 {
			to = 800 * time.Millisecond
		}
		c := &dns.Client{Timeout: to}
		target := net.JoinHostPort(addr.String(), r.port())
		r.upstream.Add(1)
		w.tr.Client("ask " + host + " (" + target + ", zone " + zone + "): " + name + " " + t.String())
		resp, err := c.Exchange(ctx, q, target)
		if err != nil {
			w.tr.Note(target + ": " + err.Error() + "; next server")
			lastErr = target + ": " + err.Error()
			return nil, false
		}
		m := resp.Msg
		w.tr.Server(m.Summary())
		switch {
		case m.Rcode == dns.RcodeNXDomain, m.Rcode == dns.RcodeSuccess && !lame(m):
			return m, true
		}
		w.tr.Note(target + ": lame or failing answer (" + m.Rcode.String() + "); next server")
		lastErr = target + ": lame or failing answer (" + m.Rcode.String() + ")"
		return nil, false
	}
	now := time.Now().UnixNano()
	var buf [300]byte
	for _, i := range order {
		host := servers[i].Data.(*dns.NS).Host
		addrs := r.cachedAddrs(host, now, buf[:0])
		if len(addrs) == 0 {
			missing = append(missing, host)
			continue
		}
		for _, a := range addrs {
			if m, ok := try(a, host); ok {
				return m, zone, nil
			}
			if ctx.Err() != nil {
				return nil, "", ctx.Err()
			}
		}
	}
	// Name servers given without glue: resolve their addresses, unless
	// that would recurse too deep or the name is what we are resolving.
	for _, host := range missing {
		if depth >= MaxDepth || dns.EqualNames(host, name) {
			continue
		}
		res, err := w.resolve(ctx, host, dns.TypeA, depth+1)
		if err != nil || res.Rcode != dns.RcodeSuccess {
			continue
		}
		for _, rr := range res.Answer {
			if a, ok := rr.Data.(*dns.A); ok && dns.EqualNames(rr.Name, lastOwner(res.Answer, host)) {
				if m, ok := try(a.Addr, host); ok {
					return m, zone, nil
				}
			}
		}
	}
	if w.budget <= 0 {
		return nil, "", ErrTooManyWork
	}
	if lastErr != "" {
		return nil, "", fmt.Errorf("%w for zone %s (%d tried; last, %s)", ErrNoServers, zone, tried, lastErr)
	}
	return nil, "", ErrNoServers
}

// lame reports an answer that is neither data, nor a negative answer, nor
// a referral: a server that does not serve the zone it was named for.
func lame(m *dns.Msg) bool {
	if len(m.Answer) > 0 || m.Authoritative {
		return false
	}
	for _, rr := range m.Authority {
		if rr.Type == dns.TypeSOA || rr.Type == dns.TypeNS {
			return false
		}
	}
	return true
}

func lastOwner(answer []dns.RR, name string) string {
	if t := lastCNAME(answer, name, dns.TypeA); t != "" {
		return t
	}
	for _, rr := range answer {
		if c, ok := rr.Data.(*dns.CNAME); ok && dns.EqualNames(rr.Name, name) {
			name = c.Target
		}
	}
	return name
}

func (r *Resolver) cachedAddrs(host string, now int64, buf []byte) []netip.Addr {
	var out []netip.Addr
	for _, t := range [...]dns.Type{dns.TypeA, dns.TypeAAAA} {
		if e := r.cache.get(appendKey(buf[:0], host, t), rankGlue, now); e != nil {
			for _, rr := range e.rrs {
				switch d := rr.Data.(type) {
				case *dns.A:
					out = append(out, d.Addr)
				case *dns.AAAA:
					out = append(out, d.Addr)
				}
			}
		}
	}
	if len(out) == 0 && len(r.hintAddrs) > 0 {
		out = append(out, r.hintAddrs[dns.CanonicalName(host)]...)
	}
	return out
}
