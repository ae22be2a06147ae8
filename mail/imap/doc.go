// Package imap is applayer's IMAP4rev1 server (RFC 3501) on the Maildirs
// that its SMTP server delivers into and its POP3 server reads
// (mail/maildir), with the extensions clients use: LITERAL+ (RFC 7888),
// SASL-IR (RFC 4959), ID (RFC 2971), ENABLE (RFC 5161), IDLE (RFC 2177),
// UIDPLUS (RFC 4315), MOVE (RFC 6851), NAMESPACE (RFC 2342), UNSELECT (RFC
// 3691), CHILDREN (RFC 3348), SPECIAL-USE (RFC 6154), LIST-EXTENDED (RFC
// 5258) and LIST-STATUS (RFC 5819), STARTTLS and AUTHENTICATE PLAIN.
//
// # States and commands
//
// A session is the state machine of RFC 3501 section 3 (not
// authenticated, authenticated, selected, logout); the dispatch table in
// session.go gives each command the states it is legal in and the RFC
// section that defines it. A command outside its states is answered BAD.
//
// # Storage
//
// INBOX is the user's Maildir; other mailboxes are Maildir++ folders in
// it (".Sent", ".Archive.2024", hierarchy delimiter "."), as Dovecot lays
// them out. UIDVALIDITY, UIDNEXT and the UIDs are kept in each folder's
// dovecot-uidlist (maildir.Folder), keywords in dovecot-keywords, the
// system flags in the file names' ":2," info, subscriptions in the
// Maildir's "subscriptions": a mailbox can move between applayer and
// Dovecot. Messages are sent with CRLF line ends, and RFC822.SIZE and
// partial fetches count them so.
//
// Every session sees what the others (and SMTP delivery, and POP3) do: a
// folder is re-read after each command (EXISTS, RECENT, EXPUNGE and FETCH
// FLAGS are reported as section 7 allows), and an IDLE session looks every
// IdlePoll (250 ms) at its folder's directories. APPEND, COPY and MOVE
// write through tmp/ or hard links, fsync before they answer, and MOVE
// copies before it removes: a crash leaves a message in its old place, its
// new one, or (MOVE) both, never in neither and never half-written.
//
// # Bad input
//
// Lines are bounded (64 KiB), literals by MaxLiteral (a synchronising
// literal that is too large is refused before it is sent; a LITERAL+ one
// ends the session with BYE), sequence sets and lists by count, search
// keys and BODYSTRUCTURE by depth. Passwords sent in clear (LOGIN,
// AUTHENTICATE PLAIN) are refused before STARTTLS except from loopback
// clients or with InsecureAuth (LOGINDISABLED is announced); failed logins
// are slowed and counted by internal/authlimit.
package imap
