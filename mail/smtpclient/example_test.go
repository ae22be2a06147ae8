package smtpclient_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"github.com/applayer/applayer/mail/smtp"
	"github.com/applayer/applayer/mail/smtpclient"
	"github.com/applayer/applayer/mail/smtpserver"
)

// discard accepts every message and forgets it.
type discard struct{}

func (discard) Rcpt(*smtpserver.Session, smtp.Path, smtp.Address) error { return nil }
func (discard) Open(*smtpserver.Session, *smtpserver.Envelope) (smtpserver.Delivery, error) {
	return sink{}, nil
}

type sink struct{}

func (sink) Write(p []byte) (int, error) { return len(p), nil }
func (sink) ID() string                  { return "42" }
func (sink) Commit() error               { return nil }
func (sink) Abort()                      {}

func ExampleSend() {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := &smtpserver.Server{Hostname: "hamburger.edu", Backend: discard{}, Logger: slog.New(slog.DiscardHandler)}
	go srv.Serve(l)
	defer srv.Close()

	alice, _ := smtp.ParseAddress("alice@crepes.fr")
	bob, _ := smtp.ParseAddress("bob@hamburger.edu")
	r, err := smtpclient.Send(context.Background(), smtpclient.Submission{Addr: l.Addr().String()},
		smtp.Path{Mailbox: alice}, []smtp.Address{bob}, []byte("Subject: ketchup\r\n\r\nDo you like ketchup?\r\n"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Code, r.Enhanced, r.Lines[0])
	// Output: 250 2.0.0 Message accepted for delivery, queued as 42
}
