package browser

import (
	"bytes"
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/applayer/applayer/internal/stubresolver"
	"github.com/applayer/applayer/web/internal/webtest"
	"github.com/miekg/dns"
)

// TestFetcherResolvesThroughDNSServer looks the page's host up through a
// DNS server (miekg/dns as the oracle) given with stubresolver.At, once per run.
func TestFetcherResolvesThroughDNSServer(t *testing.T) {
	addr := siteServer(t)
	_, port, _ := net.SplitHostPort(addr)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var seen atomic.Int64
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		if strings.HasPrefix(q.Question[0].Name, "www.someschool.edu") {
			seen.Add(1)
		}
		if q.Question[0].Name == "www.someschool.edu." && q.Question[0].Qtype == dns.TypeA {
			rr, _ := dns.NewRR("www.someschool.edu. 60 IN A 127.0.0.1")
			m.Answer = append(m.Answer, rr)
		}
		w.WriteMsg(m)
	})}
	go srv.ActivateAndServe()
	defer srv.Shutdown()

	f := &Fetcher{Resolver: stubresolver.At(pc.LocalAddr().String())}
	var page bytes.Buffer
	rep, err := f.Page(context.Background(), "http://www.someschool.edu:"+port+"/dir/", &page)
	if err != nil {
		t.Fatal(err)
	}
	if page.String() != webtest.SiteFiles["dir/index.html"] || rep.Lookups != 1 {
		t.Errorf("page %q, %d look-ups; want the page and 1", page.String(), rep.Lookups)
	}
	if seen.Load() == 0 {
		t.Error("the DNS server saw no query")
	}
	if _, err := (&Fetcher{Resolver: stubresolver.At(pc.LocalAddr().String())}).Get(context.Background(), "http://nowhere.someschool.edu:"+port+"/", &page); err == nil {
		t.Error("a name without an address was fetched")
	}
}
