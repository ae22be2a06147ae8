package dash

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/applayer/applayer/video/abr"
)

// Track is one Representation of the video AdaptationSet, resolved for a
// player: where its segments are and how many there are.
type Track struct {
	ID        string
	Bandwidth int64 // bit/s
	Width     int
	Height    int
	// Init is the initialization segment's URL (relative to the MPD),
	// empty when there is none.
	Init string
	// SegmentDuration is the length of each media segment.
	SegmentDuration time.Duration
	// Segments is how many media segments the presentation has (static).
	Segments int

	template    string
	startNumber uint64
}

// Media is the URL (relative to the MPD) of media segment i, counting
// from 0.
func (t *Track) Media(i int) string {
	s, _ := expand(t.template, t.ID, t.startNumber+uint64(i), t.Bandwidth, 0)
	return s
}

// Ladder returns the Representations of the first video AdaptationSet of
// the first Period of a static MPD, by increasing bandwidth: the bit-rate
// ladder a rate-adaptation rule chooses from.
func (m *MPD) Ladder() ([]Track, error) {
	if m.Type == "dynamic" {
		return nil, errors.New("dash: a live MPD has no fixed ladder length")
	}
	if len(m.Periods) == 0 {
		return nil, errors.New("dash: no Period")
	}
	var as *AdaptationSet
	for i := range m.Periods[0].AdaptationSets {
		a := &m.Periods[0].AdaptationSets[i]
		mime := a.MimeType
		if mime == "" && len(a.Representations) > 0 {
			mime = a.Representations[0].MimeType
		}
		if a.ContentType == "video" || strings.HasPrefix(mime, "video/") {
			as = a
			break
		}
	}
	if as == nil {
		return nil, errors.New("dash: no video AdaptationSet")
	}
	var out []Track
	for i := range as.Representations {
		r := &as.Representations[i]
		st := as.Template(r)
		if st == nil {
			return nil, fmt.Errorf("dash: Representation %q has no SegmentTemplate", r.ID)
		}
		n, err := m.SegmentCount(st, Limits{})
		if err != nil {
			return nil, err
		}
		init := ""
		if st.Initialization != "" {
			init, _ = expand(st.Initialization, r.ID, 0, r.Bandwidth, 0)
		}
		start := st.StartNumber
		if start == 0 {
			start = 1 // §5.3.9.5.3: the default startNumber is 1
		}
		out = append(out, Track{
			ID: r.ID, Bandwidth: r.Bandwidth, Width: r.Width, Height: r.Height,
			Init: init, SegmentDuration: st.SegmentDuration(), Segments: n,
			template: st.Media, startNumber: start,
		})
	}
	slices.SortStableFunc(out, func(a, b Track) int {
		switch {
		case a.Bandwidth < b.Bandwidth:
			return -1
		case a.Bandwidth > b.Bandwidth:
			return 1
		}
		return 0
	})
	return out, nil
}

// LoadVideo reads a package directory's MPD and the sizes of its segment
// files: what the rate-adaptation simulator plays.
func LoadVideo(dir string) (abr.Video, error) {
	f, err := os.Open(filepath.Join(dir, ManifestName))
	if err != nil {
		return abr.Video{}, err
	}
	defer f.Close()
	m, err := Parse(f, Limits{})
	if err != nil {
		return abr.Video{}, err
	}
	ladder, err := m.Ladder()
	if err != nil {
		return abr.Video{}, err
	}
	v := abr.Video{SegmentSeconds: ladder[0].SegmentDuration.Seconds()}
	for _, tr := range ladder {
		v.Kbps = append(v.Kbps, float64(tr.Bandwidth)/1000)
	}
	n := ladder[0].Segments
	for i := range n {
		row := make([]float64, len(ladder))
		for q, tr := range ladder {
			fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(tr.Media(i))))
			if err != nil {
				return abr.Video{}, err
			}
			row[q] = float64(fi.Size())
		}
		v.Sizes = append(v.Sizes, row)
	}
	return v, nil
}
