package lifecycle

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/applayer/applayer/internal/testutil"
)

var errMine = errors.New("mine: server closed")

func newTracker() *Tracker {
	return &Tracker{Name: "test", Logger: slog.New(slog.DiscardHandler), ErrClosed: errMine}
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// echo is a handler that cooperates with Shutdown the documented way.
func echo(tr *Tracker) func(net.Conn) {
	return func(c net.Conn) {
		buf := make([]byte, 100)
		for tr.ReadDeadline(c, time.Minute) {
			n, err := c.Read(buf)
			if n > 0 {
				c.Write(buf[:n])
			}
			if err != nil {
				return
			}
		}
	}
}

func TestShutdownWakesIdleConns(t *testing.T) {
	tr := newTracker()
	l := listen(t)
	done := make(chan error, 1)
	go func() { done <- tr.ServeListener(l, echo(tr)) }()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("x"))
	io.ReadFull(c, make([]byte, 1))

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tr.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown = %v; an idle connection was not woken", err)
	}
	if err := <-done; err != errMine {
		t.Errorf("ServeListener = %v, want %v", err, errMine)
	}
	if tr.Conns() != 0 {
		t.Errorf("%d connections left", tr.Conns())
	}
	if err := tr.ServeListener(listen(t), echo(tr)); err != errMine {
		t.Errorf("ServeListener after Shutdown = %v, want %v", err, errMine)
	}
}

func TestShutdownDeadline(t *testing.T) {
	tr := newTracker()
	l := listen(t)
	go tr.ServeListener(l, func(c net.Conn) {
		// Ignores shutdown: reads on past every wake-up until its
		// connection is closed.
		for {
			c.SetReadDeadline(time.Time{})
			_, err := c.Read(make([]byte, 1))
			var ne net.Error
			if err != nil && !(errors.As(err, &ne) && ne.Timeout()) {
				return
			}
		}
	})
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	testutil.WaitFor(t, "the connection to be tracked", func() bool { return tr.Conns() > 0 })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := tr.Shutdown(ctx); err != context.DeadlineExceeded {
		t.Errorf("Shutdown = %v, want context.DeadlineExceeded", err)
	}
	if tr.Conns() != 0 {
		t.Errorf("%d connections left after forced close", tr.Conns())
	}
}

func TestPanicClosesOnlyThatConn(t *testing.T) {
	tr := newTracker()
	l := listen(t)
	go tr.ServeListener(l, func(c net.Conn) {
		b := make([]byte, 1)
		c.Read(b)
		if b[0] == 'p' {
			panic("boom")
		}
		c.Write(b)
	})
	defer tr.Close()
	for _, b := range []string{"p", "k"} {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte(b))
		got, _ := io.ReadAll(c)
		c.Close()
		if b == "k" && string(got) != "k" {
			t.Errorf("after a panic elsewhere, got %q, want k", got)
		}
	}
}

func TestServePacket(t *testing.T) {
	tr := newTracker()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	looping := make(chan struct{})
	go func() {
		done <- tr.ServePacket(pc, func(pc net.PacketConn) error {
			close(looping)
			buf := make([]byte, 10)
			for {
				if _, _, err := pc.ReadFrom(buf); err != nil {
					return err
				}
			}
		})
	}()
	<-looping
	tr.Shutdown(context.Background())
	if err := <-done; err != errMine {
		t.Errorf("ServePacket = %v, want %v", err, errMine)
	}
}

// TestRefusal: a connection over the limit reads the Refusal, then EOF.
func TestRefusal(t *testing.T) {
	tr := newTracker()
	tr.MaxConns = 1
	tr.Refusal = []byte("421 busy\r\n")
	l := listen(t)
	go tr.ServeListener(l, echo(tr))
	defer tr.Close()
	first, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	first.Write([]byte("x")) // the first connection is being served
	io.ReadFull(first, make([]byte, 1))
	second, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	second.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(second)
	if err != nil || string(got) != "421 busy\r\n" {
		t.Errorf("over the limit: read %q, %v; want the refusal then EOF", got, err)
	}
}

