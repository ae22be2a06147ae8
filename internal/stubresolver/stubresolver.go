// Package stubresolver aims the standard library's stub resolver at one
// DNS server, as the web client's --dns, the MTA's --dns and tests do:
// the one place where a *net.Resolver is pointed at an address.
package stubresolver

import (
	"context"
	"net"
)

// At returns a resolver that sends every query to the DNS server at addr
// (host:port), over UDP, and over TCP when an answer is truncated, as the
// lookup needs. It never reads /etc/resolv.conf's servers.
func At(addr string) *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
}
