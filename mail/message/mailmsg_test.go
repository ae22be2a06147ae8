package message

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/applayer/applayer/internal/peertest"
)

func sample() *Message {
	return &Message{
		From:    mail.Address{Name: "Alice", Address: "alice@crepes.fr"},
		To:      []mail.Address{{Address: "bob@hamburger.edu"}},
		Cc:      []mail.Address{{Name: "Zoë", Address: "zoe@crepes.fr"}},
		Subject: "Crêpes et ketchup",
		Date:    time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC),
		Body:    "Do you like ketchup?\nHow about pickles?\nÇa va?\n",
		Attachments: []Attachment{
			{Name: "recipe.txt", Data: []byte("flour, eggs, milk\n")},
			{Name: "photo.png", Data: []byte("\x89PNG\r\n\x1a\n\x00\x00binary")},
		},
	}
}

func TestComposeParses(t *testing.T) {
	raw, err := sample().Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(bytes.ReplaceAll(raw, []byte("\r\n"), nil), []byte("\n")) {
		t.Fatal("message has a bare LF")
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	var dec mime.WordDecoder
	if s, _ := dec.DecodeHeader(msg.Header.Get("Subject")); s != "Crêpes et ketchup" {
		t.Errorf("Subject = %q", s)
	}
	if cc, err := msg.Header.AddressList("Cc"); err != nil || cc[0].Name != "Zoë" {
		t.Errorf("Cc = %v, %v", cc, err)
	}
	for _, f := range []string{"From", "To", "Date", "Message-ID", "MIME-Version"} {
		if msg.Header.Get(f) == "" {
			t.Errorf("no %s field", f)
		}
	}
	mt, params, _ := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if mt != "multipart/mixed" {
		t.Fatalf("Content-Type = %s", mt)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	var parts []string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p) // multipart decodes quoted-printable itself
		if p.Header.Get("Content-Transfer-Encoding") == "base64" {
			b, _ = io.ReadAll(base64Decoder(string(b)))
		}
		parts = append(parts, p.FileName()+"="+string(b))
	}
	want := []string{"=Do you like ketchup?\r\nHow about pickles?\r\nÇa va?\r\n", "recipe.txt=flour, eggs, milk\r\n", "photo.png=\x89PNG\r\n\x1a\n\x00\x00binary"}
	if strings.Join(parts, "|") != strings.Join(want, "|") {
		t.Errorf("parts = %q\nwant %q", parts, want)
	}
}

func TestPlainMessage(t *testing.T) {
	m := &Message{From: mail.Address{Address: "alice@crepes.fr"}, To: []mail.Address{{Address: "bob@hamburger.edu"}}, Subject: "hi", Body: "Do you like ketchup?"}
	raw, _ := m.Bytes()
	s := string(raw)
	if !strings.Contains(s, "Content-Transfer-Encoding: 7bit\r\n\r\nDo you like ketchup?\r\n") || !strings.Contains(s, "Subject: hi\r\n") {
		t.Errorf("plain message:\n%s", s)
	}
	if _, err := (&Message{To: m.To}).Bytes(); err == nil {
		t.Error("a message without From composed")
	}
}

// TestPythonParses has Python's email package, an independent MIME parser,
// read the message back.
func TestPythonParses(t *testing.T) {
	py := peertest.Require(t, "python3", "python3")
	raw, _ := sample().Bytes()
	script := `
import sys, email, email.policy
m = email.message_from_binary_file(sys.stdin.buffer, policy=email.policy.default)
assert m["Subject"] == "Crêpes et ketchup", m["Subject"]
assert m.get_body().get_content() == "Do you like ketchup?\nHow about pickles?\nÇa va?\n", repr(m.get_body().get_content())
att = {a.get_filename(): a.get_content() for a in m.iter_attachments()}
assert att["recipe.txt"].rstrip("\n") == "flour, eggs, milk", att
assert att["photo.png"] == b"\x89PNG\r\n\x1a\n\x00\x00binary", att
assert not m.defects, m.defects
print("ok")
`
	cmd := exec.Command(py, "-c", script)
	cmd.Stdin = bytes.NewReader(raw)
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Errorf("python3 email: %v\n%s\n%s", err, out, raw)
	}
}

func FuzzCompose(f *testing.F) {
	f.Add("Subject", "body\n.\n", "a.txt", []byte("x"))
	f.Add("Ünïcode "+strings.Repeat("long ", 30), strings.Repeat("x", 2000), "ä b.bin", []byte{0, 1, 2, 255})
	f.Fuzz(func(t *testing.T, subject, body, name string, data []byte) {
		m := &Message{From: mail.Address{Address: "a@b.example"}, To: []mail.Address{{Address: "c@d.example"}},
			Subject: subject, Body: body, Attachments: []Attachment{{Name: name, Data: data}}}
		raw, err := m.Bytes()
		if err != nil {
			return
		}
		if _, err := mail.ReadMessage(bytes.NewReader(raw)); err != nil {
			t.Fatalf("composed message does not parse: %v", err)
		}
	})
}
