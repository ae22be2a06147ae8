package resolver

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/applayer/applayer/dns"
)

// forward asks the configured servers, with RD set, and caches what they
// say; the forwarders are trusted with every name.
func (w *walk) forward(ctx context.Context, name string, t dns.Type) (*Result, error) {
	r := w.r
	to := r.Timeout
	if to <= 0 {
		to = 800 * time.Millisecond
	}
	start := rand.N(len(r.Forward))
	for i := range r.Forward {
		addr := r.Forward[(start+i)%len(r.Forward)]
		q := new(dns.Msg).SetQuestion(0, name, t).SetEDNS(dns.DefaultEDNSSize)
		c := &dns.Client{Timeout: to}
		r.upstream.Add(1)
		w.tr.Client("forward to " + addr + ": " + name + " " + t.String())
		resp, err := c.Exchange(ctx, q, addr)
		if err != nil {
			w.tr.Note(addr + ": " + err.Error())
			continue
		}
		m := resp.Msg
		w.tr.Server(m.Summary())
		if m.Rcode != dns.RcodeSuccess && m.Rcode != dns.RcodeNXDomain {
			continue
		}
		now := time.Now().UnixNano()
		res, _, _ := r.digest(m, ".", name, t, now)
		if res == nil {
			continue
		}
		return res, nil
	}
	return nil, ErrNoServers
}
