package main

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/applayer/applayer/internal/testutil"
	"github.com/miekg/dns"
)

// fakeDNS serves fixed records over UDP on 127.0.0.1 and returns its address.
func fakeDNS(t *testing.T, records ...string) string {
	t.Helper()
	zone := map[string][]dns.RR{}
	for _, r := range records {
		rr, err := dns.NewRR(r)
		if err != nil {
			t.Fatal(err)
		}
		n := strings.ToLower(rr.Header().Name)
		zone[n] = append(zone[n], rr)
	}
	mux := dns.NewServeMux()
	mux.HandleFunc(".", func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		q := r.Question[0]
		rrs, ok := zone[strings.ToLower(q.Name)]
		if !ok {
			m.Rcode = dns.RcodeNameError
		}
		for _, rr := range rrs {
			if rr.Header().Rrtype == q.Qtype {
				m.Answer = append(m.Answer, rr)
			}
		}
		w.WriteMsg(m)
	})
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: mux}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return pc.LocalAddr().String()
}

// The mail commands as a user runs them: these tests build nothing of
// their own, they run the binary TestMain built.

// cli runs the applayer binary and returns stdout, stderr and the error.
func cli(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

// daemon starts `applayer mail serve ...` and stops it (SIGKILL) at the end.
func daemon(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"mail", "serve", "--log-level", "info"}, args...)...)
	logs := &testutil.Buffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("mail serve %s:\n%s", strings.Join(args, " "), logs.String())
		}
	})
	return cmd
}

