package smtpserver

import (
	"io"
	"net"

	"github.com/applayer/applayer/mail/smtp"
)

// Backend is what the server needs from the mail system behind it. Its
// methods are called from many sessions at once.
type Backend interface {
	// Rcpt decides whether one recipient is accepted in a transaction. It
	// returns nil or a *smtp.Reply (a 550 5.7.1 for a relay attempt, 550
	// 5.1.1 for an unknown user, a 4xx when it cannot tell now).
	Rcpt(s *Session, from smtp.Path, to smtp.Address) error
	// Open starts storing one message for env. The server writes the
	// Received: field and then the body, CRLF line ends, dot-stuffing
	// removed, then calls Commit or Abort exactly once.
	Open(s *Session, env *Envelope) (Delivery, error)
}

// Authenticator is implemented by a Backend that can check passwords; the
// server offers AUTH only when its Backend implements it (and only under
// TLS).
type Authenticator interface {
	// Authenticate reports whether the password is right for user.
	Authenticate(user, password string) bool
}

// Delivery receives one message.
type Delivery interface {
	io.Writer
	// ID names the message in logs and in the Received: field.
	ID() string
	// Commit makes the message durable and takes responsibility for it; the
	// server answers 250 only after it returns nil. An error (a *smtp.Reply
	// to choose the answer) refuses the message.
	Commit() error
	// Abort discards whatever was written.
	Abort()
}

// Envelope is one transaction's MAIL FROM and RCPT TO (RFC 5321 section 2.3.1).
type Envelope struct {
	From smtp.Path
	To   []smtp.Address
	// Body8Bit is set by MAIL FROM's BODY=8BITMIME (RFC 6152).
	Body8Bit bool
	// Size is what the client declared with SIZE=, or 0.
	Size int64
}

// Session describes the client of one connection, for the Backend's
// decisions and for the Received: field.
type Session struct {
	RemoteAddr net.Addr
	// Helo is the name the client gave in HELO or EHLO.
	Helo string
	// ESMTP is true after EHLO.
	ESMTP bool
	// TLS is true once STARTTLS has succeeded.
	TLS bool
	// User is the authenticated user, or "".
	User string
	// Submission is true on a server that requires AUTH (Server.Submission).
	Submission bool
}
