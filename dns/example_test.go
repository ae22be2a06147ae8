package dns_test

import (
	"fmt"
	"net/netip"

	"github.com/applayer/applayer/dns"
)

// A query is built, encoded for the wire, decoded again and printed as dig
// prints it.
func Example() {
	q := new(dns.Msg).SetQuestion(4711, "www.example.com", dns.TypeA)
	wire, _ := q.Pack()
	fmt.Println(len(wire), "bytes:", q.Summary())

	// The answer an authoritative server would give.
	a := new(dns.Msg).SetReply(q)
	a.Authoritative = true
	a.Answer = []dns.RR{{Name: "www.example.com.", Type: dns.TypeA, Class: dns.ClassIN, TTL: 300,
		Data: &dns.A{Addr: netip.MustParseAddr("192.0.2.80")}}}
	wire, _ = a.Pack()
	var back dns.Msg
	if err := back.Unpack(wire); err != nil {
		fmt.Println(err)
	}
	fmt.Print(back.String())
	// Output:
	// 33 bytes: query 4711 www.example.com. A [rd]
	// ;; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 4711
	// ;; flags: qr aa rd; QUERY: 1, ANSWER: 1, AUTHORITY: 0, ADDITIONAL: 0
	//
	// ;; QUESTION SECTION:
	// ;www.example.com.		IN	A
	//
	// ;; ANSWER SECTION:
	// www.example.com.	300	IN	A	192.0.2.80
}
