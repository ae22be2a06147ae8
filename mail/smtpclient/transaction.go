package smtpclient

import (
	"context"
	"errors"
	"io"
	"strconv"

	"github.com/applayer/applayer/mail/smtp"
)

// Transaction sends one message: MAIL FROM, RCPT TO for each recipient,
// DATA and the body. When the server offers PIPELINING (RFC 2920), MAIL,
// the RCPTs and DATA go out in one write and their replies are read
// together (section 3.1), which saves a round trip per command.
//
// rcptErrs has one entry per recipient: nil when accepted, else the
// server's refusal (a *smtp.Reply). final is the reply to the end of the
// body. err is set when the transaction failed as a whole: a refused MAIL
// or DATA (a *smtp.Reply), every recipient refused (the first refusal),
// a refused body, or a broken connection. After a refusal the session can
// carry another transaction.
func (c *Client) Transaction(ctx context.Context, from smtp.Path, to []smtp.Address, size int64, body8bit bool, msg io.Reader) (rcptErrs []error, final *smtp.Reply, err error) {
	if ok, _ := c.Extension("PIPELINING"); !ok || c.opts.NoPipelining {
		return c.sequential(ctx, from, to, size, body8bit, msg)
	}
	c.deadline(ctx)
	lines := []string{c.mailLine(from, size, body8bit)}
	for _, a := range to {
		lines = append(lines, "RCPT TO:<"+a.String()+">")
	}
	lines = append(lines, "DATA")
	for _, l := range lines {
		c.tr.Client(l)
		c.bw.WriteString(l)
		c.bw.WriteString("\r\n")
	}
	if err := c.bw.Flush(); err != nil {
		return nil, nil, err
	}
	replies := make([]*smtp.Reply, len(lines))
	for i := range lines {
		r, err := c.readReply()
		if err != nil {
			return nil, nil, err
		}
		replies[i] = r
	}
	mailR, dataR := replies[0], replies[len(replies)-1]
	rcptErrs = make([]error, len(to))
	accepted := 0
	var first error
	for i, r := range replies[1 : len(replies)-1] {
		if r.Code/100 != 2 {
			rcptErrs[i] = r
			if first == nil {
				first = r
			}
		} else {
			accepted++
		}
	}
	if dataR.Code == 354 && (mailR.Code/100 != 2 || accepted == 0) {
		// RFC 2920 section 3.1: DATA was accepted though nothing can be
		// delivered; end the empty body so the session stays in step.
		c.tr.Client(".")
		c.writeLine(".")
		if _, err := c.readReply(); err != nil {
			return rcptErrs, nil, err
		}
	}
	switch {
	case mailR.Code/100 != 2:
		// The RCPTs' answers (503, no sender) say nothing about the
		// recipients: the transaction failed as a whole, as in sequential.
		return nil, nil, mailR
	case accepted == 0:
		return rcptErrs, nil, first
	case dataR.Code != 354:
		return rcptErrs, nil, dataR
	}
	final, err = c.body(ctx, msg)
	return rcptErrs, final, err
}

// sequential is Transaction without pipelining.
func (c *Client) sequential(ctx context.Context, from smtp.Path, to []smtp.Address, size int64, body8bit bool, msg io.Reader) ([]error, *smtp.Reply, error) {
	if err := c.Mail(ctx, from, size, body8bit); err != nil {
		return nil, nil, err
	}
	rcptErrs := make([]error, len(to))
	accepted := 0
	var first error
	for i, a := range to {
		if err := c.Rcpt(ctx, a); err != nil {
			var r *smtp.Reply
			if !errors.As(err, &r) {
				return nil, nil, err
			}
			rcptErrs[i] = r
			if first == nil {
				first = r
			}
			continue
		}
		accepted++
	}
	if accepted == 0 {
		return rcptErrs, nil, first
	}
	final, err := c.Data(ctx, msg)
	return rcptErrs, final, err
}

func (c *Client) mailLine(from smtp.Path, size int64, body8bit bool) string {
	line := "MAIL FROM:" + from.String()
	if ok, _ := c.Extension("SIZE"); ok && size > 0 {
		line += " SIZE=" + strconv.FormatInt(size, 10)
	}
	if ok, _ := c.Extension("8BITMIME"); ok && body8bit {
		line += " BODY=8BITMIME"
	}
	return line
}
