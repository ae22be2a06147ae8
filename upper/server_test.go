package upper

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/applayer/applayer/internal/testutil"
	"github.com/applayer/applayer/internal/transcript"
)

// startServer serves both transports on one loopback port and stops the
// server when the test ends.
func startServer(t *testing.T, s *Server) (tcpAddr, udpAddr string) {
	t.Helper()
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.ServeBoth(l, pc) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("ServeBoth returned %v, want ErrServerClosed", err)
		}
	})
	return l.Addr().String(), pc.LocalAddr().String()
}

func dial(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c.(*net.TCPConn)
}

// readN reads until it has n bytes.
func readN(t *testing.T, c net.Conn, n int) string {
	t.Helper()
	buf := make([]byte, n)
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatalf("reading %d bytes: %v (got %q)", n, err, buf)
	}
	return string(buf)
}

// TestTCPTextbookClient is the textbook's TCPClient: one sentence without a
// newline, then wait for the answer without closing.
func TestTCPTextbookClient(t *testing.T) {
	addr, _ := startServer(t, &Server{})
	c := dial(t, addr)
	io.WriteString(c, "hello there")
	if got := readN(t, c, 11); got != "HELLO THERE" {
		t.Errorf("answer = %q, want %q", got, "HELLO THERE")
	}
}

func TestTCPManyLines(t *testing.T) {
	addr, _ := startServer(t, &Server{})
	c := dial(t, addr)
	for _, line := range []string{"one\n", "two two\n", "three\n"} {
		io.WriteString(c, line)
		if got := readN(t, c, len(line)); got != strings.ToUpper(line) {
			t.Errorf("answer to %q = %q", line, got)
		}
	}
}

// TestTCPHalfClose sends a large body, half-closes, and expects all of it
// back followed by end-of-stream; writing and reading run at once because the
// answer outgrows the socket buffers.
func TestTCPHalfClose(t *testing.T) {
	addr, _ := startServer(t, &Server{})
	c := dial(t, addr)
	in := bytes.Repeat([]byte("stream me, ça va? ıi\n"), 200000) // about 4 MiB
	go func() {
		c.Write(in)
		c.CloseWrite()
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if want := Upper(in); !bytes.Equal(got, want) {
		t.Errorf("got %d bytes back, want %d (equal: false)", len(got), len(want))
	}
}

// TestTCPSplitRune sends a multi-byte character split across two writes,
// the second only once the server has answered the first: "CAF" comes back
// while the first byte of é is held, so the server surely read the
// character in two pieces.
func TestTCPSplitRune(t *testing.T) {
	addr, _ := startServer(t, &Server{})
	c := dial(t, addr)
	c.SetNoDelay(true)
	c.SetReadDeadline(time.Now().Add(testutil.Patience)) // a server that held "CAF" back fails, not hangs
	io.WriteString(c, "caf\xc3")                         // first byte of é
	if got := readN(t, c, 3); got != "CAF" {
		t.Fatalf("first piece: got %q, want %q (the lone lead byte held back)", got, "CAF")
	}
	io.WriteString(c, "\xa9\xff")
	c.CloseWrite()
	got, _ := io.ReadAll(c)
	if want := "É\xff"; string(got) != want {
		t.Errorf("second piece: got %q, want %q", got, want)
	}
}

func TestTCPIncompleteRuneAtEOF(t *testing.T) {
	addr, _ := startServer(t, &Server{})
	c := dial(t, addr)
	io.WriteString(c, "end \xe2\x82")
	c.CloseWrite()
	got, _ := io.ReadAll(c)
	if want := "END \xe2\x82"; string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestTCPIdleTimeout(t *testing.T) {
	addr, _ := startServer(t, &Server{IdleTimeout: 100 * time.Millisecond})
	c := dial(t, addr)
	c.SetReadDeadline(time.Now().Add(testutil.Patience)) // not dropped: a timeout, not EOF
	n, err := c.Read(make([]byte, 1))
	if n != 0 || err != io.EOF {
		t.Fatalf("Read on an idle connection = %d, %v; want 0, EOF (dropped)", n, err)
	}
}

// TestTCPNotReading: a client that sends without ever reading is dropped by
// the write timeout instead of holding its goroutine forever.
func TestTCPNotReading(t *testing.T) {
	s := &Server{WriteTimeout: 100 * time.Millisecond}
	addr, _ := startServer(t, s)
	c := dial(t, addr)
	c.SetReadBuffer(4096)
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	var err error
	for i := 0; i < 2000 && err == nil; i++ { // at most 128 MiB
		_, err = c.Write(chunk)
	}
	if err == nil {
		t.Fatal("the server kept accepting data from a client that never reads")
	}
}

// TestTCPBurst opens thousands of connections that send nothing, then checks
// that a new client is still served, and that connections over the limit are
// refused at once rather than left hanging.
func TestTCPBurst(t *testing.T) {
	const limit = 500
	s := &Server{MaxConns: limit}
	addr, _ := startServer(t, s)
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < 2*limit; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		conns = append(conns, c)
	}
	// Connections over the limit are closed by the server.
	over := conns[len(conns)-1]
	over.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := over.Read(make([]byte, 1)); err == nil {
		t.Error("a connection over the limit was served")
	}
	// Free the slots; a new client must be served.
	for _, c := range conns {
		c.Close()
	}
	conns = nil
	testutil.WaitFor(t, "the closed clients' slots are freed", func() bool { return s.tracker().Conns() == 0 })
	c := dial(t, addr)
	io.WriteString(c, "still here")
	if got := readN(t, c, 10); got != "STILL HERE" {
		t.Errorf("after the burst: %q", got)
	}
}

// TestTCPManyClients serves many clients streaming at once.
func TestTCPManyClients(t *testing.T) {
	addr, _ := startServer(t, &Server{})
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := SendTCP(context.Background(), addr, bytes.Repeat([]byte("abc "), 10000), Options{})
			if err != nil || string(got) != strings.Repeat("ABC ", 10000) {
				t.Errorf("client %d: %d bytes, %v", i, len(got), err)
			}
		}()
	}
	wg.Wait()
}

