// Package zone implements DNS zones: the master-file format of RFC 1035
// §5, the authoritative answer of RFC 1034 §4.3.2, dynamic updates (RFC
// 2136) authenticated by TSIG (RFC 8945), and zone transfers (AXFR, RFC
// 5936) between a primary and its secondaries.
//
// [Parse] reads master files: $ORIGIN, $TTL, $INCLUDE (nested at most 8
// deep), @, relative names, parentheses, comments, quoted strings with
// escapes, TTLs with BIND's units (1h30m), class IN, the types of package
// dns, and any type in the generic form of RFC 3597 (\# length hex). Every
// error names the file and line; $GENERATE and other classes are refused.
//
// [New] checks a zone (one SOA at the apex, NS at the apex, every name
// inside the zone, no CNAME beside other data) and indexes it. A Zone is
// immutable: an update builds a new one.
//
// [Authority] serves a set of zones as a dns.Handler: AA on answers, CNAME
// chains followed inside the zone, wildcards (RFC 4592), referrals with
// glue and AA clear below a delegation, NXDOMAIN and NODATA with the SOA
// at the negative TTL of RFC 2308 §3, the addresses of MX, NS and SRV
// targets in the additional section, RRsets rotated at each answer,
// REFUSED outside its zones, NOTIMP for opcodes it does not serve. The zone
// set is swapped atomically, so queries take no lock.
//
// [Primary] adds UPDATE (signed with one of its TSIG keys, prerequisites
// of §3.2, updates of §3.4, the SOA serial bumped, the zone file rewritten
// atomically and synced before the answer), AXFR out and NOTIFY to its
// secondaries (RFC 1996). [Secondary] loads a zone by AXFR and refreshes it
// on the SOA timers, or at once on a NOTIFY from its primary.
//
// Divergences: no DNSSEC, no DNAME, no incremental transfer (IXFR gets the
// whole zone, RFC 1995 §4); an update rewrites
// the zone file whole (its comments are lost) instead of keeping a journal.
package zone
