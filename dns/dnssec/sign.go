package dnssec

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"time"

	"github.com/applayer/applayer/dns"
)

// Errors from Verify, which a validator maps to Extended DNS Errors (RFC
// 8914).
var (
	ErrSigExpired     = errors.New("dnssec: signature expired")
	ErrSigNotYetValid = errors.New("dnssec: signature not yet valid")
	ErrBadSig         = errors.New("dnssec: signature does not verify")
	ErrKeyMismatch    = errors.New("dnssec: key does not match the signature's algorithm, tag or signer")
	ErrAlgorithm      = errors.New("dnssec: unsupported algorithm")
)

// Labels is the RRSIG labels field for owner: its labels without the root
// and without a leading wildcard (RFC 4034 §3.1.3).
func Labels(owner string) uint8 {
	ls := dns.Labels(owner)
	n := len(ls)
	if n > 0 && ls[0] == "*" {
		n--
	}
	return uint8(n)
}

// signedData is what an RRSIG signs (RFC 4034 §3.1.8.1): its own rdata
// less the signature, then each RR of the set in canonical form, ordered
// by rdata (§6.3), duplicates removed.
func signedData(sig *dns.RRSIG, rrs []dns.RR) ([]byte, error) {
	if len(rrs) == 0 {
		return nil, errors.New("dnssec: empty RRset")
	}
	owner := dns.CanonicalName(rrs[0].Name)
	if ls := dns.Labels(owner); int(sig.Labels) < len(ls) {
		// Synthesised from a wildcard (RFC 4035 §5.3.2).
		owner = "*." + strings.Join(ls[len(ls)-int(sig.Labels):], ".") + "."
		if sig.Labels == 0 {
			owner = "*."
		}
	} else if int(sig.Labels) > len(ls) {
		return nil, errors.New("dnssec: RRSIG labels exceed the owner's")
	}
	head, err := dns.AppendNameWire(nil, owner)
	if err != nil {
		return nil, err
	}
	head = binary.BigEndian.AppendUint16(head, uint16(rrs[0].Type))
	head = binary.BigEndian.AppendUint16(head, uint16(rrs[0].Class))
	head = binary.BigEndian.AppendUint32(head, sig.OrigTTL)
	rdatas := make([][]byte, 0, len(rrs))
	for _, rr := range rrs {
		rd, err := dns.CanonicalRData(nil, rr.Data)
		if err != nil {
			return nil, err
		}
		rdatas = append(rdatas, rd)
	}
	sort.Slice(rdatas, func(i, j int) bool { return bytes.Compare(rdatas[i], rdatas[j]) < 0 })
	out := sig.AppendSignedData(nil)
	for i, rd := range rdatas {
		if i > 0 && bytes.Equal(rd, rdatas[i-1]) {
			continue
		}
		out = append(out, head...)
		out = binary.BigEndian.AppendUint16(out, uint16(len(rd)))
		out = append(out, rd...)
	}
	return out, nil
}

// SignRRset signs rrs (one owner, type and class; the TTL of the first is
// the original TTL) with k, valid from inception to expiration.
func SignRRset(rrs []dns.RR, k *Key, inception, expiration time.Time) (dns.RR, error) {
	if k.Signer == nil {
		return dns.RR{}, errors.New("dnssec: key " + k.BaseName() + " has no private half")
	}
	sig := &dns.RRSIG{
		TypeCovered: rrs[0].Type, Algorithm: k.DNSKEY.Algorithm, Labels: Labels(rrs[0].Name),
		OrigTTL: rrs[0].TTL, Expiration: uint32(expiration.Unix()), Inception: uint32(inception.Unix()),
		KeyTag: k.Tag(), SignerName: k.Zone,
	}
	data, err := signedData(sig, rrs)
	if err != nil {
		return dns.RR{}, err
	}
	switch s := k.Signer.(type) {
	case *ecdsa.PrivateKey:
		h := sha256.Sum256(data)
		r, ss, err := ecdsa.Sign(rand.Reader, s, h[:])
		if err != nil {
			return dns.RR{}, err
		}
		b := make([]byte, 64)
		r.FillBytes(b[:32])
		ss.FillBytes(b[32:])
		sig.Signature = b
	case ed25519.PrivateKey:
		sig.Signature = ed25519.Sign(s, data)
	default:
		b, err := k.Signer.Sign(rand.Reader, data, crypto.Hash(0))
		if err != nil {
			return dns.RR{}, err
		}
		sig.Signature = b
	}
	return dns.RR{Name: rrs[0].Name, Type: dns.TypeRRSIG, Class: rrs[0].Class, TTL: rrs[0].TTL, Data: sig}, nil
}

// Verify checks sig over rrs with key (the DNSKEY of sig's signer) at
// time now: the validity period (serial arithmetic), the key's algorithm
// and tag, then the signature itself.
func Verify(rrs []dns.RR, sig *dns.RRSIG, signer string, key *dns.DNSKEY, now time.Time) error {
	if key.Algorithm != sig.Algorithm || KeyTag(key) != sig.KeyTag || !dns.EqualNames(signer, sig.SignerName) ||
		key.Flags&dns.FlagZone == 0 || key.Protocol != 3 || key.Flags&dns.FlagRevoke != 0 {
		return ErrKeyMismatch
	}
	if len(rrs) == 0 || rrs[0].Type != sig.TypeCovered {
		return ErrBadSig
	}
	t := uint32(now.Unix())
	if int32(sig.Expiration-t) < 0 {
		return ErrSigExpired
	}
	if int32(t-sig.Inception) < 0 {
		return ErrSigNotYetValid
	}
	data, err := signedData(sig, rrs)
	if err != nil {
		return err
	}
	switch sig.Algorithm {
	case AlgECDSAP256SHA256:
		if len(key.PublicKey) != 64 || len(sig.Signature) != 64 {
			return ErrBadSig
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append([]byte{4}, key.PublicKey...))
		if err != nil {
			return ErrBadSig
		}
		h := sha256.Sum256(data)
		r := new(big.Int).SetBytes(sig.Signature[:32])
		s := new(big.Int).SetBytes(sig.Signature[32:])
		if !ecdsa.Verify(pub, h[:], r, s) {
			return ErrBadSig
		}
		return nil
	case AlgED25519:
		if len(key.PublicKey) != ed25519.PublicKeySize || len(sig.Signature) != ed25519.SignatureSize {
			return ErrBadSig
		}
		if !ed25519.Verify(ed25519.PublicKey(key.PublicKey), data, sig.Signature) {
			return ErrBadSig
		}
		return nil
	}
	return fmt.Errorf("%w %d", ErrAlgorithm, sig.Algorithm)
}
