package zone

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/applayer/applayer/dns"
)

// startServer serves h on a loopback port, over UDP and TCP, until the test
// ends, and returns the address.
func startServer(t testing.TB, h dns.Handler) string {
	t.Helper()
	addr, serve := bindServer(t)
	serve(h)
	return addr
}

// bindServer binds a loopback port for UDP and TCP and returns its address
// and a function that starts serving a handler there, for tests that must
// know the address before they can build the handler.
func bindServer(t testing.TB) (string, func(dns.Handler)) {
	t.Helper()
	var pc net.PacketConn
	var l net.Listener
	var err error
	for i := 0; i < 10; i++ {
		pc, err = net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		l, err = net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			break
		}
		pc.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close(); l.Close() })
	return pc.LocalAddr().String(), func(h dns.Handler) {
		s := &dns.Server{Handler: h, UDPWorkers: 2, UDPBatch: 8}
		done := make(chan struct{})
		go func() { s.ServeBoth(l, pc); close(done) }()
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			s.Shutdown(ctx)
			<-done
		})
	}
}

func loadAuthority(t testing.TB, files ...string) *Authority {
	t.Helper()
	var zs []*Zone
	for _, f := range files {
		z, err := LoadFile(f, "")
		if err != nil {
			t.Fatal(err)
		}
		zs = append(zs, z)
	}
	return NewAuthority(zs...)
}

// summary renders the parts of a response that servers must agree on, each
// section sorted (rotation changes the order).
func summary(m *dns.Msg) string {
	var b strings.Builder
	b.WriteString(m.Rcode.String())
	for _, f := range []struct {
		on   bool
		name string
	}{{m.Authoritative, " aa"}, {m.Truncated, " tc"}, {m.RecursionAvailable, " ra"}} {
		if f.on {
			b.WriteString(f.name)
		}
	}
	for _, sec := range [][]dns.RR{m.Answer, m.Authority, m.Additional} {
		var ss []string
		for _, r := range sec {
			ss = append(ss, strings.ToLower(r.Name)+" "+strconv.FormatUint(uint64(r.TTL), 10)+" "+r.Type.String()+" "+strings.ToLower(r.Data.String()))
		}
		slices.Sort(ss)
		b.WriteString(" | " + strings.Join(ss, ", "))
	}
	return b.String()
}

