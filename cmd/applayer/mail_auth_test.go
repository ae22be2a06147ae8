package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/applayer/applayer/internal/testutil"
)

// TestMailCheckThroughDNS: keygen's record, served by `dns serve`, lets
// `mail check` verify what `mail dkim sign` signed, with both key types; a
// changed message fails, and so does one whose key is not published. The
// domain's SPF record passes its own address and fails another, given on
// the command line or read from a Received field.
func TestMailCheckThroughDNS(t *testing.T) {
	dir := t.TempDir()
	zone := "$ORIGIN crepes.fr.\n$TTL 300\n@ IN SOA ns hostmaster 1 3600 600 86400 300\n@ IN NS ns\nns IN A 127.0.0.1\n@ IN TXT \"v=spf1 ip4:127.0.25.1 -all\"\n_dmarc IN TXT \"v=DMARC1; p=reject\"\n"
	for _, typ := range []string{"ed25519", "rsa"} {
		out, errOut, code := run(t, "", "mail", "dkim", "keygen", "--domain", "crepes.fr", "--selector", typ, "--type", typ, "--key", filepath.Join(dir, typ+".pem"))
		if code != 0 || !strings.HasPrefix(out, typ+"._domainkey.crepes.fr. 3600 IN TXT \"v=DKIM1; k="+typ+"; p=") {
			t.Fatalf("keygen %s: exit %d, %q %q", typ, code, out, errOut)
		}
		zone += out
	}
	if _, errOut, code := run(t, "", "mail", "dkim", "keygen", "--domain", "crepes.fr", "--selector", "x", "--key", filepath.Join(dir, "rsa.pem")); code != 1 || !strings.Contains(errOut, "not overwriting") {
		t.Errorf("keygen over an existing key: exit %d, %q", code, errOut)
	}
	zf := filepath.Join(dir, "crepes.fr.zone")
	os.WriteFile(zf, []byte(zone), 0o644)
	addr := freeDNSAddr(t, "127.0.0.1")
	srv := exec.Command(bin, "dns", "serve", "--zone", zf, "--listen", addr)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Process.Signal(syscall.SIGTERM); srv.Wait() }()
	testutil.WaitFor(t, "dns serve answering", func() bool {
		_, _, code := run(t, "", "dns", "query", "crepes.fr", "SOA", "@"+addr, "--timeout", "200ms")
		return code == 0
	})

	msg := "From: alice@crepes.fr\r\nTo: bob@hamburger.edu\r\nSubject: ketchup\r\n\r\nDo you like ketchup?\r\n"
	for _, typ := range []string{"ed25519", "rsa"} {
		signed, errOut, code := run(t, msg, "mail", "dkim", "sign", "--domain", "crepes.fr", "--selector", typ, "--key", filepath.Join(dir, typ+".pem"))
		if code != 0 || !strings.HasPrefix(signed, "DKIM-Signature: v=1; a="+typ+"-sha256;") || !strings.HasSuffix(signed, msg) {
			t.Fatalf("sign %s: exit %d, %q %q", typ, code, signed, errOut)
		}
		out, errOut, code := run(t, signed, "mail", "check", "--dns", addr)
		if code != 0 || !strings.Contains(out, "dkim=pass header.d=crepes.fr header.s="+typ) || !strings.Contains(out, "DNS "+typ+"._domainkey.crepes.fr TXT: 1 record") || !strings.Contains(out, "dmarc=pass header.from=crepes.fr (aligned by dkim; the policy at crepes.fr is p=reject)") {
			t.Errorf("check of a %s signature: exit %d, %q %q", typ, code, out, errOut)
		}
		out, _, code = run(t, strings.Replace(signed, "ketchup?", "mustard?", 1), "mail", "check", "--dns", addr)
		if code != 1 || !strings.Contains(out, "dkim=fail") || !strings.Contains(out, "dmarc=fail header.from=crepes.fr (nothing aligned: the policy at crepes.fr asks to reject it)") {
			t.Errorf("check of a changed body: exit %d, %q", code, out)
		}
		out, _, code = run(t, signed, "mail", "check", "--dns", addr, "--ip", "127.0.25.1", "--mail-from", "alice@crepes.fr")
		if code != 0 || !strings.Contains(out, "spf=pass smtp.mailfrom=alice@crepes.fr (client 127.0.25.1") || !strings.Contains(out, "DNS crepes.fr TXT: 1 SPF record(s)") {
			t.Errorf("check with SPF from flags: exit %d, %q", code, out)
		}
		received := "Received: from mail.evil.example (mail.evil.example [127.0.0.9])\r\n\tby mail.hamburger.edu; Wed, 02 Dec 2026 15:00:00 +0000\r\nReturn-Path: <alice@crepes.fr>\r\n"
		out, _, code = run(t, received+signed, "mail", "check", "--dns", addr)
		if code != 1 || !strings.Contains(out, "spf=fail smtp.mailfrom=alice@crepes.fr (client 127.0.0.9, helo mail.evil.example) matched -all of crepes.fr") || !strings.Contains(out, "dkim=pass") {
			t.Errorf("check with SPF from the Received field: exit %d, %q", code, out)
		}
		out, _, _ = run(t, strings.Replace(signed, "From: alice@crepes.fr", "From: alice@nodmarc.crepes.fr", 1), "mail", "check", "--dns", addr)
		if !strings.Contains(out, "dmarc=fail header.from=nodmarc.crepes.fr (nothing aligned: the policy at crepes.fr asks to reject it)") {
			t.Errorf("check of a subdomain without its own policy: %q", out)
		}
		out, _, code = run(t, strings.Replace(signed, "s="+typ, "s=nokey", 1), "mail", "check", "--dns", addr)
		if code != 1 || !strings.Contains(out, "dkim=permerror") || !strings.Contains(out, "no key record at nokey._domainkey.crepes.fr") {
			t.Errorf("check with no key published: exit %d, %q", code, out)
		}
	}
}
