package dash

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/applayer/applayer/internal/peertest"
)

// tinyPackage packages a 4 s test clip in two small rungs of 1 s segments:
// enough to check what ffmpeg and our MPD make of it in a second or two.
func tinyPackage(t *testing.T) (string, *Presentation) {
	t.Helper()
	ffmpeg := peertest.Require(t, "ffmpeg", "ffmpeg")
	dir := t.TempDir()
	p := &Packager{
		FFmpeg: ffmpeg, TestDuration: 4 * time.Second, SegmentDuration: time.Second, FrameRate: 12,
		Preset: "ultrafast", Title: "tiny",
		Rungs: []Rung{{ID: "lo", Bitrate: 50_000, Height: 72}, {ID: "hi", Bitrate: 200_000, Height: 144}},
	}
	pres, err := p.Package(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return dir, pres
}

func TestPackage(t *testing.T) {
	dir, pres := tinyPackage(t)
	if pres.Duration != 4*time.Second || len(pres.Rungs) != 2 || pres.Rungs[1].Width != 256 || pres.Rungs[1].Codecs == "" {
		t.Fatalf("presentation %+v", pres)
	}
	b, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseBytes(b, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	ladder, err := m.Ladder()
	if err != nil {
		t.Fatal(err)
	}
	if len(ladder) != 2 {
		t.Fatalf("ladder %+v", ladder)
	}
	var sizes [2]int64
	for i, tr := range ladder {
		if tr.Segments != 4 {
			t.Errorf("%s: %d segments, want 4", tr.ID, tr.Segments)
		}
		for k := range tr.Segments {
			fi, err := os.Stat(filepath.Join(dir, tr.Media(k)))
			if err != nil {
				t.Fatal(err)
			}
			sizes[i] += fi.Size()
		}
		if _, err := os.Stat(filepath.Join(dir, tr.Init)); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(dir, tr.Media(tr.Segments))); err == nil {
			t.Errorf("%s: a segment past the end exists", tr.ID)
		}
	}
	if sizes[1] <= sizes[0] {
		t.Errorf("the higher rung is not bigger: %v", sizes)
	}
	if _, err := os.Stat(filepath.Join(dir, "lo", "ffmpeg.mpd")); err == nil {
		t.Error("ffmpeg's own manifest left behind")
	}
}

// TestFFprobeReadsSegments: ffprobe decodes each rung from our init segment
// and media segments, and ffmpeg's DASH demuxer plays our MPD.
func TestFFprobeReadsSegments(t *testing.T) {
	ffprobe := peertest.Require(t, "ffprobe", "ffmpeg")
	dir, pres := tinyPackage(t)
	m, err := ParseBytes(must(os.ReadFile(filepath.Join(dir, ManifestName))), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	ladder, _ := m.Ladder()
	for _, tr := range ladder {
		// A rung is its init segment followed by its media segments.
		whole := must(os.ReadFile(filepath.Join(dir, tr.Init)))
		for k := range tr.Segments {
			whole = append(whole, must(os.ReadFile(filepath.Join(dir, tr.Media(k))))...)
		}
		p := filepath.Join(t.TempDir(), tr.ID+".mp4")
		os.WriteFile(p, whole, 0o644)
		var out struct {
			Streams []struct {
				CodecName string `json:"codec_name"`
				Width     int    `json:"width"`
				Height    int    `json:"height"`
				Frames    string `json:"nb_read_frames"`
			} `json:"streams"`
		}
		probe(t, ffprobe, p, &out)
		if len(out.Streams) != 1 || out.Streams[0].CodecName != "h264" || out.Streams[0].Height != tr.Height || out.Streams[0].Width != tr.Width || out.Streams[0].Frames != "48" {
			t.Errorf("%s: ffprobe says %+v; want h264 %dx%d, 48 frames", tr.ID, out.Streams, tr.Width, tr.Height)
		}
	}
	// ffmpeg's DASH demuxer reads our MPD: one video stream per rung.
	var out struct {
		Streams []struct {
			Height int `json:"height"`
		} `json:"streams"`
	}
	probe(t, ffprobe, filepath.Join(dir, ManifestName), &out)
	if len(out.Streams) != len(pres.Rungs) {
		t.Errorf("ffprobe of the MPD: %+v", out.Streams)
	}
}

func probe(t *testing.T, ffprobe, path string, out any) {
	t.Helper()
	b, err := exec.Command(ffprobe, "-v", "error", "-count_frames", "-show_entries", "stream=codec_name,width,height,nb_read_frames", "-of", "json", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("ffprobe %s: %v\n%s", path, err, b)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
