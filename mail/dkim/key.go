package dkim

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// Algorithms, as the a= tag names them.
const (
	RSASHA256     = "rsa-sha256"     // RFC 6376 §3.3.1
	Ed25519SHA256 = "ed25519-sha256" // RFC 8463
)

// MinRSABits is the smallest RSA key accepted when verifying (RFC 8301
// §3.2: 1024 at least; 2048 is what keygen makes).
const MinRSABits = 1024

// maxRSABits bounds the work a stranger's key can ask of a verifier.
const maxRSABits = 8192

// Key is a public key published in a DKIM key record (RFC 6376 §3.6.1).
type Key struct {
	Type     string // "rsa" or "ed25519"
	Public   crypto.PublicKey
	Revoked  bool     // an empty p=: the key was withdrawn
	Testing  bool     // t=y: the domain is testing DKIM
	Strict   bool     // t=s: i= must be in d= exactly, no subdomain
	Services []string // s=, default "*"
}

// ParseKey parses a key record, the TXT strings joined.
func ParseKey(txt string) (*Key, error) {
	t, err := parseTags(txt)
	if err != nil {
		return nil, fmt.Errorf("dkim: key record: %w", err)
	}
	if v, ok := t.get("v"); ok && v != "DKIM1" {
		return nil, fmt.Errorf("dkim: key record: version %q, want DKIM1", v)
	}
	k := &Key{Type: "rsa", Services: []string{"*"}}
	if v, ok := t.get("k"); ok {
		k.Type = strings.ToLower(v)
	}
	if v, ok := t.get("s"); ok {
		k.Services = strings.Split(stripFWS(v), ":")
	}
	if v, ok := t.get("t"); ok {
		for f := range strings.SplitSeq(stripFWS(v), ":") {
			k.Testing = k.Testing || f == "y"
			k.Strict = k.Strict || f == "s"
		}
	}
	p, ok := t.get("p")
	if !ok {
		return nil, errors.New("dkim: key record: no p= tag")
	}
	p = stripFWS(p)
	if p == "" {
		k.Revoked = true
		return k, nil
	}
	der, err := base64.StdEncoding.DecodeString(p)
	if err != nil {
		return nil, fmt.Errorf("dkim: key record: p=: %w", err)
	}
	switch k.Type {
	case "rsa":
		// SubjectPublicKeyInfo, as everyone publishes; the bare
		// RSAPublicKey the RFC's text names is taken too.
		pub, err := x509.ParsePKIXPublicKey(der)
		if err != nil {
			if pk, err2 := x509.ParsePKCS1PublicKey(der); err2 == nil {
				pub, err = pk, nil
			}
		}
		if err != nil {
			return nil, fmt.Errorf("dkim: key record: RSA key: %w", err)
		}
		rk, ok := pub.(*rsa.PublicKey)
		if !ok {
			return nil, errors.New("dkim: key record: k=rsa but the key is not RSA")
		}
		if n := rk.N.BitLen(); n < MinRSABits || n > maxRSABits {
			return nil, fmt.Errorf("dkim: key record: RSA key of %d bits (want %d to %d)", n, MinRSABits, maxRSABits)
		}
		k.Public = rk
	case "ed25519":
		if len(der) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("dkim: key record: Ed25519 key of %d bytes, want %d", len(der), ed25519.PublicKeySize)
		}
		k.Public = ed25519.PublicKey(der)
	default:
		return nil, fmt.Errorf("dkim: key record: unknown key type %q", k.Type)
	}
	return k, nil
}

// GenerateKey makes a signing key: "ed25519", or "rsa" (2048 bits).
func GenerateKey(typ string) (crypto.Signer, error) {
	switch typ {
	case "ed25519":
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	case "rsa":
		return rsa.GenerateKey(rand.Reader, 2048)
	}
	return nil, fmt.Errorf("dkim: unknown key type %q (want rsa or ed25519)", typ)
}

// Record returns the key record that publishes signer's public key, the
// value of the TXT record at selector._domainkey.domain.
func Record(signer crypto.Signer) (string, error) {
	switch pub := signer.Public().(type) {
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub), nil
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return "", err
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der), nil
	}
	return "", errors.New("dkim: unsupported key type")
}

// MarshalKey encodes a signing key as PEM (PKCS #8), the form
// ParsePrivateKey reads and OpenDKIM and dkimpy read too.
func MarshalKey(signer crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(signer)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParsePrivateKey reads a PEM signing key: PKCS #8, or PKCS #1 for RSA.
func ParsePrivateKey(b []byte) (crypto.Signer, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("dkim: no PEM block in the key file")
	}
	if blk.Type == "RSA PRIVATE KEY" {
		return x509.ParsePKCS1PrivateKey(blk.Bytes)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("dkim: key file: %w", err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, errors.New("dkim: key file: not a signing key")
	}
	switch s.(type) {
	case ed25519.PrivateKey, *rsa.PrivateKey:
		return s, nil
	}
	return nil, errors.New("dkim: key file: not an RSA or Ed25519 key")
}

// algorithm names the a= value for signer's key.
func algorithm(signer crypto.Signer) (string, error) {
	switch signer.Public().(type) {
	case ed25519.PublicKey:
		return Ed25519SHA256, nil
	case *rsa.PublicKey:
		return RSASHA256, nil
	}
	return "", errors.New("dkim: unsupported key type")
}
