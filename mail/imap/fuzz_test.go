package imap

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/applayer/applayer/mail/maildir"
)

// pipeConn is a connection whose client sends in and reads nothing back.
type pipeConn struct {
	in *bytes.Reader
}

func (c *pipeConn) Read(p []byte) (int, error)       { return c.in.Read(p) }
func (c *pipeConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *pipeConn) Close() error                     { return nil }
func (c *pipeConn) LocalAddr() net.Addr              { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 143} }
func (c *pipeConn) RemoteAddr() net.Addr             { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5000} }
func (c *pipeConn) SetDeadline(time.Time) error      { return nil }
func (c *pipeConn) SetReadDeadline(time.Time) error  { return nil }
func (c *pipeConn) SetWriteDeadline(time.Time) error { return nil }

// FuzzSession feeds arbitrary input, as a logged-in client's commands,
// to a session on a real Maildir: whatever the commands, literals and
// arguments, the session answers and ends without a panic.
func FuzzSession(f *testing.F) {
	for _, s := range []string{
		"a SELECT INBOX\r\nb FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (Subject)] BODYSTRUCTURE ENVELOPE BODY[2.MIME] BODY[]<2.5>)\r\n",
		"a SELECT INBOX\r\nb UID SEARCH OR (FROM alice SEEN) NOT (LARGER 10 BEFORE 1-Jan-2020) HEADER Subject {3+}\r\nhel\r\n",
		"a SELECT INBOX\r\nb STORE 1:2 +FLAGS ($x \\Deleted)\r\nc UID EXPUNGE 1:*\r\nd COPY 1 INBOX\r\ne MOVE 1 INBOX\r\n",
		"a CREATE x.y\r\nb LIST (SUBSCRIBED) \"\" \"*\" RETURN (CHILDREN STATUS (MESSAGES UNSEEN))\r\nc RENAME x z\r\nd DELETE z.y\r\n",
		"a APPEND INBOX (\\Seen) \"02-Dec-2026 12:00:00 +0100\" {10+}\r\nSubject: a\r\nb STATUS INBOX (UIDNEXT MESSAGES)\r\n",
		"a SELECT INBOX\r\nb IDLE\r\nDONE\r\nc CLOSE\r\nd LOGOUT\r\n",
		"a FETCH {4}\r\n1:*}\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		// A fresh mailbox each time: "COPY 1:* INBOX" doubles it.
		st, err := maildir.Open(fuzzDir(t))
		if err != nil {
			t.Fatal(err)
		}
		f := maildir.Folder{Path: st.MaildirPath(bob)}
		if err := f.Create(); err != nil {
			t.Fatal(err)
		}
		for i, m := range testMsgs {
			os.WriteFile(filepath.Join(f.Path, "new", strconv.Itoa(i)+".fuzz"), []byte(m), 0o600)
		}
		srv := &Server{Store: st, Logger: quiet(), MaxLiteral: 1 << 16, IdlePoll: time.Millisecond}
		ss := &session{srv: srv}
		ss.r = &reader{s: ss, timeout: time.Second}
		ss.setConn(&pipeConn{in: bytes.NewReader(in)})
		ss.st, ss.user = stateAuth, bob
		ss.acct = &account{root: st.MaildirPath(bob)}
		ss.serve()
	})
}

// checkResponse checks that IMAP response data is well formed: quotes
// closed, literals whole, parentheses balanced.
func checkResponse(t *testing.T, b []byte) {
	t.Helper()
	depth := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
				if i < len(b) && (b[i] == '\r' || b[i] == '\n') {
					t.Fatalf("a line end inside a quoted string in %q", b)
				}
			}
			if i >= len(b) {
				t.Fatalf("an unclosed quoted string in %q", b)
			}
		case '{':
			j := bytes.IndexByte(b[i:], '}')
			if j < 0 {
				t.Fatalf("a bad literal in %q", b)
			}
			n, err := strconv.Atoi(string(b[i+1 : i+j]))
			if err != nil || i+j+3+n > len(b) || string(b[i+j+1:i+j+3]) != "\r\n" {
				t.Fatalf("a bad literal at %d in %q", i, b)
			}
			i += j + 2 + n
		case '(':
			depth++
		case ')':
			depth--
			if depth < 0 {
				t.Fatalf("unbalanced parentheses in %q", b)
			}
		case '\r', '\n':
			t.Fatalf("a line end outside a literal in %q", b)
		}
	}
	if depth != 0 {
		t.Fatalf("unbalanced parentheses in %q", b)
	}
}

// FuzzBodyStructure builds ENVELOPE and BODYSTRUCTURE of arbitrary
// messages and takes sections of them: always well formed, no panic.
func FuzzBodyStructure(f *testing.F) {
	for _, m := range testMsgs {
		f.Add([]byte(m), "1")
	}
	f.Add([]byte("Content-Type: message/rfc822\r\n\r\nSubject: in\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n"), "1.1")
	f.Add([]byte("From: \"=?utf-8?q?J=C3=B6rg?=\" <j@x>, bad\r\nTo: undisclosed-recipients:;\r\n\r\n"), "2.MIME")
	f.Fuzz(func(t *testing.T, msg []byte, sec string) {
		orig := string(msg)
		p := parseMessage(msg)
		if string(msg) != orig {
			t.Fatalf("parsing changed the message")
		}
		var w writer
		w.envelope(p.h)
		checkResponse(t, w.Bytes())
		for _, ext := range []bool{false, true} {
			w.Reset()
			w.bodyStructure(p, ext)
			checkResponse(t, w.Bytes())
		}
		raw := &rawCommand{lines: [][]byte{[]byte(sec + "]")}}
		ps := newParser(raw)
		if s, err := ps.sectionSpec(); err == nil {
			data := sectionData(p, msg, s)
			if len(data) > len(msg)+2 {
				t.Fatalf("section %q is %d octets of a %d-octet message", sec, len(data), len(msg))
			}
		}
	})
}

// fuzzDir is a fresh directory, in memory where there is a tmpfs: the
// fsyncs of every iteration would otherwise cost more than the fuzzing.
func fuzzDir(t *testing.T) string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "imapfuzz"); err == nil {
			t.Cleanup(func() { os.RemoveAll(d) })
			return d
		}
	}
	return t.TempDir()
}
