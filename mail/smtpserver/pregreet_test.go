package smtpserver

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"os/exec"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/applayer/applayer/internal/peertest"
)

// addrConn is a pipe with a TCP client address, so that the server can
// remember it.
type addrConn struct {
	net.Conn
	remote net.Addr
}

func (c addrConn) RemoteAddr() net.Addr { return c.remote }

// TestPregreet: a client that talks between "220-" and the last line of
// the greeting is told 521 and dropped; one that waits is greeted after
// PregreetWait, then not made to wait again; a submission server never
// waits.
func TestPregreet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mx := &Server{Hostname: "hamburger.edu", Backend: &memBackend{}, Logger: slog.New(slog.DiscardHandler), PregreetWait: 2 * time.Second}
		from := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 4000}
		session := func(srv *Server, remote net.Addr) (net.Conn, chan struct{}) {
			c, s := net.Pipe()
			done := make(chan struct{})
			go func() { srv.serveConn(addrConn{s, remote}); s.Close(); close(done) }()
			return c, done
		}

		// A spam engine: EHLO at once, not waiting for the greeting.
		c, done := session(mx, from)
		var got strings.Builder
		read := make(chan struct{})
		go func() { io.Copy(&got, c); close(read) }()
		c.Write([]byte("EHLO hurry\r\nMAIL FROM:<spam@x.example>\r\n"))
		<-done
		c.Close()
		<-read
		if want := "220-hamburger.edu ESMTP applayer\r\n521 hamburger.edu Protocol error: talked before the greeting\r\n"; got.String() != want {
			t.Errorf("client talking first read %q, want %q", got.String(), want)
		}

		// An honest client waits for the last line: PregreetWait once.
		for i, want := range []time.Duration{2 * time.Second, 0} {
			t0 := time.Now()
			c, done = session(mx, &net.TCPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 4000 + i})
			br := bufio.NewReader(c)
			var lines []string
			for {
				l, err := br.ReadString('\n')
				if err != nil {
					t.Fatal(err)
				}
				lines = append(lines, l)
				if l[3] == ' ' {
					break
				}
			}
			if waited := time.Since(t0); waited != want {
				t.Errorf("connection %d: greeted after %v, want %v (%q)", i+1, waited, want, lines)
			}
			c.Write([]byte("QUIT\r\n"))
			if l, _ := br.ReadString('\n'); !strings.HasPrefix(l, "221 ") {
				t.Errorf("connection %d: QUIT got %q", i+1, l)
			}
			c.Close()
			<-done
		}

		// Submission: no wait, a one-line greeting.
		sub := &Server{Hostname: "hamburger.edu", Backend: &memBackend{}, Logger: slog.New(slog.DiscardHandler), Submission: true}
		t0 := time.Now()
		c, done = session(sub, from)
		l, _ := bufio.NewReader(c).ReadString('\n')
		if !strings.HasPrefix(l, "220 ") || time.Since(t0) != 0 {
			t.Errorf("submission greeting %q after %v, want a 220 at once", l, time.Since(t0))
		}
		c.Close()
		<-done
	})
}

// TestPregreetSwaks: swaks, which waits for the whole greeting, is served
// by a mail exchanger with the pregreet wait on.
func TestPregreetSwaks(t *testing.T) {
	swaks := peertest.Require(t, "swaks", "swaks")
	_, b, addr := startServer(t, func(s *Server) { s.PregreetWait = 300 * time.Millisecond })
	host, port, _ := net.SplitHostPort(addr)
	out, err := exec.Command(swaks, "--server", host, "--port", port, "--from", "alice@crepes.fr", "--to", "bob@example.org",
		"--helo", "crepes.fr", "--body", "waited", "--timeout", "10").CombinedOutput()
	if err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "<-  220-") || len(b.messages()) != 1 {
		t.Errorf("swaks: %d messages stored; output:\n%s", len(b.messages()), out)
	}
}
