package zone

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/applayer/applayer/dns"
	"github.com/applayer/applayer/internal/peertest"
	"github.com/applayer/applayer/internal/testutil"
)

var testSecret = base64.StdEncoding.EncodeToString([]byte("a lab secret of thirty-two bytes"))

// startPrimary serves a copy of the test zone with updates and transfers
// enabled; it returns the address, the zone file's path and the Authority.
func startPrimary(t *testing.T) (string, string, *Authority) {
	t.Helper()
	src, _ := os.ReadFile("testdata/example.com.zone")
	path := filepath.Join(t.TempDir(), "example.com.zone")
	os.WriteFile(path, src, 0o644)
	z, err := LoadFile(path, "")
	if err != nil {
		t.Fatal(err)
	}
	a := NewAuthority(z)
	key, _ := dns.ParseTSIGKey("update-key:" + testSecret)
	p := &Primary{Keys: []*dns.TSIGKey{key}, Files: map[string]string{z.Origin: path}}
	p.Attach(a)
	return startServer(t, a), path, a
}

func nsupdate(t *testing.T, addr, key, script string) (string, error) {
	t.Helper()
	bin := peertest.Require(t, "nsupdate", "bind9-dnsutils")
	host, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin, "-y", "hmac-sha256:"+key, "-t", "5")
	cmd.Stdin = strings.NewReader(fmt.Sprintf("server %s %s\nzone example.com\n%s\nsend\n", host, port, script))
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func lookup(t *testing.T, addr, name string, typ dns.Type) *dns.Msg {
	t.Helper()
	r, err := (&dns.Client{}).Exchange(context.Background(), new(dns.Msg).SetQuestion(0, name, typ), addr)
	if err != nil {
		t.Fatal(err)
	}
	return r.Msg
}

func TestNsupdate(t *testing.T) {
	addr, path, _ := startPrimary(t)
	out, err := nsupdate(t, addr, "update-key:"+testSecret,
		"update add new.example.com 300 A 192.0.2.200\nupdate delete ns2.example.com AAAA\nupdate add example.com 300 TXT \"registrar was here\"")
	if err != nil {
		t.Fatalf("nsupdate: %v\n%s", err, out)
	}
	if m := lookup(t, addr, "new.example.com.", dns.TypeA); len(m.Answer) != 1 || m.Answer[0].Data.String() != "192.0.2.200" {
		t.Errorf("after the update, new.example.com = %v", m)
	}
	if m := lookup(t, addr, "ns2.example.com.", dns.TypeAAAA); len(m.Answer) != 0 {
		t.Errorf("deleted AAAA still served: %v", m)
	}
	// Durable before acknowledged: the file already holds the new zone.
	z, err := LoadFile(path, "")
	if err != nil {
		t.Fatal(err)
	}
	if z.Serial() != 2024010102 || z.nodes["new.example.com."] == nil {
		t.Errorf("zone file after update: serial %d, new name %v", z.Serial(), z.nodes["new.example.com."] != nil)
	}
	// A wrong key is refused and changes nothing.
	wrong := base64.StdEncoding.EncodeToString([]byte("not the secret, not the secret!!"))
	if out, err := nsupdate(t, addr, "update-key:"+wrong, "update add evil.example.com 300 A 192.0.2.66"); err == nil {
		t.Errorf("update with a wrong secret succeeded:\n%s", out)
	}
	if m := lookup(t, addr, "evil.example.com.", dns.TypeA); m.Rcode != dns.RcodeNXDomain {
		t.Errorf("wrongly signed update applied: %v", m)
	}
	if z, _ := LoadFile(path, ""); z.Serial() != 2024010102 {
		t.Errorf("serial moved to %d after a refused update", z.Serial())
	}
}

