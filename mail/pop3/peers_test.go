package pop3

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/applayer/applayer/internal/peertest"
)

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

const poplibScript = `
import json, poplib, ssl, sys, hashlib
host, port, user, pw, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
out = {}
p = poplib.POP3(host, port, timeout=30)
out["welcome"] = p.getwelcome().decode()
out["capa"] = sorted(p.capa().keys())
if mode == "stls":
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    p.stls(ctx)
    out["capa_tls"] = sorted(p.capa().keys())
if mode == "apop":
    p.apop(user, pw)
else:
    p.user(user)
    p.pass_(pw)
out["stat"] = list(p.stat())
out["list"] = [l.decode() for l in p.list()[1]]
out["uidl"] = [l.decode() for l in p.uidl()[1]]
out["retr"] = [b"\r\n".join(p.retr(i + 1)[1]).decode() for i in range(out["stat"][0])]
out["top"] = [l.decode() for l in p.top(1, 0)[1]]
p.dele(1)
try:
    p.retr(1)
    out["retr_deleted"] = "ok"
except poplib.error_proto as e:
    out["retr_deleted"] = str(e)
out["quit"] = p.quit().decode()
p = poplib.POP3(host, port, timeout=30)
if mode == "apop":
    p.apop(user, pw)
else:
    p.user(user)
    p.pass_(pw)
out["stat_after"] = list(p.stat())
out["uidl_after"] = [l.decode() for l in p.uidl()[1]]
p.quit()
print(json.dumps(out))
`

type poplibResult struct {
	Welcome, Quit, RetrDeleted string
	Capa, CapaTLS              []string
	Stat, StatAfter            []int
	List, UIDL, Retr, Top      []string
	UIDLAfter                  []string
}

func runPoplib(t *testing.T, e *env, mode, user, pw string) poplibResult {
	t.Helper()
	py := peertest.RequirePython(t, "python3")
	host, port, _ := net.SplitHostPort(e.addr)
	out := run(t, py, "-c", poplibScript, host, port, user, pw, mode)
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatalf("poplib: %v\n%s", err, out)
	}
	var r poplibResult
	get := func(k string, v any) { json.Unmarshal(raw[k], v) }
	get("welcome", &r.Welcome)
	get("quit", &r.Quit)
	get("retr_deleted", &r.RetrDeleted)
	get("capa", &r.Capa)
	get("capa_tls", &r.CapaTLS)
	get("stat", &r.Stat)
	get("stat_after", &r.StatAfter)
	get("list", &r.List)
	get("uidl", &r.UIDL)
	get("uidl_after", &r.UIDLAfter)
	get("retr", &r.Retr)
	get("top", &r.Top)
	return r
}

func checkPoplib(t *testing.T, r poplibResult) {
	t.Helper()
	if len(r.Stat) != 2 || r.Stat[0] != 3 {
		t.Fatalf("poplib stat = %v", r.Stat)
	}
	for i, m := range testMsgs {
		// poplib strips the line ends and un-stuffs the dots.
		want := strings.TrimSuffix(crlf(m), "\r\n")
		if r.Retr[i] != want {
			t.Errorf("poplib retr %d = %q; want %q", i+1, r.Retr[i], want)
		}
	}
	if strings.Join(r.Top, "|") != "From: alice@crepes.fr|To: bob@hamburger.edu|Subject: hello|" {
		t.Errorf("poplib top(1, 0) = %q", r.Top)
	}
	if !strings.Contains(r.RetrDeleted, "-ERR No such message") {
		t.Errorf("poplib retr of a deleted message: %q", r.RetrDeleted)
	}
	if len(r.StatAfter) != 2 || r.StatAfter[0] != 2 {
		t.Errorf("poplib stat after dele+quit = %v", r.StatAfter)
	}
	// The survivors keep their ids, renumbered.
	if len(r.UIDLAfter) != 2 || strings.Fields(r.UIDLAfter[0])[1] != strings.Fields(r.UIDL[1])[1] ||
		strings.Fields(r.UIDLAfter[1])[1] != strings.Fields(r.UIDL[2])[1] {
		t.Errorf("poplib uidl before %q, after %q", r.UIDL, r.UIDLAfter)
	}
}

func TestPeerPoplib(t *testing.T) {
	e := start(t, newStore(t), nil)
	r := runPoplib(t, e, "user", bob, bobPass)
	checkPoplib(t, r)
	for _, c := range []string{"TOP", "UIDL", "USER", "SASL", "PIPELINING", "RESP-CODES"} {
		found := false
		for _, x := range r.Capa {
			found = found || x == c
		}
		if !found {
			t.Errorf("poplib capa %v lacks %s", r.Capa, c)
		}
	}
}

func TestPeerPoplibSTLS(t *testing.T) {
	e, _ := tlsEnv(t)
	r := runPoplib(t, e, "stls", bob, bobPass)
	checkPoplib(t, r)
	if !contains(r.Capa, "STLS") || contains(r.CapaTLS, "STLS") {
		t.Errorf("capa before TLS %v, after %v", r.Capa, r.CapaTLS)
	}
}

