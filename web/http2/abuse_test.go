package http2

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/applayer/applayer/internal/testutil"
	"github.com/applayer/applayer/web"
	"golang.org/x/net/http2/hpack"
)

// blockingSite adds /block, whose handler waits until the test ends or
// release is closed, and reports each start on started.
func blockingSite(t testing.TB) (web.Handler, func(), chan struct{}) {
	site := testSite(t)
	release := make(chan struct{})
	started := make(chan struct{}, 1024)
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	t.Cleanup(free)
	mux := &web.Mux{}
	mux.Handle("/", site)
	mux.Handle("/block", web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) {
		select {
		case started <- struct{}{}:
		default:
		}
		<-release
		io.WriteString(w, "released")
	}))
	return mux, free, started
}

// stillServes checks that a new client is served after an attack.
func stillServes(t *testing.T, ts *testServer) {
	t.Helper()
	c := dialRaw(t, ts.addr)
	c.send(AppendHeaderBlock(nil, 1, 0, c.get("/a.txt"), true, MinMaxFrameSize))
	if s := c.response(1); s != "200" {
		t.Errorf("a new client after the attack got %s", s)
	}
}

func TestFloods(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flood func(c *rawConn) []byte
	}{
		{"PING", func(c *rawConn) []byte {
			var b []byte
			for range 1500 {
				b = AppendPing(b, false, [8]byte{1})
			}
			return b
		}},
		{"SETTINGS", func(c *rawConn) []byte {
			var b []byte
			for range 1500 {
				b = AppendSettings(b)
			}
			return b
		}},
		{"empty DATA", func(c *rawConn) []byte {
			b := AppendHeaderBlock(nil, 1, 0, c.block(":method", "POST", ":scheme", "http", ":authority", "x", ":path", "/echo"), false, MinMaxFrameSize)
			for range 1500 {
				b = AppendFrameHeader(b, 0, FrameData, 0, 1)
			}
			return b
		}},
		{"PRIORITY", func(c *rawConn) []byte {
			var b []byte
			for i := range 1500 {
				b = AppendFrame(b, FramePriority, 0, uint32(2*i+1), []byte{0, 0, 0, 0, 16})
			}
			return b
		}},
		{"unknown frames", func(c *rawConn) []byte {
			var b []byte
			for range 1500 {
				b = AppendFrame(b, 0xbb, 0, 0, nil)
			}
			return b
		}},
		{"empty CONTINUATION", func(c *rawConn) []byte {
			b := AppendFrame(nil, FrameHeaders, 0, 1, c.get("/a.txt"))
			for range 100 {
				b = AppendFrame(b, FrameContinuation, 0, 1, nil)
			}
			return b
		}},
		{"CONTINUATION with fields", func(c *rawConn) []byte {
			// CVE-2024-27316: a header block that never ends.
			b := AppendFrame(nil, FrameHeaders, 0, 1, c.get("/a.txt"))
			for i := range 100 {
				var fields []string
				for j := range 40 {
					fields = append(fields, "x-"+strings.Repeat("a", 10), strings.Repeat("v", i+j))
				}
				b = AppendFrame(b, FrameContinuation, 0, 1, c.block(fields...))
			}
			return b
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, testSite(t), nil)
			c := dialRaw(t, ts.addr)
			c.send(tc.flood(c))
			if code := c.goAway(); code != ErrCodeEnhanceYourCalm {
				t.Errorf("GOAWAY %v, want ENHANCE_YOUR_CALM", code)
			}
			stillServes(t, ts)
		})
	}
}

// TestRapidReset opens streams and resets them at once (CVE-2023-44487),
// and provokes resets by the server (MadeYouReset, CVE-2025-8671).
func TestRapidReset(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reset func(id uint32) []byte
	}{
		{"client RST_STREAM", func(id uint32) []byte { return AppendRSTStream(nil, id, ErrCodeCancel) }},
		{"server reset provoked by WINDOW_UPDATE 0", func(id uint32) []byte { return AppendFrame(nil, FrameWindowUpdate, 0, id, []byte{0, 0, 0, 0}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, _, _ := blockingSite(t)
			ts := startServer(t, h, nil)
			c := dialRaw(t, ts.addr)
			var b []byte
			for i := range 1000 {
				id := uint32(2*i + 1)
				b = AppendHeaderBlock(b, id, 0, c.get("/block"), true, MinMaxFrameSize)
				b = append(b, tc.reset(id)...)
			}
			c.send(b)
			if code := c.goAway(); code != ErrCodeEnhanceYourCalm {
				t.Errorf("GOAWAY %v, want ENHANCE_YOUR_CALM", code)
			}
			stillServes(t, ts)
		})
	}
}

