package ftp

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"

	"github.com/applayer/applayer/internal/testutil"
)

// openFDs counts the process's descriptors, after a collection: pipes
// that splice(2) used are pooled and closed by finalizers.
func openFDs() int {
	runtime.GC()
	runtime.GC()
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(es)
}

// TestManyClients: clients at once each fetch a file; all complete and the
// descriptors come back to where they were.
func TestManyClients(t *testing.T) {
	if openFDs() < 0 {
		t.Skip("no /proc/self/fd")
	}
	root, _ := sampleTree(t)
	data := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	os.WriteFile(filepath.Join(root, "one.bin"), data, 0o644)
	s := &Server{Root: root, Anonymous: true}
	addr := start(t, s)
	k := dialCtl(t, addr)
	k.cmd("USER ftp", 331)
	k.cmd("PASS x", 230)
	k.get("RETR hello.txt")
	k.cmd("QUIT", 221)
	k.c.Close()
	testutil.WaitFor(t, "first session gone", func() bool { return s.tracker().Conns() == 0 })
	before := openFDs()
	const clients = 40
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			ctx := context.Background()
			c, err := Dial(ctx, addr, Options{Active: i%4 == 0})
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			if err := c.Login(ctx, "", ""); err != nil {
				errs <- err
				return
			}
			var b bytes.Buffer
			if _, err := c.Retr(ctx, "one.bin", 0, &b); err != nil {
				errs <- err
				return
			}
			if !bytes.Equal(b.Bytes(), data) {
				errs <- io.ErrShortWrite
				return
			}
			errs <- c.Quit()
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	testutil.WaitFor(t, "descriptors back to "+strconv.Itoa(before), func() bool { return openFDs() <= before })
}

// TestVanishingClient: a client that disappears mid-transfer (control and
// data connections reset) leaves no session, descriptor or temporary file.
func TestVanishingClient(t *testing.T) {
	if openFDs() < 0 {
		t.Skip("no /proc/self/fd")
	}
	root, _ := sampleTree(t)
	sparseFile(t, filepath.Join(root, "big"), 32<<20)
	s := &Server{Root: root, Users: testUsers(t)}
	addr := start(t, s)
	// A first session, so that what the process keeps once opened (the
	// pipe splice(2) goes through, kept in a pool) is counted before.
	k := dialCtl(t, addr)
	k.login()
	k.cmd("TYPE I", 200)
	k.get("RETR hello.txt")
	k.put("STOR warm.bin", "warm")
	k.cmd("QUIT", 221)
	k.c.Close()
	testutil.WaitFor(t, "first session gone", func() bool { return s.tracker().Conns() == 0 })
	before := openFDs()
	for _, cmd := range []string{"RETR big", "STOR new.bin"} {
		k := dialCtl(t, addr)
		k.login()
		k.cmd("TYPE I", 200)
		d := k.pasvData()
		k.send(cmd)
		k.expect(150)
		if cmd == "STOR new.bin" {
			d.Write(make([]byte, 1<<20))
		} else {
			io.ReadFull(d, make([]byte, 1<<20))
		}
		for _, c := range []net.Conn{d, k.c} {
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}
	}
	testutil.WaitFor(t, "sessions gone", func() bool { return s.tracker().Conns() == 0 })
	testutil.WaitFor(t, "descriptors back to "+strconv.Itoa(before), func() bool { return openFDs() <= before })
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		if e.Name() == "new.bin" || len(e.Name()) > len(tmpPrefix) && e.Name()[:len(tmpPrefix)] == tmpPrefix {
			t.Errorf("%s left behind", e.Name())
		}
	}
}

// TestCloseAbortsTransfer: Close stops a transfer in flight, whose client
// reads nothing, and Serve returns.
func TestCloseAbortsTransfer(t *testing.T) {
	root, _ := sampleTree(t)
	sparseFile(t, filepath.Join(root, "big"), 64<<20)
	s := &Server{Root: root, Users: testUsers(t), Logger: quietLogger()}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	k := dialCtl(t, l.Addr().String())
	k.login()
	k.cmd("TYPE I", 200)
	d := k.pasvData()
	defer d.Close()
	k.send("RETR big")
	k.expect(150)
	s.Close()
	if err := <-done; err != ErrServerClosed {
		t.Errorf("Serve: %v", err)
	}
	// The data connection ends: what is buffered, then EOF or a reset.
	if n, _ := io.Copy(io.Discard, d); n >= 64<<20 {
		t.Errorf("the whole file (%d bytes) was sent after Close", n)
	}
	testutil.WaitFor(t, "sessions gone", func() bool { return s.tracker().Conns() == 0 })
}

// sparseFile makes a file of size zero bytes without writing them: a
// transfer too big to fit in the sockets' buffers, at no disk cost.
func sparseFile(t testing.TB, name string, size int64) {
	t.Helper()
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	f.Close()
}