func TestUpdateRules(t *testing.T) {
	addr, _, a := startPrimary(t)
	key, _ := dns.ParseTSIGKey("update-key:" + testSecret)
	send := func(m *dns.Msg, sign bool) dns.Rcode {
		wire, _ := m.Pack()
		if sign {
			wire, _, _ = dns.SignTSIG(wire, key, nil, time.Now(), 0, false)
		}
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(2 * time.Second))
		dns.WriteTCP(conn, wire)
		b, err := dns.ReadTCP(conn)
		if err != nil {
			t.Fatal(err)
		}
		var r dns.Msg
		r.Unpack(b)
		return r.Rcode
	}
	upd := func(pre, ups []dns.RR) *dns.Msg {
		m := &dns.Msg{Header: dns.Header{ID: 7, Opcode: dns.OpcodeUpdate}, Question: []dns.Question{{Name: "example.com.", Type: dns.TypeSOA, Class: dns.ClassIN}}}
		m.Answer, m.Authority = pre, ups
		return m
	}
	rr := func(name string, class dns.Class, typ dns.Type, ttl uint32, d dns.RData) dns.RR {
		if d == nil {
			d = &dns.Unknown{}
		}
		return dns.RR{Name: name, Type: typ, Class: class, TTL: ttl, Data: d}
	}
	add := rr("x.example.com.", dns.ClassIN, dns.TypeA, 60, &dns.A{Addr: mustAddr("192.0.2.9")})
	for _, tc := range []struct {
		name string
		m    *dns.Msg
		sign bool
		want dns.Rcode
	}{
		{"unsigned", upd(nil, []dns.RR{add}), false, dns.RcodeRefused},
		{"name in use: no", upd([]dns.RR{rr("nope.example.com.", dns.ClassANY, dns.TypeANY, 0, nil)}, []dns.RR{add}), true, dns.RcodeNXDomain},
		{"name not in use: it is", upd([]dns.RR{rr("mail.example.com.", dns.ClassNONE, dns.TypeANY, 0, nil)}, []dns.RR{add}), true, dns.RcodeYXDomain},
		{"rrset exists: no", upd([]dns.RR{rr("mail.example.com.", dns.ClassANY, dns.TypeMX, 0, nil)}, []dns.RR{add}), true, dns.RcodeNXRRSet},
		{"rrset absent: it is there", upd([]dns.RR{rr("mail.example.com.", dns.ClassNONE, dns.TypeA, 0, nil)}, []dns.RR{add}), true, dns.RcodeYXRRSet},
		{"outside the zone", upd(nil, []dns.RR{rr("x.example.net.", dns.ClassIN, dns.TypeA, 60, &dns.A{Addr: mustAddr("192.0.2.9")})}), true, dns.RcodeNotZone},
		{"class ANY with TTL", upd(nil, []dns.RR{rr("x.example.com.", dns.ClassANY, dns.TypeA, 60, nil)}), true, dns.RcodeFormErr},
		{"value-dependent prerequisite holds", upd([]dns.RR{rr("mail.example.com.", dns.ClassIN, dns.TypeA, 0, &dns.A{Addr: mustAddr("192.0.2.25")})}, []dns.RR{add}), true, dns.RcodeSuccess},
		{"delete the apex NS set: kept", upd(nil, []dns.RR{rr("example.com.", dns.ClassANY, dns.TypeNS, 0, nil)}), true, dns.RcodeSuccess},
		{"a second CNAME replaces the first", upd(nil, []dns.RR{rr("www.example.com.", dns.ClassIN, dns.TypeCNAME, 60, &dns.CNAME{Target: "mail.example.com."})}), true, dns.RcodeSuccess},
		{"an A beside a CNAME is ignored", upd(nil, []dns.RR{rr("www.example.com.", dns.ClassIN, dns.TypeA, 60, &dns.A{Addr: mustAddr("192.0.2.1")})}), true, dns.RcodeSuccess},
	} {
		if got := send(tc.m, tc.sign); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	z := a.Zone("example.com.")
	if z.nodes["example.com."].get(dns.TypeNS) == nil || z.nodes["x.example.com."] == nil {
		t.Errorf("apex NS gone or accepted add missing")
	}
	www := z.nodes["www.example.com."]
	if c := www.get(dns.TypeCNAME); c == nil || len(c.rrs) != 1 || c.rrs[0].Data.String() != "mail.example.com." || www.get(dns.TypeA) != nil {
		t.Errorf("www after the CNAME updates: %+v", www.sets)
	}
}

