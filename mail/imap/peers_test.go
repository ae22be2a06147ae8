package imap

import (
	"encoding/json"
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

// imaplibScript drives Python's imaplib through a user agent's day:
// folders, search, fetch of parts, flags, copy, move, expunge, append.
const imaplibScript = `
import imaplib, json, ssl, sys, time
host, port, user, pw, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
imaplib.Commands["MOVE"] = ("SELECTED",)
out = {}
def d(x):
    if isinstance(x, bytes): return x.decode("utf-8", "replace")
    if isinstance(x, tuple): return [d(y) for y in x]
    if isinstance(x, list): return [d(y) for y in x]
    return x
M = imaplib.IMAP4(host, port, timeout=30)
out["caps"] = list(M.capabilities)
if mode == "starttls":
    ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
    M.starttls(ctx)
    out["caps_tls"] = list(M.capabilities)
M.login(user, pw)
out["create"] = d(M.create("Archive"))
out["create2"] = d(M.create("Archive.2024"))
out["list"] = d(M.list()[1])
out["subscribe"] = d(M.subscribe("Archive"))
out["lsub"] = d(M.lsub()[1])
out["select"] = d(M.select("INBOX"))
out["search_all"] = d(M.search(None, "ALL")[1])
out["search_subject"] = d(M.search(None, '(SUBJECT "hello")')[1])
out["search_or"] = d(M.search(None, "OR", "FROM", "carol", "SUBJECT", "lf")[1])
out["search_body"] = d(M.search(None, "BODY", "pickles")[1])
out["uid_search"] = d(M.uid("SEARCH", None, "ALL")[1])
out["fetch_header"] = d(M.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")[1])
out["fetch_part"] = d(M.fetch("2", "(BODY.PEEK[1] BODY.PEEK[2.MIME])")[1])
out["fetch_partial"] = d(M.fetch("1", "(BODY.PEEK[]<0.4>)")[1])
out["fetch_lf"] = d(M.fetch("3", "(RFC822.SIZE BODY.PEEK[])")[1])
out["flags_before"] = d(M.fetch("1", "(FLAGS)")[1])
out["fetch_rfc822"] = d(M.fetch("1", "(RFC822)")[1])
out["flags_after"] = d(M.fetch("1", "(FLAGS)")[1])
out["store"] = d(M.store("2", "+FLAGS", "(\\Flagged $Important)")[1])
out["uid_store"] = d(M.uid("STORE", "3", "+FLAGS.SILENT", "(\\Answered)")[1])
out["copy"] = d(M.copy("1:2", "Archive"))
out["move"] = d(M.uid("MOVE", "3", "Archive.2024"))
out["after_move"] = d(M.search(None, "ALL")[1])
out["store_deleted"] = d(M.store("1", "+FLAGS", "\\Deleted")[1])
out["expunge"] = d(M.expunge())
out["status"] = d(M.status("Archive", "(MESSAGES UIDNEXT UNSEEN)")[1])
out["append"] = d(M.append("Archive", "(\\Seen)", imaplib.Time2Internaldate(time.time()), b"Subject: appended\r\n\r\nhi\r\n"))
out["rename"] = d(M.rename("Archive", "Old"))
out["list_after"] = d(M.list()[1])
M.select("Old", readonly=True)
out["old_fetch"] = d(M.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")[1])
out["old_store"] = d(M._simple_command("STORE", "1", "+FLAGS", "(\\Deleted)"))  if False else "skipped"
M.close()
out["delete"] = d(M.delete("Old.2024"))
out["logout"] = d(M.logout())
print(json.dumps(out))
`

func runImaplib(t *testing.T, e *env, mode string) map[string]any {
	t.Helper()
	py := peertest.RequirePython(t, "python3")
	host, port, _ := net.SplitHostPort(e.addr)
	out := run(t, py, "-c", imaplibScript, host, port, "bob", bobPass, mode)
	var r map[string]any
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("imaplib: %v\n%s", err, out)
	}
	return r
}

func js(v any) string { b, _ := json.Marshal(v); return string(b) }

