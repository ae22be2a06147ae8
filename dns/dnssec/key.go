package dnssec

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/applayer/applayer/dns"
	"github.com/applayer/applayer/internal/atomicfile"
)

// Algorithm numbers (RFC 8624 §3.1).
const (
	AlgRSASHA256       = 8
	AlgECDSAP256SHA256 = 13
	AlgECDSAP384SHA384 = 14
	AlgED25519         = 15
)

// Digest types of DS records (RFC 4509, RFC 8624 §3.3).
const (
	DigestSHA256 = 2
	DigestSHA384 = 4
)

// Key is a zone's key pair: its DNSKEY record and, when it can sign, the
// private half.
type Key struct {
	Zone   string // absolute, lowercase
	DNSKEY dns.DNSKEY
	Signer crypto.Signer // nil for a public key only
	// PublishOnly keys are in the DNSKEY set but sign nothing: the new
	// ZSK of a pre-publish rollover (RFC 6781 §4.1.1.1).
	PublishOnly bool
}

// KSK reports whether k has the SEP flag: it signs the DNSKEY set and is
// the one the parent's DS points to.
func (k *Key) KSK() bool { return k.DNSKEY.Flags&dns.FlagSEP != 0 }

// Tag is the key tag of RFC 4034 Appendix B.
func (k *Key) Tag() uint16 { return KeyTag(&k.DNSKEY) }

// RR returns the key's DNSKEY record with the given TTL.
func (k *Key) RR(ttl uint32) dns.RR {
	d := k.DNSKEY
	return dns.RR{Name: k.Zone, Type: dns.TypeDNSKEY, Class: dns.ClassIN, TTL: ttl, Data: &d}
}

// KeyTag computes the key tag of a DNSKEY (RFC 4034 Appendix B).
func KeyTag(k *dns.DNSKEY) uint16 {
	b, _ := dns.CanonicalRData(nil, k)
	var ac uint32
	for i, c := range b {
		if i&1 == 1 {
			ac += uint32(c)
		} else {
			ac += uint32(c) << 8
		}
	}
	ac += ac >> 16 & 0xFFFF
	return uint16(ac)
}

// DS returns the DS record of a zone's key with the given digest type
// (SHA-256 or SHA-384): digest = hash(owner | DNSKEY rdata) (RFC 4034 §5.1.4).
func DS(owner string, k *dns.DNSKEY, digestType uint8) (*dns.DS, error) {
	b, err := dns.AppendNameWire(nil, dns.CanonicalName(owner))
	if err != nil {
		return nil, err
	}
	b, _ = dns.CanonicalRData(b, k)
	var d []byte
	switch digestType {
	case DigestSHA256:
		h := sha256.Sum256(b)
		d = h[:]
	case DigestSHA384:
		h := sha512.Sum384(b)
		d = h[:]
	default:
		return nil, fmt.Errorf("dnssec: digest type %d not supported", digestType)
	}
	return &dns.DS{KeyTag: KeyTag(k), Algorithm: k.Algorithm, DigestType: digestType, Digest: d}, nil
}

// GenerateKey makes a new key pair for zone with algorithm 13 or 15; ksk
// sets the SEP flag (flags 257, else 256).
func GenerateKey(zone string, alg uint8, ksk bool) (*Key, error) {
	k := &Key{Zone: dns.CanonicalName(zone), DNSKEY: dns.DNSKEY{Flags: dns.FlagZone, Protocol: 3, Algorithm: alg}}
	if ksk {
		k.DNSKEY.Flags |= dns.FlagSEP
	}
	switch alg {
	case AlgECDSAP256SHA256:
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		k.Signer = priv
	case AlgED25519:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		k.Signer = priv
	default:
		return nil, fmt.Errorf("dnssec: algorithm %d not supported for signing (13 or 15)", alg)
	}
	pub, err := publicKeyBytes(k.Signer.Public())
	if err != nil {
		return nil, err
	}
	k.DNSKEY.PublicKey = pub
	return k, nil
}

// publicKeyBytes is the DNSKEY form of a public key: X|Y for ECDSA (RFC
// 6605 §4), the 32 bytes for Ed25519 (RFC 8080 §3).
func publicKeyBytes(pub crypto.PublicKey) ([]byte, error) {
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		b, err := p.Bytes()
		if err != nil {
			return nil, err
		}
		return b[1:], nil // drop the 0x04 of the uncompressed form
	case ed25519.PublicKey:
		return []byte(p), nil
	}
	return nil, errors.New("dnssec: unsupported public key")
}

// BaseName is the file name BIND's tools give the key, without extension:
// K<zone>+<alg>+<tag>.
func (k *Key) BaseName() string {
	return fmt.Sprintf("K%s+%03d+%05d", k.Zone, k.DNSKEY.Algorithm, k.Tag())
}

