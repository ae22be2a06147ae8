package dash

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/applayer/applayer/web"
)

func status(t *testing.T, c *web.ClientConn, path string) (int, []byte) {
	t.Helper()
	resp, err := c.Do(context.Background(), &web.OutRequest{Target: path, Host: "test"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	return resp.Status, b
}

// TestLive: the package as a live event on a fake clock: a dynamic MPD
// whose segments appear one per segment duration and leave the sliding
// window behind the live edge, and a static MPD once the event is over.
func TestLive(t *testing.T) {
	dir, _ := fakePackage(t) // 10 segments of 2 s
	clk := &fakeClock{t: time.Unix(1e9, 0)}
	start := clk.now()
	s := &Server{Dir: dir, Live: true, LiveWindow: 6 * time.Second, clock: clk.now, sleep: clk.sleep}
	// The event begins when the server starts; Serve starts it on its
	// own goroutine, so start it here before the clock moves.
	if err := s.init(); err != nil {
		t.Fatal(err)
	}
	addr := startServer(t, s)
	c, err := web.Dial(context.Background(), addr, web.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	clk.sleep(5 * time.Second)
	code, b := status(t, c, "/"+ManifestName)
	m, err := ParseBytes(b, Limits{})
	if code != 200 || err != nil || m.Type != "dynamic" || !m.AvailabilityStartTime.Equal(start) || !m.PublishTime.Equal(start.Add(5*time.Second)) || time.Duration(m.TimeShiftBufferDepth) != 6*time.Second {
		t.Fatalf("live MPD: %d %v %+v", code, err, m)
	}
	for _, tc := range []struct {
		at   time.Duration
		path string
		want int
	}{
		{5 * time.Second, "/b/seg-00001.m4s", 200},
		{5 * time.Second, "/b/seg-00002.m4s", 200}, // recorded by 4 s
		{5 * time.Second, "/b/seg-00003.m4s", 404}, // not until 6 s
		{5 * time.Second, "/a/init.mp4", 200},
		{13 * time.Second, "/a/seg-00006.m4s", 200}, // the edge
		{13 * time.Second, "/a/seg-00007.m4s", 404},
		{13 * time.Second, "/a/seg-00004.m4s", 200}, // the oldest in a 6 s window
		{13 * time.Second, "/a/seg-00003.m4s", 404}, // left the window
	} {
		if d := start.Add(tc.at).Sub(clk.now()); d > 0 {
			clk.sleep(d)
		}
		if code, body := status(t, c, tc.path); code != tc.want {
			t.Errorf("at %v, GET %s: %d %s, want %d", tc.at, tc.path, code, body, tc.want)
		}
	}
	clk.sleep(20*time.Second - 13*time.Second) // the whole package recorded
	code, b = status(t, c, "/"+ManifestName)
	if m, err := ParseBytes(b, Limits{}); code != 200 || err != nil || m.Type != "static" {
		t.Errorf("after the event: %d %v %s", code, err, b)
	}
	if code, _ := status(t, c, "/a/seg-00001.m4s"); code != 200 {
		t.Errorf("after the event, the first segment: %d", code)
	}
}
