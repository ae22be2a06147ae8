package imap

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/applayer/applayer/internal/authlimit"
	"github.com/applayer/applayer/internal/testutil"
	"github.com/applayer/applayer/internal/tlsutil"
	"github.com/applayer/applayer/internal/transcript"
	"github.com/applayer/applayer/mail/maildir"
	"golang.org/x/crypto/bcrypt"
)

const (
	bob     = "bob@hamburger.edu"
	bobPass = "s3cret with spaces"
)

var testMsgs = []string{
	"From: Alice <alice@crepes.fr>\r\nTo: bob@hamburger.edu\r\nSubject: hello\r\nDate: Wed, 02 Dec 2026 10:00:00 +0000\r\nMessage-ID: <1@crepes.fr>\r\n\r\nDo you like ketchup?\r\nHow about pickles?\r\n",
	"From: carol@example.org\r\nTo: bob@hamburger.edu, dave@example.org\r\nSubject: recipe\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"XX\"\r\n\r\npreamble\r\n--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nflour, eggs\r\n--XX\r\nContent-Type: application/octet-stream; name=\"r.bin\"\r\nContent-Disposition: attachment; filename=\"r.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\n--XX--\r\n",
	"Subject: lf only\n\nstored with bare LF\n",
}

var mu sync.Mutex

type env struct {
	t     *testing.T
	store *maildir.Store
	srv   *Server
	addr  string
	trace *strings.Builder
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newStore(t testing.TB) *maildir.Store {
	t.Helper()
	st, err := maildir.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st.Users().Cost = bcrypt.MinCost
	if err := st.Users().Add(bob, bobPass, false); err != nil {
		t.Fatal(err)
	}
	for _, m := range testMsgs {
		if err := st.Deliver(bob, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

func start(t *testing.T, st *maildir.Store, tune func(*Server)) *env {
	t.Helper()
	var tr strings.Builder
	rec := transcript.New(transcript.SinkFunc(func(e transcript.Event) {
		mu.Lock()
		tr.WriteString(transcript.Format(e) + "\n")
		mu.Unlock()
	}))
	srv := &Server{Store: st, Hostname: "mail.hamburger.edu", Domain: "hamburger.edu", AuthFailureDelay: -1, Logger: quiet(), Trace: rec,
		AuthLimit: &authlimit.Limiter{Free: 1000}, MaxErrors: 1000, IdlePoll: 20 * time.Millisecond}
	if tune != nil {
		tune(srv)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve = %v", err)
		}
	})
	return &env{t: t, store: st, srv: srv, addr: l.Addr().String(), trace: &tr}
}

type client struct {
	t   *testing.T
	c   net.Conn
	br  *bufio.Reader
	seq int
}

func (e *env) dial() *client {
	e.t.Helper()
	c, err := net.Dial("tcp", e.addr)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	cl := &client{t: e.t, c: c, br: bufio.NewReader(c)}
	if l := cl.readLine(); !strings.HasPrefix(l, "* OK [CAPABILITY IMAP4rev1 ") {
		e.t.Fatalf("greeting %q", l)
	}
	return cl
}

// readLine reads a line, with any literals it announces inlined.
func (cl *client) readLine() string {
	cl.t.Helper()
	cl.c.SetReadDeadline(time.Now().Add(testutil.Patience))
	var out strings.Builder
	for {
		l, err := cl.br.ReadString('\n')
		if err != nil {
			cl.t.Fatalf("read: %v (after %q)", err, out.String()+l)
		}
		l = strings.TrimSuffix(l, "\r\n")
		out.WriteString(l)
		var n int
		if i := strings.LastIndexByte(l, '{'); i >= 0 && strings.HasSuffix(l, "}") {
			if _, err := fmt.Sscanf(l[i:], "{%d}", &n); err == nil {
				buf := make([]byte, n)
				if _, err := io.ReadFull(cl.br, buf); err != nil {
					cl.t.Fatal(err)
				}
				out.WriteString("\r\n")
				out.Write(buf)
				continue
			}
		}
		return out.String()
	}
}

// do sends a command and returns the untagged lines and the tagged one.
func (cl *client) do(cmd string) ([]string, string) {
	cl.t.Helper()
	cl.seq++
	tag := fmt.Sprintf("a%d", cl.seq)
	fmt.Fprintf(cl.c, "%s %s\r\n", tag, cmd)
	var untagged []string
	for {
		l := cl.readLine()
		if strings.HasPrefix(l, tag+" ") {
			return untagged, strings.TrimPrefix(l, tag+" ")
		}
		untagged = append(untagged, l)
	}
}

// ok runs a command that must succeed.
func (cl *client) ok(cmd string) []string {
	cl.t.Helper()
	u, st := cl.do(cmd)
	if !strings.HasPrefix(st, "OK") {
		cl.t.Fatalf("%s: %s (untagged %q)", cmd, st, u)
	}
	return u
}

func (cl *client) login() {
	cl.t.Helper()
	cl.ok(`LOGIN bob "` + bobPass + `"`)
}

func tlsEnv(t *testing.T) *env {
	certPEM, keyPEM, err := tlsutil.SelfSigned([]string{"127.0.0.1", "localhost"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return start(t, newStore(t), func(s *Server) { s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}} })
}

type fakeRemote struct{ net.Conn }

func (fakeRemote) RemoteAddr() net.Addr { return &net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: 1} }