func TestTransferAndSecondary(t *testing.T) {
	addr, _, _ := startPrimary(t)
	// Our secondary loads the zone by AXFR.
	sa := NewAuthority()
	sec := &Secondary{Origin: "example.com.", Primary: addr, Authority: sa}
	if _, err := sec.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	saddr := startServer(t, sa)
	if m := lookup(t, saddr, "www.example.com.", dns.TypeA); len(m.Answer) != 5 || !m.Authoritative {
		t.Errorf("secondary's answer: %v", m)
	}
	// dig reads our AXFR.
	if dig, err := exec.LookPath("dig"); err == nil {
		host, port, _ := net.SplitHostPort(addr)
		out, err := exec.Command(dig, "@"+host, "-p", port, "example.com", "AXFR").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "XFR size: 29 records") {
			t.Errorf("dig AXFR: %v\n%s", err, out)
		}
		// IXFR gets the whole zone (RFC 1995 §4).
		out, err = exec.Command(dig, "@"+host, "-p", port, "example.com", "IXFR=2024010100").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "XFR size: 29 records") {
			t.Errorf("dig IXFR: %v\n%s", err, out)
		}
	}
	// IXFR over UDP gets the SOA alone, which sends the client to TCP
	// (RFC 1995 §2).
	if m := lookup(t, addr, "example.com.", dns.TypeIXFR); m.Rcode != dns.RcodeSuccess || len(m.Answer) != 1 || m.Answer[0].Type != dns.TypeSOA {
		t.Errorf("IXFR over UDP: %v; want the SOA alone", m)
	}
	// An update on the primary reaches the secondary on refresh.
	key, _ := dns.ParseTSIGKey("update-key:" + testSecret)
	m := &dns.Msg{Header: dns.Header{ID: 9, Opcode: dns.OpcodeUpdate}, Question: []dns.Question{{Name: "example.com.", Type: dns.TypeSOA, Class: dns.ClassIN}}}
	m.Authority = []dns.RR{{Name: "fresh.example.com.", Type: dns.TypeA, Class: dns.ClassIN, TTL: 60, Data: &dns.A{Addr: mustAddr("192.0.2.77")}}}
	wire, _ := m.Pack()
	wire, _, _ = dns.SignTSIG(wire, key, nil, time.Now(), 0, false)
	conn, _ := net.Dial("tcp", addr)
	dns.WriteTCP(conn, wire)
	dns.ReadTCP(conn)
	conn.Close()
	if err := sec.refresh(context.Background(), sa.Zone("example.com.")); err != nil {
		t.Fatal(err)
	}
	if got := sa.Zone("example.com.").Serial(); got != 2024010102 {
		t.Errorf("secondary serial after refresh = %d", got)
	}
	// A client outside AllowTransfer is refused; signed it is served.
	if _, err := Transfer(context.Background(), addr, "example.com.", key); err != nil {
		t.Errorf("signed AXFR: %v", err)
	}
}

// TestBINDSecondaryOfOurs makes named a secondary of our primary: the
// textbook's primary and secondary servers, one of each make.
func TestBINDSecondaryOfOurs(t *testing.T) {
	named := peertest.Require(t, "named", "bind9")
	addr, _, _ := startPrimary(t)
	host, pport, _ := net.SplitHostPort(addr)
	dir := t.TempDir()
	port := freePort(t)
	conf := fmt.Sprintf(`options { directory %q; listen-on port %d { 127.0.0.1; }; listen-on-v6 { none; };
pid-file none; recursion no; dnssec-validation no; session-keyfile none; lock-file none; };
controls { };
zone "example.com" { type secondary; primaries { %s port %s; }; file "sec.db"; };
`, dir, port, host, pport)
	cf := filepath.Join(dir, "named.conf")
	os.WriteFile(cf, []byte(conf), 0o644)
	cmd := exec.Command(named, "-g", "-n", "1", "-c", cf)
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Cleanups run last first: named is stopped before its log is read.
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("named's log:\n%s", log.String())
		}
	})
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	baddr := fmt.Sprintf("127.0.0.1:%d", port)
	testutil.WaitFor(t, "named serving the zone it should have transferred from us", func() bool {
		r, err := (&dns.Client{Timeout: 200 * time.Millisecond}).Exchange(context.Background(), new(dns.Msg).SetQuestion(0, "www.example.com.", dns.TypeA), baddr)
		return err == nil && r.Msg.Rcode == dns.RcodeSuccess && len(r.Msg.Answer) == 5
	})
}

