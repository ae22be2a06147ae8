package smtp_test

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/applayer/applayer/mail/smtp"
)

func ExampleParseCommand() {
	cmd, _ := smtp.ParseCommand("MAIL FROM:<alice@crepes.fr> SIZE=1000")
	from, params, _ := smtp.ParseMailArg(cmd.Arg, "FROM")
	fmt.Println(cmd.Verb, from, from.Mailbox.Domain, params[0].Key, params[0].Value)
	// Output: MAIL <alice@crepes.fr> crepes.fr SIZE 1000
}

func ExampleReply() {
	r := smtp.R(550, smtp.CodeRelayDenied, "Relaying denied")
	fmt.Println(r.WireLines()[0], r.Permanent())
	// Output: 550 5.7.1 Relaying denied true
}

func ExampleReadData() {
	wire := "Do you like ketchup?\r\n..How about pickles?\r\n.\r\nQUIT\r\n"
	r := bufio.NewReader(strings.NewReader(wire))
	var body strings.Builder
	smtp.ReadData(r, &body, 0)
	fmt.Print(strings.ReplaceAll(body.String(), "\r\n", "\n"))
	// Output:
	// Do you like ketchup?
	// .How about pickles?
}
