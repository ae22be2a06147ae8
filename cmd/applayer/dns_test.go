package main

import (
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/applayer/applayer/dns"
	"github.com/applayer/applayer/internal/testutil"
)

func TestParseQueryArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want queryArgs
		err  bool
	}{
		{[]string{"www.example.com"}, queryArgs{name: "www.example.com.", typ: dns.TypeA}, false},
		{[]string{"example.com", "MX", "@127.0.0.1:5300", "+tcp"}, queryArgs{name: "example.com.", typ: dns.TypeMX, server: "127.0.0.1", port: 5300, tcp: true}, false},
		{[]string{"+trace", "+norec", "ns", "ns", "@::1"}, queryArgs{name: "ns.", typ: dns.TypeNS, server: "::1", trace: true, norec: true}, false},
		{[]string{"a.", "TYPE65280"}, queryArgs{name: "a.", typ: 65280}, false},
		{[]string{"+bogus", "x"}, queryArgs{}, true},
		{[]string{"MX"}, queryArgs{name: "MX.", typ: dns.TypeA}, false},
		{[]string{"a", "b", "c"}, queryArgs{}, true},
		{[]string{"@127.0.0.1:99999", "a"}, queryArgs{}, true},
		{[]string{"a", "@"}, queryArgs{}, true},
	} {
		got, err := parseQueryArgs(tc.args)
		if tc.err {
			if err == nil {
				t.Errorf("parseQueryArgs(%q) = %+v, want an error", tc.args, got)
			}
			continue
		}
		if err != nil || *got != tc.want {
			t.Errorf("parseQueryArgs(%q) = %+v, %v, want %+v", tc.args, got, err, tc.want)
		}
	}
}

// TestQueryBadPort: a port out of range is refused before anything is sent.
func TestQueryBadPort(t *testing.T) {
	_, errOut, code := run(t, "", "dns", "query", "www.example.com", "@127.0.0.1", "-p", "99999")
	if code != 1 || errOut != "applayer: dns query: bad port 99999\n" {
		t.Errorf("dns query -p 99999: exit %d, %q", code, errOut)
	}
}

// TestDNSCommands runs dns check, serve and query as a user would.
func TestDNSCommands(t *testing.T) {
	zone := filepath.Join("..", "..", "dns", "zone", "testdata", "example.com.zone")
	out, _, code := run(t, "", "dns", "check", zone)
	if code != 0 || !strings.Contains(out, "zone example.com., 28 records, serial 2024010101: OK") {
		t.Errorf("dns check: exit %d, %q", code, out)
	}
	bad := filepath.Join(t.TempDir(), "bad.zone")
	os.WriteFile(bad, []byte("$ORIGIN x.\n$TTL 60\n@ SOA ns admin 1 2 3 4 5\n@ NS ns\nns A 1.2.3\n"), 0o644)
	_, errOut, code := run(t, "", "dns", "check", bad)
	if code != 1 || !strings.Contains(errOut, "bad.zone:5: A: bad address 1.2.3") || !strings.Contains(errOut, "applayer: dns check: 1 of 1 zone files have errors") {
		t.Errorf("dns check of a broken zone: exit %d, %q", code, errOut)
	}
	// A broken zone stops the server before it serves.
	_, errOut, code = run(t, "", "dns", "serve", "--zone", bad, "--listen", "127.0.0.1:0")
	if code != 1 || !strings.Contains(errOut, "bad.zone:5:") {
		t.Errorf("dns serve of a broken zone: exit %d, %q", code, errOut)
	}

	addr := freeDNSAddr(t, "127.0.0.1")
	srv := exec.Command(bin, "dns", "serve", "--zone", zone, "--listen", addr)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Process.Signal(syscall.SIGTERM); srv.Wait() }()
	var q string
	testutil.WaitFor(t, "dns serve answering", func() bool {
		q, _, code = run(t, "", "dns", "query", "example.com", "MX", "@"+addr, "--timeout", "200ms")
		return code == 0
	})
	for _, want := range []string{"status: NOERROR", "flags: qr aa rd;", ";; ANSWER SECTION:", "10 mail.example.com.", ";; ADDITIONAL SECTION:", "mail.example.com.\t3600\tIN\tA\t192.0.2.25", "(UDP)"} {
		if !strings.Contains(q, want) {
			t.Errorf("dns query output lacks %q:\n%s", want, q)
		}
	}
	q, _, _ = run(t, "", "dns", "query", "big.example.com", "TXT", "@"+addr, "+tcp")
	if !strings.Contains(q, "ANSWER: 2,") || !strings.Contains(q, "(TCP)") {
		t.Errorf("dns query +tcp:\n%s", q)
	}
	q, _, _ = run(t, "", "dns", "query", "web.example.com", "@"+addr, "+short")
	if lines := strings.Fields(q); len(lines) != 4 || !strings.HasPrefix(lines[0], "192.0.2.8") {
		t.Errorf("dns query +short: %q", q)
	}
	_, errOut, code = run(t, "", "dns", "query", "x", "+frobnicate")
	if code != 1 || !strings.Contains(errOut, "unknown option +frobnicate") {
		t.Errorf("bad option: exit %d, %q", code, errOut)
	}
}

