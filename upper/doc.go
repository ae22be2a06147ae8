// Package upper implements the textbook's first network application
// (section 2.7, socket programming): a client sends a sentence, the server
// answers it in upper case.
//
// There is no RFC; the "protocol" is the one the textbook's UDPServer.py and
// TCPServer.py speak, and this package interoperates with them:
//
//   - UDP: every datagram (up to 65,507 bytes over IPv4) is answered with one
//     datagram holding its uppercased content, sent to the datagram's source
//     address. Nothing else: no framing, no sequence numbers, no
//     retransmission. The client is the one that copes with loss
//     ([UDPConn.Exchange] waits a bounded time and resends).
//   - TCP: the server streams back the uppercased bytes of whatever the
//     client sends, as it arrives, until the client half-closes or closes.
//     So a client that sends one sentence without a newline and waits (the
//     textbook's TCPClient) gets its answer, a client that sends line after
//     line gets each line back, and one that sends and then shuts down its
//     writing side gets everything and then end-of-stream.
//
// Uppercasing is UTF-8 aware and streaming ([Uppercaser]): a multi-byte
// character split across two reads is still uppercased right, and bytes that
// are not valid UTF-8 pass through unchanged. Uppercasing may change a
// text's length in bytes (U+0131 'ı' becomes 'I'), so clients must not
// expect as many bytes back as they sent.
//
// # Concurrency
//
// TCP: one goroutine per connection (see internal/lifecycle), with an idle
// timeout on every read and a write timeout on every write. UDP: one read
// loop that answers each datagram before reading the next; the work per
// datagram is far smaller than the system calls around it.
package upper
