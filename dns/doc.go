// Package dns implements the Domain Name System's message format and the
// plumbing shared by applayer's DNS servers and clients: names, record
// types, the wire codec, a [Client] and a [Server] with a one-method
// [Handler].
//
// The codec follows RFC 1035 §4 (header, question, the answer, authority
// and additional sections, name compression §4.1.4), RFC 3596 (AAAA), RFC
// 2782 (SRV), RFC 6891 (EDNS0: the OPT record is lifted into [Msg.EDNS]),
// RFC 3597 (records of any other type are carried opaquely as [Unknown] and
// printed as \# length hex), and RFC 8945 (the TSIG record layout).
//
// Decoding never trusts the message: every length is checked, compression
// pointers must point backwards (so loops cannot happen), labels are held
// to 63 octets and names to 255, and counts that promise more records than
// the bytes hold are rejected before anything is allocated for them.
// Encoding appends to a caller's buffer; with a reused [Packer] it does not
// allocate. Names are compressed case-insensitively, so a later name may be
// written as a pointer to an earlier one spelt in another case, as BIND
// does.
//
// Names are strings in presentation form (RFC 1035 §5.1), absolute names
// ending in a dot, with \. and \DDD escapes; they compare
// case-insensitively for ASCII only (RFC 4343).
//
// [Server] serves a [Handler] over UDP and TCP. Over UDP, UDPWorkers
// goroutines read the one socket and each answers what it read, with its
// own buffers; with UDPBatch they move many datagrams per system call
// (recvmmsg/sendmmsg), and a [QuickHandler] (a resolver) answers cache
// hits inside the batch while its misses are served beside it. Answers
// are truncated to the client's EDNS size, or 512 bytes, capped at 1232
// (RFC 6891 §6.2.5, RFC 2181 §9). Over TCP, one
// goroutine per connection answers pipelined queries in turn (RFC 7766).
// Undecodable queries get FORMERR when their header can be read, unknown
// EDNS versions BADVERS; responses and runts are dropped.
//
// [Client] sends a query with a random ID from a fresh UDP socket (so a
// random source port), accepts only an answer with the same ID and
// question, and asks again over TCP when the answer is truncated.
//
// The zone-file parser and authoritative handler live in package
// dns/zone, the iterative resolver in dns/resolver.
package dns
