// Package browser is the textbook's Web client (section 2.2) built on the
// HTTP/1.x engine of package web: what a browser does around the protocol.
//
// [Fetcher] fetches a page and the objects [ObjectLinks] finds in it, over
// persistent or non-persistent connections, serially or in parallel, and
// [Report] puts the measurement beside the textbook's response-time [Model]
// (2 RTT per object without persistence, one with it). [Jar] keeps cookies
// (RFC 6265) in curl's cookies.txt format, so that the same file works with
// both. [Cache] is the browser's local cache: stored objects revalidated
// with conditional GET (RFC 9110 §13.1); it is not the shared Web cache of
// section 2.2.5.
package browser
