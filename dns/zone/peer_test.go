package zone

import (
	"context"
	"fmt"
	"io"
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

// freePort returns a loopback port that was free for both UDP and TCP a
// moment ago, for peers that cannot be told to pick one.
func freePort(t testing.TB) int {
	t.Helper()
	for i := 0; i < 20; i++ {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", pc.LocalAddr().String())
		pc.Close()
		if err == nil {
			l.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// waitDNS waits until a server answers a query at addr.
func waitDNS(t testing.TB, addr, name string) {
	t.Helper()
	c := &dns.Client{Timeout: 200 * time.Millisecond}
	testutil.WaitFor(t, "a DNS server answering at "+addr, func() bool {
		_, err := c.Exchange(context.Background(), new(dns.Msg).SetQuestion(0, name, dns.TypeSOA), addr)
		return err == nil
	})
}

// StartNamed runs BIND's named serving the zone files (origin from each
// file's SOA) on a loopback port and returns its address.
func startNamed(t testing.TB, files ...string) string {
	named := peertest.Require(t, "named", "bind9")
	dir := t.TempDir()
	port := freePort(t)
	var zones strings.Builder
	for _, f := range files {
		z, err := LoadFile(f, "")
		if err != nil {
			t.Fatal(err)
		}
		abs, _ := filepath.Abs(f)
		fmt.Fprintf(&zones, "zone %q { type primary; file %q; };\n", z.Origin, abs)
	}
	conf := fmt.Sprintf(`options {
	directory %q;
	listen-on port %d { 127.0.0.1; };
	listen-on-v6 { none; };
	pid-file none;
	recursion no;
	dnssec-validation no;
	session-keyfile none; lock-file none;
};
controls { };
%s`, dir, port, zones.String())
	cf := filepath.Join(dir, "named.conf")
	os.WriteFile(cf, []byte(conf), 0o644)
	cmd := exec.Command(named, "-g", "-n", "1", "-c", cf)
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	waitDNS(t, addr, "example.com.")
	return addr
}

// TestSameAnswersAsBIND serves the test zone with applayer and with named
// and compares every section of every answer.
func TestSameAnswersAsBIND(t *testing.T) {
	bind := startNamed(t, "testdata/example.com.zone")
	ours := startServer(t, loadAuthority(t, "testdata/example.com.zone"))
	c := &dns.Client{}
	ask := func(addr, name string, typ dns.Type, edns bool, tcp bool) string {
		q := new(dns.Msg).SetQuestion(0, name, typ)
		if edns {
			q.SetEDNS(dns.DefaultEDNSSize)
		}
		cl := *c
		cl.TCP = tcp
		cl.NoTCPRetry = true
		r, err := cl.Exchange(context.Background(), q, addr)
		if err != nil {
			t.Fatalf("%s %s %v: %v", addr, name, typ, err)
		}
		if testing.Verbose() {
			t.Logf("%s %s %v edns=%v tcp=%v: %s", addr, name, typ, edns, tcp, summary(r.Msg))
		}
		return summary(r.Msg)
	}
	for _, tc := range authoritativeCases {
		if tc.want == "REFUSED |  |  | " {
			continue // named answers REFUSED too, but that is policy, not data
		}
		for _, edns := range []bool{true, false} {
			if got, want := ask(ours, tc.name, tc.typ, edns, false), ask(bind, tc.name, tc.typ, edns, false); got != want {
				t.Errorf("%s %v edns=%v:\n  applayer %s\n  named    %s", tc.name, tc.typ, edns, got, want)
			}
		}
	}
	// A 1.6 KB TXT RRset: truncated over UDP without EDNS and with 1232,
	// whole over TCP, by both.
	for _, v := range []struct{ edns, tcp bool }{{false, false}, {true, false}, {false, true}} {
		if got, want := ask(ours, "big.example.com.", dns.TypeTXT, v.edns, v.tcp), ask(bind, "big.example.com.", dns.TypeTXT, v.edns, v.tcp); got != want {
			t.Errorf("big TXT %+v:\n  applayer %s\n  named    %s", v, got, want)
		}
	}
}

// TestDig queries our server with dig and checks what dig prints.
func TestDig(t *testing.T) {
	dig := peertest.Require(t, "dig", "bind9-dnsutils")
	addr := startServer(t, loadAuthority(t, "testdata/example.com.zone"))
	host, port, _ := net.SplitHostPort(addr)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"example.com", "MX"}, []string{"status: NOERROR", "flags: qr aa rd;", "example.com.\t\t3600\tIN\tMX\t10 mail.example.com.", "mail.example.com.\t3600\tIN\tA\t192.0.2.25"}},
		{[]string{"nope.example.com"}, []string{"status: NXDOMAIN", "example.com.\t\t300\tIN\tSOA\tns1.example.com. hostmaster.example.com. 2024010101 7200 3600 1209600 300"}},
		{[]string{"+tcp", "big.example.com", "TXT"}, []string{"ANSWER: 2,", "chunk07-"}},
		{[]string{"+ignore", "+noedns", "big.example.com", "TXT"}, []string{"flags: qr aa tc rd;", "ANSWER: 0,"}},
		{[]string{"host.sub.example.com"}, []string{"flags: qr rd;", "AUTHORITY: 1, ADDITIONAL: 2", "ns.sub.example.com.\t3600\tIN\tA\t192.0.2.100"}},
	} {
		args := append([]string{"@" + host, "-p", port, "+time=2", "+tries=1"}, tc.args...)
		out, err := exec.Command(dig, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("dig %v: %v\n%s", tc.args, err, out)
		}
		for _, w := range tc.want {
			if !strings.Contains(string(out), w) {
				t.Errorf("dig %v: output lacks %q:\n%s", tc.args, w, out)
			}
		}
	}
}

// startKnot runs Knot DNS serving the test zone on a loopback port.
func startKnot(t testing.TB, file, origin string) string {
	knotd := peertest.Require(t, "knotd", "knot")
	dir := t.TempDir()
	port := freePort(t)
	abs, _ := filepath.Abs(file)
	conf := fmt.Sprintf(`server:
    listen: 127.0.0.1@%d
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
    rundir: %s
database:
    storage: %s
template:
  - id: default
    storage: %s
zone:
  - domain: %s
    file: %s
log:
  - target: stderr
    any: error
`, port, dir, dir, dir, origin, abs)
	cf := filepath.Join(dir, "knot.conf")
	os.WriteFile(cf, []byte(conf), 0o644)
	cmd := exec.Command(knotd, "-c", cf)
	logf, _ := os.Create(filepath.Join(dir, "knot.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	waitDNS(t, addr, origin)
	return addr
}

// TestSameAnswersAsKnot compares every section of every answer with Knot
// DNS serving the same zone.
func TestSameAnswersAsKnot(t *testing.T) {
	knot := startKnot(t, "testdata/example.com.zone", "example.com.")
	ours := startServer(t, loadAuthority(t, "testdata/example.com.zone"))
	c := &dns.Client{}
	for _, tc := range authoritativeCases {
		if tc.want == "REFUSED |  |  | " {
			continue
		}
		q := func(addr string) string {
			r, err := c.Exchange(context.Background(), new(dns.Msg).SetQuestion(0, tc.name, tc.typ).SetEDNS(dns.DefaultEDNSSize), addr)
			if err != nil {
				t.Fatalf("%s %s: %v", addr, tc.name, err)
			}
			return summary(r.Msg)
		}
		if got, want := q(ours), q(knot); got != want {
			t.Errorf("%s %v:\n  applayer %s\n  knot     %s", tc.name, tc.typ, got, want)
		}
	}
}

// TestNamedCheckzoneReadsWhatWeWrite: the zone file an UPDATE leaves
// behind is read by BIND's own checker, with the same records.
func TestNamedCheckzoneReadsWhatWeWrite(t *testing.T) {
	checkzone := peertest.Require(t, "named-checkzone", "bind9-utils")
	z, err := LoadFile("testdata/example.com.zone", "")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "written.zone")
	if err := WriteFile(out, z); err != nil {
		t.Fatal(err)
	}
	b, err := exec.Command(checkzone, "-D", "-o", "-", "example.com", out).CombinedOutput()
	if err != nil {
		t.Fatalf("named-checkzone rejects our zone file: %v\n%s", err, b)
	}
	// -D prints the zone in canonical form, one record per line.
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, "\tIN\t") || strings.Contains(line, " IN ") {
			n++
		}
	}
	if n != len(z.Records()) {
		t.Errorf("named-checkzone printed %d records, we wrote %d:\n%s", n, len(z.Records()), b)
	}
}