// TestShutdownGraceful: Shutdown returns once the connected clients are
// released, and the answer already owed is delivered.
func TestShutdownGraceful(t *testing.T) {
	s := &Server{Logger: slog.New(slog.DiscardHandler)}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	c := dial(t, l.Addr().String())
	io.WriteString(c, "bye")
	if got := readN(t, c, 3); got != "BYE" {
		t.Fatalf("got %q", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-done; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve = %v, want ErrServerClosed", err)
	}
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("client after shutdown: %v, want EOF", err)
	}
	if _, err := net.Dial("tcp", l.Addr().String()); err == nil {
		t.Error("still accepting after Shutdown")
	}
}

func TestUDPExchange(t *testing.T) {
	_, addr := startServer(t, &Server{})
	conn, err := DialUDP(context.Background(), addr, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, in := range []string{"hello", "héllo \xff", "", strings.Repeat("z", MaxDatagram)} {
		ans, attempts, err := conn.Exchange(context.Background(), []byte(in), time.Second, 2)
		if err != nil {
			t.Fatalf("Exchange(%d bytes): %v", len(in), err)
		}
		if want := Upper([]byte(in)); !bytes.Equal(ans, want) {
			t.Errorf("Exchange(%.20q) = %.20q, want %.20q", in, ans, want)
		}
		if len(attempts) != 1 || attempts[0].Lost {
			t.Errorf("attempts = %+v, want one answered", attempts)
		}
	}
	if _, _, err := conn.Exchange(context.Background(), make([]byte, MaxDatagram+1), time.Second, 0); err == nil {
		t.Error("a payload over the datagram limit was accepted")
	}
}

// lossyServer answers like the real server but drops the first drop
// datagrams it receives, and answers each later one twice, the second time
// late, to exercise the client's loss and late-answer handling.
func lossyServer(t *testing.T, drop int) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1<<16)
		for i := 0; ; i++ {
			n, a, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if i < drop {
				continue
			}
			pc.WriteTo(Upper(buf[:n]), a)
		}
	}()
	return pc.LocalAddr().String()
}

