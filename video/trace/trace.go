// Package trace is a throughput trace: a link whose capacity changes over
// time, read from "seconds,kbps" lines, and the arithmetic both the DASH
// server's shaping and the rate-adaptation simulator do with it (how long a
// transfer started at a given instant takes), so that an experiment over
// HTTP and one in the simulator see the same link.
//
// A line "t,r" says that from t seconds on the link carries r kbit/s
// (1000 bit/s), until the next line's time. Times start at 0 and increase;
// the last line lasts as long as the step before it (uniformly sampled
// traces come out right), and the trace then repeats from 0, as Pensieve's
// and Mahimahi's traces do. Blank lines and lines starting with # are
// ignored. Capacity not used while the client is idle is lost: the trace
// runs on whether or not anyone sends.
package trace

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Limits of Parse.
const (
	MaxLines = 1_000_000
	MaxBytes = 32 << 20
	// MaxKbps is the highest rate a line may give (100 Gbit/s).
	MaxKbps = 100e6
)

// Trace is a parsed throughput trace. The zero value is not usable; make
// one with Parse or New.
type Trace struct {
	Name   string
	times  []float64 // start of each step, times[0] == 0
	rates  []float64 // bytes per second in each step
	period float64   // the trace repeats after this many seconds
	cum    []float64 // bytes carried from 0 to times[i]
	total  float64   // bytes carried in one period
}

// Step is one line of a trace.
type Step struct {
	Seconds float64
	Kbps    float64
}

// New makes a trace from steps (the same rules as Parse).
func New(name string, steps []Step) (*Trace, error) {
	if len(steps) == 0 {
		return nil, errors.New("trace: no steps")
	}
	if len(steps) > MaxLines {
		return nil, fmt.Errorf("trace: more than %d steps", MaxLines)
	}
	t := &Trace{Name: name}
	for i, s := range steps {
		if math.IsNaN(s.Seconds) || math.IsInf(s.Seconds, 0) || math.IsNaN(s.Kbps) || s.Kbps < 0 || s.Kbps > MaxKbps {
			return nil, fmt.Errorf("trace: step %d: bad values %v,%v", i+1, s.Seconds, s.Kbps)
		}
		if i == 0 && s.Seconds != 0 {
			return nil, fmt.Errorf("trace: the first step is at %v s, not 0", s.Seconds)
		}
		if i > 0 && s.Seconds <= steps[i-1].Seconds {
			return nil, fmt.Errorf("trace: step %d: time %v s does not increase", i+1, s.Seconds)
		}
		if s.Seconds > 1e7 {
			return nil, fmt.Errorf("trace: step %d: time %v s too large", i+1, s.Seconds)
		}
		t.times = append(t.times, s.Seconds)
		t.rates = append(t.rates, s.Kbps*125)
	}
	n := len(steps)
	if n == 1 {
		t.period = 1
	} else {
		t.period = t.times[n-1] + (t.times[n-1] - t.times[n-2])
	}
	t.cum = make([]float64, n)
	acc := 0.0
	for i := range n {
		t.cum[i] = acc
		end := t.period
		if i+1 < n {
			end = t.times[i+1]
		}
		acc += t.rates[i] * (end - t.times[i])
	}
	t.total = acc
	if t.total <= 0 {
		return nil, errors.New("trace: the link never carries anything")
	}
	return t, nil
}

// Constant is a trace of one rate.
func Constant(kbps float64) *Trace {
	t, err := New(strconv.FormatFloat(kbps, 'f', -1, 64)+"kbps", []Step{{0, kbps}})
	if err != nil {
		panic(err)
	}
	return t
}