func TestSerialArithmetic(t *testing.T) {
	for _, tc := range []struct {
		a, b uint32
		want bool
	}{{2, 1, true}, {1, 2, false}, {0, 0xFFFFFFFF, true}, {5, 5, false}, {0x80000000, 1, true}} {
		if got := serialNewer(tc.a, tc.b); got != tc.want {
			t.Errorf("serialNewer(%d, %d) = %v", tc.a, tc.b, got)
		}
	}
}

// TestDnspythonReadsOurTransfer lets dnspython take the zone by AXFR and
// print it: an independent reader of our transfer and record encoding.
func TestDnspythonReadsOurTransfer(t *testing.T) {
	py := peertest.RequirePython(t, "python3-dnspython", "dns.zone", "dns.query")
	addr, _, _ := startPrimary(t)
	host, port, _ := net.SplitHostPort(addr)
	script := `import sys, dns.zone, dns.query
z = dns.zone.from_xfr(dns.query.xfr(sys.argv[1], "example.com", port=int(sys.argv[2]), relativize=False), relativize=False)
for name, ttl, rd in z.iterate_rdatas():
    print(name, ttl, dns.rdatatype.to_text(rd.rdtype), rd.to_text())
`
	out, err := exec.Command(py, "-c", script, host, port).CombinedOutput()
	if err != nil {
		t.Fatalf("dnspython AXFR: %v\n%s", err, out)
	}
	for _, want := range []string{
		"example.com. 3600 SOA ns1.example.com. hostmaster.example.com. 2024010101 7200 3600 1209600 300",
		"_sip._tcp.example.com. 3600 SRV 0 5 5060 sip.example.com.",
		"unknown.example.com. 3600 TYPE65280 \\# 4 0a000001",
		"ns2.example.com. 3600 AAAA 2001:db8::54",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("dnspython's copy lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(strings.TrimSpace(string(out)), "\n") + 1; n != 28 {
		t.Errorf("dnspython read %d records, want 28", n)
	}
}

// TestNotifyReachesSecondary: an update on the primary sends a NOTIFY, and
// the secondary transfers the new version at once (RFC 1996).
func TestNotifyReachesSecondary(t *testing.T) {
	sa := NewAuthority()
	saddr, serveSecondary := bindServer(t)
	// The primary, told to notify the secondary.
	src, _ := os.ReadFile("testdata/example.com.zone")
	path := filepath.Join(t.TempDir(), "example.com.zone")
	os.WriteFile(path, src, 0o644)
	z, _ := LoadFile(path, "")
	pa := NewAuthority(z)
	key, _ := dns.ParseTSIGKey("update-key:" + testSecret)
	p := &Primary{Keys: []*dns.TSIGKey{key}, Files: map[string]string{z.Origin: path}, Notify: []string{saddr}}
	p.Attach(pa)
	paddr := startServer(t, pa)

	sec := &Secondary{Origin: "example.com.", Primary: paddr, Authority: sa, MinRefresh: 10 * time.Millisecond}
	sa.Notifies = Notifies{sec}
	if _, err := sec.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	serveSecondary(sa)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sec.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	m := &dns.Msg{Header: dns.Header{ID: 9, Opcode: dns.OpcodeUpdate}, Question: []dns.Question{{Name: "example.com.", Type: dns.TypeSOA, Class: dns.ClassIN}}}
	m.Authority = []dns.RR{{Name: "notified.example.com.", Type: dns.TypeA, Class: dns.ClassIN, TTL: 60, Data: &dns.A{Addr: mustAddr("192.0.2.78")}}}
	wire, _ := m.Pack()
	wire, _, _ = dns.SignTSIG(wire, key, nil, time.Now(), 0, false)
	conn, err := net.Dial("tcp", paddr)
	if err != nil {
		t.Fatal(err)
	}
	dns.WriteTCP(conn, wire)
	dns.ReadTCP(conn)
	conn.Close()
	testutil.WaitFor(t, "the NOTIFY to bring the secondary to serial 2024010102", func() bool {
		return sa.Zone("example.com.").Serial() == 2024010102
	})
	if m := lookup(t, saddr, "notified.example.com.", dns.TypeA); len(m.Answer) != 1 {
		t.Errorf("secondary's answer after NOTIFY: %v", m)
	}
}

// TestUpdateComparesDataByType: names inside RDATA compare without case,
// other RDATA exactly, both when an update adds or deletes a record and in
// a value-dependent prerequisite.
func TestUpdateComparesDataByType(t *testing.T) {
	recs, err := Parse(strings.NewReader(`$ORIGIN example.org.
$TTL 60
@ SOA ns admin 1 2 3 4 5
@ NS ns
ns A 192.0.2.1
t TXT "abc"
m MX 10 Mail.Example.Org.
`), "t.zone", "")
	if err != nil {
		t.Fatal(err)
	}
	z, err := New("example.org.", recs)
	if err != nil {
		t.Fatal(err)
	}
	in := func(name string, typ dns.Type, d dns.RData) dns.RR {
		return dns.RR{Name: name, Type: typ, Class: dns.ClassIN, TTL: 60, Data: d}
	}
	none := func(rr dns.RR) dns.RR { rr.Class, rr.TTL = dns.ClassNONE, 0; return rr }
	txtABC := in("t.example.org.", dns.TypeTXT, &dns.TXT{Strings: []string{"ABC"}})
	mx := in("m.example.org.", dns.TypeMX, &dns.MX{Pref: 10, Host: "mail.example.org."})
	count := func(recs []Record, typ dns.Type) int {
		n := 0
		for _, r := range recs {
			if r.Type == typ {
				n++
			}
		}
		return n
	}
	for _, tc := range []struct {
		name    string
		ups     []dns.RR
		changed bool
		txt, mx int
	}{
		{"add TXT ABC beside abc", []dns.RR{txtABC}, true, 2, 1},
		{"delete TXT ABC leaves abc", []dns.RR{none(txtABC)}, false, 1, 1},
		{"add the MX in other case: already there", []dns.RR{mx}, false, 1, 1},
		{"delete the MX in other case", []dns.RR{none(mx)}, true, 1, 0},
	} {
		recs, changed, rc := applyUpdates(z, tc.ups)
		if rc != dns.RcodeSuccess || changed != tc.changed {
			t.Errorf("%s: changed %v, %v; want changed %v", tc.name, changed, rc, tc.changed)
			continue
		}
		if changed && (count(recs, dns.TypeTXT) != tc.txt || count(recs, dns.TypeMX) != tc.mx) {
			t.Errorf("%s: %d TXT and %d MX left, want %d and %d", tc.name, count(recs, dns.TypeTXT), count(recs, dns.TypeMX), tc.txt, tc.mx)
		}
	}
	pre := func(rr dns.RR) []dns.RR { rr.TTL = 0; return []dns.RR{rr} }
	if rc := checkPrereqs(z, pre(txtABC)); rc != dns.RcodeNXRRSet {
		t.Errorf("prerequisite TXT ABC against abc: %v, want NXRRSET", rc)
	}
	if rc := checkPrereqs(z, pre(mx)); rc != dns.RcodeSuccess {
		t.Errorf("prerequisite MX in other case: %v, want NOERROR", rc)
	}
}

// FuzzUpdate runs whatever an UPDATE message carries through the
// prerequisite and update rules of RFC 2136 (as a registrar holding the key
// could send it): no panic, and a zone the rules accept is written to a
// master file that reads back to the same records, so an acknowledged
// update can never leave a file the server then refuses to start on.
func FuzzUpdate(f *testing.F) {
	z, err := LoadFile("testdata/example.com.zone", "")
	if err != nil {
		f.Fatal(err)
	}
	seed := func(pre, ups []dns.RR) {
		m := &dns.Msg{Header: dns.Header{ID: 7, Opcode: dns.OpcodeUpdate}, Question: []dns.Question{{Name: "example.com.", Type: dns.TypeSOA, Class: dns.ClassIN}}}
		m.Answer, m.Authority = pre, ups
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	a := dns.RR{Name: "new.example.com.", Type: dns.TypeA, Class: dns.ClassIN, TTL: 60, Data: &dns.A{Addr: mustAddr("192.0.2.9")}}
	txt := dns.RR{Name: `we\;ird\032name.example.com.`, Type: dns.TypeTXT, Class: dns.ClassIN, TTL: 60, Data: &dns.TXT{Strings: []string{"a\"b;c\\d( \x00\xff"}}}
	del := dns.RR{Name: "mail.example.com.", Type: dns.TypeANY, Class: dns.ClassANY, Data: &dns.Unknown{}}
	pre := dns.RR{Name: "mail.example.com.", Type: dns.TypeA, Class: dns.ClassIN, Data: &dns.A{Addr: mustAddr("192.0.2.25")}}
	seed(nil, []dns.RR{a, txt})
	seed([]dns.RR{pre}, []dns.RR{del})
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, raw []byte) {
		var m dns.Msg
		if m.Unpack(raw) != nil {
			return
		}
		if checkPrereqs(z, m.Answer) != dns.RcodeSuccess {
			return
		}
		recs, changed, rc := applyUpdates(z, m.Authority)
		if rc != dns.RcodeSuccess || !changed {
			return
		}
		nz, err := New(z.Origin, recs)
		if err != nil {
			return // refused before anything is written
		}
		path := filepath.Join(dir, "update.zone")
		if err := WriteFile(path, nz); err != nil {
			t.Fatal(err)
		}
		back, err := LoadFile(path, "")
		if err != nil {
			t.Fatalf("the zone written after an update does not load: %v", err)
		}
		if len(back.Records()) != len(nz.Records()) {
			t.Fatalf("wrote %d records, read back %d", len(nz.Records()), len(back.Records()))
		}
		for i, rr := range nz.Records() {
			if got := back.Records()[i].String(); got != rr.String() {
				t.Fatalf("record %d written as %q, read back as %q", i, rr.String(), got)
			}
		}
	})
}