// authoritativeCases are the questions every authoritative server must
// answer alike; want is our server's summary (the BIND comparison checks
// that named agrees).
var authoritativeCases = []struct {
	name string
	typ  dns.Type
	want string
}{
	{"example.com.", dns.TypeA, "NOERROR aa | example.com. 3600 A 192.0.2.1 |  | "},
	{"example.com.", dns.TypeMX, "NOERROR aa | example.com. 3600 MX 10 mail.example.com., example.com. 3600 MX 20 mail2.example.net. |  | mail.example.com. 3600 A 192.0.2.25"},
	{"example.com.", dns.TypeNS, "NOERROR aa | example.com. 3600 NS ns1.example.com., example.com. 3600 NS ns2.example.com. |  | ns1.example.com. 3600 A 192.0.2.53, ns2.example.com. 3600 A 192.0.2.54, ns2.example.com. 3600 AAAA 2001:db8::54"},
	{"WWW.Example.COM.", dns.TypeA, "NOERROR aa | web.example.com. 300 A 192.0.2.80, web.example.com. 300 A 192.0.2.81, web.example.com. 300 A 192.0.2.82, web.example.com. 300 A 192.0.2.83, www.example.com. 3600 CNAME web.example.com. |  | "},
	{"alias.example.com.", dns.TypeA, "NOERROR aa | alias.example.com. 3600 CNAME www.example.com., web.example.com. 300 A 192.0.2.80, web.example.com. 300 A 192.0.2.81, web.example.com. 300 A 192.0.2.82, web.example.com. 300 A 192.0.2.83, www.example.com. 3600 CNAME web.example.com. |  | "},
	{"out.example.com.", dns.TypeA, "NOERROR aa | out.example.com. 3600 CNAME www.example.net. |  | "},
	{"dangling.example.com.", dns.TypeA, "NXDOMAIN aa | dangling.example.com. 3600 CNAME nothing.example.com. | example.com. 300 SOA ns1.example.com. hostmaster.example.com. 2024010101 7200 3600 1209600 300 | "},
	{"www.example.com.", dns.TypeCNAME, "NOERROR aa | www.example.com. 3600 CNAME web.example.com. |  | "},
	{"nope.example.com.", dns.TypeA, "NXDOMAIN aa |  | example.com. 300 SOA ns1.example.com. hostmaster.example.com. 2024010101 7200 3600 1209600 300 | "},
	{"mail.example.com.", dns.TypeAAAA, "NOERROR aa |  | example.com. 300 SOA ns1.example.com. hostmaster.example.com. 2024010101 7200 3600 1209600 300 | "},
	{"b.ent.example.com.", dns.TypeA, "NOERROR aa |  | example.com. 300 SOA ns1.example.com. hostmaster.example.com. 2024010101 7200 3600 1209600 300 | "},
	{"x.y.wild.example.com.", dns.TypeA, "NOERROR aa | x.y.wild.example.com. 3600 A 192.0.2.99 |  | "},
	{"x.wild.example.com.", dns.TypeMX, "NOERROR aa |  | example.com. 300 SOA ns1.example.com. hostmaster.example.com. 2024010101 7200 3600 1209600 300 | "},
	{"host.sub.example.com.", dns.TypeA, "NOERROR |  | sub.example.com. 3600 NS ns.sub.example.com. | ns.sub.example.com. 3600 A 192.0.2.100"},
	{"sub.example.com.", dns.TypeNS, "NOERROR |  | sub.example.com. 3600 NS ns.sub.example.com. | ns.sub.example.com. 3600 A 192.0.2.100"},
	{"_sip._tcp.example.com.", dns.TypeSRV, "NOERROR aa | _sip._tcp.example.com. 3600 SRV 0 5 5060 sip.example.com. |  | sip.example.com. 3600 A 192.0.2.60"},
	{"unknown.example.com.", dns.Type(65280), "NOERROR aa | unknown.example.com. 3600 TYPE65280 \\# 4 0a000001 |  | "},
	{"sub.example.com.", dns.TypeDS, "NOERROR aa |  | example.com. 300 SOA ns1.example.com. hostmaster.example.com. 2024010101 7200 3600 1209600 300 | "},
	{"ns.sub.example.com.", dns.TypeA, "NOERROR |  | sub.example.com. 3600 NS ns.sub.example.com. | ns.sub.example.com. 3600 A 192.0.2.100"},
	{"example.com.", dns.TypeSOA, "NOERROR aa | example.com. 3600 SOA ns1.example.com. hostmaster.example.com. 2024010101 7200 3600 1209600 300 |  | "},
	{"ent.example.com.", dns.TypeA, "NOERROR aa |  | example.com. 300 SOA ns1.example.com. hostmaster.example.com. 2024010101 7200 3600 1209600 300 | "},
	{"*.wild.example.com.", dns.TypeA, "NOERROR aa | *.wild.example.com. 3600 A 192.0.2.99 |  | "},
	{"wild.example.com.", dns.TypeA, "NOERROR aa |  | example.com. 300 SOA ns1.example.com. hostmaster.example.com. 2024010101 7200 3600 1209600 300 | "},
	{"x.a.b.ent.example.com.", dns.TypeA, "NXDOMAIN aa |  | example.com. 300 SOA ns1.example.com. hostmaster.example.com. 2024010101 7200 3600 1209600 300 | "},
	{"MAIL.EXAMPLE.COM.", dns.TypeA, "NOERROR aa | mail.example.com. 3600 A 192.0.2.25 |  | "},
	{"example.net.", dns.TypeA, "REFUSED |  |  | "},
}

func TestAuthoritativeAnswers(t *testing.T) {
	addr := startServer(t, loadAuthority(t, "testdata/example.com.zone"))
	c := &dns.Client{}
	for _, tc := range authoritativeCases {
		q := new(dns.Msg).SetQuestion(0, tc.name, tc.typ).SetEDNS(dns.DefaultEDNSSize)
		r, err := c.Exchange(context.Background(), q, addr)
		if err != nil {
			t.Fatalf("%s %v: %v", tc.name, tc.typ, err)
		}
		if got := summary(r.Msg); got != tc.want {
			t.Errorf("%s %v =\n  %s\nwant\n  %s", tc.name, tc.typ, got, tc.want)
		}
	}
}

func TestTruncationAndTCP(t *testing.T) {
	addr := startServer(t, loadAuthority(t, "testdata/example.com.zone"))
	q := new(dns.Msg).SetQuestion(0, "big.example.com.", dns.TypeTXT)
	c := &dns.Client{NoTCPRetry: true}
	r, err := c.Exchange(context.Background(), q, addr)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Msg.Truncated || len(r.Msg.Answer) != 0 || r.Size > 512 {
		t.Errorf("UDP without EDNS: tc=%v answers=%d size=%d, want TC, none, <= 512", r.Msg.Truncated, len(r.Msg.Answer), r.Size)
	}
	c.NoTCPRetry = false
	r, err = c.Exchange(context.Background(), q, addr)
	if err != nil {
		t.Fatal(err)
	}
	if !r.TCP || r.Msg.Truncated || len(r.Msg.Answer) != 2 {
		t.Errorf("after TCP retry: tcp=%v tc=%v answers=%d", r.TCP, r.Msg.Truncated, len(r.Msg.Answer))
	}
}

