package http2

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/applayer/applayer/internal/peertest"
	"github.com/applayer/applayer/web"
)

// pushSite serves a page that references two objects on its origin and
// one elsewhere, through LinkPreloads.
func pushSite(t testing.TB) web.Handler {
	dir := t.TempDir()
	files := map[string]string{
		"page.html": `<html><head><link rel=stylesheet href="/style.css"></head><body><img src="img/a.png"><img src="http://elsewhere.example/x.png"></body></html>`,
		"style.css": "body{color:red}",
		"img/a.png": strings.Repeat("P", 3000),
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fsrv, err := web.NewFileServer(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fsrv.Close() })
	return LinkPreloads(fsrv)
}

func TestPushPromise(t *testing.T) {
	ts := startServer(t, pushSite(t), func(s *Server) { s.PushPreload = true })
	c := dialRaw(t, ts.addr)
	c.send(AppendHeaderBlock(nil, 1, 0, c.get("/page.html"), true, MinMaxFrameSize))
	var promised []string
	var heads []string
	ended := map[uint32]bool{}
	for len(ended) < 3 {
		f, err := c.readFrame()
		if err != nil {
			t.Fatalf("connection ended (%v); promised %v, ended %v", err, promised, ended)
		}
		switch f.Type {
		case FramePushPromise:
			pp, err := ParsePushPromise(f)
			if err != nil || f.StreamID != 1 {
				t.Fatalf("PUSH_PROMISE on stream %d: %v", f.StreamID, err)
			}
			fields, err := c.dec.DecodeFull(pp.Fragment)
			if err != nil {
				t.Fatal(err)
			}
			promised = append(promised, itoa(pp.Promised)+" "+describe(fields))
		case FrameHeaders:
			h, _ := ParseHeaders(f)
			fields, err := c.dec.DecodeFull(h.Fragment)
			if err != nil {
				t.Fatal(err)
			}
			heads = append(heads, itoa(f.StreamID)+" "+fields[0].Value)
			if f.Flags.Has(FlagEndStream) {
				ended[f.StreamID] = true
			}
		case FrameData:
			if f.Flags.Has(FlagEndStream) {
				ended[f.StreamID] = true
			}
		}
	}
	want := []string{
		"2 :method=GET :scheme=http :authority=x :path=/style.css",
		"4 :method=GET :scheme=http :authority=x :path=/img/a.png",
	}
	if !slices.Equal(promised, want) {
		t.Errorf("promises %q, want %q", promised, want)
	}
	slices.Sort(heads)
	if want := []string{"1 103", "1 200", "2 200", "4 200"}; !slices.Equal(heads, want) {
		t.Errorf("response heads %q, want %q", heads, want)
	}
	if !ended[2] || !ended[4] || !ended[1] {
		t.Errorf("streams ended: %v", ended)
	}
}

// TestNoPushWhenDisabled: a client that says SETTINGS_ENABLE_PUSH=0 gets
// no PUSH_PROMISE.
func TestNoPushWhenDisabled(t *testing.T) {
	ts := startServer(t, pushSite(t), func(s *Server) { s.PushPreload = true })
	c := dialRaw(t, ts.addr, Setting{SettingEnablePush, 0})
	c.send(AppendHeaderBlock(nil, 1, 0, c.get("/page.html"), true, MinMaxFrameSize))
	c.until("the page's END_STREAM", func(f Frame) bool {
		if f.Type == FramePushPromise {
			t.Fatal("PUSH_PROMISE to a client that disabled push")
		}
		return f.StreamID == 1 && f.Flags.Has(FlagEndStream) && (f.Type == FrameData || f.Type == FrameHeaders)
	})
}

func TestNghttpPush(t *testing.T) {
	nghttp := peertest.Require(t, "nghttp", "nghttp2-client")
	ts := startServer(t, pushSite(t), func(s *Server) { s.PushPreload = true })
	out, err := exec.Command(nghttp, "-nv", "-t", "20", "http://"+ts.addr+"/page.html").CombinedOutput()
	if err != nil {
		t.Fatalf("nghttp: %v\n%s", err, out)
	}
	s := string(out)
	if strings.Count(s, "recv PUSH_PROMISE frame") != 2 || !strings.Contains(s, ":path: /style.css") || !strings.Contains(s, ":path: /img/a.png") {
		t.Errorf("nghttp saw no two PUSH_PROMISEs for /style.css and /img/a.png:\n%s", s)
	}
	if !strings.Contains(s, "recv DATA frame <length=3000, flags=0x01, stream_id=4>") {
		t.Errorf("the pushed image's DATA is missing:\n%s", s)
	}
}
