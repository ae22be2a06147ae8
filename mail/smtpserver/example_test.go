package smtpserver_test

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"

	"github.com/applayer/applayer/mail/smtp"
	"github.com/applayer/applayer/mail/smtpserver"
)

// printBackend accepts mail for hamburger.edu and prints each message.
type printBackend struct{}

func (printBackend) Rcpt(s *smtpserver.Session, from smtp.Path, to smtp.Address) error {
	if to.Domain != "hamburger.edu" {
		return smtp.R(550, smtp.CodeRelayDenied, "Relaying denied")
	}
	return nil
}

func (printBackend) Open(s *smtpserver.Session, env *smtpserver.Envelope) (smtpserver.Delivery, error) {
	return &printDelivery{}, nil
}

type printDelivery struct{ n int }

func (d *printDelivery) Write(p []byte) (int, error) { d.n += len(p); return len(p), nil }
func (d *printDelivery) ID() string                  { return "1" }
func (d *printDelivery) Abort()                      {}
func (d *printDelivery) Commit() error               { fmt.Println("stored a message"); return nil }

func Example() {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := &smtpserver.Server{Hostname: "hamburger.edu", Backend: printBackend{}, Logger: slog.New(slog.DiscardHandler),
		PregreetWait: -1} // the dialogue below is written at once, before the greeting
	go srv.Serve(l)
	defer srv.Close()

	c, _ := net.Dial("tcp", l.Addr().String())
	defer c.Close()
	io.WriteString(c, "HELO crepes.fr\r\nMAIL FROM:<alice@crepes.fr>\r\nRCPT TO:<bob@hamburger.edu>\r\nDATA\r\n")
	io.WriteString(c, "Do you like ketchup?\r\nHow about pickles?\r\n.\r\nQUIT\r\n")
	b, _ := io.ReadAll(c)
	fmt.Print(strings.ReplaceAll(string(b), "\r\n", "\n"))
	// Output:
	// stored a message
	// 220 hamburger.edu ESMTP applayer
	// 250 hamburger.edu Hello crepes.fr, pleased to meet you
	// 250 <alice@crepes.fr>... Sender ok
	// 250 <bob@hamburger.edu>... Recipient ok
	// 354 Enter mail, end with "." on a line by itself
	// 250 Message accepted for delivery, queued as 1
	// 221 hamburger.edu closing connection
}