func checkImaplib(t *testing.T, r map[string]any) {
	t.Helper()
	want := map[string]string{
		"search_all":     `["1 2 3"]`,
		"search_subject": `["1"]`,
		"search_or":      `["2 3"]`,
		"search_body":    `["1"]`,
		"uid_search":     `["1 2 3"]`,
		"after_move":     `["1 2"]`,
		"fetch_partial":  `[["1 (BODY[]\u003c0\u003e {4}","From"],")"]`,
		"flags_before":   `["1 (FLAGS (\\Recent))"]`,
		"flags_after":    `["1 (FLAGS (\\Seen \\Recent))"]`,
	}
	for k, v := range want {
		if got := js(r[k]); got != v {
			t.Errorf("imaplib %s = %s; want %s", k, got, v)
		}
	}
	for k, sub := range map[string]string{
		"fetch_header": `Subject: hello\r\n\r\n`,
		"fetch_part":   `flour, eggs`,
		"fetch_lf":     `RFC822.SIZE 41 BODY[] {41}","Subject: lf only\r\n\r\nstored with bare LF\r\n"`,
		"store":        `FLAGS (\\Flagged $Important \\Recent)`,
		"copy":         `[COPYUID `,
		"move":         `"OK"`,
		"expunge":      `"1"]`, // after the "3" that MOVE's untagged EXPUNGE left
		"status":       `Archive (MESSAGES 2 UIDNEXT 3 UNSEEN 1)`,
		"append":       `[APPENDUID `,
		"list":         `(\\HasChildren \\Archive) \".\" Archive`, // SPECIAL-USE by its name
		"list_after":   `(\\HasNoChildren) \".\" Old.2024`,
		"lsub":         `() \".\" Archive`,
		"old_fetch":    `Subject: appended`,
		"select":       `["3"]`,
		"delete":       `"OK"`,
	} {
		if got := js(r[k]); !strings.Contains(got, sub) {
			t.Errorf("imaplib %s = %s; want it to contain %s", k, got, sub)
		}
	}
}

func TestPeerImaplib(t *testing.T) {
	e := start(t, newStore(t), nil)
	r := runImaplib(t, e, "plain")
	checkImaplib(t, r)
	if !strings.Contains(js(r["caps"]), `"IDLE"`) || !strings.Contains(js(r["caps"]), `"UIDPLUS"`) {
		t.Errorf("capabilities %s", js(r["caps"]))
	}
}

func TestPeerImaplibSTARTTLS(t *testing.T) {
	e := tlsEnv(t)
	r := runImaplib(t, e, "starttls")
	checkImaplib(t, r)
	if !strings.Contains(js(r["caps"]), `"STARTTLS"`) || strings.Contains(js(r["caps_tls"]), `"STARTTLS"`) {
		t.Errorf("capabilities before TLS %s, after %s", js(r["caps"]), js(r["caps_tls"]))
	}
}

func curlURL(e *env, path string) string {
	esc := func(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }
	return "imap://" + esc(bob) + ":" + esc(bobPass) + "@" + e.addr + "/" + path
}

func TestPeerCurl(t *testing.T) {
	curl := peertest.Require(t, "curl", "curl")
	e := start(t, newStore(t), nil)
	c := func(args ...string) string {
		return run(t, curl, append([]string{"-sS", "--max-time", "30"}, args...)...)
	}
	if out := c(curlURL(e, "")); !strings.Contains(out, `* LIST (\HasNoChildren) "." INBOX`) {
		t.Errorf("curl list = %q", out)
	}
	if out := c(curlURL(e, "INBOX;UID=1")); out != testMsgs[0] {
		t.Errorf("curl fetch UID 1 = %q", out)
	}
	if out := c(curlURL(e, "INBOX;UID=2;SECTION=1")); out != "flour, eggs" {
		t.Errorf("curl SECTION=1 = %q", out)
	}
	if out := c(curlURL(e, "INBOX;UID=1;SECTION=HEADER.FIELDS%20(SUBJECT)")); out != "Subject: hello\r\n\r\n" {
		t.Errorf("curl SECTION=HEADER.FIELDS = %q", out)
	}
	if out := c(curlURL(e, "INBOX;UID=1;PARTIAL=0.4")); out != "From" {
		t.Errorf("curl PARTIAL = %q", out)
	}
	if out := c(curlURL(e, "INBOX?SUBJECT%20recipe")); strings.TrimSpace(out) != "* SEARCH 2" {
		t.Errorf("curl search = %q", out)
	}
	if out := c("-X", "EXAMINE INBOX", curlURL(e, "")); !strings.Contains(out, "* 3 EXISTS") {
		t.Errorf("curl -X EXAMINE = %q", out)
	}
	msg := filepath.Join(t.TempDir(), "m")
	os.WriteFile(msg, []byte("Subject: uploaded\r\n\r\nby curl\r\n"), 0o600)
	c("-T", msg, curlURL(e, "INBOX"))
	if out := c(curlURL(e, "INBOX;UID=4")); !strings.Contains(out, "by curl") {
		t.Errorf("curl fetch of the appended message = %q", out)
	}
	// A wrong password: curl's login-denied exit status.
	err := exec.Command(curl, "-sS", "--max-time", "30", strings.Replace(curlURL(e, ""), "%20spaces", "x", 1)).Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 67 {
		t.Errorf("curl with a wrong password: %v; want exit 67", err)
	}
}
