package spf

import (
	"context"
	"encoding/json"
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"github.com/applayer/applayer/internal/dnstest"
	"github.com/applayer/applayer/internal/peertest"
	"github.com/applayer/applayer/internal/stubresolver"
)

// testZones are the policies the tests evaluate, served by applayer's own
// authoritative server so that pyspf and this package ask the same DNS.
const testZones = `$ORIGIN test.
$TTL 300
@ SOA ns hostmaster 1 3600 600 86400 300
@ NS ns
ns A 127.0.0.1
pass TXT "v=spf1 ip4:127.0.0.0/8 -all"
fail TXT "v=spf1 -all"
soft TXT "v=spf1 ~all"
neutral TXT "v=spf1 ?all"
empty TXT "v=spf1"
a TXT "v=spf1 a -all"
a A 127.0.0.5
acidr TXT "v=spf1 a/24 -all"
acidr A 127.0.0.5
adomain TXT "v=spf1 a:a.test -all"
mx TXT "v=spf1 mx -all"
mx MX 10 mail.mx
mail.mx A 127.0.0.7
mxcidr TXT "v=spf1 mx:mx.test/30 -all"
inc TXT "v=spf1 include:pass.test -all"
incfail TXT "v=spf1 include:fail.test ~all"
incnone TXT "v=spf1 include:nospf.test -all"
redir TXT "v=spf1 redirect=pass.test"
redirnone TXT "v=spf1 redirect=nospf.test"
redirall TXT "v=spf1 ?all redirect=fail.test"
two TXT "v=spf1 -all"
two TXT "v=spf1 +all"
other TXT "not spf" "at all"
other TXT "v=spf1 +all"
syntax TXT "v=spf1 ip4:999.1.1.1 -all"
badmech TXT "v=spf1 frobnicate -all"
unknownmod TXT "v=spf1 foo=bar ip4:127.0.0.1 -all"
exists TXT "v=spf1 exists:%{i}.ok.exists.test -all"
127.0.0.1.ok.exists A 127.0.0.2
macro TXT "v=spf1 exists:%{l1r-}.users.macro.test -all"
alice.users.macro A 127.0.0.2
macrod TXT "v=spf1 exists:%{d1}.ok.exists.test -all"
test.ok.exists A 127.0.0.2
ip6 TXT "v=spf1 ip6:::1 -all"
ptr TXT "v=spf1 ptr -all"
host.ptr A 127.0.0.3
limit TXT "v=spf1 include:fail.test include:fail.test include:fail.test include:fail.test include:fail.test include:fail.test include:fail.test include:fail.test include:fail.test include:fail.test include:pass.test -all"
tenok TXT "v=spf1 include:fail.test include:fail.test include:fail.test include:fail.test include:fail.test include:fail.test include:fail.test include:fail.test include:fail.test include:pass.test -all"
void TXT "v=spf1 a:v1.test a:v2.test a:v3.test -all"
twovoid TXT "v=spf1 a:v1.test a:v2.test ip4:127.0.0.1 -all"
exp TXT "v=spf1 -all exp=explain.exp.test"
explain.exp TXT "%{i} is not one of %{d}'s designated mail hosts."
upper TXT "v=spf1 exists:%{L}.x.upper.test -all"
`

const reverseZone = `$ORIGIN 127.in-addr.arpa.
$TTL 300
@ SOA ns.test. hostmaster.test. 1 3600 600 86400 300
@ NS ns.test.
3.0.0 PTR host.ptr.test.
4.0.0 PTR host.elsewhere.test.
`

type spfCase struct {
	ip, sender string
	want       Result
}