// startNSD runs NLnet Labs' NSD serving the test zone on a loopback port.
func startNSD(t testing.TB, file, origin string) string {
	nsd := peertest.Require(t, "nsd", "nsd")
	dir := t.TempDir()
	port := freePort(t)
	abs, _ := filepath.Abs(file)
	conf := fmt.Sprintf(`server:
    ip-address: 127.0.0.1@%d
    port: %d
    server-count: 1
    username: ""
    zonesdir: %q
    pidfile: %q
    zonelistfile: %q
    xfrdfile: %q
    database: ""
remote-control:
    control-enable: no
zone:
    name: %q
    zonefile: %q
`, port, port, dir, filepath.Join(dir, "nsd.pid"), filepath.Join(dir, "zone.list"), filepath.Join(dir, "xfrd.state"), origin, abs)
	cf := filepath.Join(dir, "nsd.conf")
	os.WriteFile(cf, []byte(conf), 0o644)
	cmd := exec.Command(nsd, "-d", "-c", cf)
	logf, _ := os.Create(filepath.Join(dir, "nsd.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	waitDNS(t, addr, origin)
	return addr
}

// TestEdgeCasesAgreeWithBINDKnotAndNSD: what BIND, Knot and NSD agree on
// beyond the data, asked over UDP and TCP: every opcode but QUERY, NOTIFY
// and UPDATE gets NOTIMP; a transfer of a name that is not a zone's apex
// (AXFR over TCP, IXFR over either) gets NOTAUTH; a name outside every
// zone gets REFUSED. Where they differ, applayer answers as two of them:
// ANY gets one RRset (RFC 8482), not the whole node (Knot and NSD; BIND's
// answer is an amplifier), AXFR over UDP gets NOTIMP (Knot and NSD),
// NOTIFY and UPDATE, which this server is not set up here to take, get
// NOTAUTH for a zone it does not serve (BIND and Knot) and, where all
// three differ, for one it serves (Knot).
func TestEdgeCasesAgreeWithBINDKnotAndNSD(t *testing.T) {
	three := map[string]string{
		"named": startNamed(t, "testdata/example.com.zone"),
		"knot":  startKnot(t, "testdata/example.com.zone", "example.com."),
		"nsd":   startNSD(t, "testdata/example.com.zone", "example.com."),
	}
	two := map[string]string{"knot": three["knot"], "nsd": three["nsd"]}
	ours := startServer(t, loadAuthority(t, "testdata/example.com.zone"))
	type answer struct {
		rcode   dns.Rcode
		answers int
	}
	// Raw exchanges: an answer to an unknown opcode may carry no question,
	// which a client matching answers to questions rightly ignores.
	ask := func(addr string, tcp bool, opcode dns.Opcode, name string, typ dns.Type) answer {
		q := new(dns.Msg).SetQuestion(0x4242, name, typ)
		q.Opcode = opcode
		wire, err := q.Pack()
		if err != nil {
			t.Fatal(err)
		}
		network := "udp"
		if tcp {
			network, wire = "tcp", append([]byte{byte(len(wire) >> 8), byte(len(wire))}, wire...)
		}
		c, err := net.Dial(network, addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(testutil.Patience))
		if _, err := c.Write(wire); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 65536)
		var n int
		if tcp {
			if _, err = io.ReadFull(c, b[:2]); err == nil {
				n = int(b[0])<<8 | int(b[1])
				_, err = io.ReadFull(c, b[:n])
			}
		} else {
			n, err = c.Read(b)
		}
		h, ok := dns.UnpackHeader(b[:n])
		if err != nil || !ok {
			t.Fatalf("%s tcp=%v opcode %d %s %v: %v (%d bytes)", addr, tcp, opcode, name, typ, err, n)
		}
		return answer{h.Rcode, int(b[6])<<8 | int(b[7])}
	}
	type ask1 struct {
		opcode dns.Opcode
		name   string
		typ    dns.Type
		tcp    []bool            // the transports it is asked over
		peers  map[string]string // the servers that agree
	}
	both, udp, tcp := []bool{false, true}, []bool{false}, []bool{true}
	cases := []ask1{
		{dns.OpcodeQuery, "example.com.", dns.TypeANY, both, two},
		{dns.OpcodeQuery, "www.example.com.", dns.TypeANY, both, two},
		{dns.OpcodeQuery, "example.com.", dns.TypeAXFR, udp, two},
		{dns.OpcodeQuery, "www.example.com.", dns.TypeAXFR, tcp, three},
		{dns.OpcodeQuery, "www.example.com.", dns.TypeIXFR, both, three},
		{dns.OpcodeQuery, "other.org.", dns.TypeSOA, both, three},
	}
	for op := dns.Opcode(1); op < 16; op++ {
		if op != dns.OpcodeNotify && op != dns.OpcodeUpdate {
			cases = append(cases, ask1{op, "example.com.", dns.TypeSOA, both, three})
		}
	}
	knotAndNamed := map[string]string{"knot": three["knot"], "named": three["named"]}
	knot := map[string]string{"knot": three["knot"]}
	for _, op := range []dns.Opcode{dns.OpcodeNotify, dns.OpcodeUpdate} {
		cases = append(cases, ask1{op, "other.org.", dns.TypeSOA, both, knotAndNamed}, ask1{op, "example.com.", dns.TypeSOA, both, knot})
	}
	for _, c := range cases {
		for _, tcp := range c.tcp {
			got := ask(ours, tcp, c.opcode, c.name, c.typ)
			for name, addr := range c.peers {
				if want := ask(addr, tcp, c.opcode, c.name, c.typ); got != want {
					t.Errorf("tcp=%v opcode %d %s %v: applayer %+v, %s %+v", tcp, c.opcode, c.name, c.typ, got, name, want)
				}
			}
		}
	}
}
