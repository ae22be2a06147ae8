// Package dnssec signs DNS zones and checks signatures: the DNS Security
// Extensions of RFC 4033, RFC 4034 and RFC 4035, with the clarifications
// of RFC 6840, hashed denial of existence (NSEC3, RFC 5155) with the
// parameters RFC 9276 asks for (no extra iterations, no salt), the
// algorithms RFC 8624 recommends for signing: ECDSA P-256 with SHA-256
// (algorithm 13, RFC 6605) and Ed25519 (algorithm 15, RFC 8080), and the
// child's CDS and CDNSKEY records (RFC 7344, RFC 8078).
//
// [GenerateKey] makes a key pair; [Key.WriteFiles] and [ReadKey] keep it
// in BIND's K<zone>+<alg>+<tag>.key and .private files, so BIND's tools
// and ours share keys. [SignRRset] and [Verify] make and check one RRSIG
// over an RRset in the canonical form of RFC 4034 §6. [SignZone] signs a
// whole zone: DNSKEY, CDS and CDNSKEY at the apex, an NSEC or NSEC3 chain
// (with opt-out when asked) over the authoritative names, and an RRSIG on
// every authoritative RRset (not on delegation NS records or glue).
//
// Verification is bounded: [Verify] checks one signature with one key; a
// caller trying keys limits how many (CVE-2023-50387, KeyTrap).
package dnssec