func TestUDPLossAndRetry(t *testing.T) {
	addr := lossyServer(t, 2)
	conn, err := DialUDP(context.Background(), addr, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ans, attempts, err := conn.Exchange(context.Background(), []byte("retry me"), 50*time.Millisecond, 3)
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	if string(ans) != "RETRY ME" {
		t.Errorf("answer = %q", ans)
	}
	if len(attempts) != 3 || !attempts[0].Lost || !attempts[1].Lost || attempts[2].Lost {
		t.Errorf("attempts = %+v, want lost, lost, answered", attempts)
	}

	// With no retries left, the client reports the loss.
	addr = lossyServer(t, 1)
	conn2, _ := DialUDP(context.Background(), addr, Options{})
	defer conn2.Close()
	if _, _, err := conn2.Exchange(context.Background(), []byte("x"), 50*time.Millisecond, 0); !errors.Is(err, ErrTimeout) {
		t.Errorf("Exchange with every datagram lost = %v, want ErrTimeout", err)
	}
}

func TestUDPPortUnreachable(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close() // nothing listens there now
	conn, err := DialUDP(context.Background(), addr, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _, err = conn.Exchange(context.Background(), []byte("x"), time.Second, 0)
	if err == nil || !strings.Contains(err.Error(), "nothing listens on "+addr) {
		t.Errorf("Exchange with a closed port = %v, want a plain explanation", err)
	}
}

func TestUDPLateAnswerDiscarded(t *testing.T) {
	// A server that answers each datagram after 150 ms: the first exchange
	// times out, and its late answer must not be taken for the second's.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	go func() {
		buf := make([]byte, 1<<16)
		for {
			n, a, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			ans := Upper(buf[:n])
			time.AfterFunc(150*time.Millisecond, func() { pc.WriteTo(ans, a) })
		}
	}()
	conn, _ := DialUDP(context.Background(), pc.LocalAddr().String(), Options{})
	defer conn.Close()
	if _, _, err := conn.Exchange(context.Background(), []byte("first #1"), 50*time.Millisecond, 0); !errors.Is(err, ErrTimeout) {
		t.Fatalf("first exchange = %v, want ErrTimeout", err)
	}
	ans, _, err := conn.Exchange(context.Background(), []byte("second #2"), time.Second, 0)
	if err != nil || string(ans) != "SECOND #2" {
		t.Errorf("second exchange = %q, %v; want SECOND #2", ans, err)
	}
	if conn.Late != 1 {
		t.Errorf("Late = %d, want 1", conn.Late)
	}
}

func TestTranscript(t *testing.T) {
	var mu sync.Mutex
	var events []transcript.Event
	rec := transcript.New(transcript.SinkFunc(func(e transcript.Event) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}))
	tcpAddr, udpAddr := startServer(t, &Server{Trace: rec})
	if _, err := SendTCP(context.Background(), tcpAddr, []byte("hi"), Options{}); err != nil {
		t.Fatal(err)
	}
	conn, _ := DialUDP(context.Background(), udpAddr, Options{})
	defer conn.Close()
	if _, _, err := conn.Exchange(context.Background(), []byte("yo"), time.Second, 0); err != nil {
		t.Fatal(err)
	}
	var got []string
	testutil.WaitFor(t, "four dialogue lines recorded", func() bool {
		mu.Lock()
		defer mu.Unlock()
		got = got[:0]
		for _, e := range events {
			if e.Dir != transcript.Note {
				got = append(got, e.Proto+" "+e.Dir.String()+": "+e.Text)
			}
		}
		return len(got) >= 4
	})
	want := []string{"upper/tcp C: hi", "upper/tcp S: HI", "upper/udp C: yo", "upper/udp S: YO"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("transcript:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestListenAndServeAddrInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s := &Server{Addr: l.Addr().String(), Logger: slog.New(slog.DiscardHandler)}
	err = s.ListenAndServe()
	if err == nil || !strings.Contains(err.Error(), "address already in use") || !strings.Contains(err.Error(), l.Addr().String()) {
		t.Errorf("ListenAndServe on a used port = %v, want an error naming the address and the cause", err)
	}
}

// TestTCPClientTimeout: a server that accepts and never answers cannot
// hold a TCP client whose context has no deadline.
func TestTCPClientTimeout(t *testing.T) {
	addr := testutil.SilentServer(t)
	opts := Options{Timeout: 100 * time.Millisecond}
	if _, err := SendTCP(context.Background(), addr, []byte("hello"), opts); !isTimeout(err) {
		t.Errorf("SendTCP to a silent server = %v; want a timeout", err)
	}
	c, err := DialTCP(context.Background(), addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Line(context.Background(), "hello"); !isTimeout(err) {
		t.Errorf("Line to a silent server = %v; want a timeout", err)
	}
}

func isTimeout(err error) bool {
	ne, ok := errors.AsType[net.Error](err)
	return ok && ne.Timeout()
}

// dialFrom dials addr from the loopback address from, another client as
// the per-client limit counts them.
func dialFrom(t *testing.T, from, addr string) *net.TCPConn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(testutil.Patience))
	return c.(*net.TCPConn)
}

// echoes reports whether c answers a letter with its capital.
func echoes(c net.Conn) bool {
	if _, err := c.Write([]byte("a")); err != nil {
		return false
	}
	b := make([]byte, 1)
	_, err := io.ReadFull(c, b)
	return err == nil && b[0] == 'A'
}

// TestTCPPerClientLimit: one address over its share is closed at once,
// while another address is still served.
func TestTCPPerClientLimit(t *testing.T) {
	addr, _ := startServer(t, &Server{MaxConnsPerClient: 1})
	first := dialFrom(t, "127.0.0.1", addr)
	if !echoes(first) {
		t.Fatal("the first connection is not served")
	}
	second := dialFrom(t, "127.0.0.1", addr)
	if n, err := second.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("a second connection from the same address: Read = %d, %v; want EOF (closed)", n, err)
	}
	if !echoes(dialFrom(t, "127.0.0.2", addr)) {
		t.Error("another address is not served while the first holds its share")
	}
}

// TestTCPIdleEvicted: at MaxConns an idle client is let go so that a new
// one is served, as nginx closes idle keep-alive connections under load.
func TestTCPIdleEvicted(t *testing.T) {
	addr, _ := startServer(t, &Server{MaxConns: 2, MaxConnsPerClient: -1})
	idle := []net.Conn{dialFrom(t, "127.0.0.1", addr), dialFrom(t, "127.0.0.1", addr)}
	for _, c := range idle {
		if !echoes(c) {
			t.Fatal("an early connection is not served")
		}
	}
	if !echoes(dialFrom(t, "127.0.0.2", addr)) {
		t.Fatal("a new client is not served at MaxConns while two are idle")
	}
	served := 0
	for _, c := range idle {
		if echoes(c) {
			served++
		}
	}
	if served != 1 {
		t.Errorf("%d of the 2 idle connections still served, want 1 (one evicted)", served)
	}
}