// TestTransferOfBadRecordsRefused: a primary whose AXFR carries records of
// another class (class ANY with no data decodes as an RFC 2136 delete form)
// gives the secondary an error, not a zone with records it cannot serve or
// a panic on the SOA.
func TestTransferOfBadRecordsRefused(t *testing.T) {
	soa := dns.RR{Name: "example.org.", Type: dns.TypeSOA, Class: dns.ClassIN, TTL: 60, Data: &dns.SOA{MName: "ns.example.org.", RName: "admin.example.org.", Serial: 1}}
	ns := dns.RR{Name: "example.org.", Type: dns.TypeNS, Class: dns.ClassIN, TTL: 60, Data: &dns.NS{Host: "ns.example.org."}}
	for _, bad := range []dns.RR{
		{Name: "example.org.", Type: dns.TypeSOA, Class: dns.ClassANY, Data: &dns.Unknown{}},
		{Name: "www.example.org.", Type: dns.TypeA, Class: dns.ClassANY, Data: &dns.Unknown{}},
		{Name: "www.example.org.", Type: dns.TypeA, Class: dns.ClassCH, TTL: 60, Data: &dns.A{Addr: mustAddr("192.0.2.1")}},
	} {
		primary := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Request) {
			var m dns.Msg
			m.SetReply(r.Msg)
			m.Authoritative = true
			m.Answer = []dns.RR{soa, ns, bad, soa}
			if bad.Type == dns.TypeSOA {
				m.Answer = []dns.RR{bad, ns, soa}
			}
			w.WriteMsg(&m)
		})
		addr := startServer(t, primary)
		sec := &Secondary{Origin: "example.org.", Primary: addr, Authority: NewAuthority()}
		if z, err := sec.Load(context.Background()); err == nil {
			t.Errorf("a transfer with %v %v class %v loaded: serial %d", bad.Name, bad.Type, bad.Class, z.Serial())
		}
	}
}

