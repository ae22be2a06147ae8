// Package resolver implements the textbook's local DNS server: an
// iterative, caching resolver (RFC 1034 §5.3.3, RFC 1035 §7).
//
// A question the cache cannot answer is resolved from the closest name
// servers known: the root hints at first, then, as referrals are cached,
// the TLD's or the domain's own servers, so that later questions skip the
// root and the TLD as the textbook says. Name servers given without glue
// are resolved in turn (bounded by MaxDepth), CNAME chains are followed
// across zones (MaxCNAME), and referrals are bounded (MaxReferrals), as are
// the upstream queries one client question may cost (MaxQueries).
//
// Caching: RRsets by TTL (capped by MaxTTL), negative answers by the SOA
// minimum (RFC 2308 §5: NXDOMAIN for the whole name, NODATA per type),
// failed resolutions for FailureTTL (RFC 2308 §7.1, 5 seconds),
// referral NS sets and glue at a lower rank that guides the walk but is
// never served (RFC 2181 §5.4.1). The cache is sharded and bounded
// (CacheSize): a full shard evicts expired entries and then arbitrary ones.
//
// Defences (RFC 5452): every upstream query has a random ID and goes out
// from a fresh socket, so from a random source port; answers must match ID
// and question; every record outside the bailiwick of the zone whose
// server sent it is dropped before anything is cached; a truncated answer
// is asked again over TCP. Identical questions in flight are merged into
// one resolution. Clients outside Allow (loopback by default) get REFUSED:
// never an open resolver.
//
// Concurrency: a Resolver is a dns.QuickHandler. In a dns.Server with
// UDPBatch, cache hits are answered inside the batch and each miss is
// resolved in a goroutine of its own; identical misses share one walk. The
// cache is sharded, so hits on different names do not contend.
//
// Divergences: no DNSSEC validation, no QNAME minimisation (RFC 9156), no
// 0x20 case randomisation, no prefetch or serve-stale; ANY is answered
// NOTIMP (RFC 8482 allows refusing it).
package resolver
