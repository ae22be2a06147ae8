// Package proxy is the Web cache of the textbook's section 2.2.5: a
// caching HTTP/1.1 proxy served by web.Server, applying the rules of
// package github.com/applayer/applayer/web/cache (RFC 9111).
//
// # Roles
//
// As a forward proxy (the default) it takes absolute-form requests (RFC
// 9112 §3.2.2) and CONNECT tunnels (RFC 9110 §9.3.6) to the ports in
// ConnectPorts (443 by default). With Origin set it is a reverse proxy
// (an accelerator): every request goes to that origin and the cache key
// is built from the client's Host. Either way it serves only the client
// networks in Allow, loopback by default: no open proxy.
//
// # Messages
//
// Hop-by-hop fields (RFC 9110 §7.6.1, and those Connection lists) are
// removed in both directions, Via is added (§7.6.3), and a request that
// already passed through this proxy twice is refused with 508. Framing
// is decided by the web package on both sides: the client's request is
// parsed by the server's strict parser and sent again with a length or
// chunked, the origin's response is parsed by ReadResponse and sent again
// the same way, so no byte the client sends reaches the origin outside a
// request the proxy framed itself (no request smuggling through it).
//
// # Caching
//
// GET responses are stored when RFC 9111 §3 allows it and their body is
// at most MaxObject bytes (larger ones are streamed through, never held);
// a stored response is served fresh, revalidated with If-None-Match and
// If-Modified-Since when stale (a 304's fields merged, §4.3.4), served
// stale within stale-while-revalidate while a background request
// revalidates it, or served stale within stale-if-error when the origin
// fails (RFC 5861). A client's own conditional request is answered 304
// from the cache (§4.3.2). Successful unsafe requests invalidate their
// target, Location and Content-Location (§4.4). Concurrent misses for one
// key are collapsed: one request reaches the origin, the others wait for
// its response and are served from the cache (or, if it could not be
// stored, go to the origin themselves). Each response says X-Cache: HIT,
// MISS, REVALIDATED or STALE, and Cache-Status (RFC 9211).
//
// PURGE removes a URI's entries, for clients in PurgeFrom (loopback by
// default). /_proxy/stats and /_proxy/metrics (Prometheus text format)
// report hits, misses, revalidations, stale answers, collapsed misses,
// bytes from the cache and from origins, and the hit ratio.
//
// # Concurrency
//
// Hits from memory are answered on the web server's pollers like static
// files (the Server's Handler is web.Inline); anything that waits (an
// origin, another request's fetch, a tunnel) first moves to a goroutine of
// its own with web.Blocking. Connections to origins are pooled per
// address (idle ones kept 2 s; a request with a body always gets a new
// one, since it cannot be retried).
package proxy
