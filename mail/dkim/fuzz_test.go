package dkim

import (
	"context"
	"testing"
)

// FuzzParseKey: any key record parses or is refused, without panicking.
func FuzzParseKey(f *testing.F) {
	for _, s := range []string{
		"v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA",
		"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
		"v=DKIM1; p=", "k=ed25519; t=y:s; s=email; p=AAAA", "v=DKIM2", ";;;", "p",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseKey(s)
		if err == nil && !k.Revoked && k.Public == nil {
			t.Fatalf("ParseKey(%q) gave a key with no public key", s)
		}
	})
}

// FuzzVerify: any message, signed or not, gives one result per
// signature checked and never a pass for a signature the key did not make.
func FuzzVerify(f *testing.F) {
	signers, lookup := keys(f)
	for _, typ := range []string{"rsa", "ed25519"} {
		h, err := (&Signer{Domain: "crepes.fr", Selector: typ, Key: signers[typ]}).Sign([]byte(testMsg))
		if err != nil {
			f.Fatal(err)
		}
		f.Add([]byte(h + testMsg))
	}
	f.Add([]byte(testMsg))
	f.Add([]byte("DKIM-Signature: v=1; a=rsa-sha256; b=; bh=; d=x; h=from; s=y\r\n\r\n"))
	f.Add([]byte("DKIM-Signature:\r\n \r\n\r\n"))
	v := &Verifier{Lookup: lookup}
	f.Fuzz(func(t *testing.T, msg []byte) {
		for _, r := range v.Verify(context.Background(), msg) {
			if r.Status == Pass && r.Domain != "crepes.fr" {
				t.Fatalf("pass for d=%s, which has no key", r.Domain)
			}
		}
	})
}

// FuzzCanon: canonicalisation never panics, and relaxed body output is a
// fixed point (canonicalising it again changes nothing).
func FuzzCanon(f *testing.F) {
	f.Add([]byte("A: X\r\nB : Y\t\r\n\tZ  \r\n\r\n C \r\nD \t E\r\n\r\n\r\n"))
	f.Add([]byte("\n\n\r\r\n \t"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		fields, body := splitMessage(msg)
		for _, fl := range fields {
			canonHeader(Relaxed, fl.raw)
		}
		once := canonBody(Relaxed, body, -1)
		if twice := canonBody(Relaxed, once, -1); string(twice) != string(once) {
			t.Fatalf("relaxed body of %q: %q then %q", body, once, twice)
		}
		canonBody(Simple, body, 10)
	})
}
