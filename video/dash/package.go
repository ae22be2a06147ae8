package dash

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/applayer/applayer/internal/atomicfile"
)

// ManifestName is the MPD's file name in a package directory.
const ManifestName = "manifest.mpd"

// Packaging defaults.
const (
	DefaultSegmentDuration = 4 * time.Second
	DefaultFrameRate       = 24
	DefaultTestDuration    = 60 * time.Second
	DefaultPreset          = "veryfast"
)

// DefaultLadder is the four-rung ladder of the bench content: 300, 750,
// 1500 and 3000 kbit/s from 180p to 720p.
var DefaultLadder = []Rung{
	{ID: "v300", Bitrate: 300_000, Height: 180},
	{ID: "v750", Bitrate: 750_000, Height: 360},
	{ID: "v1500", Bitrate: 1_500_000, Height: 540},
	{ID: "v3000", Bitrate: 3_000_000, Height: 720},
}

// Packager encodes a video into a bit-rate ladder of fragmented-MP4
// segments with ffmpeg and writes the presentation's MPD.
type Packager struct {
	// FFmpeg is the ffmpeg program (default "ffmpeg" on the PATH).
	FFmpeg string
	// Input is the video to package; empty makes a test clip (ffmpeg's
	// testsrc2 pattern with noise, so that the rungs differ in size).
	Input string
	// TestDuration is the test clip's length (default 60 s).
	TestDuration time.Duration
	// Rungs is the ladder (default DefaultLadder). A rung's Width may be
	// 0: the input's aspect ratio decides it.
	Rungs []Rung
	// SegmentDuration is each segment's length (default 4 s); every
	// segment starts with a key frame, at the same instant on every rung.
	SegmentDuration time.Duration
	// FrameRate is the output's frames per second (default 24).
	FrameRate int
	// Preset is x264's speed preset (default "veryfast").
	Preset string
	// Title goes into the MPD's ProgramInformation.
	Title string
	// Stderr receives ffmpeg's messages (default: kept and shown on failure).
	Stderr io.Writer
}