// TestCLI drives the mail commands as a user would: users, two servers
// finding each other through DNS, a traced submission with an attachment,
// the queue while the next hop is down, flush, and errors.
func TestCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the applayer binary; skipped in -short mode")
	}
	dir := t.TempDir()
	crepes, hamburger := filepath.Join(dir, "crepes"), filepath.Join(dir, "hamburger")
	mxPort := freePort(t)
	mx := "127.0.0.1:" + strconv.Itoa(mxPort)
	sub := "127.0.0.1:" + strconv.Itoa(freePort(t))
	resolver := fakeDNS(t, "hamburger.edu. 300 IN MX 10 mail.hamburger.edu.", "mail.hamburger.edu. 300 IN A 127.0.0.1")

	// Users: password on standard input, and from a file.
	if _, e, err := cli(t, "pickles\n", "mail", "user", "add", "--data", hamburger, "bob@hamburger.edu"); err != nil {
		t.Fatalf("user add: %v %s", err, e)
	}
	pw := filepath.Join(dir, "alice.pass")
	os.WriteFile(pw, []byte("ketchup\n"), 0o600)
	if _, e, err := cli(t, "", "mail", "user", "add", "--data", crepes, "--password-file", pw, "alice@crepes.fr"); err != nil {
		t.Fatalf("user add --password-file: %v %s", err, e)
	}
	if out, _, _ := cli(t, "", "mail", "user", "list", "--data", crepes); out != "alice@crepes.fr\n" {
		t.Errorf("user list = %q", out)
	}
	if users, _ := os.ReadFile(filepath.Join(crepes, "users")); bytes.Contains(users, []byte("ketchup")) {
		t.Error("the users file holds a password in clear")
	}

	bob := daemon(t, "--domain", "hamburger.edu", "--data", hamburger, "--listen", mx, "--submission", "")
	daemon(t, "--domain", "crepes.fr", "--data", crepes, "--listen", "", "--submission", sub,
		"--dns", resolver, "--upstream-port", strconv.Itoa(mxPort), "--retry", "1h")
	testutil.WaitListening(t, mx)
	testutil.WaitListening(t, sub)

	att := filepath.Join(dir, "recipe.txt")
	os.WriteFile(att, []byte("flour, eggs, milk\n"), 0o644)
	send := func(subject string) (string, string, error) {
		return cli(t, "", "mail", "send", "--server", sub, "--starttls", "--cacert", filepath.Join(crepes, "tls", "cert.pem"),
			"--user", "alice@crepes.fr", "--password-file", pw, "--from", "alice@crepes.fr", "--to", "bob@hamburger.edu",
			"--subject", subject, "--body", "Do you like ketchup?\nHow about pickles?", "--attach", att, "--trace")
	}
	out, trace, err := send("ketchup")
	if err != nil {
		t.Fatalf("mail send: %v\n%s", err, trace)
	}
	if !strings.HasPrefix(out, "sent: 250 2.0.0") {
		t.Errorf("mail send printed %q", out)
	}
	for _, want := range []string{"S: 220 mail.crepes.fr ESMTP", "C: EHLO ", "C: STARTTLS", "C: AUTH PLAIN <redacted>", "S: 235 2.7.0",
		"C: MAIL FROM:<alice@crepes.fr>", "C: RCPT TO:<bob@hamburger.edu>", "S: 354 ", "C: Do you like ketchup?", "C: .", "C: QUIT"} {
		if !strings.Contains(trace, want) {
			t.Errorf("trace lacks %q:\n%s", want, trace)
		}
	}
	if strings.Contains(trace, "ketchup\n") && strings.Contains(trace, "AUTH PLAIN a") {
		t.Error("trace shows the AUTH token")
	}
	inbox := filepath.Join(hamburger, "mail", "hamburger.edu", "bob", "new")
	var msg []byte
	testutil.WaitFor(t, "bob's mail", func() bool {
		ents, _ := os.ReadDir(inbox)
		if len(ents) == 1 {
			msg, _ = os.ReadFile(filepath.Join(inbox, ents[0].Name()))
			return true
		}
		return false
	})
	for _, want := range []string{"Subject: ketchup", "Content-Disposition: attachment; filename=recipe.txt", "by mail.crepes.fr", "by mail.hamburger.edu"} {
		if !bytes.Contains(msg, []byte(want)) {
			t.Errorf("bob's message lacks %q:\n%s", want, msg)
		}
	}

	emptyQueue := func() bool {
		out, _, _ := cli(t, "", "mail", "queue", "list", "--data", crepes)
		return out == "queue is empty\n"
	}
	// crepes.fr has had bob's 250: killed sooner, bob may have stored the
	// message and died before answering, and crepes.fr would rightly send
	// it again (RFC 5321 §6.1's duplicate).
	testutil.WaitFor(t, "crepes.fr's queue to empty after the first message", emptyQueue)

	// bob's server goes away: the next message waits in the queue.
	bob.Process.Kill()
	bob.Wait()
	if _, trace, err := send("pickles"); err != nil {
		t.Fatalf("mail send while the next hop is down: %v\n%s", err, trace)
	}
	testutil.WaitFor(t, "a failed attempt in the queue", func() bool {
		out, _, _ := cli(t, "", "mail", "queue", "list", "--data", crepes)
		return strings.Contains(out, "bob@hamburger.edu") && strings.Contains(out, "4.4.1")
	})
	out, _, _ = cli(t, "", "mail", "queue", "list", "--data", crepes)
	if !strings.Contains(out, "in 1h") && !strings.Contains(out, "in 59m") {
		t.Errorf("queue list does not show the next attempt in about an hour:\n%s", out)
	}

	// bob's server is back; flush instead of waiting an hour.
	daemon(t, "--domain", "hamburger.edu", "--data", hamburger, "--listen", mx, "--submission", "")
	testutil.WaitListening(t, mx)
	if _, e, err := cli(t, "", "mail", "queue", "flush", "--data", crepes); err != nil {
		t.Fatalf("queue flush: %v %s", err, e)
	}
	testutil.WaitFor(t, "delivery after flush", func() bool {
		ents, _ := os.ReadDir(inbox)
		return len(ents) == 2
	})
	testutil.WaitFor(t, "an empty queue", emptyQueue)

	// Errors are one line, exit status 1.
	for _, args := range [][]string{
		{"mail", "queue", "delete", "NOSUCHID", "--data", crepes},
		{"mail", "serve", "--data", crepes},
		{"mail", "send", "--server", sub, "--from", "alice@crepes.fr", "--to", "bob@hamburger.edu", "--subject", "x", "--body", "x"},
	} {
		_, e, err := cli(t, "", args...)
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.HasPrefix(e, "applayer: ") || strings.Count(e, "\n") != 1 {
			t.Errorf("applayer %s: err %v, stderr %q; want exit 1 and one 'applayer: ' line", strings.Join(args, " "), err, e)
		}
	}
	// Submission without a login: the error says what to do.
	if _, e, _ := cli(t, "", "mail", "send", "--server", sub, "--from", "alice@crepes.fr", "--to", "bob@hamburger.edu", "--subject", "x", "--body", "x"); !strings.Contains(e, "--user") {
		t.Errorf("mail send without a login: stderr %q; want a hint about --user", e)
	}
	// A self-signed certificate without --cacert: the error says what to do.
	_, e, err := cli(t, "", "mail", "send", "--server", sub, "--starttls", "--from", "alice@crepes.fr", "--to", "bob@hamburger.edu", "--subject", "x", "--body", "x")
	if err == nil || !strings.Contains(e, "--cacert") {
		t.Errorf("mail send to an unknown certificate: err %v, stderr %q; want a hint about --cacert", err, e)
	}
}
