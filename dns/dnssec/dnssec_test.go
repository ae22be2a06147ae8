package dnssec

import (
	"errors"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/applayer/applayer/dns"
	"github.com/applayer/applayer/internal/peertest"
)

func rrset() []dns.RR {
	var rrs []dns.RR
	for _, a := range []string{"192.0.2.2", "192.0.2.1"} {
		rrs = append(rrs, dns.RR{Name: "WWW.example.com.", Type: dns.TypeA, Class: dns.ClassIN, TTL: 300, Data: &dns.A{Addr: netip.MustParseAddr(a)}})
	}
	return rrs
}

func checkKey(t *testing.T, k *Key) {
	t.Helper()
	now := time.Now()
	sig, err := SignRRset(rrset(), k, now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	s := sig.Data.(*dns.RRSIG)
	if err := Verify(rrset(), s, k.Zone, &k.DNSKEY, now); err != nil {
		t.Fatalf("alg %d: %v", k.DNSKEY.Algorithm, err)
	}
	// Order and case of the set do not matter (RFC 4034 §6).
	rev := rrset()
	rev[0], rev[1] = rev[1], rev[0]
	rev[0].Name = "www.EXAMPLE.com."
	if err := Verify(rev, s, k.Zone, &k.DNSKEY, now); err != nil {
		t.Fatalf("reordered set: %v", err)
	}
	bad := rrset()
	bad[0].Data = &dns.A{Addr: netip.MustParseAddr("192.0.2.9")}
	if err := Verify(bad, s, k.Zone, &k.DNSKEY, now); !errors.Is(err, ErrBadSig) {
		t.Errorf("changed data: %v, want ErrBadSig", err)
	}
	if err := Verify(rrset(), s, k.Zone, &k.DNSKEY, now.Add(2*time.Hour)); !errors.Is(err, ErrSigExpired) {
		t.Errorf("later: %v, want ErrSigExpired", err)
	}
	if err := Verify(rrset(), s, k.Zone, &k.DNSKEY, now.Add(-2*time.Hour)); !errors.Is(err, ErrSigNotYetValid) {
		t.Errorf("earlier: %v, want ErrSigNotYetValid", err)
	}
}

func TestSignVerify(t *testing.T) {
	for _, alg := range []uint8{AlgECDSAP256SHA256, AlgED25519} {
		k, err := GenerateKey("example.com", alg, false)
		if err != nil {
			t.Fatal(err)
		}
		checkKey(t, k)
		dir := t.TempDir()
		base, err := k.WriteFiles(dir, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		back, err := ReadKey(base + ".key")
		if err != nil {
			t.Fatal(err)
		}
		if back.Tag() != k.Tag() || back.Signer == nil {
			t.Fatalf("read back tag %d, want %d", back.Tag(), k.Tag())
		}
		checkKey(t, back)
	}
	if _, err := GenerateKey("example.com", AlgRSASHA256, false); err == nil {
		t.Error("RSA key generated; only 13 and 15 sign")
	}
}

// TestBINDKeys reads keys made by BIND's dnssec-keygen: our key tag must
// be the one in its file name, and we must sign with its private key.
func TestBINDKeys(t *testing.T) {
	keygen := peertest.Require(t, "dnssec-keygen", "bind9-utils")
	for _, alg := range []string{"ECDSAP256SHA256", "ED25519"} {
		dir := t.TempDir()
		out, err := exec.Command(keygen, "-q", "-K", dir, "-a", alg, "-f", "KSK", "example.com").CombinedOutput()
		if err != nil {
			t.Fatalf("dnssec-keygen: %v\n%s", err, out)
		}
		base := strings.TrimSpace(string(out))
		k, err := ReadKey(filepath.Join(dir, base))
		if err != nil {
			t.Fatal(err)
		}
		if k.BaseName() != base {
			t.Errorf("our name %s, BIND's %s (key tag or algorithm differ)", k.BaseName(), base)
		}
		if !k.KSK() {
			t.Error("KSK flag lost")
		}
		checkKey(t, k)
	}
}

func TestDS(t *testing.T) {
	// RFC 4034 §5.4's example key and DS (algorithm 5, SHA-1) only fixes the
	// tag; check ours against the published tag of that key.
	d, _, err := dns.ParseDNSSECRData(dns.TypeDNSKEY, strings.Fields(`256 3 5 AQOeiiR0GOMYkDshWoSKz9XzfwJr1AYtsmx3TGkJaNXVbfi/2pHm822aJ5iI9BMzNXxeYCmZDRD99WYwYqUSdjMmmAphXdvxegXd/M5+X7OrzKBaMbCVdFLUUh6DhweJBjEVv5f2wwjM9XzcnOf+EPbtG9DMBmADjFDc2w/rljwvFw==`), func(s string) (string, error) { return s, nil })
	if err != nil {
		t.Fatal(err)
	}
	if tag := KeyTag(d.(*dns.DNSKEY)); tag != 60485 {
		t.Errorf("key tag %d, want 60485 (RFC 4034 §5.4)", tag)
	}
	ds, err := DS("dskey.example.com.", d.(*dns.DNSKEY), DigestSHA256)
	if err != nil || ds.KeyTag != 60485 || len(ds.Digest) != 32 {
		t.Fatalf("%v %v", ds, err)
	}
}
