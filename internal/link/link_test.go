package link

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// A paced connection delivers every byte, in order, and waits in total
// what the link takes to carry them: the waits are counted on a fake
// clock, not measured.
func TestPace(t *testing.T) {
	for _, tc := range []struct {
		rate  int64
		bytes int
		want  time.Duration
	}{
		{1000, 1000, time.Second},
		{1 << 20, 4 << 20, 4 * time.Second},
		{2_500_000, 100_000, 40 * time.Millisecond},
	} {
		a, b := net.Pipe()
		data := bytes.Repeat([]byte("0123456789"), tc.bytes/10)
		go func() { a.Write(data); a.Close() }()
		var clock time.Time
		var slept time.Duration
		c := Pace(b, tc.rate).(*Conn)
		c.now = func() time.Time { return clock }
		c.sleep = func(d time.Duration) { slept += d; clock = clock.Add(d) }
		got, err := io.ReadAll(c)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("rate %d: read %d bytes, %v; want the %d written", tc.rate, len(got), err, len(data))
		}
		if diff := slept - tc.want; diff < -time.Millisecond || diff > time.Millisecond {
			t.Errorf("rate %d, %d bytes: waited %v, want %v", tc.rate, tc.bytes, slept, tc.want)
		}
	}
}

// A link that was idle has no credit saved up: after a pause the reader
// waits for each byte as before, with no burst.
func TestPaceNoBurstAfterIdle(t *testing.T) {
	a, b := net.Pipe()
	go func() { a.Write(make([]byte, 3000)); a.Close() }()
	var clock time.Time
	var slept time.Duration
	c := Pace(b, 1000).(*Conn)
	c.now = func() time.Time { clock = clock.Add(10 * time.Second); return clock } // idle between reads
	c.sleep = func(d time.Duration) { slept += d; clock = clock.Add(d) }
	if _, err := io.ReadAll(c); err != nil {
		t.Fatal(err)
	}
	if want := 3 * time.Second; slept < want-time.Millisecond || slept > want+time.Millisecond {
		t.Errorf("waited %v after idle gaps, want %v (3000 bytes at 1000 B/s)", slept, want)
	}
}

func TestPaceZero(t *testing.T) {
	a, _ := net.Pipe()
	if Pace(a, 0) != a {
		t.Error("a zero rate should leave the connection as it is")
	}
}
