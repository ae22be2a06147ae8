// Package netprefix reads and matches the client networks of allow lists
// (the resolver's --allow, the primary's --allow-transfer), with IPv4 and
// IPv4-mapped IPv6 addresses treated as the same addresses.
package netprefix

import (
	"fmt"
	"net/netip"
)

// Parse reads a network: a CIDR prefix such as 10.0.0.0/8 or 2001:db8::/32,
// or a bare address (a network of one). An IPv4-mapped IPv6 prefix
// (::ffff:a.b.c.d/n) is returned as the IPv4 prefix a.b.c.d/(n-96): a dual
// stack socket may report an IPv4 client either way, and a mapped prefix
// compared as IPv6 never matches an IPv4 address. A mapped prefix shorter
// than /96 reaches outside the mapped range and is refused.
func Parse(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		a, err2 := netip.ParseAddr(s)
		if err2 != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a network (want a CIDR such as 10.0.0.0/8 or an address)", s)
		}
		if a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("%q: a network has no zone", s)
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if p.Addr().Is4In6() {
		if p.Bits() < 96 {
			return netip.Prefix{}, fmt.Errorf("%q: an IPv4-mapped prefix needs at least /96", s)
		}
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

// Contains reports whether a is in p, either of them possibly in the
// IPv4-mapped IPv6 form.
func Contains(p netip.Prefix, a netip.Addr) bool {
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p.Contains(a.Unmap())
}

// ContainsAny reports whether a is in one of ps.
func ContainsAny(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if Contains(p, a) {
			return true
		}
	}
	return false
}

// loopback is the list of loopback networks.
var loopback = [...]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// Loopback returns the loopback networks, 127.0.0.0/8 and ::1/128: the
// default allow list of the resolver and of zone transfers, and what is
// always allowed when an allow list is given. Each call returns a new
// slice, which the caller may append to.
func Loopback() []netip.Prefix { return append([]netip.Prefix(nil), loopback[:]...) }

// IsLoopback reports whether a is in Loopback(), also in the IPv4-mapped
// form (::ffff:127.0.0.1), which netip.Addr.IsLoopback does not count.
func IsLoopback(a netip.Addr) bool { return ContainsAny(loopback[:], a) }
