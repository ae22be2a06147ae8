// Package web implements HTTP/1.0 and HTTP/1.1 (the Web of the textbook's
// section 2.2) as specified in RFC 9110 (semantics) and RFC 9112 (message
// syntax and routing): the message format, a server, a static file handler
// with conditional and range requests, PUT and DELETE, and a client.
//
// # Messages
//
// [ReadRequest] parses a request from a buffered reader: the request line
// (RFC 9112 §3), header fields (§5) and the body framing (§6). The parser is
// strict where the RFCs allow or require it, because lenient parsing is what
// request smuggling exploits:
//
//   - every line ends in CRLF; a bare LF is rejected (§2.2 permits either);
//   - obsolete line folding is rejected (§5.2);
//   - whitespace between a field name and its colon is rejected (§5.1);
//   - HTTP/1.1 requires exactly one Host field (§3.2);
//   - Content-Length must be one decimal number, given once (RFC 9110 §8.6);
//   - a request with both Transfer-Encoding and Content-Length, or with
//     Transfer-Encoding in HTTP/1.0, is rejected (§6.1, §6.3);
//   - chunk sizes are hex digits that fit in 63 bits, and chunk lines and
//     chunk data end in CRLF exactly (§7.1).
//
// A parse error is an [*Error] that carries the status code to answer with
// (400, 414, 431, 501, 505...). Request targets in origin-form and
// absolute-form are accepted (§3.2.1, §3.2.2), authority-form for CONNECT and
// asterisk-form for OPTIONS are recognised.
//
// # Server
//
// [Server] has the shape of net/http's: configuration in exported fields,
// Serve, ListenAndServe, Shutdown and Close. A connection is served by a
// loop that reads a request, calls the [Handler], writes the response
// and loops (persistent connections, RFC 9112 §9.3): HTTP/1.1 keeps the
// connection unless either side says "Connection: close", HTTP/1.0 closes it
// unless the client asked for keep-alive. Pipelined requests are read one at
// a time and answered in order; responses are flushed when no further
// request is already buffered, so a pipeline is answered in few writes.
//
// Every wait is bounded: IdleTimeout between requests, HeaderTimeout for a
// whole request head once its first byte arrived (so a client that sends a
// byte a second cannot hold a connection: slowloris), BodyTimeout per body
// read and WriteTimeout per write. Header size, body size and the number of
// connections are limited.
//
// # Files
//
// [FileServer] serves a directory through [os.Root], so that no path, ".."
// segment, percent-encoded "%2e%2e" or symbolic link reaches outside it. It
// answers GET and HEAD with Content-Type, Content-Length, Last-Modified, ETag
// and Accept-Ranges; conditional requests (If-None-Match, If-Modified-Since:
// 304, RFC 9110 §13), ranges (206, 416, RFC 9110 §14), index.html for
// directories and 301 for a directory named without its trailing slash. With
// AllowWrite it also accepts PUT, written atomically through a temporary
// file, fsync and rename, and DELETE, optionally behind HTTP Basic
// authentication (RFC 7617) against bcrypt-hashed passwords.
//
// Concurrency: on Linux, a connection idle between requests is parked on
// one of a few epoll pollers ([Server.Pollers]: by default GOMAXPROCS-1,
// at least one), with no goroutine and no buffers; a
// poller's goroutine serves ready connections in the kernel's order, on the
// spot while nothing waits (a whole head, no body, the file server's GET or
// HEAD, an answer that fits the socket), and otherwise hands the poller to
// a new goroutine and serves that connection as its own (poll_linux.go).
// Elsewhere each connection keeps one goroutine. A handler's panic becomes
// a 500 for that connection only.
//
// # Client
//
// [ClientConn] carries requests over one connection (persistent in
// HTTP/1.1, one request at a time) and [ReadResponse] frames responses
// (RFC 9112 §6.3: HEAD, 1xx, 204 and 304 have no body; chunked; a
// Content-Length; or until the connection closes). The textbook's client
// tooling built on it (the page fetcher with the RTT model, the cookie jar,
// the browser's local cache) is package [github.com/applayer/applayer/web/browser].
//
// # Divergences
//
// Bare LF is refused even where RFC 9112 §2.2 lets a recipient accept it.
// No HTTP/0.9, no transfer codings other than chunked, no multipart/byteranges
// (a request for several ranges gets the whole file with 200, which RFC 9110
// §14.2 permits). Small files are cached in memory and re-checked on disk at
// most once a second, so a change made behind the server's back can take a
// second to show.
package web
