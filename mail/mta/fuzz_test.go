package mta

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func FuzzParseRecords(f *testing.F) {
	f.Add("hamburger.edu. 300 IN MX 10 mail.hamburger.edu.\nmail.hamburger.edu. IN A 127.0.25.2")
	f.Add("x. MX 0 .\nx. AAAA ::1 ; comment\nbad")
	f.Fuzz(func(t *testing.T, zone string) {
		r, err := ParseRecords(strings.Split(zone, "\n"))
		if err != nil {
			return
		}
		for name := range r.MX {
			if _, err := route(context.Background(), r, name, 25); err != nil && !strings.Contains(err.Error(), name) {
				t.Fatalf("route(%q) error %q does not name the domain", name, err)
			}
		}
	})
}

// FuzzQueueFiles gives the queue a queue file and a progress file of any
// content, as a crash or a careless hand might leave them: listing the
// queue, opening the MTA on it, scheduling, flushing and deleting the
// message must not panic.
func FuzzQueueFiles(f *testing.F) {
	f.Add([]byte(envMagic+`{"from":"alice@crepes.fr","to":["bob@hamburger.edu"],"arrived":"2026-11-22T01:00:00Z"}`+"\nSubject: x\r\n\r\nhi\r\n"),
		[]byte(`{"rcpts":{"bob@hamburger.edu":{"attempts":2,"next":"2026-11-22T02:00:00Z","last":"451 4.3.0 later"},"x":null}}`))
	f.Add([]byte(envMagic+`{"to":[]}`+"\n"), []byte(`{"rcpts":null}`))
	f.Add([]byte(envMagic+`{"from":"x","to":["@@",""]`), []byte("{"))
	f.Add([]byte("not a queue file"), []byte(nil))
	f.Fuzz(func(t *testing.T, q, st []byte) {
		dir := t.TempDir()
		qd := QueueDir(dir)
		if err := os.MkdirAll(qd, 0o700); err != nil {
			t.Fatal(err)
		}
		const id = "HODV71LOBNFCE835"
		os.WriteFile(filepath.Join(qd, id+queueSuffix), q, 0o600)
		if st != nil {
			os.WriteFile(filepath.Join(qd, id+stateSuffix), st, 0o600)
		}
		items, err := ListQueue(dir)
		if err != nil {
			t.Fatalf("ListQueue = %v", err)
		}
		for _, it := range items {
			_ = it.Env.From
		}
		m, err := Open(Config{Dir: dir, Domains: []string{"crepes.fr"}, Resolver: &StaticResolver{}, Logger: quiet})
		if err != nil {
			return
		}
		os.WriteFile(filepath.Join(qd, FlushFile), nil, 0o600)
		m.checkFlush()
		m.mu.Lock()
		for _, e := range m.queue {
			e.due()
		}
		m.mu.Unlock()
		DeleteQueued(dir, id)
	})
}