func TestRotation(t *testing.T) {
	addr := startServer(t, loadAuthority(t, "testdata/example.com.zone"))
	c := &dns.Client{}
	firsts := map[string]bool{}
	for i := 0; i < 8; i++ {
		r, err := c.Exchange(context.Background(), new(dns.Msg).SetQuestion(0, "web.example.com.", dns.TypeA), addr)
		if err != nil {
			t.Fatal(err)
		}
		firsts[r.Msg.Answer[0].Data.String()] = true
	}
	if len(firsts) != 4 {
		t.Errorf("first addresses over 8 queries: %v, want all 4 in turn", firsts)
	}
}

func TestBadQueries(t *testing.T) {
	addr := startServer(t, loadAuthority(t, "testdata/example.com.zone"))
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ask := func(b []byte) *dns.Msg {
		conn.SetDeadline(time.Now().Add(time.Second))
		conn.Write(b)
		buf := make([]byte, 1500)
		n, err := conn.Read(buf)
		if err != nil {
			return nil
		}
		var m dns.Msg
		if err := m.Unpack(buf[:n]); err != nil {
			t.Fatalf("server sent an undecodable answer: %v", err)
		}
		return &m
	}
	pack := func(m *dns.Msg) []byte { b, _ := m.Pack(); return b }
	two := new(dns.Msg).SetQuestion(1, "example.com.", dns.TypeA)
	two.Question = append(two.Question, two.Question[0])
	notify := new(dns.Msg).SetQuestion(2, "example.com.", dns.TypeSOA)
	notify.Opcode = 9
	edns1 := new(dns.Msg).SetQuestion(3, "example.com.", dns.TypeA).SetEDNS(1232)
	edns1.EDNS.Version = 1
	axfr := new(dns.Msg).SetQuestion(4, "example.com.", dns.TypeAXFR)
	for _, tc := range []struct {
		name string
		in   []byte
		want dns.Rcode
	}{
		{"two questions", pack(two), dns.RcodeFormErr},
		{"unknown opcode", pack(notify), dns.RcodeNotImp},
		{"EDNS version 1", pack(edns1), dns.RcodeBadVers},
		{"AXFR over UDP", pack(axfr), dns.RcodeNotImp},
		{"truncated question", pack(two)[:20], dns.RcodeFormErr},
		{"pointer loop", append(pack(two)[:12:12], 0xc0, 0x0c, 0, 1, 0, 1), dns.RcodeFormErr},
	} {
		m := ask(tc.in)
		if m == nil || m.Rcode != tc.want || m.RecursionAvailable {
			t.Errorf("%s: got %v, want %v", tc.name, m, tc.want)
		}
	}
	// A header alone with QR set, or less than a header: silence.
	if m := ask([]byte{1, 2, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0}); m != nil {
		t.Errorf("answered a response: %v", m)
	}
	if m := ask([]byte{1, 2, 3}); m != nil {
		t.Errorf("answered 3 bytes: %v", m)
	}
	// The server is still there.
	if m := ask(pack(new(dns.Msg).SetQuestion(5, "example.com.", dns.TypeA))); m == nil || m.Rcode != dns.RcodeSuccess {
		t.Errorf("after bad input: %v", m)
	}
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

func TestCNAMELoopStops(t *testing.T) {
	recs, err := Parse(strings.NewReader("$ORIGIN loop.test.\n$TTL 60\n@ SOA ns admin 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\na CNAME b\nb CNAME c\nc CNAME a\n"), "loop.zone", "")
	if err != nil {
		t.Fatal(err)
	}
	z, err := New("loop.test.", recs)
	if err != nil {
		t.Fatal(err)
	}
	addr := startServer(t, NewAuthority(z))
	r, err := (&dns.Client{}).Exchange(context.Background(), new(dns.Msg).SetQuestion(0, "a.loop.test.", dns.TypeA), addr)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Msg.Answer) != 3 || r.Msg.Rcode != dns.RcodeSuccess {
		t.Errorf("CNAME loop: %d answers, %v; want the 3 CNAMEs once each", len(r.Msg.Answer), r.Msg.Rcode)
	}
}