// TestDNSResolveCommand runs `dns resolve` over a root server that is
// `dns serve` with a root zone, as a user would wire them.
func TestDNSResolveCommand(t *testing.T) {
	dir := t.TempDir()
	free := func(host string) string { return freeDNSAddr(t, host) }
	root := free("127.0.0.1")
	_, rootPort, _ := net.SplitHostPort(root)
	os.WriteFile(filepath.Join(dir, "root.zone"), []byte("$ORIGIN .\n$TTL 60\n@ SOA a.root. admin.root. 1 2 3 4 60\n@ NS a.root.\na.root. A 127.0.0.1\nwww.example. A 192.0.2.80\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "hints"), []byte(". 3600 NS a.root.\na.root. 3600 A 127.0.0.1\n"), 0o644)
	res := free("127.0.0.1")
	for _, args := range [][]string{
		{"dns", "serve", "--zone", filepath.Join(dir, "root.zone"), "--listen", root},
		{"dns", "resolve", "--root-hints", filepath.Join(dir, "hints"), "--upstream-port", rootPort, "--listen", res},
	} {
		cmd := exec.Command(bin, args...)
		var logs strings.Builder
		cmd.Stderr = &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
			if t.Failed() {
				t.Logf("%s:\n%s", args[1], logs.String())
			}
		}()
	}
	// Wait for the root server before asking the resolver: a query that
	// reached it too early would be answered SERVFAIL, and that failure is
	// cached for a few seconds.
	testutil.WaitFor(t, "the root server answering", func() bool {
		out, _, _ := run(t, "", "dns", "query", "www.example", "@"+root, "+norecurse", "--timeout", "300ms")
		return strings.Contains(out, "192.0.2.80")
	})
	var out, errOut string
	testutil.WaitFor(t, "the resolver answering", func() bool {
		var code int
		out, errOut, code = run(t, "", "dns", "query", "www.example", "@"+res, "--timeout", "300ms")
		return code == 0
	})
	if !strings.Contains(out, "flags: qr rd ra;") || !strings.Contains(out, "192.0.2.80") {
		t.Errorf("query through dns resolve:\n%s%s", out, errOut)
	}
	_, errOut, code := run(t, "", "dns", "resolve", "--allow", "not-a-cidr", "--listen", free("127.0.0.1"))
	if code != 1 || !strings.Contains(errOut, "--allow") {
		t.Errorf("bad --allow: exit %d, %q", code, errOut)
	}
}

// freeDNSAddr returns host:port where both UDP and TCP were free a moment
// ago (a DNS server binds both).
func freeDNSAddr(t *testing.T, host string) string {
	t.Helper()
	for i := 0; i < 20; i++ {
		pc, err := net.ListenPacket("udp", host+":0")
		if err != nil {
			t.Fatal(err)
		}
		addr := pc.LocalAddr().String()
		l, err := net.Listen("tcp", addr)
		pc.Close()
		if err == nil {
			l.Close()
			return addr
		}
	}
	t.Fatal("no free port for UDP and TCP")
	return ""
}

// TestDNSUpdateSurvivesKill9: an acknowledged UPDATE is on disk, so a
// server killed with SIGKILL right after the answer serves it on restart.
func TestDNSUpdateSurvivesKill9(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join("..", "..", "dns", "zone", "testdata", "example.com.zone"))
	if err != nil {
		t.Fatal(err)
	}
	zf := filepath.Join(dir, "example.com.zone")
	os.WriteFile(zf, src, 0o644)
	secret := "YSBsYWIgc2VjcmV0IG9mIHRoaXJ0eS10d28gYnl0ZXM="
	key, _ := dns.ParseTSIGKey("k:" + secret)
	for round := 0; round < 3; round++ {
		addr := freeDNSAddr(t, "127.0.0.1")
		srv := exec.Command(bin, "dns", "serve", "--zone", zf, "--listen", addr, "--tsig-key", "k:"+secret)
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		name := "kill" + strconv.Itoa(round) + ".example.com."
		m := &dns.Msg{Header: dns.Header{ID: 1, Opcode: dns.OpcodeUpdate}, Question: []dns.Question{{Name: "example.com.", Type: dns.TypeSOA, Class: dns.ClassIN}}}
		m.Authority = []dns.RR{{Name: name, Type: dns.TypeA, Class: dns.ClassIN, TTL: 60, Data: &dns.A{Addr: netip.MustParseAddr("192.0.2.1")}}}
		wire, _ := m.Pack()
		wire, _, _ = dns.SignTSIG(wire, key, nil, time.Now(), 0, false)
		var rcode dns.Rcode = 255
		testutil.WaitFor(t, "an answer to the update", func() bool {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				return false
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(2 * time.Second))
			dns.WriteTCP(conn, wire)
			if b, err := dns.ReadTCP(conn); err == nil {
				var r dns.Msg
				r.Unpack(b)
				rcode = r.Rcode
			}
			return rcode != 255
		})
		srv.Process.Kill() // SIGKILL at once after the answer
		srv.Wait()
		if rcode != dns.RcodeSuccess {
			t.Fatalf("round %d: update answered %v", round, rcode)
		}
		out, errOut, code := run(t, "", "dns", "check", zf)
		if code != 0 || !strings.Contains(out, "serial "+strconv.Itoa(2024010102+round)) {
			t.Fatalf("round %d: zone file after SIGKILL: %s%s", round, out, errOut)
		}
		recs, err := os.ReadFile(zf)
		if err != nil || !strings.Contains(string(recs), name) {
			t.Fatalf("round %d: %s lost after SIGKILL", round, name)
		}
	}
}

