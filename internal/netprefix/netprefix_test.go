package netprefix

import (
	"net/netip"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct{ in, want string }{
		{"10.0.0.0/8", "10.0.0.0/8"},
		{"10.1.2.3", "10.1.2.3/32"},
		{"10.1.2.3/8", "10.0.0.0/8"},
		{"::ffff:10.1.2.0/120", "10.1.2.0/24"},
		{"::ffff:10.1.2.3", "10.1.2.3/32"},
		{"::ffff:0:0/96", "0.0.0.0/0"},
		{"2001:db8::/32", "2001:db8::/32"},
		{"::1", "::1/128"},
	}
	for _, tt := range tests {
		p, err := Parse(tt.in)
		if err != nil || p.String() != tt.want {
			t.Errorf("Parse(%q) = %v, %v; want %s", tt.in, p, err, tt.want)
		}
	}
	for _, bad := range []string{"", "10.0.0.0/33", "::ffff:10.0.0.0/80", "fe80::1%eth0", "example.org"} {
		if p, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) = %v, want an error", bad, p)
		}
	}
}

// TestContainsMapped: a mapped prefix matches the IPv4 addresses it maps,
// however the client's address is written.
func TestContainsMapped(t *testing.T) {
	p := netip.MustParsePrefix("::ffff:10.1.2.0/120")
	for _, a := range []string{"10.1.2.3", "::ffff:10.1.2.3"} {
		if !Contains(p, netip.MustParseAddr(a)) {
			t.Errorf("%v does not contain %s", p, a)
		}
	}
	if Contains(p, netip.MustParseAddr("10.1.3.1")) {
		t.Errorf("%v contains 10.1.3.1", p)
	}
	if !Contains(netip.MustParsePrefix("10.0.0.0/8"), netip.MustParseAddr("::ffff:10.9.9.9")) {
		t.Error("10.0.0.0/8 does not contain ::ffff:10.9.9.9")
	}
	if Contains(netip.MustParsePrefix("::/0"), netip.MustParseAddr("10.9.9.9")) {
		t.Error("::/0 contains an IPv4 address")
	}
}

func TestLoopback(t *testing.T) {
	for s, want := range map[string]bool{
		"127.0.0.1": true, "127.255.0.9": true, "::1": true, "::ffff:127.0.0.1": true,
		"128.0.0.1": false, "::2": false, "10.0.0.1": false, "::ffff:10.0.0.1": false,
	} {
		a := netip.MustParseAddr(s)
		if got := IsLoopback(a); got != want {
			t.Errorf("IsLoopback(%s) = %v, want %v", s, got, want)
		}
		if got := ContainsAny(Loopback(), a); got != want {
			t.Errorf("ContainsAny(Loopback(), %s) = %v, want %v", s, got, want)
		}
	}
	l := Loopback()
	l[0] = netip.MustParsePrefix("10.0.0.0/8")
	if IsLoopback(netip.MustParseAddr("10.0.0.1")) || !IsLoopback(netip.MustParseAddr("127.0.0.1")) {
		t.Error("changing what Loopback returned changed the list")
	}
}