// TestHPACKBomb references one large dynamic-table entry many times: the
// request is answered 431 and the connection stays in step.
func TestHPACKBomb(t *testing.T) {
	ts := startServer(t, testSite(t), nil)
	c := dialRaw(t, ts.addr)
	big := strings.Repeat("b", 3000)
	// Stream 1 puts the field in the table and is served.
	c.send(AppendHeaderBlock(nil, 1, 0, c.block(":method", "GET", ":scheme", "http", ":authority", "x", ":path", "/a.txt", "x-big", big), true, MinMaxFrameSize))
	if s := c.response(1); s != "200" {
		t.Fatalf("stream 1: %s", s)
	}
	// Stream 3 refers to it 2000 times in 2000-odd octets: 6 MB decoded.
	fields := []string{":method", "GET", ":scheme", "http", ":authority", "x", ":path", "/a.txt"}
	for range 2000 {
		fields = append(fields, "x-big", big)
	}
	blk := c.block(fields...)
	if len(blk) > 4000 {
		t.Fatalf("the bomb is %d octets: the encoder did not index", len(blk))
	}
	c.send(AppendHeaderBlock(nil, 3, 0, blk, true, MinMaxFrameSize))
	if s := c.response(3); s != "431" {
		t.Errorf("HPACK bomb: %s, want 431", s)
	}
	c.send(AppendHeaderBlock(nil, 5, 0, c.get("/a.txt"), true, MinMaxFrameSize))
	if s := c.response(5); s != "200" {
		t.Errorf("after the bomb: %s, want 200 (decoder state kept in step)", s)
	}
}

func TestMaxConcurrentStreams(t *testing.T) {
	h, _, started := blockingSite(t)
	ts := startServer(t, h, func(s *Server) { s.MaxConcurrentStreams = 4 })
	c := dialRaw(t, ts.addr)
	for i := range 4 {
		c.send(AppendHeaderBlock(nil, uint32(2*i+1), 0, c.get("/block"), true, MinMaxFrameSize))
		<-started
	}
	c.send(AppendHeaderBlock(nil, 9, 0, c.get("/block"), true, MinMaxFrameSize))
	f := c.until("RST_STREAM on stream 9", func(f Frame) bool { return f.Type == FrameRSTStream })
	if code, _ := ParseRSTStream(f); f.StreamID != 9 || code != ErrCodeRefusedStream {
		t.Errorf("RST_STREAM stream %d %v, want stream 9 REFUSED_STREAM", f.StreamID, code)
	}
}

// TestWindowNeverOpens: a client that grants no window and sends nothing
// is let go after the idle timeout, and its handler ends.
func TestWindowNeverOpens(t *testing.T) {
	ts := startServer(t, testSite(t), func(s *Server) { s.IdleTimeout = 200 * time.Millisecond })
	c := dialRaw(t, ts.addr, Setting{SettingInitialWindowSize, 0})
	c.send(AppendHeaderBlock(nil, 1, 0, c.get("/big.bin"), true, MinMaxFrameSize))
	if code := c.goAway(); code != ErrCodeNo {
		t.Errorf("GOAWAY %v, want NO_ERROR (idle)", code)
	}
	testutil.WaitFor(t, "the connection to be closed", func() bool { return ts.web.Conns() == 0 })
}