// Package writes the presentation into dir: manifest.mpd and, per rung,
// ID/init.mp4 and ID/seg-NNNNN.m4s. It returns the presentation written.
func (p *Packager) Package(ctx context.Context, dir string) (*Presentation, error) {
	ffmpeg := cmp.Or(p.FFmpeg, "ffmpeg")
	segDur := cmp.Or(p.SegmentDuration, DefaultSegmentDuration)
	fps := cmp.Or(p.FrameRate, DefaultFrameRate)
	rungs := p.Rungs
	if len(rungs) == 0 {
		rungs = DefaultLadder
	}
	if segDur < 100*time.Millisecond || (segDur*time.Duration(fps))%time.Second != 0 {
		return nil, fmt.Errorf("dash: segment duration %v is not a whole number of frames at %d fps", segDur, fps)
	}
	ids := map[string]bool{}
	for _, r := range rungs {
		if r.ID == "" || strings.ContainsAny(r.ID, "/\\ $.") || ids[r.ID] {
			return nil, fmt.Errorf("dash: bad or repeated rung id %q", r.ID)
		}
		ids[r.ID] = true
		if r.Bitrate < 10_000 || r.Height < 16 || r.Height%2 != 0 || r.Width%2 != 0 {
			return nil, fmt.Errorf("dash: rung %s: bit rate %d or size %dx%d out of range (even sizes, at least 16 high, 10 kbit/s)", r.ID, r.Bitrate, r.Width, r.Height)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	gop := int(segDur * time.Duration(fps) / time.Second)
	var args []string
	args = append(args, "-hide_banner", "-nostdin", "-loglevel", "error", "-y")
	if p.Input == "" {
		maxH := 0
		for _, r := range rungs {
			maxH = max(maxH, r.Height)
		}
		w, h := (maxH*16/9+1)&^1, maxH
		d := cmp.Or(p.TestDuration, DefaultTestDuration)
		args = append(args, "-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%dx%d:rate=%d:duration=%s", w, h, fps, seconds(d)))
	} else {
		args = append(args, "-i", p.Input)
	}
	var filter strings.Builder
	fmt.Fprintf(&filter, "[0:v]fps=%d", fps)
	if p.Input == "" {
		filter.WriteString(",noise=alls=12:allf=t")
	}
	fmt.Fprintf(&filter, ",split=%d", len(rungs))
	for i := range rungs {
		fmt.Fprintf(&filter, "[s%d]", i)
	}
	for i, r := range rungs {
		w := r.Width
		if w == 0 {
			w = -2
		}
		fmt.Fprintf(&filter, ";[s%d]scale=%d:%d,setsar=1[o%d]", i, w, r.Height, i)
	}
	args = append(args, "-filter_complex", filter.String())
	for i, r := range rungs {
		br := strconv.FormatInt(r.Bitrate, 10)
		if err := os.MkdirAll(filepath.Join(dir, r.ID), 0o755); err != nil {
			return nil, err
		}
		// Clear the segments of an earlier run, so no stale one remains.
		old, _ := filepath.Glob(filepath.Join(dir, r.ID, "seg-*.m4s"))
		for _, f := range old {
			os.Remove(f)
		}
		args = append(args,
			"-map", fmt.Sprintf("[o%d]", i), "-an", "-sn",
			"-c:v", "libx264", "-preset", cmp.Or(p.Preset, DefaultPreset), "-pix_fmt", "yuv420p",
			"-b:v", br, "-maxrate", br, "-bufsize", strconv.FormatInt(2*r.Bitrate, 10),
			"-g", strconv.Itoa(gop), "-keyint_min", strconv.Itoa(gop), "-sc_threshold", "0",
			"-f", "dash", "-seg_duration", seconds(segDur), "-use_template", "1", "-use_timeline", "0",
			"-init_seg_name", "init.mp4", "-media_seg_name", "seg-$Number%05d$.m4s",
			filepath.Join(dir, r.ID, "ffmpeg.mpd"))
	}
	cmd := exec.CommandContext(ctx, ffmpeg, args...)
	var errBuf bytes.Buffer
	cmd.Stderr = &errBuf
	if p.Stderr != nil {
		cmd.Stderr = p.Stderr
	}
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("dash: %s: %v: %s", ffmpeg, err, strings.TrimSpace(errBuf.String()))
	}
	// ffmpeg's own manifest of each rung tells what it wrote: the
	// codecs string, the size and the duration. Ours replaces them.
	pres := &Presentation{Title: p.Title, SegmentDuration: segDur, FrameRate: fps}
	for _, r := range rungs {
		mpath := filepath.Join(dir, r.ID, "ffmpeg.mpd")
		b, err := os.ReadFile(mpath)
		if err != nil {
			return nil, err
		}
		fm, err := ParseBytes(b, Limits{})
		if err != nil {
			return nil, fmt.Errorf("dash: ffmpeg's manifest for %s: %w", r.ID, err)
		}
		os.Remove(mpath)
		l, err := fm.Ladder()
		if err != nil || len(l) != 1 {
			return nil, fmt.Errorf("dash: ffmpeg's manifest for %s: one video Representation expected (%v)", r.ID, err)
		}
		fr := fm.Periods[0].AdaptationSets[0].Representations[0]
		got := r
		got.Width, got.Height, got.Codecs = fr.Width, fr.Height, fr.Codecs
		pres.Rungs = append(pres.Rungs, got)
		d := time.Duration(fm.MediaPresentationDuration)
		if pres.Duration == 0 || d < pres.Duration {
			pres.Duration = d
		}
		if l[0].SegmentDuration != segDur {
			return nil, fmt.Errorf("dash: ffmpeg cut %s into %v segments, not %v", r.ID, l[0].SegmentDuration, segDur)
		}
	}
	if pres.Duration <= 0 {
		return nil, errors.New("dash: ffmpeg wrote an empty presentation")
	}
	m := pres.StaticMPD()
	b, err := m.Marshal()
	if err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, ManifestName), b, 0o644); err != nil {
		return nil, err
	}
	return pres, nil
}

func seconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) }
