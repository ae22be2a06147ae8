package dash

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/applayer/applayer/video/abr"
)

// ScoreSent scores a session from the server's side: from what the shaped
// link carried (GET /_dash/sent) it rebuilds which encoding each segment
// had and when its last byte arrived, and runs the same buffer model as
// the player (playback starts with the first segment, the buffer drains
// in real time, an empty one stalls). It needs nothing from the client,
// so dash.js in a browser and `dash play` are scored alike. A segment
// sent twice counts once, at its first delivery.
func ScoreSent(m *MPD, sent []Sent, rule string) (*abr.Result, error) {
	ladder, err := m.Ladder()
	if err != nil {
		return nil, err
	}
	type key struct{ q, i int }
	where := map[string]key{}
	for q, t := range ladder {
		for i := range t.Segments {
			where["/"+t.Media(i)] = key{q, i}
		}
	}
	byIndex := map[int]Sent{}
	quality := map[int]int{}
	for _, s := range sent {
		var k key
		found := false
		for p, kk := range where {
			if s.Path == p || strings.HasSuffix(s.Path, p) {
				k, found = kk, true
				break
			}
		}
		if !found {
			continue
		}
		if _, dup := byIndex[k.i]; dup {
			continue
		}
		byIndex[k.i], quality[k.i] = s, k.q
	}
	if len(byIndex) == 0 {
		return nil, fmt.Errorf("dash: no segment of the MPD among %d responses", len(sent))
	}
	idx := make([]int, 0, len(byIndex))
	for i := range byIndex {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	segSec := ladder[0].SegmentDuration.Seconds()
	res := &abr.Result{Rule: rule}
	t0 := byIndex[idx[0]].Asked
	buffer, last := 0.0, 0.0
	for n, i := range idx {
		s := byIndex[i]
		q := quality[i]
		d := math.Max(s.End-s.Asked, 1e-9)
		step := abr.Step{Index: i, Quality: q, Kbps: float64(ladder[q].Bandwidth) / 1000, Bytes: float64(s.Bytes),
			Request: s.Asked - t0, End: s.End - t0, Throughput: float64(s.Bytes) * 8 / 1000 / d}
		if n == 0 {
			res.Startup = s.End - t0
			buffer = segSec
		} else {
			elapsed := math.Max(s.End-last, 0)
			step.Rebuffer = math.Max(elapsed-buffer, 0)
			buffer = math.Max(buffer-elapsed, 0) + segSec
		}
		last = s.End
		step.Buffer = buffer
		res.Steps = append(res.Steps, step)
	}
	res.Summarize()
	return res, nil
}
