// Package message composes Internet messages as specified in RFC 5322
// (header fields From, To, Cc, Subject, Date, Message-ID) with MIME (RFC
// 2045-2049): a text body, and attachments in a multipart/mixed body,
// each in base64 or quoted-printable. Non-ASCII header text is encoded as
// RFC 2047 encoded words, non-ASCII file names as RFC 2231 parameters.
//
// The standard library does the encodings (net/mail for addresses, mime
// for encoded words and media types, mime/multipart for boundaries,
// mime/quotedprintable); this package decides the structure.
package message

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/http"
	"net/mail"
	"net/textproto"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"
)

// Attachment is a file carried in the message.
type Attachment struct {
	// Name is the file name shown to the recipient.
	Name string
	// ContentType is its media type; "" guesses from the name, then the
	// content.
	ContentType string
	Data        []byte
}

// Message is a message to compose.
type Message struct {
	From    mail.Address
	To, Cc  []mail.Address
	Subject string
	// Date defaults to now, MessageID to a random one at From's domain.
	Date      time.Time
	MessageID string
	// Body is the text, in UTF-8, with LF or CRLF line ends.
	Body        string
	Attachments []Attachment
}

// Bytes renders the message with CRLF line ends, ready for SMTP.
func (m *Message) Bytes() ([]byte, error) {
	if m.From.Address == "" {
		return nil, errors.New("message: no From address")
	}
	if len(m.To) == 0 && len(m.Cc) == 0 {
		return nil, errors.New("message: no recipients")
	}
	var b bytes.Buffer
	date := m.Date
	if date.IsZero() {
		date = time.Now()
	}
	id := m.MessageID
	if id == "" {
		id = NewMessageID(m.From.Address)
	}
	header(&b, "From", m.From.String())
	if len(m.To) > 0 {
		header(&b, "To", list(m.To))
	}
	if len(m.Cc) > 0 {
		header(&b, "Cc", list(m.Cc))
	}
	header(&b, "Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	header(&b, "Date", date.Format(time.RFC1123Z))
	header(&b, "Message-ID", id)
	header(&b, "MIME-Version", "1.0")
	if len(m.Attachments) == 0 {
		writeText(&b, textproto.MIMEHeader{}, m.Body, true)
		return b.Bytes(), nil
	}
	mw := multipart.NewWriter(&b)
	header(&b, "Content-Type", mime.FormatMediaType("multipart/mixed", map[string]string{"boundary": mw.Boundary()}))
	b.WriteString("\r\nThis is a multi-part message in MIME format.\r\n")
	h := textproto.MIMEHeader{}
	var part bytes.Buffer
	writeText(&part, h, m.Body, false)
	w, _ := mw.CreatePart(h)
	w.Write(part.Bytes())
	for _, a := range m.Attachments {
		if err := attach(mw, a); err != nil {
			return nil, err
		}
	}
	mw.Close()
	return b.Bytes(), nil
}

// NewMessageID returns a unique Message-ID (RFC 5322 section 3.6.4) at the
// domain of addr.
func NewMessageID(addr string) string {
	domain := "localhost"
	if i := strings.LastIndexByte(addr, '@'); i >= 0 && i < len(addr)-1 {
		domain = addr[i+1:]
	}
	var r [12]byte
	rand.Read(r[:])
	return fmt.Sprintf("<%d.%x@%s>", time.Now().UnixNano(), r, domain)
}

func list(as []mail.Address) string {
	s := make([]string, len(as))
	for i := range as {
		s[i] = as[i].String()
	}
	return strings.Join(s, ", ")
}

// header writes one field, folding long values at spaces (RFC 5322
// section 2.2.3) so no line passes 78 characters where it can be helped.
func header(b *bytes.Buffer, name, value string) {
	line := name + ": "
	col := len(line)
	b.WriteString(line)
	for i, word := range strings.Split(value, " ") {
		if i > 0 {
			if col+1+len(word) > 78 {
				b.WriteString("\r\n ")
				col = 1
			} else {
				b.WriteByte(' ')
				col++
			}
		}
		b.WriteString(word)
		col += len(word)
	}
	b.WriteString("\r\n")
}

// writeText writes a text/plain body: 7bit when it is short-lined ASCII,
// quoted-printable otherwise. With top, the MIME fields go straight into
// b and a blank line follows; otherwise they go into h.
func writeText(b *bytes.Buffer, h textproto.MIMEHeader, body string, top bool) {
	body = strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\n", "\r\n")
	if body != "" && !strings.HasSuffix(body, "\r\n") {
		body += "\r\n"
	}
	enc := "7bit"
	if !plainASCII(body) {
		enc = "quoted-printable"
	}
	ct := "text/plain; charset=utf-8"
	if top {
		header(b, "Content-Type", ct)
		header(b, "Content-Transfer-Encoding", enc)
		b.WriteString("\r\n")
	} else {
		h.Set("Content-Type", ct)
		h.Set("Content-Transfer-Encoding", enc)
	}
	if enc == "7bit" {
		b.WriteString(body)
		return
	}
	qp := quotedprintable.NewWriter(b)
	qp.Write([]byte(body))
	qp.Close()
	if !bytes.HasSuffix(b.Bytes(), []byte("\r\n")) {
		b.WriteString("\r\n")
	}
}

// plainASCII reports text that may go as 7bit (RFC 2045 section 2.7):
// ASCII without NUL or bare CR, lines at most 998 octets.
func plainASCII(s string) bool {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == 0 || c >= 0x80:
			return false
		case c == '\n':
			n = 0
		default:
			n++
			if n > 998 {
				return false
			}
		}
	}
	return true
}

func attach(mw *multipart.Writer, a Attachment) error {
	name := filepath.Base(a.Name)
	ct := a.ContentType
	if ct == "" {
		ct = mime.TypeByExtension(filepath.Ext(name))
	}
	if ct == "" {
		ct = http.DetectContentType(a.Data)
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return fmt.Errorf("message: %s: bad content type %q", name, ct)
	}
	params["name"] = name
	h := textproto.MIMEHeader{}
	h.Set("Content-Type", mime.FormatMediaType(mt, params))
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	textual := strings.HasPrefix(mt, "text/") && utf8.Valid(a.Data)
	if textual {
		h.Set("Content-Transfer-Encoding", "quoted-printable")
	} else {
		h.Set("Content-Transfer-Encoding", "base64")
	}
	w, err := mw.CreatePart(h)
	if err != nil {
		return err
	}
	if textual {
		qp := quotedprintable.NewWriter(w)
		qp.Write(a.Data)
		return qp.Close()
	}
	enc := base64.StdEncoding.EncodeToString(a.Data)
	for len(enc) > 76 {
		w.Write([]byte(enc[:76] + "\r\n"))
		enc = enc[76:]
	}
	w.Write([]byte(enc + "\r\n"))
	return nil
}
