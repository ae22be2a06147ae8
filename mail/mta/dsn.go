package mta

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net/textproto"
	"strings"
	"time"

	"github.com/applayer/applayer/mail/smtp"
)

// bounce sends the sender of e a delivery status notification for the
// failed recipients (RFC 3464, inside a multipart/report, RFC 6522). A
// message from <> is never bounced (RFC 5321 section 4.5.5).
func (m *MTA) bounce(e *entry, st *State, failed []string) error {
	if e.env.From == "" {
		m.log.Info("mta: not bouncing a message from <>", "id", e.id)
		return nil
	}
	var orig []byte
	if q, err := openQueued(m.qdir, e.id); err == nil {
		orig = headerOf(q.Reader())
		q.Close()
	}
	msg := m.dsn(e, st, failed, orig)
	sender, err := smtp.ParseAddress(e.env.From)
	if err != nil {
		return nil // nowhere to send it
	}
	if m.IsLocal(sender.Domain) {
		return m.store.Deliver(sender.String(), append([]byte("Return-Path: <>\r\n"), msg...))
	}
	_, err = m.enqueueBytes(msg, Envelope{To: []string{sender.String()}, Arrived: time.Now().UTC(), DSN: true,
		Body8Bit: bytes.ContainsFunc(msg, func(r rune) bool { return r >= 0x80 })})
	return err
}

// dsn builds the notification message.
func (m *MTA) dsn(e *entry, st *State, failed []string, origHeader []byte) []byte {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	host := m.cfg.Hostname
	fmt.Fprintf(&b, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n", host)
	fmt.Fprintf(&b, "To: <%s>\r\n", e.env.From)
	fmt.Fprintf(&b, "Subject: Undelivered Mail Returned to Sender\r\n")
	fmt.Fprintf(&b, "Date: %s\r\n", time.Now().Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s.dsn@%s>\r\n", e.id, host)
	fmt.Fprintf(&b, "Auto-Submitted: auto-replied\r\n") // RFC 3834
	fmt.Fprintf(&b, "MIME-Version: 1.0\r\n")
	fmt.Fprintf(&b, "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"%s\"\r\n\r\n", mw.Boundary())
	b.WriteString("This is a MIME-encapsulated message.\r\n\r\n")

	// 1. Human-readable explanation.
	w, _ := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"text/plain; charset=us-ascii"}})
	fmt.Fprintf(w, "This is the mail system at host %s.\r\n\r\n", host)
	fmt.Fprintf(w, "I'm sorry to have to inform you that your message could not\r\nbe delivered to one or more recipients.\r\n\r\n")
	for _, r := range failed {
		fmt.Fprintf(w, "<%s>: %s\r\n", r, oneLine(st.Rcpts[r].Last))
	}

	// 2. The machine-readable report (RFC 3464 section 2).
	w, _ = mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"message/delivery-status"}})
	fmt.Fprintf(w, "Reporting-MTA: dns; %s\r\n", host)
	fmt.Fprintf(w, "X-Queue-ID: %s\r\n", e.id)
	fmt.Fprintf(w, "Arrival-Date: %s\r\n", e.env.Arrived.Format(time.RFC1123Z))
	for _, r := range failed {
		s := st.Rcpts[r]
		status, diag := statusOf(s.Last)
		fmt.Fprintf(w, "\r\nFinal-Recipient: rfc822; %s\r\n", r)
		fmt.Fprintf(w, "Action: failed\r\n")
		fmt.Fprintf(w, "Status: %s\r\n", status)
		if s.Remote != "" {
			fmt.Fprintf(w, "Remote-MTA: dns; %s\r\n", s.Remote)
		}
		if diag != "" {
			fmt.Fprintf(w, "Diagnostic-Code: smtp; %s\r\n", diag)
		}
	}

	// 3. The original message's header (RFC 3462 text/rfc822-headers).
	w, _ = mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"text/rfc822-headers"}})
	w.Write(origHeader)
	mw.Close()
	return b.Bytes()
}

// statusOf extracts an RFC 3463 status from a recorded answer, and the
// SMTP diagnostic when the answer was one.
func statusOf(answer string) (status, diag string) {
	f := strings.Fields(answer)
	if len(f) >= 2 {
		if code := f[0]; len(code) == 3 && code[0] >= '2' && code[0] <= '5' {
			if e, ok := smtp.ParseEnhancedCode(f[1]); ok {
				return e.String(), oneLine(answer)
			}
			return string(code[0]) + ".0.0", oneLine(answer)
		}
	}
	if len(f) >= 1 {
		if e, ok := smtp.ParseEnhancedCode(f[0]); ok {
			return e.String(), ""
		}
	}
	return "5.0.0", ""
}

func oneLine(s string) string {
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}

// headerOf returns the header section of a message (up to the blank
// line), at most 64 KiB of it.
func headerOf(msg io.Reader) []byte {
	var out bytes.Buffer
	sc := bufio.NewScanner(io.LimitReader(msg, 64<<10))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for sc.Scan() {
		l := strings.TrimSuffix(sc.Text(), "\r")
		if l == "" {
			break
		}
		out.WriteString(l + "\r\n")
	}
	return out.Bytes()
}
