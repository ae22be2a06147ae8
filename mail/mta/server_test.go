package mta

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/applayer/applayer/mail/smtpserver"
)

func listenLoopback(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func openTestMTA(t *testing.T) *MTA {
	t.Helper()
	m, err := Open(Config{Dir: t.TempDir(), Domains: []string{"crepes.fr"}, Resolver: &StaticResolver{}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestServerServesOnce: a second Serve answers ErrServing instead of
// panicking, and closes the listener it was given; Shutdown ends the
// first; Serve after it answers ErrServerClosed.
func TestServerServesOnce(t *testing.T) {
	srv := &Server{MTA: openTestMTA(t)}
	mx := listenLoopback(t)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(mx, nil) }()
	// The first Serve is running once a client is greeted.
	c, err := net.Dial("tcp", mx.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 512)
	if n, err := c.Read(buf); err != nil || !strings.HasPrefix(string(buf[:n]), "220") {
		t.Fatalf("greeting %q %v", buf[:n], err)
	}
	c.Close()
	second := listenLoopback(t)
	if err := srv.Serve(second, nil); !errors.Is(err, ErrServing) {
		t.Errorf("second Serve = %v, want ErrServing", err)
	}
	if _, err := second.Accept(); err == nil {
		t.Error("the second Serve left its listener open")
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown = %v", err)
	}
	if err := <-errc; !errors.Is(err, smtpserver.ErrServerClosed) {
		t.Errorf("Serve after Shutdown returned %v", err)
	}
	if err := srv.Serve(listenLoopback(t), nil); !errors.Is(err, smtpserver.ErrServerClosed) {
		t.Errorf("Serve after Shutdown = %v, want ErrServerClosed", err)
	}
}

// TestServerClose: Close stops Serve at once; Close before Serve makes
// Serve answer ErrServerClosed.
func TestServerClose(t *testing.T) {
	srv := NewServer(openTestMTA(t), nil)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(listenLoopback(t), listenLoopback(t)) }()
	srv.Close()
	if err := <-errc; !errors.Is(err, smtpserver.ErrServerClosed) {
		t.Errorf("Serve after Close returned %v", err)
	}

	early := &Server{MTA: openTestMTA(t), Addr: "127.0.0.1:0", SubmissionAddr: "127.0.0.1:0"}
	if err := early.Close(); err != nil {
		t.Errorf("Close before Serve = %v", err)
	}
	if err := early.ListenAndServe(); !errors.Is(err, smtpserver.ErrServerClosed) {
		t.Errorf("ListenAndServe after Close = %v, want ErrServerClosed", err)
	}
}

// TestServerZeroValue: the zero Server says what it needs.
func TestServerZeroValue(t *testing.T) {
	var srv Server
	err := srv.Serve(listenLoopback(t), nil)
	if err == nil || !strings.Contains(err.Error(), "Server.MTA is nil") {
		t.Errorf("zero Server's Serve = %v, want an error naming Server.MTA", err)
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Errorf("zero Server's Shutdown = %v", err)
	}
}