// TestMalformedTSIGRefused: a TSIG record with no data (class ANY,
// RDLENGTH 0) on an UPDATE is refused as a bad signature.
func TestMalformedTSIGRefused(t *testing.T) {
	m := &dns.Msg{Header: dns.Header{ID: 7, Opcode: dns.OpcodeUpdate}, Question: []dns.Question{{Name: "example.com.", Type: dns.TypeSOA, Class: dns.ClassIN}}}
	m.Additional = []dns.RR{{Name: "update-key.", Type: dns.TypeTSIG, Class: dns.ClassANY, Data: &dns.Unknown{}}}
	wire, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	key, _ := dns.ParseTSIGKey("update-key:" + testSecret)
	if _, _, err := dns.VerifyTSIG(wire, []*dns.TSIGKey{key}, nil, time.Now()); !errors.Is(err, dns.ErrBadSig) {
		t.Errorf("VerifyTSIG of an empty TSIG record: %v, want ErrBadSig", err)
	}

	// A TSIG record in the authority section, not last in the additional
	// one (RFC 8945 §5.1), signs nothing: the update is unsigned, REFUSED.
	a := loadAuthority(t, "testdata/example.com.zone")
	(&Primary{Keys: []*dns.TSIGKey{key}}).Attach(a)
	m.Additional = nil
	m.Authority = []dns.RR{{Name: "update-key.", Type: dns.TypeTSIG, Class: dns.ClassANY, Data: &dns.TSIG{Algorithm: dns.HMACSHA256, TimeSigned: uint64(time.Now().Unix()), Fudge: 300, MAC: make([]byte, 32)}}}
	if wire, err = m.Pack(); err != nil {
		t.Fatal(err)
	}
	var req, resp dns.Msg
	if err := req.Unpack(wire); err != nil {
		t.Fatal(err)
	}
	w := &packWriter{}
	a.ServeDNS(w, &dns.Request{Msg: &req, Raw: wire, TCP: true})
	if err := resp.Unpack(w.out); err != nil || resp.Rcode != dns.RcodeRefused {
		t.Errorf("UPDATE with a TSIG record in the authority section: %v, %v; want REFUSED", resp.Rcode, err)
	}
}

