package lifecycle

import (
	"bufio"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"
)

// idleEcho is echo that tells idle each time it waits for its client.
func idleEcho(tr *Tracker, idle chan<- net.Conn) func(net.Conn) {
	return func(c net.Conn) {
		buf := make([]byte, 100)
		for tr.ReadDeadline(c, time.Minute) {
			idle <- c
			n, err := c.Read(buf)
			if n > 0 {
				tr.Busy(c)
				c.Write(buf[:n])
			}
			if err != nil {
				return
			}
		}
	}
}

// dialFrom connects to l from the loopback address from (127.0.0.x).
func dialFrom(t *testing.T, l net.Listener, from string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// served reports whether c is echoed: true, or false on EOF or error.
func served(c net.Conn) bool {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte("k")); err != nil {
		return false
	}
	b := make([]byte, 1)
	_, err := io.ReadFull(c, b)
	return err == nil && b[0] == 'k'
}

// closed reports whether the server closed c (EOF or reset, after any
// refusal text).
func closed(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := io.ReadAll(bufio.NewReader(c))
	return err == nil || !isTimeout(err)
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

func TestPerClientLimit(t *testing.T) {
	tr := newTracker()
	tr.MaxConns = 10
	tr.MaxConnsPerClient = 2
	tr.Refusal = []byte("421 busy\r\n")
	idle := make(chan net.Conn, 100)
	l := listen(t)
	go tr.ServeListener(l, idleEcho(tr, idle))
	defer tr.Close()
	for range 2 {
		dialFrom(t, l, "127.0.0.1")
		<-idle
	}
	third := dialFrom(t, l, "127.0.0.1")
	third.SetReadDeadline(time.Now().Add(10 * time.Second))
	if got, err := io.ReadAll(third); err != nil || string(got) != "421 busy\r\n" {
		t.Errorf("third connection from one client: %q, %v; want the refusal then EOF", got, err)
	}
	if !served(dialFrom(t, l, "127.0.0.2")) {
		t.Error("another client was not served")
	}
}

func TestDefaultPerClientLimit(t *testing.T) {
	for _, c := range []struct{ max, per, want int }{
		{0, 0, 512}, {32, 0, 4}, {4, 0, 1}, {-1, 0, 512}, {32, -1, -1}, {32, 7, 7},
	} {
		tr := Tracker{MaxConns: c.max, MaxConnsPerClient: c.per}
		if got := tr.perClient(); got != c.want {
			t.Errorf("MaxConns %d, MaxConnsPerClient %d: limit %d, want %d", c.max, c.per, got, c.want)
		}
	}
}

func TestClientOf(t *testing.T) {
	for _, c := range []struct {
		addr  string
		bits6 int
		want  string
	}{
		{"127.0.0.1:25", 0, "127.0.0.1/32"},
		{"[::ffff:192.0.2.7]:25", 0, "192.0.2.7/32"},
		{"[2001:db8:1:2:3::9]:25", 0, "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:3::9]:25", 48, "2001:db8:1::/48"},
		{"[2001:db8:1:2:3::9]:25", 128, "2001:db8:1:2:3::9/128"},
		{"[fe80::1%lo]:25", 0, "fe80::/64"},
	} {
		a := net.TCPAddrFromAddrPort(netip.MustParseAddrPort(c.addr))
		if got := clientOf(a, c.bits6); got.String() != c.want {
			t.Errorf("clientOf(%s, %d) = %s, want %s", c.addr, c.bits6, got, c.want)
		}
	}
	if got := clientOf(&net.UnixAddr{Name: "/run/x", Net: "unix"}, 0); got.IsValid() {
		t.Errorf("clientOf(unix) = %s, want none", got)
	}
}

// At MaxConns, a new client is served: an idle connection makes room.
func TestEvictIdle(t *testing.T) {
	tr := newTracker()
	tr.MaxConns = 4
	tr.MaxConnsPerClient = -1
	idle := make(chan net.Conn, 100)
	l := listen(t)
	go tr.ServeListener(l, idleEcho(tr, idle))
	defer tr.Close()
	var held []net.Conn
	for range 4 {
		held = append(held, dialFrom(t, l, "127.0.0.1"))
		<-idle
	}
	if !served(dialFrom(t, l, "127.0.0.2")) {
		t.Fatal("a new client was not served while the server was full of idle connections")
	}
	// One eighth of 4, at least 1: the longest idle went.
	if !closed(held[0]) {
		t.Error("the longest idle connection was not the one evicted")
	}
	for i, c := range held[1:] {
		if !served(c) {
			t.Errorf("idle connection %d was evicted too", i+1)
		}
	}
}

// The client holding the most connections loses one first, even when
// another's has been idle longer.
func TestEvictFromBiggestClient(t *testing.T) {
	tr := newTracker()
	tr.MaxConns = 4
	tr.MaxConnsPerClient = -1
	idle := make(chan net.Conn, 100)
	l := listen(t)
	go tr.ServeListener(l, idleEcho(tr, idle))
	defer tr.Close()
	small := dialFrom(t, l, "127.0.0.1")
	<-idle
	var big []net.Conn
	for range 3 {
		big = append(big, dialFrom(t, l, "127.0.0.2"))
		<-idle
	}
	if !served(dialFrom(t, l, "127.0.0.3")) {
		t.Fatal("a new client was not served")
	}
	if !closed(big[0]) {
		t.Error("the big client's longest idle connection was not evicted")
	}
	if !served(small) {
		t.Error("the small client's connection was evicted")
	}
}

// A busy connection is not evicted: with nothing idle, the new one is
// refused.
func TestBusyNotEvicted(t *testing.T) {
	tr := newTracker()
	tr.MaxConns = 1
	tr.Refusal = []byte("421 busy\r\n")
	working, finish := make(chan struct{}), make(chan struct{})
	l := listen(t)
	go tr.ServeListener(l, func(c net.Conn) {
		for tr.ReadDeadline(c, time.Minute) {
			b := make([]byte, 1)
			if _, err := c.Read(b); err != nil {
				return
			}
			tr.Busy(c)
			working <- struct{}{}
			<-finish
			c.Write(b)
		}
	})
	defer tr.Close()
	first := dialFrom(t, l, "127.0.0.1")
	first.Write([]byte("w"))
	<-working
	second := dialFrom(t, l, "127.0.0.2")
	second.SetReadDeadline(time.Now().Add(10 * time.Second))
	if got, _ := io.ReadAll(second); string(got) != "421 busy\r\n" {
		t.Errorf("with only a busy connection: %q, want the refusal", got)
	}
	close(finish)
	b := make([]byte, 1)
	first.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(first, b); err != nil {
		t.Errorf("the busy connection: %v", err)
	}
}

// A connection evicted while its handler works is answered, and ends at
// its next wait for the client.
func TestEvictedWhileWorking(t *testing.T) {
	tr := newTracker()
	tr.MaxConns = 1
	working, finish := make(chan struct{}), make(chan struct{})
	l := listen(t)
	go tr.ServeListener(l, func(c net.Conn) {
		for tr.ReadDeadline(c, time.Minute) {
			b := make([]byte, 1)
			if _, err := c.Read(b); err != nil {
				return
			}
			// No Busy: the connection still looks idle.
			if b[0] == 'w' {
				working <- struct{}{}
				<-finish
			}
			c.Write(b)
		}
	})
	defer tr.Close()
	first := dialFrom(t, l, "127.0.0.1")
	first.Write([]byte("w"))
	<-working
	second := dialFrom(t, l, "127.0.0.2")
	close(finish)
	first.SetReadDeadline(time.Now().Add(10 * time.Second))
	if got, err := io.ReadAll(first); err != nil || string(got) != "w" {
		t.Errorf("evicted while working: %q, %v; want its answer, then EOF", got, err)
	}
	if !served(second) {
		t.Error("the new connection was not served")
	}
}

// A detached connection is evicted through the function given to Idle.
func TestEvictDetached(t *testing.T) {
	tr := newTracker()
	tr.MaxConns = 1
	evicted, parked := make(chan struct{}), make(chan struct{})
	l := listen(t)
	go tr.ServeListener(l, func(c net.Conn) {
		b := make([]byte, 1)
		if _, err := c.Read(b); err != nil {
			return
		}
		if b[0] == 'd' {
			release := tr.Detach(c)
			tr.Idle(c, func() bool {
				release()
				close(evicted)
				return true
			})
			close(parked)
			return
		}
		c.Write(b)
	})
	defer tr.Close()
	first := dialFrom(t, l, "127.0.0.1")
	first.Write([]byte("d"))
	<-parked
	if !served(dialFrom(t, l, "127.0.0.2")) {
		t.Fatal("a new client was not served while a detached connection was idle")
	}
	<-evicted
	if !closed(first) {
		t.Error("the evicted detached connection is still open")
	}
}

func TestTimeoutUnderStress(t *testing.T) {
	tr := newTracker()
	tr.MaxConns = 4
	tr.MaxConnsPerClient = -1
	idle := make(chan net.Conn, 100)
	l := listen(t)
	go tr.ServeListener(l, idleEcho(tr, idle))
	defer tr.Close()
	check := func(load int, d, want time.Duration) {
		t.Helper()
		if got := tr.Timeout(d); got != want {
			t.Errorf("%d of 4 connections: Timeout(%v) = %v, want %v", load, d, got, want)
		}
	}
	for i := range 3 {
		dialFrom(t, l, "127.0.0.1")
		<-idle
		if i < 2 {
			check(i+1, time.Minute, time.Minute)
		}
	}
	check(3, time.Minute, 6*time.Second)
	check(3, 5*time.Second, time.Second)
	check(3, 300*time.Millisecond, 300*time.Millisecond)
	check(3, 0, 0)
}

// A server full of connections whose writes wait on clients that never
// read makes room for a new client by evicting the stalled writers
// (WriteBegin), as it evicts idle connections.
func TestEvictStalledWriters(t *testing.T) {
	stallAfter = 0
	t.Cleanup(func() { stallAfter = StallAfter })
	tr := newTracker()
	tr.MaxConns = 2
	tr.MaxConnsPerClient = -1
	writing := make(chan struct{}, 10)
	idle := make(chan net.Conn, 10)
	big := make([]byte, 64<<20)
	echo := idleEcho(tr, idle)
	l := listen(t)
	go tr.ServeListener(l, func(c net.Conn) {
		if c.RemoteAddr().(*net.TCPAddr).IP.Equal(net.IPv4(127, 0, 0, 1)) {
			// The attacker's: a response it never reads.
			tr.WriteBegin(c)
			writing <- struct{}{}
			c.SetWriteDeadline(time.Now().Add(time.Minute))
			c.Write(big)
			tr.WriteEnd(c)
			return
		}
		echo(c)
	})
	defer tr.Close()
	var held []net.Conn
	for range 2 {
		held = append(held, dialFrom(t, l, "127.0.0.1"))
		<-writing
	}
	if !served(dialFrom(t, l, "127.0.0.2")) {
		t.Fatal("a new client was refused while the server was full of writes no client reads")
	}
	n := 0
	for _, c := range held {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.Copy(io.Discard, c); err == nil || !isTimeout(err) {
			n++
		}
	}
	if n == 0 {
		t.Error("no stalled writer was closed")
	}
}
