package dkim

import (
	"context"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os/exec"
	"strings"
	"testing"

	"github.com/applayer/applayer/internal/peertest"
)

// dkimpyScript verifies the message on stdin against the key record in
// $RECORD, or, with $KEY set, signs it and prints the DKIM-Signature.
const dkimpyScript = `
import os, sys, dkim
msg = sys.stdin.buffer.read()
if os.environ.get("KEY"):
    alg = os.environ["ALG"].encode()
    key = os.environ["KEY"].encode()
    canon = tuple(c.encode() for c in os.environ["CANON"].split("/"))
    sig = dkim.sign(msg, b"py", b"crepes.fr", key, canonicalize=canon,
                    include_headers=[b"from", b"to", b"subject", b"date"],
                    signature_algorithm=alg)
    sys.stdout.buffer.write(sig)
else:
    rec = os.environ["RECORD"].encode()
    print(dkim.verify(msg, dnsfunc=lambda *a, **k: rec))
`

func dkimpy(t *testing.T, py string, env []string, msg string) string {
	t.Helper()
	cmd := exec.Command(py, "-c", dkimpyScript)
	cmd.Env = append(cmd.Environ(), env...)
	cmd.Stdin = strings.NewReader(msg)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("dkimpy: %v\n%s", err, out)
	}
	return string(out)
}

// TestDkimpyVerifiesOurs: dkimpy (python3-dkim) verifies what we sign,
// with both algorithms and all four canonicalisations.
func TestDkimpyVerifiesOurs(t *testing.T) {
	py := peertest.RequirePython(t, "python3-dkim python3-nacl", "dkim", "nacl")
	signers, lookup := keys(t)
	for typ, key := range signers {
		rec, _ := lookup(context.Background(), typ+"._domainkey.crepes.fr")
		for _, c := range []string{"relaxed/relaxed", "simple/simple", "relaxed/simple", "simple/relaxed"} {
			h, b, _ := strings.Cut(c, "/")
			s := &Signer{Domain: "crepes.fr", Selector: typ, Key: key, HeaderCanon: Canon(h), BodyCanon: Canon(b)}
			signed := sign(t, s, testMsg)
			if got := strings.TrimSpace(dkimpy(t, py, []string{"RECORD=" + rec[0]}, signed)); got != "True" {
				t.Errorf("dkimpy does not verify our %s %s signature: %s\n%s", typ, c, got, signed)
			}
			if got := strings.TrimSpace(dkimpy(t, py, []string{"RECORD=" + rec[0]}, strings.Replace(signed, "pickles", "mustard", 1))); got != "False" {
				t.Errorf("dkimpy verifies our %s %s signature of a changed body: %s", typ, c, got)
			}
		}
	}
}

// TestWeVerifyDkimpys: we verify what dkimpy signs.
func TestWeVerifyDkimpys(t *testing.T) {
	py := peertest.RequirePython(t, "python3-dkim python3-nacl", "dkim", "nacl")
	signers, _ := keys(t)
	for typ, key := range signers {
		var keyArg, alg string
		switch k := key.(type) {
		case *rsa.PrivateKey:
			keyArg, alg = string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})), RSASHA256
		case ed25519.PrivateKey:
			keyArg, alg = base64.StdEncoding.EncodeToString(k.Seed()), Ed25519SHA256
		}
		rec, _ := Record(key)
		v := &Verifier{Lookup: func(_ context.Context, name string) ([]string, error) {
			if name != "py._domainkey.crepes.fr" {
				return nil, ErrNoKey
			}
			return []string{rec}, nil
		}}
		for _, c := range []string{"relaxed/relaxed", "simple/simple", "relaxed/simple"} {
			sig := dkimpy(t, py, []string{"KEY=" + keyArg, "ALG=" + alg, "CANON=" + c}, testMsg)
			r := v.Verify(context.Background(), []byte(sig+testMsg))
			if len(r) != 1 || r[0].Status != Pass {
				t.Errorf("dkimpy's %s %s signature: %+v\n%s", typ, c, r, sig)
			}
		}
	}
}