// TestSecondaryExpiresAndRecovers: a secondary whose primary is gone for
// longer than the SOA's expire time stops answering for the zone, keeps
// asking, and serves the zone again once the primary is back.
func TestSecondaryExpiresAndRecovers(t *testing.T) {
	recs, err := Parse(strings.NewReader("$ORIGIN example.org.\n$TTL 60\n@ SOA ns admin 1 1 1 2 60\n@ NS ns\nns A 192.0.2.1\n"), "t.zone", "")
	if err != nil {
		t.Fatal(err)
	}
	z, err := New("example.org.", recs) // refresh 1 s, retry 1 s, expire 2 s
	if err != nil {
		t.Fatal(err)
	}
	a := NewAuthority(z)
	(&Primary{}).Attach(a)
	addr, serve := bindServer(t)
	serve(a)
	sa := NewAuthority()
	sec := &Secondary{Origin: "example.org.", Primary: addr, Authority: sa, MinRefresh: 100 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if _, err := sec.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sec.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	// The primary loses the zone: it refuses the SOA query and the transfer.
	gone := a.Zone("example.org.")
	a.Remove("example.org.")
	waitFor := func(what string, cond func() bool) { t.Helper(); testutil.WaitFor(t, what, cond) }
	waitFor("expiry", func() bool { return sa.Zone("example.org.") == nil })
	// The primary has it again.
	a.Put(gone)
	waitFor("recovery", func() bool { return sa.Zone("example.org.") != nil })
}
