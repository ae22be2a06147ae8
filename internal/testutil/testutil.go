// Package testutil holds what tests across the tree share for waiting on
// events: a condition polled until it holds, or a port until it accepts.
// The deadline fails the test with a message saying what never happened;
// it is a bound on a hang, never a measurement, so it is generous.
package testutil

import (
	"bytes"
	"net"
	"sync"
	"testing"
	"time"
)

// Patience bounds every wait: long enough for a loaded CI machine, short
// enough that a hang fails the run instead of stalling it.
const Patience = time.Minute

// WaitFor polls cond until it returns true, and fails the test naming what
// after Patience.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting after %v: %s", Patience, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// WaitListening waits until a TCP connection to addr succeeds (an external
// server that was started has bound its port).
func WaitListening(t testing.TB, addr string) {
	t.Helper()
	WaitFor(t, addr+" accepts TCP connections", func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
}

// SilentServer listens on loopback, accepts every connection and never
// answers nor closes it until the test ends: the server a client timeout
// must not wait forever for. It returns the address.
func SilentServer(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { close(done); l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { <-done; c.Close() }()
		}
	}()
	return l.Addr().String()
}

// Buffer is a bytes.Buffer that a server or a child process writes to
// while the test reads it.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
