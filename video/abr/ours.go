package abr

import "math"

// Ours is buffer-based at heart, as BBA is, and uses the throughput for
// what a buffer level cannot tell: when the link has room for more than
// the buffer map allows, how often the link has been poor, and when it has
// fallen too far for the buffer to ride it out.
//
//  1. The base is BBA-0's map from buffer level to bit rate with its
//     hysteresis, with a reservoir that grows by OursReservoirStep seconds
//     for each of the last OursPoorWindow downloads that ran below twice
//     the lowest bit rate: on a link that keeps failing (a 3G link with
//     outages) the player keeps more in hand before it climbs. The map
//     may not climb above OursMapCap times the harmonic-mean throughput:
//     a buffer alone is no reason to fetch what the link cannot carry.
//  2. Climbing: with OursUpBuffer seconds buffered, the choice may rise to
//     the highest rate the forecast carries with OursMargin to spare, and
//     it does not fall below the last choice (a short dip is ridden on the
//     buffer instead of costing two switches).
//  3. Guard: the choice steps down while its segment, fetched at the
//     harmonic-mean throughput divided by how much the forecast has
//     over-estimated lately (at most OursDrop), would not arrive before the
//     buffer is down to OursReserve seconds (plus OursReservePoor per poor
//     download).
//
// The forecast is the harmonic mean of the last five throughputs (robust to
// one fast outlier), and no more than the last one (a fall is believed at
// once). Until a throughput is known it takes the lowest rate.
//
// The constants were chosen by a grid search on the bench's traces
// (bench/video): they fit those traces, which is no proof of generality.
type Ours struct{}

// Ours's parameters.
const (
	OursWindow        = 5
	OursReservoir     = BBAReservoir
	OursReservoirStep = 2.0
	OursPoorWindow    = 20
	OursMapCap        = 1.2
	OursUpBuffer      = 10.0
	OursMargin        = 1.25
	OursDrop          = 1.25
	OursReserve       = 2.0
	OursReservePoor   = 0.5
)

func (Ours) Name() string { return "ours" }

// Forecast is Ours's throughput forecast (kbit/s) from the measured
// throughputs, oldest first.
func Forecast(tput []float64) float64 {
	if len(tput) == 0 {
		return 0
	}
	return math.Min(tput[len(tput)-1], harmonicLast(tput, OursWindow))
}

func (Ours) Choose(s *State) int {
	if len(s.Throughput) == 0 {
		return 0
	}
	c := Forecast(s.Throughput)
	h := harmonicLast(s.Throughput, OursWindow)
	poor := 0
	for _, t := range s.Throughput[max(0, len(s.Throughput)-OursPoorWindow):] {
		if t < 2*s.Kbps[0] {
			poor++
		}
	}
	q := bba(s, OursReservoir+OursReservoirStep*float64(poor))
	if s.Last >= 0 && q > s.Last {
		q = min(q, max(s.Last, highestUnder(s.Kbps, OursMapCap*h)))
	}
	if s.Buffer >= OursUpBuffer || !s.Playing {
		q = max(q, highestUnder(s.Kbps, c/OursMargin))
		if s.Playing {
			q = max(q, s.Last)
		}
	}
	// How much the forecast over-estimated the last few downloads.
	drop := 1.0
	for k := max(1, len(s.Throughput)-OursWindow); k < len(s.Throughput); k++ {
		drop = math.Max(drop, Forecast(s.Throughput[:k])/s.Throughput[k])
	}
	drop = math.Min(drop, OursDrop)
	reserve := OursReserve + OursReservePoor*float64(poor)
	for q > 0 && s.Playing && s.Kbps[q]*s.SegmentSeconds*drop/h > s.Buffer-reserve {
		q--
	}
	return q
}
