package resolver

import (
	"context"
	"net/netip"
	"sync"
	"time"

	"github.com/applayer/applayer/dns"
	"github.com/applayer/applayer/internal/netprefix"
)

// allowed reports whether a client may use the resolver.
func (r *Resolver) allowed(a netip.Addr) bool {
	if len(r.Allow) == 0 {
		return netprefix.IsLoopback(a)
	}
	return netprefix.ContainsAny(r.Allow, a)
}

var msgPool = sync.Pool{New: func() any { return new(servScratch) }}

type servScratch struct {
	resp dns.Msg
	res  Result
	buf  [300]byte
}

// ServeDNS answers a client: from the cache when it can, by resolving
// otherwise. RA is set; clients outside Allow get REFUSED (an open
// resolver is an amplifier for anyone's attack); a failed resolution gives
// SERVFAIL.
func (r *Resolver) ServeDNS(w dns.ResponseWriter, req *dns.Request) { r.serve(w, req, false) }

// ServeQuick answers what needs no other server (a cache hit, a refusal)
// and declines the rest, which the dns.Server then gives to ServeDNS in a
// goroutine of its own.
func (r *Resolver) ServeQuick(w dns.ResponseWriter, req *dns.Request) bool {
	return r.serve(w, req, true)
}

func (r *Resolver) serve(w dns.ResponseWriter, req *dns.Request, quick bool) bool {
	r.init()
	q := req.Msg
	sc := msgPool.Get().(*servScratch)
	defer msgPool.Put(sc)
	resp := &sc.resp
	resp.SetReply(q)
	resp.RecursionAvailable = true
	defer func() {
		clear(resp.Answer)
		clear(resp.Authority)
		clear(sc.res.Answer)
	}()
	switch {
	case !r.allowed(req.Remote.Addr()):
		resp.Rcode = dns.RcodeRefused
		resp.RecursionAvailable = false
		w.WriteMsg(resp)
		return true
	case q.Opcode != dns.OpcodeQuery:
		resp.Rcode = dns.RcodeNotImp
		w.WriteMsg(resp)
		return true
	case len(q.Question) != 1:
		resp.Rcode = dns.RcodeFormErr
		w.WriteMsg(resp)
		return true
	}
	qq := q.Question[0]
	switch {
	case qq.Class != dns.ClassIN:
		resp.Rcode = dns.RcodeRefused
		w.WriteMsg(resp)
		return true
	case qq.Type == dns.TypeAXFR || qq.Type == dns.TypeIXFR || qq.Type == dns.TypeOPT || qq.Type == dns.TypeTSIG || qq.Type == dns.TypeANY:
		// ANY is refused as RFC 8482 allows; transfers are not a resolver's.
		resp.Rcode = dns.RcodeNotImp
		w.WriteMsg(resp)
		return true
	}
	res := &sc.res
	if r.fromCache(qq.Name, qq.Type, time.Now().UnixNano(), sc.buf[:0], res) {
		r.fill(resp, res)
		w.WriteMsg(resp)
		return true
	}
	if !q.RecursionDesired {
		// Without RD a resolver answers from its cache only (RFC 1034 §4.3.1).
		resp.Rcode = dns.RcodeServFail
		w.WriteMsg(resp)
		return true
	}
	if quick {
		return false
	}
	res, err := r.Resolve(context.Background(), qq.Name, qq.Type)
	if err != nil {
		r.logFailure(qq.Name, qq.Type, err)
		resp.Rcode = dns.RcodeServFail
		w.WriteMsg(resp)
		return true
	}
	r.fill(resp, res)
	w.WriteMsg(resp)
	return true
}

func (r *Resolver) fill(resp *dns.Msg, res *Result) {
	resp.Rcode = res.Rcode
	resp.Answer = append(resp.Answer, res.Answer...)
	if res.SOA != nil && len(res.Answer) == 0 || res.Rcode == dns.RcodeNXDomain && res.SOA != nil {
		resp.Authority = append(resp.Authority, *res.SOA)
	}
}