// TestClientNeverReads: the write timeout ends a connection whose client
// stops reading.
func TestClientNeverReads(t *testing.T) {
	ts := startServer(t, testSite(t), func(s *Server) { s.WriteTimeout = 300 * time.Millisecond })
	c := dialRaw(t, ts.addr, Setting{SettingInitialWindowSize, MaxWindowSize})
	var b []byte
	b = AppendWindowUpdate(b, 0, MaxWindowSize-DefaultWindowSize)
	for i := range 20 {
		b = AppendHeaderBlock(b, uint32(2*i+1), 0, c.get("/stream/50000000"), true, MinMaxFrameSize)
	}
	c.send(b)
	testutil.WaitFor(t, "the connection to be closed", func() bool { return ts.web.Conns() == 0 })
	stillServes(t, ts)
}

// TestGracefulShutdown: Shutdown sends GOAWAY, lets the stream in flight
// finish, then returns.
func TestGracefulShutdown(t *testing.T) {
	h, release, started := blockingSite(t)
	ts := startServer(t, h, nil)
	c := dialRaw(t, ts.addr)
	c.send(AppendHeaderBlock(nil, 1, 0, c.get("/block"), true, MinMaxFrameSize))
	<-started
	done := make(chan error, 1)
	go func() { done <- ts.web.Shutdown(context.Background()) }()
	f := c.until("GOAWAY", func(f Frame) bool { return f.Type == FrameGoAway })
	g, _ := ParseGoAway(f)
	if g.Code != ErrCodeNo || g.LastStream != 1 {
		t.Errorf("GOAWAY last %d %v, want 1 NO_ERROR", g.LastStream, g.Code)
	}
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned (%v) with a stream in flight", err)
	default:
	}
	release()
	if s := c.response(1); s != "200" {
		t.Errorf("the stream in flight got %s", s)
	}
	body := c.until("END_STREAM on stream 1", func(f Frame) bool { return f.Type == FrameData && f.Flags.Has(FlagEndStream) })
	_ = body
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

// TestEarlyHints: a handler's 103 goes out before the final response.
func TestEarlyHints(t *testing.T) {
	ts := startServer(t, testSite(t), nil)
	c := dialRaw(t, ts.addr)
	c.send(AppendHeaderBlock(nil, 1, 0, c.get("/hints"), true, MinMaxFrameSize))
	var got []string
	for len(got) < 2 {
		f := c.until("HEADERS", func(f Frame) bool { return f.Type == FrameHeaders })
		h, _ := ParseHeaders(f)
		fields, err := c.dec.DecodeFull(h.Fragment)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, describe(fields))
	}
	if !strings.HasPrefix(got[0], ":status=103 link=</style.css>") || !strings.HasPrefix(got[1], ":status=200") || strings.Contains(got[1], "link=") {
		t.Errorf("heads %q, want 103 with the Link, then 200 without", got)
	}
}

func describe(fields []hpack.HeaderField) string {
	var b strings.Builder
	for i, f := range fields {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(f.Name + "=" + f.Value)
	}
	return b.String()
}

// TestIdleEvicted: at MaxConns, an HTTP/2 connection with no stream open
// makes room for a new client, as a parked HTTP/1.1 connection does; one
// with a stream in flight is spared.
func TestIdleEvicted(t *testing.T) {
	h, release, started := blockingSite(t)
	ts := startServerWeb(t, h, nil, func(s *web.Server) { s.MaxConns = 2; s.MaxConnsPerClient = -1 })
	busy := dialRaw(t, ts.addr)
	busy.send(AppendHeaderBlock(nil, 1, 0, busy.get("/block"), true, MinMaxFrameSize))
	<-started
	idle := dialRaw(t, ts.addr)
	idle.send(AppendHeaderBlock(nil, 1, 0, idle.get("/a.txt"), true, MinMaxFrameSize))
	if s := idle.response(1); s != "200" {
		t.Fatalf("idle client's request: %s", s)
	}
	idle.until("END_STREAM", func(f Frame) bool { return f.StreamID == 1 && f.Flags.Has(FlagEndStream) })
	// A third client comes: the idle HTTP/2 connection goes.
	stillServes(t, ts)
	for {
		if _, err := idle.readFrame(); err != nil {
			break // closed
		}
	}
	release()
	if s := busy.response(1); s != "200" {
		t.Errorf("the busy connection's stream: %s", s)
	}
}
