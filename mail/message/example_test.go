package message_test

import (
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/applayer/applayer/mail/message"
)

func ExampleMessage_Bytes() {
	m := &message.Message{
		From:      mail.Address{Name: "Alice", Address: "alice@crepes.fr"},
		To:        []mail.Address{{Address: "bob@hamburger.edu"}},
		Subject:   "Ketchup",
		Date:      time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		MessageID: "<1@crepes.fr>",
		Body:      "Do you like ketchup?\nHow about pickles?\n",
	}
	raw, _ := m.Bytes()
	fmt.Print(strings.ReplaceAll(string(raw), "\r\n", "\n"))
	// Output:
	// From: "Alice" <alice@crepes.fr>
	// To: <bob@hamburger.edu>
	// Subject: Ketchup
	// Date: Fri, 02 Jan 2026 03:04:05 +0000
	// Message-ID: <1@crepes.fr>
	// MIME-Version: 1.0
	// Content-Type: text/plain; charset=utf-8
	// Content-Transfer-Encoding: 7bit
	//
	// Do you like ketchup?
	// How about pickles?
}
