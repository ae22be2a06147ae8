package resolver

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/applayer/applayer/dns"
	"github.com/applayer/applayer/dns/zone"
	"github.com/applayer/applayer/internal/peertest"
	"github.com/applayer/applayer/internal/stubresolver"
	"github.com/applayer/applayer/internal/testutil"
)

// TestResolveThroughBIND resolves through a hierarchy whose authoritative
// level is BIND: our root and test. servers refer to named, which serves
// example.test. and other.test. on 127.0.0.1 (named listens only on
// addresses configured on an interface, and loopback has 127.0.0.1).
func TestResolveThroughBIND(t *testing.T) {
	named := peertest.Require(t, "named", "bind9")
	swap := func(s string) string { return strings.ReplaceAll(s, "127.0.0.13", "127.0.0.1") }
	dir := t.TempDir()
	var zones strings.Builder
	for origin, src := range map[string]string{"example.test.": hierarchy["127.0.0.13"], "other.test.": otherZone} {
		f := filepath.Join(dir, origin+"zone")
		os.WriteFile(f, []byte(swap(src)), 0o644)
		fmt.Fprintf(&zones, "zone %q { type primary; file %q; };\n", origin, f)
	}
	var port int
	for attempt := 0; attempt < 20 && port == 0; attempt++ {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := pc.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", pc.LocalAddr().String()) // named needs TCP there too
		pc.Close()
		if err != nil {
			continue
		}
		l.Close()
		ok := true
		for _, ip := range []string{"127.0.0.11", "127.0.0.12"} {
			if ok && serveAt(t, ip, p, zone.NewAuthority(mustZone(t, swap(hierarchy[ip])))) != nil {
				ok = false
			}
		}
		if ok {
			port = p
		}
	}
	if port == 0 {
		t.Fatal("no common free port")
	}
	conf := fmt.Sprintf(`options { directory %q; listen-on port %d { 127.0.0.1; }; listen-on-v6 { none; };
pid-file none; recursion no; dnssec-validation no; session-keyfile none; lock-file none; };
controls { };
%s`, dir, port, zones.String())
	cf := filepath.Join(dir, "named.conf")
	os.WriteFile(cf, []byte(conf), 0o644)
	cmd := exec.Command(named, "-g", "-n", "1", "-c", cf)
	logf, _ := os.Create(filepath.Join(dir, "named.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := net.JoinHostPort("127.0.0.1", fmt.Sprint(port))
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("named's log:\n%s", b)
		}
	})
	testutil.WaitFor(t, "named answering on "+addr, func() bool {
		q := new(dns.Msg).SetQuestion(0, "example.test.", dns.TypeSOA)
		_, err := (&dns.Client{Timeout: 200 * time.Millisecond}).Exchange(context.Background(), q, addr)
		return err == nil
	})
	r := &Resolver{Hints: rootHints(), UpstreamPort: port}
	ctx := context.Background()
	res, err := r.Resolve(ctx, "www.example.test.", dns.TypeA)
	if err != nil || len(res.Answer) != 2 {
		t.Fatalf("www.example.test through BIND: %+v, %v", res, err)
	}
	if n := r.UpstreamQueries(); n != 3 {
		t.Errorf("%d upstream queries, want 3", n)
	}
	res, err = r.Resolve(ctx, "alias.example.test.", dns.TypeA)
	if err != nil || res.Rcode != dns.RcodeNXDomain || len(res.Answer) != 2 {
		t.Errorf("alias through BIND (CNAME across zones, glue-less NS): %+v, %v", res, err)
	}
	res, err = r.Resolve(ctx, "big.example.test.", dns.TypeTXT)
	if err != nil || len(res.Answer) != 2 {
		t.Errorf("big TXT through BIND (TC, then TCP): %+v, %v", res, err)
	}
	res, err = r.Resolve(ctx, "nope.example.test.", dns.TypeA)
	if err != nil || res.Rcode != dns.RcodeNXDomain || res.SOA == nil || res.SOA.TTL != 60 {
		t.Errorf("NXDOMAIN from BIND: %+v, %v", res, err)
	}
}

// TestStdlibAndDigUseOurResolver points Go's own resolver and dig at ours.
func TestStdlibAndDigUseOurResolver(t *testing.T) {
	port := startHierarchy(t, nil)
	addr := serveResolver(t, &Resolver{Hints: rootHints(), UpstreamPort: port})
	gr := stubresolver.At(addr)
	ips, err := gr.LookupHost(context.Background(), "www.example.test")
	if err != nil || len(ips) != 2 {
		t.Errorf("net.Resolver.LookupHost = %v, %v", ips, err)
	}
	if _, err := gr.LookupHost(context.Background(), "nope.example.test"); err == nil {
		t.Errorf("net.Resolver found a name that does not exist")
	}
	dig := peertest.Require(t, "dig", "bind9-dnsutils")
	host, p, _ := net.SplitHostPort(addr)
	out, err := exec.Command(dig, "@"+host, "-p", p, "+time=3", "+tries=1", "mail.example.test").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "flags: qr rd ra;") || !strings.Contains(string(out), "192.0.2.25") {
		t.Errorf("dig through our resolver: %v\n%s", err, out)
	}
}
