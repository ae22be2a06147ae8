// Package smtp holds what the SMTP server and client share: addresses and
// paths, command parsing, typed replies with enhanced status codes, and the
// DATA body codec, as specified in RFC 5321 (Simple Mail Transfer Protocol)
// and RFC 3463 (Enhanced Mail System Status Codes).
//
// The server is in package smtpserver, the client in smtpclient. Nothing
// here does I/O beyond the reader and writer it is handed, and nothing here
// keeps state between calls.
//
// Limits (RFC 5321 section 4.5.3.1): a command line is at most 512 octets
// with its CRLF, a text line 1000, a local part 64, a domain 255, a path
// 256. The DATA reader does not hold lines in memory, so it enforces the
// message size limit instead of the text-line limit, like Postfix.
//
// Divergences: source routes ("@a,@b:user@c", RFC 5321 section 4.1.1.3,
// obsolete) are accepted and ignored, as the RFC asks; the mailbox of a
// path keeps the case of its local part, while its domain is compared
// without case. SMTPUTF8 is not offered, so non-ASCII addresses are refused.
package smtp