func TestServeBoth(t *testing.T) {
	l := listen(t)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	// One fails on its own: the other is stopped and the failure returned.
	boom := errors.New("boom")
	stopped := make(chan struct{})
	err = ServeBoth(l, pc,
		func(net.Listener) error { return boom },
		func(net.PacketConn) error { <-stopped; return errMine },
		errMine, func() error { close(stopped); return nil })
	if err != boom {
		t.Errorf("ServeBoth = %v, want %v", err, boom)
	}
	// Both end because the server was closed: stop is not called.
	err = ServeBoth(l, pc,
		func(net.Listener) error { return errMine },
		func(net.PacketConn) error { return errMine },
		errMine, func() error { t.Error("stop called after a clean close"); return nil })
	if err != errMine {
		t.Errorf("ServeBoth = %v, want %v", err, errMine)
	}
	if err := ServeBoth(nil, nil, nil, nil, errMine, func() error { return nil }); err == nil {
		t.Error("ServeBoth with nothing to serve succeeded")
	}
}

// A detached connection outlives its handler: it stays open and counted,
// Shutdown waits for its release, and OnShutdown is where a server that
// keeps such connections lets them go.
func TestDetach(t *testing.T) {
	tr := newTracker()
	held := make(chan func(), 1)
	var heldConn net.Conn
	tr.OnShutdown = func() {
		release := <-held
		heldConn.Write([]byte("bye"))
		release()
	}
	l := listen(t)
	go tr.ServeListener(l, func(c net.Conn) {
		c.Read(make([]byte, 1))
		heldConn = c
		held <- tr.Detach(c)
	})
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("k"))
	testutil.WaitFor(t, "the connection to be tracked", func() bool { return tr.Conns() > 0 })
	testutil.WaitFor(t, "the handler of the detached connection to return", func() bool {
		return !goroutineIn("lifecycle.(*Tracker).run(")
	})
	if n := tr.Conns(); n != 1 {
		t.Errorf("Conns() = %d after the handler of a detached connection returned", n)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tr.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if b, _ := io.ReadAll(c); string(b) != "bye" {
		t.Errorf("detached connection got %q at shutdown, want bye then close", b)
	}
	if n := tr.Conns(); n != 0 {
		t.Errorf("Conns() = %d after Shutdown", n)
	}
}

// Refuse answers connections over the limit, at most MaxRefusing at once;
// the rest are closed at once, and Shutdown waits for the running ones.
func TestRefuseIsBounded(t *testing.T) {
	tr := newTracker()
	tr.MaxConns = 1
	release := make(chan struct{})
	var calls atomic.Int32
	tr.Refuse = func(c net.Conn) {
		calls.Add(1)
		<-release
		c.Write([]byte("busy"))
	}
	l := listen(t)
	go tr.ServeListener(l, func(c net.Conn) { io.Copy(io.Discard, c) })
	first, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	testutil.WaitFor(t, "the connection to be tracked", func() bool { return tr.Conns() > 0 })
	var refused []net.Conn
	for range MaxRefusing {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		refused = append(refused, c)
	}
	testutil.WaitFor(t, "every refusal slot to be taken", func() bool { return calls.Load() == MaxRefusing })
	extra, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	extra.SetDeadline(time.Now().Add(5 * time.Second))
	if b, err := io.ReadAll(extra); err != nil || len(b) != 0 {
		t.Errorf("connection over MaxRefusing: %q, %v; want closed at once", b, err)
	}
	if n := calls.Load(); n != MaxRefusing {
		t.Errorf("Refuse ran %d times, want %d", n, MaxRefusing)
	}
	close(release)
	for i, c := range refused {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if b, _ := io.ReadAll(c); string(b) != "busy" {
			t.Errorf("refused connection %d got %q, want busy then close", i, b)
		}
	}
	first.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tr.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown = %v", err)
	}
}

// goroutineIn reports whether a goroutine of the process is running fn
// (a function name as goroutine dumps print it).
func goroutineIn(fn string) bool {
	buf := make([]byte, 1<<20)
	n := runtime.Stack(buf, true)
	return bytes.Contains(buf[:n], []byte(fn))
}