// TestDNSDefaults: dns query asks the lab's resolver when no server is
// given (the system's only when asked for), and dns resolve listens on a
// port no common service uses: 5353 is mDNS's, which avahi holds.
func TestDNSDefaults(t *testing.T) {
	for _, tc := range []struct {
		server string
		port   int
		want   string
	}{
		{"", 0, "127.0.53.53:10053"},
		{"", 5300, "127.0.53.53:5300"},
		{"127.0.0.1", 0, "127.0.0.1:53"},
		{"127.0.0.1", 5300, "127.0.0.1:5300"},
	} {
		s, p := queryTarget(tc.server, tc.port)
		if got := net.JoinHostPort(s, strconv.Itoa(p)); got != tc.want {
			t.Errorf("queryTarget(%q, %d) = %s, want %s", tc.server, tc.port, got, tc.want)
		}
	}
	if s, _ := queryTarget("system", 0); s == "system" || s == "" {
		t.Errorf("@system asks %q, want /etc/resolv.conf's nameserver", s)
	}
	_, port, _ := net.SplitHostPort(defaultResolveListen)
	if port == "5353" {
		t.Error("dns resolve listens on mDNS's port by default")
	}
	if b, err := os.ReadFile("/etc/services"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && strings.HasPrefix(f[1], port+"/") {
				t.Errorf("dns resolve's default port %s is a known service's: %s", port, line)
			}
		}
	}
}

// TestDNSCheckWarnsMissingDot: names written without their trailing dot
// are warned about, and the zone still loads.
func TestDNSCheckWarnsMissingDot(t *testing.T) {
	zf := filepath.Join(t.TempDir(), "example.com.zone")
	os.WriteFile(zf, []byte(`$ORIGIN example.com.
$TTL 300
@ SOA ns.example.com. hostmaster.example.com. 1 7200 3600 1209600 300
@ NS ns1.example.com
@ MX 10 mail.other.org
www CNAME web
ns A 192.0.2.1
`), 0o644)
	out, errOut, code := run(t, "", "dns", "check", zf)
	if code != 0 || !strings.Contains(out, "OK") {
		t.Fatalf("dns check: exit %d, %q %q", code, out, errOut)
	}
	for _, want := range []string{"ns1.example.com.example.com. (NS target of example.com.)", "mail.other.org.example.com. (MX target of example.com.)"} {
		if !strings.Contains(errOut, "warning: "+want) {
			t.Errorf("dns check warnings lack %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut, "web.example.com.") || strings.Contains(errOut, "hostmaster") {
		t.Errorf("a name that is relative on purpose was warned about:\n%s", errOut)
	}
}