var spfCases = []spfCase{
	{"127.0.0.1", "alice@pass.test", Pass},
	{"192.0.2.1", "alice@pass.test", Fail},
	{"127.0.0.1", "alice@fail.test", Fail},
	{"127.0.0.1", "alice@soft.test", SoftFail},
	{"127.0.0.1", "alice@neutral.test", Neutral},
	{"127.0.0.1", "alice@empty.test", Neutral},
	{"127.0.0.1", "alice@nospf.test", None},
	{"127.0.0.5", "alice@a.test", Pass},
	{"127.0.0.6", "alice@a.test", Fail},
	{"127.0.0.9", "alice@acidr.test", Pass},
	{"127.0.0.5", "alice@adomain.test", Pass},
	{"127.0.0.7", "alice@mx.test", Pass},
	{"127.0.0.8", "alice@mx.test", Fail},
	{"127.0.0.4", "alice@mxcidr.test", Pass},
	{"127.0.0.1", "alice@inc.test", Pass},
	{"127.0.0.1", "alice@incfail.test", SoftFail},
	{"127.0.0.1", "alice@incnone.test", PermError},
	{"127.0.0.1", "alice@redir.test", Pass},
	{"127.0.0.1", "alice@redirnone.test", PermError},
	{"127.0.0.1", "alice@redirall.test", Neutral},
	{"127.0.0.1", "alice@two.test", PermError},
	{"127.0.0.1", "alice@other.test", Pass},
	{"127.0.0.1", "alice@syntax.test", PermError},
	{"127.0.0.1", "alice@badmech.test", PermError},
	{"127.0.0.1", "alice@unknownmod.test", Pass},
	{"127.0.0.1", "alice@exists.test", Pass},
	{"127.0.0.3", "alice@exists.test", Fail},
	{"127.0.0.1", "alice-x@macro.test", Pass},
	{"127.0.0.1", "bob@macro.test", Fail},
	{"127.0.0.1", "alice@macrod.test", Pass},
	{"::1", "alice@ip6.test", Pass},
	{"127.0.0.1", "alice@ip6.test", Fail},
	// Not 127.0.0.1: the standard library's resolver answers its PTR
	// from /etc/hosts (localhost), whatever server it is aimed at.
	{"127.0.0.3", "alice@ptr.test", Pass},
	{"127.0.0.4", "alice@ptr.test", Fail},
	{"127.0.0.2", "alice@ptr.test", Fail},
	{"127.0.0.1", "alice@limit.test", PermError},
	{"127.0.0.1", "alice@tenok.test", Pass},
	{"127.0.0.1", "alice@void.test", PermError},
	{"127.0.0.1", "alice@twovoid.test", Pass},
	{"127.0.0.1", "alice@exp.test", Fail},
	{"127.0.0.1", "", Pass}, // postmaster@pass.test, from the HELO name
	{"127.0.0.1", "alice@-bad-.", None},
}

func check(t *testing.T, c *Checker, tc spfCase) Verdict {
	t.Helper()
	helo := "pass.test"
	return c.Check(context.Background(), netip.MustParseAddr(tc.ip), tc.sender, helo)
}

func TestCheckTable(t *testing.T) {
	addr := dnstest.ServeZones(t, map[string]string{"test.": testZones, "127.in-addr.arpa.": reverseZone})
	c := &Checker{Resolver: stubresolver.At(addr)}
	for _, tc := range spfCases {
		if v := check(t, c, tc); v.Result != tc.want {
			t.Errorf("%s from %s: %s (%v), want %s", tc.sender, tc.ip, v.Result, v.Err, tc.want)
		}
	}
	v := check(t, c, spfCase{"127.0.0.1", "alice@exp.test", Fail})
	if want := "127.0.0.1 is not one of exp.test's designated mail hosts."; v.Explanation != want {
		t.Errorf("explanation %q, want %q", v.Explanation, want)
	}
}

// pyspfScript evaluates each case of the JSON on stdin with pyspf, asking
// the DNS server at $DNS.
const pyspfScript = `
import json, os, sys
import dns.resolver, spf
host, port = os.environ["DNS"].rsplit(":", 1)
r = dns.resolver.Resolver(configure=False)
r.nameservers = [host]
r.port = int(port)
dns.resolver.default_resolver = r
out = []
for c in json.load(sys.stdin):
    res, exp = spf.check2(i=c["ip"], s=c["sender"], h="pass.test")
    out.append([res, exp])
print(json.dumps(out))
`

// TestAgreesWithPyspf: pyspf (python3-spf) gives the same verdict on
// every case, asking the same server.
func TestAgreesWithPyspf(t *testing.T) {
	py := peertest.RequirePython(t, "python3-spf", "spf", "dns.resolver")
	addr := dnstest.ServeZones(t, map[string]string{"test.": testZones, "127.in-addr.arpa.": reverseZone})
	in, _ := json.Marshal(func() []map[string]string {
		var l []map[string]string
		for _, tc := range spfCases {
			l = append(l, map[string]string{"ip": tc.ip, "sender": tc.sender})
		}
		return l
	}())
	cmd := exec.Command(py, "-c", pyspfScript)
	cmd.Env = append(cmd.Environ(), "DNS="+addr)
	cmd.Stdin = strings.NewReader(string(in))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pyspf: %v\n%s", err, out)
	}
	var theirs [][2]string
	if err := json.Unmarshal(out, &theirs); err != nil || len(theirs) != len(spfCases) {
		t.Fatalf("pyspf printed %s: %v", out, err)
	}
	c := &Checker{Resolver: stubresolver.At(addr)}
	for i, tc := range spfCases {
		v := check(t, c, tc)
		if string(v.Result) != theirs[i][0] {
			t.Errorf("%s from %s: applayer %s (%v), pyspf %s (%s)", tc.sender, tc.ip, v.Result, v.Err, theirs[i][0], theirs[i][1])
		}
		if v.Result == Fail && v.Explanation != "" && !strings.Contains(theirs[i][1], v.Explanation) {
			t.Errorf("%s: explanation %q, pyspf %q", tc.sender, v.Explanation, theirs[i][1])
		}
	}
}
