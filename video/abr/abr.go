// Package abr holds rate-adaptation rules for DASH players (the textbook's
// section 2.6.2: the client measures its bandwidth and picks the encoding
// of the next chunk) and a simulator that plays a video over a throughput
// trace without real time.
//
// A rule is a pure function of the player's State (the ladder, the buffer,
// the throughputs measured so far and the last choice): the same State
// gives the same choice, so rules are tested with exact expectations, and
// the simulator and the real player (video/dash) drive them alike.
//
// The rules:
//
//   - rate: the throughput rule (dash.js ThroughputRule): the highest
//     bit rate under 0.9 of the mean of the last four throughputs.
//   - bba: BBA-0 (Huang et al., "A buffer-based approach to rate
//     adaptation", SIGCOMM 2014): a reservoir, a cushion and a linear map
//     from buffer level to bit rate, with the paper's hysteresis.
//   - bola: BOLA-BASIC with dash.js's parameters (Spiteri et al., INFOCOM
//     2016; dash.js BolaRule): logarithmic utilities, a 10 s minimum
//     buffer, and BOLA-O's cap against oscillation.
//   - ours: a model-predictive rule (in the manner of MPC, Yin et al.,
//     SIGCOMM 2015) that plans the next segments to maximise the QoE_lin
//     it will be scored on, against a throughput forecast discounted by
//     its own recent errors, with a buffer safety margin; see Ours.
//
// QoE_lin is Pensieve's linear metric (Mao et al., SIGCOMM 2017): the sum
// of the segments' bit rates in Mbit/s, less 4.3 times the seconds of
// rebuffering, less the sum of the changes of bit rate between successive
// segments.
package abr

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// State is what a rule sees before choosing the next segment's encoding.
type State struct {
	// Kbps is the ladder's nominal bit rates, increasing.
	Kbps []float64
	// SegmentSeconds is the length of a segment.
	SegmentSeconds float64
	// Index is the next segment (from 0) and Segments how many there are.
	Index, Segments int
	// Buffer is the video buffered ahead of the playhead, in seconds.
	Buffer float64
	// MaxBuffer is the most the player buffers, in seconds.
	MaxBuffer float64
	// Last is the previous segment's encoding, -1 for the first.
	Last int
	// Qualities is the encoding of each earlier segment, oldest first.
	Qualities []int
	// Throughput is the measured rate of each earlier download, in
	// kbit/s (segment bits over the time from request to last byte),
	// oldest first.
	Throughput []float64
	// Playing is false until playback has started.
	Playing bool
}

// A Rule picks the next segment's encoding, an index into State.Kbps.
type Rule interface {
	Name() string
	Choose(s *State) int
}

// Rules are the rules by name.
func Rules() []Rule {
	return []Rule{Rate{}, BBA{}, BOLA{}, Ours{}}
}

// Names lists the rules' names, for flags.
func Names() string {
	var n []string
	for _, r := range Rules() {
		n = append(n, r.Name())
	}
	return strings.Join(n, ", ")
}

// ByName returns the rule called name.
func ByName(name string) (Rule, error) {
	for _, r := range Rules() {
		if r.Name() == name {
			return r, nil
		}
	}
	return nil, fmt.Errorf("abr: no rule %q (rules: %s)", name, Names())
}

// highestUnder is the highest encoding whose bit rate is at most kbps, the
// lowest if none is.
func highestUnder(ladder []float64, kbps float64) int {
	q := 0
	for i, r := range ladder {
		if r <= kbps {
			q = i
		}
	}
	return q
}

// meanLast is the arithmetic mean of the last n samples (all if fewer).
func meanLast(x []float64, n int) float64 {
	if len(x) == 0 {
		return 0
	}
	x = x[max(0, len(x)-n):]
	sum := 0.0
	for _, v := range x {
		sum += v
	}
	return sum / float64(len(x))
}

// harmonicLast is the harmonic mean of the last n samples.
func harmonicLast(x []float64, n int) float64 {
	if len(x) == 0 {
		return 0
	}
	x = x[max(0, len(x)-n):]
	sum := 0.0
	for _, v := range x {
		sum += 1 / math.Max(v, 1e-9)
	}
	return float64(len(x)) / sum
}

// Rate is the throughput rule: the highest bit rate at most Safety (0.9)
// times the mean of the last Window (4) throughputs; the lowest until a
// throughput is known.
type Rate struct{}

