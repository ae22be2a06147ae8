// Package maildir is the mail storage that applayer's SMTP server writes
// and its POP3 and IMAP servers will read: one Maildir per user, and a users
// file with hashed passwords.
//
// # Layout under the data directory
//
//	users                      address:bcrypt-hash, one a line
//	mail/DOMAIN/LOCAL/tmp/     Maildir (the format Dovecot and mutt read:
//	mail/DOMAIN/LOCAL/new/       https://cr.yp.to/proto/maildir.html)
//	mail/DOMAIN/LOCAL/cur/
//	tmp/                       messages being received
//
// # Durability
//
// A message is written to a file under tmp/, fsynced, then hard-linked into
// each recipient's new/ directory, and the directories are fsynced before
// Commit returns: after a crash a message is either in new/ whole or not
// there at all (and its sender never got 250). Directory fsyncs are batched
// across concurrent deliveries by a [Syncer] (group commit): while one
// fsync of a directory runs, every later request for it waits for the next
// one, which then covers them all.
//
// Addresses are matched without case in the domain and, as every common
// server does, in the local part too.
package maildir
