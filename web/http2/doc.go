// Package http2 implements HTTP/2 (RFC 9113) for the server side of
// package web: the same web.Handler answers HTTP/1.1 and HTTP/2.
//
// # Wire format
//
// The frame codec is ours: [ReadFrame] and the Parse functions for every
// frame type (DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS,
// PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION, and RFC 9218's
// PRIORITY_UPDATE) check lengths, padding, stream-zero rules and setting
// ranges, and return an [*Error] that says whether the fault is a
// connection error or a stream error and with which code (RFC 9113 §5.4).
// The Append functions build frames. HPACK (RFC 7541) is
// golang.org/x/net/http2/hpack, which Go's own HTTP/2 uses; the decoder is
// bounded here (string lengths, the header list size, the block's octets).
//
// # Server
//
// [Server] serves a connection handed over by web.Server (a client that
// opened with the preface, upgraded with "Upgrade: h2c", or chose "h2" by
// TLS ALPN), or its own listener. Each connection has one goroutine that
// owns all its state (the loop), a reader goroutine that peeks whole
// frames and passes them on, and one goroutine per running handler.
// Handlers talk to the loop with events: a response head with the first
// body octets, more body, the end; the loop encodes heads with HPACK in
// the order it sends them, and sends DATA as the connection's and the
// stream's windows allow, splitting at the peer's SETTINGS_MAX_FRAME_SIZE.
// A handler's Write returns once its octets are in the connection's
// buffer, so a client that grants no window holds back only the streams
// it starves. Request bodies go through a pipe per stream; the windows
// are given back with WINDOW_UPDATE as the handler reads.
//
// Streams follow the state machine of RFC 9113 §5.1, written as one
// transition function per event (streamState). The send order follows RFC
// 9218: the Priority request field and PRIORITY_UPDATE set urgency and
// incrementality; lower urgency goes first, non-incremental streams of one
// urgency one after another, incremental ones a frame each in turn.
// Streams without any signal take turns at urgency 3 (RFC 9218 would
// serve them one after another); RFC 7540 PRIORITY weights, when no RFC
// 9218 signal came, map onto an urgency. A handler that writes a 1xx head
// (103 Early Hints) has it sent at once, before the final response.
//
// # Limits
//
// Every cost a client can impose is bounded: MaxConcurrentStreams streams
// and handlers at once (REFUSED_STREAM beyond); per-connection receive
// windows, so at most ConnWindowSize octets of body wait unread; header
// lists of MaxHeaderListSize (431 beyond, the decoder kept in step, so an
// HPACK bomb of indexed references costs no memory); header blocks of a
// bounded size and number of CONTINUATION frames (CVE-2024-27316: GOAWAY
// ENHANCE_YOUR_CALM); frames that carry nothing (PING, SETTINGS,
// PRIORITY, empty DATA or CONTINUATION, unknown types) and resets (those
// a client sends on running streams, CVE-2023-44487 Rapid Reset, and
// those it provokes from the server, CVE-2025-8671 MadeYouReset) beyond
// MaxControlFrames plus an allowance per real request end the connection
// with ENHANCE_YOUR_CALM; a connection with no stream data moving for
// IdleTimeout (a window that never opens) gets GOAWAY; every write has
// WriteTimeout (a client that never reads); a client that does not
// acknowledge our SETTINGS within SettingsTimeout gets SETTINGS_TIMEOUT.
// Shutdown sends GOAWAY with
// the last stream taken, lets those streams finish and closes.
//
// # Server push
//
// With PushPreload, a 200 response's Link fields with rel=preload naming
// paths on its own origin are promised (PUSH_PROMISE on the request's
// stream, before the response's HEADERS) and served by the same handler
// on new even-numbered streams, at most 32 per response and within the
// client's SETTINGS_MAX_CONCURRENT_STREAMS, never to a client that sent
// SETTINGS_ENABLE_PUSH 0. [LinkPreloads] makes a file server's HTML pages
// name their objects so, and sends the same Link first in a 103 Early
// Hints. Browsers have stopped accepting push (Chrome 106, Firefox 132);
// the 103 is what they use instead. Our own SETTINGS say ENABLE_PUSH 0:
// a client may not push to us.
//
// # Divergences
//
// No extended CONNECT (RFC 8441). A connection with no stream open counts
// as idle for web.Server's MaxConns eviction, and is closed without a
// GOAWAY when evicted, as a parked HTTP/1.1 connection is closed. The request body of a
// stream whose response is complete is refused with RST_STREAM NO_ERROR
// (RFC 9113 §8.1). An h2c upgrade is taken only for requests without a
// body; others are answered over HTTP/1.1.
package http2
