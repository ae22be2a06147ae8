package spf

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"
)

// The examples of RFC 7208 §7.4.
func TestMacroExamples(t *testing.T) {
	e := &eval{ip: netip.MustParseAddr("192.0.2.3"), sender: "strong-bad@email.example.com", local: "strong-bad", senderDomain: "email.example.com", helo: "mx.example.org"}
	e6 := *e
	e6.ip = netip.MustParseAddr("2001:db8::cb01")
	for _, tc := range []struct {
		e        *eval
		in, want string
	}{
		{e, "%{s}", "strong-bad@email.example.com"},
		{e, "%{o}", "email.example.com"},
		{e, "%{d}", "email.example.com"},
		{e, "%{d4}", "email.example.com"},
		{e, "%{d3}", "email.example.com"},
		{e, "%{d2}", "example.com"},
		{e, "%{d1}", "com"},
		{e, "%{dr}", "com.example.email"},
		{e, "%{d2r}", "example.email"},
		{e, "%{l}", "strong-bad"},
		{e, "%{l-}", "strong.bad"},
		{e, "%{lr}", "strong-bad"},
		{e, "%{lr-}", "bad.strong"},
		{e, "%{l1r-}", "strong"},
		{e, "%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com"},
		{e, "%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"},
		{e, "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"},
		{e, "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "3.2.0.192.in-addr.strong.lp._spf.example.com"},
		{e, "%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net"},
		{&e6, "%{ir}.%{v}._spf.%{d2}", "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com"},
		{e, "%%%_%-", "% %20"},
		{e, "%{h}", "mx.example.org"},
	} {
		got, err := tc.e.expand(tc.in, "email.example.com", false)
		if err != nil || got != tc.want {
			t.Errorf("%s = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"%", "%{", "%{x}", "%{d0}", "%{d2q}", "%a", "%{}"} {
		if _, err := e.expand(bad, "email.example.com", false); err == nil {
			t.Errorf("%q expanded", bad)
		}
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // mechanisms, or "error"
	}{
		{"v=spf1 -all", "-all"},
		{"V=SPF1 IP4:192.0.2.0/24 ~ALL", "ip4:192.0.2.0/24 ~all"},
		{"v=spf1 a mx/24 a:x.example//64 ip6:2001:db8::/32 ?ptr exists:%{i}.x.example", "a mx/24 a:x.example//64 ip6:2001:db8::/32 ?ptr exists:%{i}.x.example"},
		{"v=spf1 a/33", "error"},
		{"v=spf1 a/024", "error"},
		{"v=spf1 ip4:192.0.2.1/8/8", "error"},
		{"v=spf1 ip6:192.0.2.1", "error"},
		{"v=spf1 include", "error"},
		{"v=spf1 all:x", "error"},
		{"v=spf1 redirect=a.example redirect=b.example", "error"},
		{"v=spf1 redirect=", "error"},
		{"v=spf1 exists:%{q}.x", "error"},
		{"v=spf1 foo=bar -all", "-all"},
		{"v=spf10 -all", "error"},
	} {
		r, err := Parse(tc.in)
		got := "error"
		if err == nil {
			got = ""
			for i, m := range r.Mechanisms {
				if i > 0 {
					got += " "
				}
				got += m.String()
			}
		}
		if got != tc.want {
			t.Errorf("Parse(%q) = %q (%v), want %q", tc.in, got, err, tc.want)
		}
	}
}

// FuzzParse: any record parses or is refused without panicking, and what
// parses writes back to mechanisms that parse again the same.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"v=spf1 -all", "v=spf1 a mx/24 a:x.example//64 ip6:2001:db8::/32 ?ptr exists:%{ir}.%{v}._spf.%{d2} redirect=%{o}", "v=spf1 include:_spf.google.com ~all", "v=spf1 %{", "v=spf1 exp=%{l1r-}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse(s)
		if err != nil {
			return
		}
		for _, m := range r.Mechanisms {
			again, err := parseMechanism(m.String())
			if err != nil || again.String() != m.String() {
				t.Fatalf("%q wrote %q, which parses to %q, %v", s, m.String(), again.String(), err)
			}
		}
	})
}

// silentDNS answers nothing until the caller gives up.
type silentDNS struct{}

func (silentDNS) LookupTXT(ctx context.Context, _ string) ([]string, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
func (silentDNS) LookupNetIP(ctx context.Context, _, _ string) ([]netip.Addr, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
func (silentDNS) LookupMX(ctx context.Context, _ string) ([]*net.MX, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
func (silentDNS) LookupAddr(ctx context.Context, _ string) ([]string, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// A DNS server that never answers costs one check DefaultTimeout at
// most, and the verdict is temperror.
func TestSlowDNSBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		v := (&Checker{Resolver: silentDNS{}}).Check(context.Background(), netip.MustParseAddr("192.0.2.1"), "alice@example.com", "mx.example.com")
		if v.Result != TempError {
			t.Errorf("verdict %s (%v), want temperror", v.Result, v.Err)
		}
		if d := time.Since(start); d != DefaultTimeout {
			t.Errorf("the check took %v of the bubble's clock, want %v", d, DefaultTimeout)
		}
	})
}