func TestPeerPoplibAPOP(t *testing.T) {
	e := start(t, newStore(t), func(s *Server) {
		s.APOP = func(u string) (string, bool) { return "tanstaaf", u == bob }
	})
	r := runPoplib(t, e, "apop", bob, "tanstaaf")
	checkPoplib(t, r)
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// curlBase is bob's pop3:// URL, the @ of his address and the spaces of
// his password escaped.
func curlBase(e *env) string {
	esc := func(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }
	return "pop3://" + esc(bob) + ":" + esc(bobPass) + "@" + e.addr
}

func TestPeerCurl(t *testing.T) {
	curl := peertest.Require(t, "curl", "curl")
	e := start(t, newStore(t), nil)
	base := curlBase(e)
	// The listing: "n size" lines.
	list := run(t, curl, "-sS", "--max-time", "30", base+"/")
	if got := strings.Fields(list); len(got) != 6 || got[0] != "1" || got[4] != "3" {
		t.Errorf("curl list = %q", list)
	}
	// One message, un-stuffed.
	for i, m := range testMsgs {
		if got := run(t, curl, "-sS", "--max-time", "30", fmt.Sprintf("%s/%d", base, i+1)); got != crlf(m) {
			t.Errorf("curl retr %d = %q; want %q", i+1, got, crlf(m))
		}
	}
	// Custom commands: UIDL, TOP, then DELE (a one-line answer: -I).
	uidl := run(t, curl, "-sS", "--max-time", "30", "-X", "UIDL", base+"/")
	if len(strings.Split(strings.TrimSpace(uidl), "\n")) != 3 {
		t.Errorf("curl -X UIDL = %q", uidl)
	}
	if top := run(t, curl, "-sS", "--max-time", "30", "-X", "TOP 2 1", base+"/"); top != "Subject: lf\r\n\r\nline one\r\n" {
		t.Errorf("curl -X 'TOP 2 1' = %q", top)
	}
	run(t, curl, "-sS", "--max-time", "30", "-X", "DELE 1", "-I", base+"/")
	if msgs, _ := e.store.List(bob); len(msgs) != 2 {
		t.Errorf("after curl -X 'DELE 1': %d messages; want 2", len(msgs))
	}
	// A wrong password: curl fails with its login-denied code (67).
	err := exec.Command(curl, "-sS", "--max-time", "30", strings.Replace(base, "%20spaces", "x", 1)+"/").Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 67 {
		t.Errorf("curl with a wrong password: %v; want exit 67", err)
	}
}

func TestPeerCurlSTLS(t *testing.T) {
	curl := peertest.Require(t, "curl", "curl")
	e, _ := tlsEnv(t)
	base := curlBase(e)
	if got := run(t, curl, "-sS", "--max-time", "30", "--ssl-reqd", "-k", base+"/1"); got != crlf(testMsgs[0]) {
		t.Errorf("curl --ssl-reqd retr 1 = %q", got)
	}
}

// fetchmail downloads every message, and with "keep" and UIDL tracking a
// second run downloads nothing: the UIDLs held.
func TestPeerFetchmail(t *testing.T) {
	fm := peertest.Require(t, "fetchmail", "fetchmail")
	e := start(t, newStore(t), nil)
	dir := t.TempDir()
	host, port, _ := net.SplitHostPort(e.addr)
	out := filepath.Join(dir, "mbox")
	rc := filepath.Join(dir, "fetchmailrc")
	cfg := fmt.Sprintf("set no syslog\nset idfile %q\npoll %s protocol POP3 port %s uidl\n  user %q password %q is %q\n  keep sslproto '' mda \"/bin/sh -c 'cat >> %s'\"\n",
		filepath.Join(dir, "ids"), host, port, bob, bobPass, "root", out)
	if err := os.WriteFile(rc, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	fetch := func() (string, int) {
		cmd := exec.Command(fm, "-f", rc, "--nodetach", "-v", "--pidfile", filepath.Join(dir, "pid"))
		cmd.Env = append(os.Environ(), "HOME="+dir, "FETCHMAILHOME="+dir)
		b, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(b), code
	}
	log, code := fetch()
	if code != 0 {
		t.Fatalf("fetchmail exit %d:\n%s", code, log)
	}
	got, _ := os.ReadFile(out)
	for _, m := range []string{"Do you like ketchup?", "line three", "last line"} {
		if !strings.Contains(string(got), m) {
			t.Errorf("fetchmail's mailbox lacks %q:\n%s\nlog:\n%s", m, got, log)
		}
	}
	// Exit 1 is fetchmail's "no new mail".
	if log, code = fetch(); code != 1 {
		t.Errorf("second fetchmail run: exit %d, want 1 (no mail):\n%s", code, log)
	}
	if msgs, _ := e.store.List(bob); len(msgs) != 3 {
		t.Errorf("fetchmail with keep left %d messages; want 3", len(msgs))
	}
}
