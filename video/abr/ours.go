package abr

import "math"

// Ours is buffer-based at heart, as BBA is, and uses the throughput for
// the two things a buffer cannot tell: how fast to climb at the start,
// and when the link has fallen too far for the buffer to ride it out.
//
//  1. The base choice is BBA-0's map from buffer level to bit rate, with
//     its hysteresis (the reservoir and cushion of BBA).
//  2. Start-up (BBA-2's idea): until the buffer first falls, or the map
//     catches up, the choice may climb one rung per segment as long as
//     the forecast throughput carries the next rung with OursStartupMargin
//     to spare, so the buffer keeps growing while the bit rate rises.
//  3. Guard: the choice steps down while its segment, downloaded at the
//     forecast divided by OursDrop (the link falling during the download),
//     would not arrive before the buffer is down to OursReserve seconds.
//
// The forecast is the harmonic mean of the last five throughputs (robust
// to one fast outlier), and no more than the last one (a fall is believed
// at once). Until a throughput is known it takes the lowest rate.
type Ours struct{}

// Ours's parameters.
type oursParams struct {
	Window    int
	Reservoir float64
	Margin    float64 // follow the throughput up to forecast/Margin
	UpBuffer  float64 // ... once the buffer holds this much
	Drop      float64
	Reserve   float64
	LongWin   int
	LongCap   float64
}

var oursDefault = oursParams{Window: 5, Reservoir: 10, Margin: 1, UpBuffer: 12, Drop: 1, Reserve: 0}

func (Ours) Name() string { return "ours" }

// Forecast is Ours's throughput forecast (kbit/s) from the measured
// throughputs, oldest first.
func Forecast(tput []float64) float64 { return oursDefault.forecast(tput) }

func (p oursParams) forecast(tput []float64) float64 {
	if len(tput) == 0 {
		return 0
	}
	return math.Min(tput[len(tput)-1], harmonicLast(tput, p.Window))
}

func (Ours) Choose(s *State) int { return oursDefault.choose(s) }

func (p oursParams) choose(s *State) int {
	if len(s.Throughput) == 0 {
		return 0
	}
	c := p.forecast(s.Throughput)
	q := bba(s, p.Reservoir)
	if s.Buffer >= p.UpBuffer || !s.Playing {
		q = max(q, highestUnder(s.Kbps, c/p.Margin))
	}
	if p.LongCap > 0 {
		q = min(q, highestUnder(s.Kbps, p.LongCap*harmonicLast(s.Throughput, p.LongWin)))
	}
	// The guard's factor: how much the forecast has over-estimated lately.
	drop := 1.0
	for k := max(1, len(s.Throughput)-p.Window); k < len(s.Throughput); k++ {
		pred := p.forecast(s.Throughput[:k])
		drop = math.Max(drop, pred/s.Throughput[k])
	}
	drop = math.Min(drop, p.Drop)
	for p.Drop > 0 && q > 0 && s.Playing && s.Kbps[q]*s.SegmentSeconds*drop/c > s.Buffer-p.Reserve {
		q--
	}
	return q
}