// Parse reads "seconds,kbps" lines.
func Parse(r io.Reader, name string) (*Trace, error) {
	sc := bufio.NewScanner(io.LimitReader(r, MaxBytes+1))
	sc.Buffer(make([]byte, 4096), 4096)
	var steps []Step
	read := 0
	line := 0
	for sc.Scan() {
		line++
		read += len(sc.Bytes()) + 1
		if read > MaxBytes {
			return nil, fmt.Errorf("trace %s: larger than %d bytes", name, MaxBytes)
		}
		s := strings.TrimSpace(sc.Text())
		if s == "" || s[0] == '#' {
			continue
		}
		a, b, ok := strings.Cut(s, ",")
		if !ok || strings.Contains(b, ",") {
			return nil, fmt.Errorf("trace %s:%d: want seconds,kbps, got %q", name, line, s)
		}
		sec, err1 := strictFloat(strings.TrimSpace(a))
		kbps, err2 := strictFloat(strings.TrimSpace(b))
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("trace %s:%d: want two decimal numbers, got %q", name, line, s)
		}
		steps = append(steps, Step{sec, kbps})
		if len(steps) > MaxLines {
			return nil, fmt.Errorf("trace %s: more than %d lines", name, MaxLines)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("trace %s:%d: %w", name, line+1, err)
	}
	t, err := New(name, steps)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return t, nil
}

// strictFloat accepts plain decimals only: digits with an optional
// fraction, no sign, exponent, hex, Inf or NaN.
func strictFloat(s string) (float64, error) {
	if s == "" || len(s) > 32 {
		return 0, errors.New("bad number")
	}
	dot := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
		case c == '.' && !dot && i > 0 && i < len(s)-1:
			dot = true
		default:
			return 0, errors.New("bad number")
		}
	}
	return strconv.ParseFloat(s, 64)
}

// Steps returns the trace's lines.
func (t *Trace) Steps() []Step {
	out := make([]Step, len(t.times))
	for i := range t.times {
		out[i] = Step{t.times[i], t.rates[i] / 125}
	}
	return out
}

// Period is the trace's length in seconds: it repeats after that.
func (t *Trace) Period() float64 { return t.period }

// MeanKbps is the average rate over one period.
func (t *Trace) MeanKbps() float64 { return t.total / t.period / 125 }

// step finds the step holding time x in [0, period).
func (t *Trace) step(x float64) int {
	i := sort.SearchFloat64s(t.times, x)
	if i == len(t.times) || t.times[i] > x {
		i--
	}
	return max(i, 0)
}

// Kbps is the link's rate at time at (seconds, any value >= 0).
func (t *Trace) Kbps(at float64) float64 {
	_, x := t.wrap(at)
	return t.rates[t.step(x)] / 125
}

func (t *Trace) wrap(at float64) (float64, float64) {
	laps := math.Floor(at / t.period)
	x := at - laps*t.period
	if x >= t.period || x < 0 {
		x = 0
		laps++
	}
	return laps, x
}

// carried is the bytes the link carries from 0 to at.
func (t *Trace) carried(at float64) float64 {
	laps, x := t.wrap(at)
	i := t.step(x)
	return laps*t.total + t.cum[i] + t.rates[i]*(x-t.times[i])
}

// Bytes is what the link carries between from and to (seconds).
func (t *Trace) Bytes(from, to float64) float64 {
	if to <= from {
		return 0
	}
	return t.carried(to) - t.carried(from)
}

// Finish is when a transfer of n bytes that starts at from (seconds) ends,
// the link being its own.
func (t *Trace) Finish(from, n float64) float64 {
	if n <= 0 {
		return from
	}
	target := t.carried(from) + n
	laps := math.Floor(target / t.total)
	rem := target - laps*t.total
	if rem <= 0 && laps > 0 {
		laps--
		rem += t.total
	}
	// The earliest x with carried(x) == rem: at a step boundary when
	// one is hit exactly (before any steps of rate 0 that end there),
	// else inside the step before the first boundary past rem.
	var x float64
	i := sort.SearchFloat64s(t.cum, rem)
	if i < len(t.cum) && t.cum[i] == rem {
		for i > 0 && t.rates[i-1] == 0 {
			i--
		}
		x = t.times[i]
	} else {
		i--
		x = t.times[i] + (rem-t.cum[i])/t.rates[i]
	}
	end := laps*t.period + x
	return max(end, from)
}
