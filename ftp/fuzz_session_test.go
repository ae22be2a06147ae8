package ftp

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/applayer/applayer/internal/authlimit"
)

// panicCatcher is a slog handler that counts error records (the Tracker
// logs a recovered panic as one).
type panicCatcher struct{ n *atomic.Int64 }

func (p panicCatcher) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelError }
func (p panicCatcher) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "panic") {
		p.n.Add(1)
	}
	return nil
}
func (p panicCatcher) WithAttrs([]slog.Attr) slog.Handler { return p }
func (p panicCatcher) WithGroup(string) slog.Handler      { return p }

// FuzzSession sends a logged-in session any command lines: every reply
// line must be a reply or a continuation, nothing may panic, and the
// session must still answer NOOP unless it was closed.
func FuzzSession(f *testing.F) {
	for _, s := range []string{
		"PWD\nCWD pub\nCDUP\nLIST\n",
		"PASV\nRETR hello.txt\nABOR\n",
		"EPSV ALL\nPORT 127,0,0,1,4,1\nEPRT |1|127.0.0.1|5000|\n",
		"RNFR hello.txt\nRNTO ../x\nREST 99999999999\nRETR hello.txt\n",
		"MKD a\nRMD a\nSTOU\nAPPE\nSIZE /\nMDTM ..\nMLST\nSTAT /pub\nHELP\nFEAT\nOPTS UTF8 ON\n",
		"TYPE L 8\nTYPE A N\nMODE Z\nSTRU P\nSITE HELP\nPBSZ 0\nPROT P\nAUTH TLS\n",
		"USER x\nPASS y\nQUIT\n",
	} {
		f.Add(s)
	}
	root, _ := sampleTree(f)
	var panics atomic.Int64
	s := &Server{Root: root, Users: testUsers(f), DataTimeout: 20 * time.Millisecond,
		Logger: slog.New(panicCatcher{&panics}), MaxErrors: 1000,
		AuthLimit: &authlimit.Limiter{Free: 1 << 30}}
	addr := start(f, s)
	f.Fuzz(func(t *testing.T, script string) {
		lines := strings.Split(script, "\n")
		if len(lines) > 16 {
			lines = lines[:16]
		}
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		var in bytes.Buffer
		in.WriteString("USER alice\r\nPASS secret\r\n")
		for _, l := range lines {
			l = strings.TrimRight(l, "\r")
			if strings.HasPrefix(strings.ToUpper(l), "AUTH") {
				continue // no TLS configured; and a handshake would need a client
			}
			in.WriteString(l + "\r\n")
		}
		in.WriteString("NOOP\r\nQUIT\r\n")
		go c.Write(in.Bytes())
		r := bufio.NewReader(c)
		sawNoop, closed := false, false
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				if err != io.EOF && !closed && !sawNoop {
					t.Fatalf("session ended with %v before NOOP was answered", err)
				}
				break
			}
			line = strings.TrimRight(line, "\r\n")
			if len(line) >= 4 && line[:3] >= "100" && line[:3] <= "599" && (line[3] == ' ' || line[3] == '-') {
				if strings.HasPrefix(line, "200 NOOP") {
					sawNoop = true
				}
				if strings.HasPrefix(line, "421") || strings.HasPrefix(line, "221") {
					closed = true
				}
				continue
			}
			if !strings.HasPrefix(line, " ") {
				t.Fatalf("not a reply line: %q", line)
			}
		}
		if n := panics.Load(); n > 0 {
			t.Fatalf("%d panics", n)
		}
	})
}