// Rate's parameters (dash.js ThroughputRule's window and safety factor).
const (
	RateWindow = 4
	RateSafety = 0.9
)

func (Rate) Name() string { return "rate" }

func (Rate) Choose(s *State) int {
	if len(s.Throughput) == 0 {
		return 0
	}
	return highestUnder(s.Kbps, RateSafety*meanLast(s.Throughput, RateWindow))
}

// BBA is BBA-0: below the reservoir the lowest rate, above reservoir +
// cushion the highest, in between a linear map f(B) from the lowest to the
// highest rate; the choice moves up only when f(B) reaches the next rate
// up, down only when it falls to the next rate down.
type BBA struct{}

// BBA's parameters: the reservoir, and the top of the cushion as a
// fraction of the maximum buffer (the upper reservoir is the rest).
const (
	BBAReservoir = 3.0
	BBACushionTo = 0.9
)

func (BBA) Name() string { return "bba" }

func (BBA) Choose(s *State) int { return bba(s, BBAReservoir) }

func bba(s *State, r float64) int {
	n := len(s.Kbps)
	lo, hi := s.Kbps[0], s.Kbps[n-1]
	top := math.Max(BBACushionTo*(s.MaxBuffer-s.SegmentSeconds), r+s.SegmentSeconds)
	b := s.Buffer
	prev := max(s.Last, 0)
	switch {
	case b <= r:
		return 0
	case b >= top:
		return n - 1
	}
	f := lo + (hi-lo)*(b-r)/(top-r)
	up, down := min(prev+1, n-1), max(prev-1, 0)
	switch {
	case f >= s.Kbps[up] && up != prev:
		// the highest rate below f(B)
		q := 0
		for i, v := range s.Kbps {
			if v < f {
				q = i
			}
		}
		return q
	case f <= s.Kbps[down] && down != prev:
		// the lowest rate above f(B)
		for i, v := range s.Kbps {
			if v > f {
				return i
			}
		}
		return n - 1
	}
	return prev
}

// BOLA is BOLA-BASIC as dash.js's BolaRule sets it up: utilities
// ln(R_i/R_0)+1, a minimum buffer of 10 s, a buffer target of
// max(12 s, 10 s + 2 s per rung), and, once playing, BOLA-O: a step up is
// capped at what the throughput (0.9 of the mean of the last four)
// sustains, never below the last choice. Before the first throughput is
// known it chooses the lowest rate; until playback starts, the throughput
// rule's choice (dash.js's startup state).
type BOLA struct{}

// BOLA's parameters (dash.js MINIMUM_BUFFER_S,
// MINIMUM_BUFFER_PER_BITRATE_LEVEL_S, stableBufferTime).
const (
	BOLAMinBuffer         = 10.0
	BOLAMinBufferPerLevel = 2.0
	BOLAStableBuffer      = 12.0
)

func (BOLA) Name() string { return "bola" }

func (BOLA) Choose(s *State) int {
	if len(s.Throughput) == 0 {
		return 0
	}
	safe := highestUnder(s.Kbps, RateSafety*meanLast(s.Throughput, RateWindow))
	if !s.Playing {
		return safe
	}
	n := len(s.Kbps)
	if n == 1 {
		return 0
	}
	util := make([]float64, n)
	for i, r := range s.Kbps {
		util[i] = math.Log(r/s.Kbps[0]) + 1
	}
	target := math.Max(BOLAStableBuffer, BOLAMinBuffer+BOLAMinBufferPerLevel*float64(n))
	gp := (util[n-1] - 1) / (target/BOLAMinBuffer - 1)
	vp := BOLAMinBuffer / gp
	q, best := 0, math.Inf(-1)
	for i := range n {
		score := (vp*(util[i]+gp) - s.Buffer) / s.Kbps[i]
		if score >= best {
			q, best = i, score
		}
	}
	if s.Last >= 0 && q > s.Last && q > safe {
		q = max(safe, s.Last)
	}
	return q
}

// Sorted reports whether a ladder is usable: increasing positive rates.
func Sorted(kbps []float64) bool {
	return len(kbps) > 0 && kbps[0] > 0 && slices.IsSorted(kbps) && !slices.ContainsFunc(kbps[1:], func(v float64) bool { return v == kbps[0] })
}
