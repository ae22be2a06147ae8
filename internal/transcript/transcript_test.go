package transcript

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestNilIsOff(t *testing.T) {
	var r *Recorder
	s := r.Session("smtp", "peer")
	if s != nil || s.Enabled() {
		t.Fatal("nil Recorder gave a live Session")
	}
	s.Client("x")
	s.Server("x")
	s.Note("x")
	s.ClientBytes([]byte("x"))
	s.ServerBytes([]byte("x"))
	s.ClientSecret("PASS ", "x")
	if New(nil) != nil {
		t.Error("New(nil) != nil")
	}
}

func TestTextSink(t *testing.T) {
	var buf bytes.Buffer
	r := New(NewTextSink(&buf))
	s := r.Session("smtp", "127.0.0.1:25")
	s.Server("220 hamburger.edu")
	s.Client("HELO crepes.fr")
	s.ClientSecret("AUTH PLAIN ", "AGFsaWNlAHNlY3JldA==")
	s.Note("closed")
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	want := []string{
		"smtp#1 127.0.0.1:25 S: 220 hamburger.edu",
		"smtp#1 127.0.0.1:25 C: HELO crepes.fr",
		"smtp#1 127.0.0.1:25 C: AUTH PLAIN <redacted>",
		"smtp#1 127.0.0.1:25 *: closed",
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines:\n%s", len(lines), buf.String())
	}
	for i, l := range lines {
		// Drop the timestamp: "15:04:05.000000 ".
		if _, err := time.Parse("15:04:05.000000", l[:15]); err != nil {
			t.Errorf("line %d has no timestamp: %q", i, l)
		}
		if l[16:] != want[i] {
			t.Errorf("line %d = %q, want %q", i, l[16:], want[i])
		}
	}
	if s2 := r.Session("smtp", "x"); s2.id != 2 {
		t.Errorf("second session id = %d, want 2", s2.id)
	}
}

func TestShowSecrets(t *testing.T) {
	var got []Event
	r := New(SinkFunc(func(e Event) { got = append(got, e) })).ShowSecrets(true)
	r.Session("pop3", "p").ClientSecret("PASS ", "hunter2")
	if got[0].Text != "PASS hunter2" {
		t.Errorf("with ShowSecrets: %q", got[0].Text)
	}
}

func TestPrintable(t *testing.T) {
	tests := []struct{ in, want string }{
		{"HELO crepes.fr", "HELO crepes.fr"},
		{"line\r\n", `line\r\n`},
		{"nul\x00 tab\t", `nul\x00 tab\t`},
		{"bad \xff utf8 é", `bad \xff utf8 é`},
		{`back\slash`, `back\\slash`},
		{"del\x7f", `del\x7f`},
	}
	for _, tt := range tests {
		if got := Printable([]byte(tt.in)); got != tt.want {
			t.Errorf("Printable(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	long := Printable(bytes.Repeat([]byte("a"), 100000))
	if len(long) > MaxText+40 || !strings.HasSuffix(long, "… (100000 bytes)") {
		t.Errorf("Printable of 100000 bytes = %d bytes ending %q", len(long), long[len(long)-20:])
	}
}

func TestLongTextCutOnRuneBoundary(t *testing.T) {
	var got Event
	r := New(SinkFunc(func(e Event) { got = e }))
	r.Session("x", "p").Client(strings.Repeat("é", 500))
	if !strings.HasSuffix(got.Text, "… (1000 bytes)") || !strings.HasPrefix(got.Text, "éé") {
		t.Errorf("cut text = %q", got.Text)
	}
	if strings.ContainsRune(got.Text, '\uFFFD') {
		t.Error("a rune was split")
	}
}

func TestHub(t *testing.T) {
	var h Hub
	fast := h.Subscribe(10)
	slow := h.Subscribe(1)
	r := New(&h)
	s := r.Session("dns/udp", "p")
	for i := 0; i < 3; i++ {
		s.Client("q")
	}
	if len(fast.C) != 3 || len(slow.C) != 1 || slow.Dropped() != 2 {
		t.Errorf("fast has %d, slow has %d and dropped %d; want 3, 1, 2", len(fast.C), len(slow.C), slow.Dropped())
	}
	slow.Close()
	slow.Close() // twice is harmless
	s.Client("after")
	if len(fast.C) != 4 {
		t.Errorf("fast has %d events, want 4", len(fast.C))
	}
	if _, ok := <-slow.C; !ok {
		t.Error("buffered event lost at Close") // the buffered event is still readable
	}
	if _, ok := <-slow.C; ok {
		t.Error("closed subscription still delivering")
	}
}

func TestConcurrentSessions(t *testing.T) {
	var buf bytes.Buffer
	r := New(NewTextSink(&buf))
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := r.Session("tcp", "p")
			for j := 0; j < 50; j++ {
				s.Client(strings.Repeat("x", 100))
			}
		}()
	}
	wg.Wait()
	for _, l := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		if !strings.HasSuffix(l, " C: "+strings.Repeat("x", 100)) {
			t.Fatalf("interleaved line: %q", l)
		}
	}
}

func BenchmarkDisabled(b *testing.B) {
	var r *Recorder
	payload := []byte("some bytes on the wire")
	for b.Loop() {
		s := r.Session("upper/udp", "127.0.0.1:1")
		s.ClientBytes(payload)
		s.ServerBytes(payload)
	}
}
