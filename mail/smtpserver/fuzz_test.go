package smtpserver

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"
)

// FuzzSession feeds arbitrary client input to a whole session: whatever
// arrives, the session must answer, end, and never panic.
func FuzzSession(f *testing.F) {
	for _, s := range []string{
		"HELO crepes.fr\r\nMAIL FROM:<alice@crepes.fr>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n",
		"EHLO x\r\nMAIL FROM:<> SIZE=5 BODY=8BITMIME\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n..\r\n\x00\n.\r\nRSET\r\n",
		"EHLO x\r\nAUTH LOGIN\r\n*\r\nSTARTTLS\r\nVRFY\r\nHELP\r\nNOOP\r\n",
		"MAIL FROM:<a@b>\r\n\r\n\n\n",
		"EHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<bob@example.org>\r\nBDAT 3\r\nabcBDAT 2 LAST\r\nde",
		"EHLO x\r\nBDAT 5\r\nRSET\r\nBDAT x\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		srv := &Server{Hostname: "hamburger.edu", Backend: &memBackend{}, MaxMessageBytes: 1000, MaxErrors: 5,
			Logger: slog.New(slog.DiscardHandler), CommandTimeout: time.Second, DataTimeout: time.Second, PregreetWait: -1}
		c, s := net.Pipe()
		done := make(chan struct{})
		go func() { srv.serveConn(s); s.Close(); close(done) }()
		var out bytes.Buffer
		read := make(chan struct{})
		go func() { io.Copy(&out, c); close(read) }()
		c.Write(in)
		c.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("session did not end after its client closed")
		}
		<-read
		if !bytes.HasPrefix(out.Bytes(), []byte("220 ")) {
			t.Fatalf("no greeting: %q", out.Bytes())
		}
	})
}
