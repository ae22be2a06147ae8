package abr

import (
	"cmp"
	"math"

	"github.com/applayer/applayer/video/trace"
)

// RebufferPenalty is QoE_lin's price of a second of rebuffering, in
// Mbit/s (Pensieve's 4.3, the highest bit rate of its ladder).
const RebufferPenalty = 4.3

// Simulator defaults.
const (
	DefaultMaxBuffer = 30.0 // seconds
	DefaultRTT       = 0.08 // seconds, Pensieve's and the bench's
)

// Video is what the simulator plays: the ladder and every segment's size.
type Video struct {
	Kbps           []float64
	SegmentSeconds float64
	// Sizes[i][q] is segment i's size in bytes at encoding q.
	Sizes [][]float64
	// Init, when set, is each encoding's initialization segment size: a
	// player fetches them all, one request each, before the first
	// segment.
	Init []float64
}

// Nominal is a video of n segments whose sizes are exactly their nominal
// bit rate times their length.
func Nominal(kbps []float64, segmentSeconds float64, n int) Video {
	v := Video{Kbps: kbps, SegmentSeconds: segmentSeconds}
	for range n {
		row := make([]float64, len(kbps))
		for q, r := range kbps {
			row[q] = r * 125 * segmentSeconds
		}
		v.Sizes = append(v.Sizes, row)
	}
	return v
}

// Loop is v played k times over.
func (v Video) Loop(k int) Video {
	out := v
	out.Sizes = nil
	for range k {
		out.Sizes = append(out.Sizes, v.Sizes...)
	}
	return out
}

// Config is a simulated session's setting.
type Config struct {
	// MaxBuffer is the most the player buffers (default 30 s): it waits
	// before a request that would exceed it.
	MaxBuffer float64
	// RTT is the time from request to first byte (default 0.08 s;
	// negative: none).
	RTT float64
	// Offset is where in the trace the session starts, in seconds.
	Offset float64
}

// Step is one segment's download.
type Step struct {
	Index   int     `json:"index"`
	Quality int     `json:"quality"`
	Kbps    float64 `json:"kbps"`  // the encoding's nominal rate
	Bytes   float64 `json:"bytes"` // the segment's size
	// Request and End are when the request left and the last byte
	// came, in seconds from the start of the session.
	Request float64 `json:"request"`
	End     float64 `json:"end"`
	// Throughput is the download's rate as the player measures it.
	Throughput float64 `json:"throughput_kbps"`
	// LinkKbps is the trace's rate when the request left (0 when unknown).
	LinkKbps float64 `json:"link_kbps"`
	// Buffer is the buffer after the segment arrived, in seconds.
	Buffer float64 `json:"buffer"`
	// Rebuffer is the stall while this segment downloaded, in seconds.
	Rebuffer float64 `json:"rebuffer"`
}

// Result is a session's outcome and its quality of experience.
type Result struct {
	Rule    string  `json:"rule"`
	Trace   string  `json:"trace"`
	Offset  float64 `json:"offset"`
	Steps   []Step  `json:"steps"`
	Startup float64 `json:"startup_s"` // until the first segment arrived
	// Rebuffer is the total stall after playback started, in seconds.
	Rebuffer float64 `json:"rebuffer_s"`
	AvgKbps  float64 `json:"avg_kbps"`
	Switches int     `json:"switches"`
	// QoE is QoE_lin (see the package comment).
	QoE float64 `json:"qoe_lin"`
}

// Summarize fills in a Result's totals from its Steps and Startup.
func (r *Result) Summarize() {
	r.Rebuffer, r.AvgKbps, r.Switches = 0, 0, 0
	kbps := make([]float64, len(r.Steps))
	for i, s := range r.Steps {
		r.Rebuffer += s.Rebuffer
		r.AvgKbps += s.Kbps
		kbps[i] = s.Kbps
		if i > 0 && s.Quality != r.Steps[i-1].Quality {
			r.Switches++
		}
	}
	if len(r.Steps) > 0 {
		r.AvgKbps /= float64(len(r.Steps))
	}
	r.QoE = QoE(kbps, r.Rebuffer)
}

// QoE is QoE_lin of a session: the segments' bit rates (kbit/s) in order
// and the seconds of rebuffering.
func QoE(kbps []float64, rebuffer float64) float64 {
	q := 0.0
	for i, r := range kbps {
		q += r / 1000
		if i > 0 {
			q -= math.Abs(r-kbps[i-1]) / 1000
		}
	}
	return q - RebufferPenalty*rebuffer
}

// Simulate plays v over tr with rule, in simulated time: each request
// waits RTT for its first byte and then takes what the trace gives
// (trace.Finish), while the buffer drains once playback has started
// (after the first segment). The same inputs give the same Result.
func Simulate(rule Rule, v Video, tr *trace.Trace, cfg Config) Result {
	maxBuf := cmp.Or(cfg.MaxBuffer, DefaultMaxBuffer)
	rtt := cfg.RTT
	if rtt == 0 {
		rtt = DefaultRTT
	}
	rtt = math.Max(rtt, 0)
	res := Result{Rule: rule.Name(), Trace: tr.Name, Offset: cfg.Offset}
	st := State{Kbps: v.Kbps, SegmentSeconds: v.SegmentSeconds, Segments: len(v.Sizes), MaxBuffer: maxBuf, Last: -1}
	now := 0.0 // seconds since the session started
	for _, size := range v.Init {
		now = tr.Finish(cfg.Offset+now+rtt, size) - cfg.Offset
	}
	for i := range v.Sizes {
		// Wait for room for one more segment.
		if st.Playing && st.Buffer+v.SegmentSeconds > maxBuf {
			w := st.Buffer + v.SegmentSeconds - maxBuf
			now += w
			st.Buffer -= w
		}
		st.Index = i
		q := rule.Choose(&st)
		q = min(max(q, 0), len(v.Kbps)-1)
		size := v.Sizes[i][q]
		end := tr.Finish(cfg.Offset+now+rtt, size) - cfg.Offset
		d := end - now
		step := Step{Index: i, Quality: q, Kbps: v.Kbps[q], Bytes: size, Request: now, End: end,
			Throughput: size * 8 / 1000 / d, LinkKbps: tr.Kbps(cfg.Offset + now)}
		if st.Playing {
			step.Rebuffer = math.Max(d-st.Buffer, 0)
			st.Buffer = math.Max(st.Buffer-d, 0) + v.SegmentSeconds
		} else {
			res.Startup = end
			st.Buffer = v.SegmentSeconds
			st.Playing = true
		}
		step.Buffer = st.Buffer
		now = end
		st.Throughput = append(st.Throughput, step.Throughput)
		st.Last = q
		st.Qualities = append(st.Qualities, q)
		res.Steps = append(res.Steps, step)
	}
	res.Summarize()
	return res
}