func algName(a uint8) string {
	switch a {
	case AlgECDSAP256SHA256:
		return "ECDSAP256SHA256"
	case AlgED25519:
		return "ED25519"
	case AlgECDSAP384SHA384:
		return "ECDSAP384SHA384"
	case AlgRSASHA256:
		return "RSASHA256"
	}
	return strconv.Itoa(int(a))
}

// WriteFiles writes dir/K<zone>+<alg>+<tag>.key (the DNSKEY record) and
// .private (the private key in BIND's v1.3 format, mode 0600) and returns
// the base path.
func (k *Key) WriteFiles(dir string, now time.Time) (string, error) {
	base := filepath.Join(dir, k.BaseName())
	kind := "zone-signing"
	if k.KSK() {
		kind = "key-signing"
	}
	pub := fmt.Sprintf("; This is a %s key, keyid %d, for %s\n; Created: %s\n%s IN DNSKEY %s\n",
		kind, k.Tag(), k.Zone, now.UTC().Format("20060102150405"), k.Zone, k.DNSKEY.String())
	var raw []byte
	switch s := k.Signer.(type) {
	case *ecdsa.PrivateKey:
		b, err := s.Bytes()
		if err != nil {
			return "", err
		}
		raw = b
	case ed25519.PrivateKey:
		raw = s.Seed()
	default:
		return "", errors.New("dnssec: no private key to write")
	}
	priv := fmt.Sprintf("Private-key-format: v1.3\nAlgorithm: %d (%s)\nPrivateKey: %s\nCreated: %s\nPublish: %s\nActivate: %s\n",
		k.DNSKEY.Algorithm, algName(k.DNSKEY.Algorithm), base64.StdEncoding.EncodeToString(raw),
		now.UTC().Format("20060102150405"), now.UTC().Format("20060102150405"), now.UTC().Format("20060102150405"))
	if err := atomicfile.WriteFile(base+".private", []byte(priv), 0o600); err != nil {
		return "", err
	}
	if err := atomicfile.WriteFile(base+".key", []byte(pub), 0o644); err != nil {
		return "", err
	}
	return base, nil
}

// ReadKey reads a key written by WriteFiles or by BIND's dnssec-keygen:
// path is the base name or either file. The .private file is optional: a
// key without it can be published and checked against, not sign.
func ReadKey(path string) (*Key, error) {
	base := strings.TrimSuffix(strings.TrimSuffix(path, ".key"), ".private")
	pub, err := os.ReadFile(base + ".key")
	if err != nil {
		return nil, err
	}
	k, err := parsePublic(string(pub))
	if err != nil {
		return nil, fmt.Errorf("%s.key: %w", base, err)
	}
	priv, err := os.ReadFile(base + ".private")
	if errors.Is(err, os.ErrNotExist) {
		return k, nil
	}
	if err != nil {
		return nil, err
	}
	if err := k.parsePrivate(string(priv)); err != nil {
		return nil, fmt.Errorf("%s.private: %w", base, err)
	}
	return k, nil
}

func parsePublic(s string) (*Key, error) {
	for _, line := range strings.Split(s, "\n") {
		if i := strings.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		at := -1
		for i, x := range f {
			if strings.EqualFold(x, "DNSKEY") {
				at = i
			}
		}
		if at < 1 {
			continue
		}
		d, _, err := dns.ParseDNSSECRData(dns.TypeDNSKEY, f[at+1:], func(n string) (string, error) { return dns.Fqdn(n), nil })
		if err != nil {
			return nil, err
		}
		return &Key{Zone: dns.CanonicalName(f[0]), DNSKEY: *d.(*dns.DNSKEY)}, nil
	}
	return nil, errors.New("no DNSKEY record")
}

func (k *Key) parsePrivate(s string) error {
	var raw []byte
	for _, line := range strings.Split(s, "\n") {
		name, val, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(name) != "PrivateKey" {
			continue
		}
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(val))
		if err != nil {
			return errors.New("bad base64 in PrivateKey")
		}
		raw = b
	}
	if raw == nil {
		return errors.New("no PrivateKey line")
	}
	switch k.DNSKEY.Algorithm {
	case AlgECDSAP256SHA256:
		priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), raw)
		if err != nil {
			return err
		}
		k.Signer = priv
	case AlgED25519:
		if len(raw) != ed25519.SeedSize {
			return errors.New("Ed25519 private key is not 32 bytes")
		}
		k.Signer = ed25519.NewKeyFromSeed(raw)
	default:
		return fmt.Errorf("algorithm %d not supported for signing", k.DNSKEY.Algorithm)
	}
	pub, err := publicKeyBytes(k.Signer.Public())
	if err != nil {
		return err
	}
	if string(pub) != string(k.DNSKEY.PublicKey) {
		return errors.New("private key does not match the DNSKEY")
	}
	return nil
}
