package dash

import (
	"bytes"
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/applayer/applayer/video/abr"
	"github.com/applayer/applayer/video/trace"
)

// fakePackage writes a presentation whose segment files hold no video:
// the player never decodes, so only their sizes matter. Sizes vary around
// the nominal bit rate, as an encoder's do.
func fakePackage(t *testing.T) (string, abr.Video) {
	t.Helper()
	dir := t.TempDir()
	pres := &Presentation{
		Duration: 20 * time.Second, SegmentDuration: 2 * time.Second, FrameRate: 24,
		Rungs: []Rung{{ID: "a", Bitrate: 200_000, Width: 320, Height: 180}, {ID: "b", Bitrate: 600_000, Width: 640, Height: 360}, {ID: "c", Bitrate: 1_800_000, Width: 1280, Height: 720}},
	}
	b, err := pres.StaticMPD().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, ManifestName), b, 0o644)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, r := range pres.Rungs {
		os.MkdirAll(filepath.Join(dir, r.ID), 0o755)
		os.WriteFile(filepath.Join(dir, r.ID, "init.mp4"), make([]byte, 800), 0o644)
		for i := 1; i <= 10; i++ {
			n := int(float64(r.Bitrate) / 8 * 2 * (0.8 + 0.4*rng.Float64()))
			name, _ := Expand(MediaTemplate, r.ID, uint64(i), 0, 0)
			os.WriteFile(filepath.Join(dir, name), bytes.Repeat([]byte{'x'}, n), 0o644)
		}
	}
	v, err := LoadVideo(dir)
	if err != nil {
		t.Fatal(err)
	}
	v.Init = []float64{800, 800, 800}
	return dir, v
}

// TestPlayerMatchesSimulator plays over HTTP through the shaping server,
// both on one fake clock, and expects what the simulator predicts for the
// same trace: the same choices and the same QoE, for every rule.
func TestPlayerMatchesSimulator(t *testing.T) {
	dir, video := fakePackage(t)
	tr, err := trace.Parse(strings.NewReader("0,1500\n6,300\n12,2500\n20,700\n26,4000\n"), "mixed")
	if err != nil {
		t.Fatal(err)
	}
	for _, rule := range abr.Rules() {
		t.Run(rule.Name(), func(t *testing.T) {
			clk := &fakeClock{t: time.Unix(1e9, 0)}
			s := &Server{Dir: dir, Throughput: tr, clock: clk.now, sleep: clk.sleep}
			addr := startServer(t, s)
			var progress bytes.Buffer
			p := &Player{Rule: rule, MaxBuffer: 10, Progress: &progress, clock: clk.now, sleep: clk.sleep}
			got, err := p.Play(context.Background(), "http://"+addr+"/"+ManifestName)
			if err != nil {
				t.Fatal(err)
			}
			want := abr.Simulate(rule, video, tr, abr.Config{MaxBuffer: 10, RTT: -1})
			if len(got.Steps) != len(want.Steps) {
				t.Fatalf("%d segments, want %d", len(got.Steps), len(want.Steps))
			}
			for i := range want.Steps {
				g, w := got.Steps[i], want.Steps[i]
				if g.Quality != w.Quality || math.Abs(g.End-w.End) > 1e-6 || g.Bytes != w.Bytes {
					t.Errorf("segment %d: over HTTP %+v, simulated %+v", i, g, w)
				}
			}
			if math.Abs(got.QoE-want.QoE) > 1e-6 || math.Abs(got.Rebuffer-want.Rebuffer) > 1e-6 || math.Abs(got.Startup-want.Startup) > 1e-6 {
				t.Errorf("QoE %v rebuffer %v startup %v over HTTP; simulated %v %v %v", got.QoE, got.Rebuffer, got.Startup, want.QoE, want.Rebuffer, want.Startup)
			}
			if n := strings.Count(progress.String(), "\n"); n != 10 {
				t.Errorf("%d progress lines, want 10:\n%s", n, progress.String())
			}
		})
	}
}

func TestPlayerErrors(t *testing.T) {
	dir, _ := fakePackage(t)
	s := &Server{Dir: dir}
	addr := startServer(t, s)
	for _, u := range []string{"https://" + addr + "/manifest.mpd", "http://" + addr + "/missing.mpd", "ftp://x/y", "http://" + addr + "/a/init.mp4"} {
		if _, err := (&Player{}).Play(context.Background(), u); err == nil {
			t.Errorf("Play(%s) succeeded", u)
		}
	}
	os.Remove(filepath.Join(dir, "c", "seg-00003.m4s"))
	if _, err := (&Player{Rule: abr.Rate{}}).Play(context.Background(), "http://"+addr+"/"+ManifestName); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("a missing segment: %v", err)
	}
}

// TestSimulateOverHTTP: the simulation mode learns the sizes with HEAD
// and predicts what abr.Simulate predicts from the files.
func TestSimulateOverHTTP(t *testing.T) {
	dir, video := fakePackage(t)
	addr := startServer(t, &Server{Dir: dir})
	tr := trace.Constant(900)
	got, err := (&Player{Rule: abr.BOLA{}}).Simulate(context.Background(), "http://"+addr+"/"+ManifestName, tr, abr.Config{Offset: 3})
	if err != nil {
		t.Fatal(err)
	}
	want := abr.Simulate(abr.BOLA{}, video, tr, abr.Config{Offset: 3})
	if got.QoE != want.QoE || len(got.Steps) != 10 || got.Steps[9] != want.Steps[9] {
		t.Errorf("over HTTP %+v\nfrom files %+v", got, want)
	}
}

// TestScoreSent: the server's view of a session of our player gives the
// player's own QoE (both start playback with the first segment).
func TestScoreSent(t *testing.T) {
	dir, _ := fakePackage(t)
	tr, _ := trace.Parse(strings.NewReader("0,900\n8,300\n14,2000\n"), "x")
	clk := &fakeClock{t: time.Unix(1e9, 0)}
	s := &Server{Dir: dir, Throughput: tr, clock: clk.now, sleep: clk.sleep}
	addr := startServer(t, s)
	p := &Player{Rule: abr.BBA{}, MaxBuffer: 12, clock: clk.now, sleep: clk.sleep}
	got, err := p.Play(context.Background(), "http://"+addr+"/"+ManifestName)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := ParseBytes(must(os.ReadFile(filepath.Join(dir, ManifestName))), Limits{})
	var sent []Sent
	s.mu.Lock()
	for _, l := range s.links {
		sent = append(sent, l.sent...)
	}
	s.mu.Unlock()
	score, err := ScoreSent(m, sent, "bba")
	if err != nil {
		t.Fatal(err)
	}
	// The player's clock starts before the init segments; the server's
	// score starts at the first media request.
	if math.Abs(score.QoE-got.QoE) > 1e-6 || math.Abs(score.Rebuffer-got.Rebuffer) > 1e-6 || score.Switches != got.Switches || len(score.Steps) != 10 {
		t.Errorf("server's score %+v\nplayer's %+v", score, got)
	}
}
