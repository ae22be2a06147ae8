// Package dkim signs and verifies messages with DomainKeys Identified Mail
// (RFC 6376), with RSA-SHA256 and Ed25519-SHA256 (RFC 8463).
//
// A signer adds one DKIM-Signature header field that covers the body and
// a chosen list of header fields, canonicalised "simple" or "relaxed"
// (RFC 6376 §3.4); a verifier looks the signer's public key up in the DNS
// at selector._domainkey.domain (§3.6.2) and checks the signature. This is
// how hamburger.edu can tell that mail claiming to come from crepes.fr was
// sent by crepes.fr's server and not changed on the way.
//
// The tag lists (§3.2), canonicalisation, header selection (§5.4.2) and
// the key records (§3.6.1) are parsed here; the cryptography is the
// standard library's.
package dkim
