// Package cache holds the rules of HTTP caching (RFC 9111) and the stores
// that keep responses, for the caching proxy (package
// github.com/applayer/applayer/web/proxy) and any other cache built on
// the web package.
//
// The rules are functions of a stored [Entry] and a request, so that they
// can be tested one RFC section at a time:
//
//   - [ParseControl]: Cache-Control in both directions (§5.2), with
//     stale-while-revalidate and stale-if-error (RFC 5861) and immutable
//     (RFC 8246);
//   - [Storable]: whether a response may be stored (§3, §3.5);
//   - [Entry.Lifetime] and [Entry.Age]: freshness from s-maxage, max-age,
//     Expires or the Last-Modified heuristic (§4.2.1, §4.2.2) and the age
//     calculation (§4.2.3, Age parsed as §5.1 says);
//   - [Decide]: fresh, stale but acceptable, or to be validated (§4,
//     §5.2.1, §5.2.2);
//   - [ParseVary], [NormalizeField], [SecondaryKey]: Vary and the request
//     fields it selects on, compared in a normal form (§4.1);
//   - [Conditional], [Freshened], [NotModified]: validation with
//     If-None-Match and If-Modified-Since and the merging of a 304's
//     fields into the stored response (§4.3, §3.2);
//   - [Invalidates], [InvalidatedKeys]: invalidation after unsafe methods,
//     of the target and of same-origin Location and Content-Location
//     (§4.4).
//
// # The cache key
//
// The primary key ([Key]) is the target URI, scheme://host/path?query,
// with scheme and host lower-cased and the scheme's default port dropped;
// path and query are kept byte for byte as the client sent them. Only GET
// responses are stored; a stored GET response answers HEAD too. Under one
// primary key, responses that carry Vary are told apart by the secondary
// key ([SecondaryKey]): the request's values of the fields Vary names,
// each in the normal form of [NormalizeField] (lines joined, whitespace
// and empty list elements dropped, case folded for Accept-Encoding,
// Accept-Charset and Accept-Language). "Vary: *" is not stored.
//
// # Stores
//
// [Memory] keeps entries in memory under a byte bound with LRU eviction;
// [Disk] keeps each entry in a file as well (written atomically and with
// a checksum, so that after a crash an entry is whole or absent), and
// loads them back at start.
package cache
