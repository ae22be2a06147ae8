// Package smtpserver implements the server side of SMTP as specified in
// RFC 5321, with the ESMTP extensions SIZE (RFC 1870), 8BITMIME (RFC 6152),
// PIPELINING (RFC 2920), ENHANCEDSTATUSCODES (RFC 2034, codes from RFC
// 3463), CHUNKING (BDAT, RFC 3030), STARTTLS (RFC 3207) and AUTH (RFC
// 4954) with the PLAIN (RFC 4616) and LOGIN mechanisms, AUTH being offered
// only once the session is encrypted.
//
// The engine knows nothing of mailboxes or queues: a [Backend] decides who
// may send to whom and stores each accepted message, so the same engine
// serves a mail exchanger (MX) that takes mail for its own domains and a
// submission server that takes mail from authenticated users for anyone.
// The server answers 250 to the end of DATA only after the backend's
// [Delivery.Commit] returned, which is where durability lives.
//
// # Shape
//
// One goroutine per connection (internal/lifecycle runs the accept loop and
// the graceful shutdown). A session is an explicit state machine
// (stateInit, stateReady, stateMail, stateRcpt, stateBdat; see the table in
// session.go, RFC 5321 section 4.1.4 gives the order). Replies are flushed
// only when the client has nothing more buffered, so a pipelining client
// gets its replies in one write (RFC 2920 section 3.1). Every wait for the
// client is bounded by CommandTimeout or DataTimeout (RFC 5321 section
// 4.5.3.2 gives 5 and 3 minutes).
//
// # Bad input
//
// Unknown commands get 500, commands out of order 503, bad arguments 501.
// A command line over 512 octets is refused without being buffered whole
// (internal/textline). A body over the size limit gets 552, a body with a
// bare LF or a NUL byte 550 or 554; such bodies are read to their end and
// discarded, and the backend's Delivery is aborted, so nothing half-written
// is kept. A client that disconnects or times out mid-DATA loses that
// message (it never got 250). After MaxErrors bad commands the server says
// 421 and closes.
//
// When the client used HELO rather than EHLO, replies carry no enhanced
// status codes, and the dialogue reads like the textbook's:
//
//	S: 220 hamburger.edu ESMTP applayer
//	C: HELO crepes.fr
//	S: 250 hamburger.edu Hello crepes.fr, pleased to meet you
//	C: MAIL FROM:<alice@crepes.fr>
//	S: 250 <alice@crepes.fr>... Sender ok
package smtpserver
