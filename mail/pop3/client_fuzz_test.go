package pop3

import (
	"context"
	"io"
	"net"
	"testing"
)

// FuzzClientReplies feeds the client arbitrary server output for a whole
// session (greeting, CAPA, USER/PASS, STAT, LIST, UIDL, RETR, TOP): no
// panic, no hang, and a multi-line reply never over its bound.
func FuzzClientReplies(f *testing.F) {
	f.Add([]byte("+OK ready\r\n+OK\r\nUIDL\r\nTOP\r\n.\r\n+OK\r\n+OK\r\n+OK 2 30\r\n+OK\r\n1 10\r\n2 20\r\n.\r\n+OK\r\n1 a\r\n2 b\r\n.\r\n+OK\r\nSubject: x\r\n\r\n..dot\r\n.\r\n+OK\r\nSubject: x\r\n.\r\n"))
	f.Add([]byte("+OK\r\n-ERR no\r\n"))
	f.Add([]byte("+OK\r\n+OK\r\n" + string(make([]byte, 70000)) + "\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cs, ss := net.Pipe()
		go func() {
			go io.Copy(io.Discard, ss)
			ss.Write(data)
			ss.Close()
		}()
		defer cs.Close()
		ctx := context.Background()
		c, err := NewClient(ctx, cs, ClientOptions{MaxMessage: 1 << 12})
		if err != nil {
			return
		}
		c.Capabilities(ctx)
		c.Login(ctx, "u", "p")
		c.Stat(ctx)
		c.List(ctx)
		c.UIDL(ctx)
		if m, err := c.Retr(ctx, 1); err == nil && len(m) > 1<<12 {
			t.Fatalf("RETR gave %d bytes over the bound", len(m))
		}
		c.Top(ctx, 1, 0)
	})
}
