// Package pop3 is applayer's POP3 server (RFC 1939), with the extension
// mechanism of RFC 2449 (CAPA: TOP, UIDL, USER, SASL PLAIN, RESP-CODES,
// AUTH-RESP-CODE, PIPELINING, STLS, IMPLEMENTATION), STLS (RFC 2595
// section 4), AUTH PLAIN (RFC 5034 with RFC 4616) and APOP (RFC 1939
// section 7). It reads the Maildirs that applayer's SMTP server delivers
// into (mail/maildir), the INBOX of each user.
//
// # States
//
// A session is the explicit state machine of RFC 1939 section 3:
// AUTHORIZATION (greeted; USER/PASS, APOP, AUTH, STLS, CAPA, QUIT),
// TRANSACTION (the maildrop is locked and its list fixed; STAT, LIST,
// RETR, DELE, NOOP, RSET, TOP, UIDL, CAPA, QUIT) and UPDATE (entered by
// QUIT from TRANSACTION: the messages marked deleted are removed, then the
// lock is released). The dispatch table in session.go gives each command
// the states it is legal in, with the RFC section that defines it.
//
// # The maildrop
//
// A session locks its maildrop for its whole TRANSACTION state (RFC 1939
// section 8): a second session for the same user, in this process or
// another, is told "-ERR [IN-USE]" (RFC 2449 section 8.1.1). Messages
// delivered meanwhile are not seen until the next session. DELE only marks
// a message: the files are removed in the UPDATE state, after QUIT, and a
// connection that ends any other way (dropped, timed out, shut down)
// removes nothing.
//
// UIDL is Dovecot's default form, the message's IMAP UID and its folder's
// UIDVALIDITY in upper-case hexadecimal ("%08X%08X"): both are persisted in the
// folder's dovecot-uidlist (see maildir.Folder), so a message keeps its
// UIDL across sessions and restarts, and when the mailbox moves between
// applayer and Dovecot.
//
// Sizes (STAT, LIST, "+OK n octets") count the message as sent, with CRLF
// line ends; a message stored with bare LF line ends is sent with CRLF.
//
// # Security
//
// USER/PASS and AUTH PLAIN send the password in clear: they are refused
// before STLS except from a loopback client or when InsecureAuth is set
// ("-ERR [AUTH]", RFC 3206). Failed logins wait AuthFailureDelay and are
// counted across sessions and servers by an internal/authlimit Limiter;
// three in one session close it. Passwords never appear in transcripts
// unless the recorder shows secrets.
//
// # Shape
//
// One goroutine per connection; internal/lifecycle runs the accept loop,
// the limits and the graceful shutdown. Replies are flushed when the client
// has no further command buffered (PIPELINING, RFC 2449 section 6.6).
package pop3
