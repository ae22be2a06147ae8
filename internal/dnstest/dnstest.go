// Package dnstest serves DNS zones on loopback for tests of the packages
// that ask the DNS (SPF, DKIM, DMARC, the MTA): applayer's own
// authoritative server, over UDP and TCP on one port, so that the
// standard library's resolver and peers such as pyspf ask the same data.
package dnstest

import (
	"net"
	"strings"
	"testing"

	"github.com/applayer/applayer/dns"
	"github.com/applayer/applayer/dns/zone"
)

// ServeZones serves master files, by origin, on a loopback port until the
// test ends, and returns its address. A zone without an SOA gets one,
// with an NS record, so that a file may hold only the records a test is
// about.
func ServeZones(t testing.TB, zones map[string]string) string {
	t.Helper()
	var zs []*zone.Zone
	for origin, src := range zones {
		if !strings.Contains(src, " SOA ") {
			src = "$TTL 300\n@ SOA ns.test. hostmaster.test. 1 3600 600 86400 300\n@ NS ns.test.\n" + src
		}
		recs, err := zone.Parse(strings.NewReader(src), origin, origin)
		if err != nil {
			t.Fatal(err)
		}
		z, err := zone.New(origin, recs)
		if err != nil {
			t.Fatal(err)
		}
		zs = append(zs, z)
	}
	pc, l := listenBoth(t)
	srv := &dns.Server{Handler: zone.NewAuthority(zs...)}
	go srv.ServeBoth(l, pc)
	t.Cleanup(func() { srv.Close() })
	return pc.LocalAddr().String()
}

// listenBoth binds one loopback port for UDP and TCP. The UDP port is
// chosen by the kernel, and another program may hold it for TCP: a few
// tries find one free for both.
func listenBoth(t testing.TB) (net.PacketConn, net.Listener) {
	t.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		l, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, l
		}
		pc.Close()
	}
	t.Fatal("no loopback port free for both UDP and TCP in 20 tries")
	return nil, nil
}
