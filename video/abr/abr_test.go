package abr

import (
	"math"
	"strings"
	"testing"

	"github.com/applayer/applayer/video/trace"
)

var ladder = []float64{300, 750, 1500, 3000}

func state(buffer float64, last int, tput ...float64) *State {
	return &State{Kbps: ladder, SegmentSeconds: 4, Index: len(tput), Segments: 60, Buffer: buffer, MaxBuffer: 30, Last: last, Throughput: tput, Playing: len(tput) > 0}
}

func TestRate(t *testing.T) {
	for _, tc := range []struct {
		s    *State
		want int
	}{
		{state(0, -1), 0},                                  // nothing measured yet
		{state(4, 0, 1000), 1},                             // 0.9 x 1000 = 900: 750
		{state(4, 0, 3333.3), 2},                           // 2999.97 < 3000
		{state(4, 0, 3333.4), 3},                           // 3000.06
		{state(4, 3, 4000, 4000, 4000, 100, 5000), 2},      // mean of the last four 3275, x 0.9 = 2947.5
		{state(4, 3, 100, 9000, 9000, 9000, 9000, 300), 3}, // the oldest is out of the window: 6825 x 0.9
		{state(4, 3, 200), 0},                              // below the lowest: the lowest
	} {
		if got := (Rate{}).Choose(tc.s); got != tc.want {
			t.Errorf("rate(buffer %v, tput %v) = %d, want %d", tc.s.Buffer, tc.s.Throughput, got, tc.want)
		}
	}
}

func TestBBA(t *testing.T) {
	// Reservoir 3 s, cushion to 0.9 x (30 - 4) = 23.4 s:
	// f(B) = 300 + 2700 (B - 3) / 20.4.
	for _, tc := range []struct {
		buffer float64
		last   int
		want   int
	}{
		{2, 3, 0},     // in the reservoir
		{3, 2, 0},     // at its edge
		{24, 0, 3},    // above the cushion
		{23.5, 1, 3},  // at its top
		{10, 0, 1},    // f = 1226: up from 300 to the highest rate below f
		{10, 2, 2},    // between the rates around 1500: stay
		{10, 3, 2},    // f below 1500 (the next rate down from 3000): the lowest rate above f
		{5, 2, 1},     // f = 565 <= 750: down to the lowest rate above f, 750
		{5, 1, 1},     // f between 300 and 1500: stay at 750
		{20.4, 2, 2},  // f = 2603: not up to 3000 yet
		{21.5, 2, 2},  // f = 2749
		{23.39, 2, 2}, // f just under 3000
	} {
		s := state(tc.buffer, tc.last, 2000)
		if got := (BBA{}).Choose(s); got != tc.want {
			t.Errorf("bba(buffer %v, last %d) = %d, want %d", tc.buffer, tc.last, got, tc.want)
		}
	}
}

func TestBOLA(t *testing.T) {
	// Utilities ln(R/300)+1, buffer target max(12, 10 + 2 x 4) = 18 s:
	// gp = ln 10 / 0.8, Vp = 10 / gp; the choice maximises
	// (Vp (u + gp) - B) / R.
	for _, tc := range []struct {
		buffer float64
		last   int
		tput   float64
		want   int
	}{
		{0, 0, 10000, 0},
		{10, 0, 10000, 0},
		{12, 0, 10000, 1},
		{14, 1, 10000, 1},
		{16, 1, 10000, 2},
		{18, 2, 10000, 3},
		{25, 3, 10000, 3},
		// BOLA-O: a step up is capped at what 0.9 x throughput carries,
		// but never below the last choice.
		{18, 1, 1000, 1}, // 900 kbit/s carries 750
		{18, 0, 1000, 1},
		{18, 2, 1000, 2}, // capped at the last choice
		{10, 3, 100, 0},  // going down is not capped
	} {
		s := state(tc.buffer, tc.last, tc.tput)
		if got := (BOLA{}).Choose(s); got != tc.want {
			t.Errorf("bola(buffer %v, last %d, tput %v) = %d, want %d", tc.buffer, tc.last, tc.tput, got, tc.want)
		}
	}
	// Before playback starts: the throughput rule.
	s := state(0, 0, 2000)
	s.Playing = false
	if got := (BOLA{}).Choose(s); got != 2 {
		t.Errorf("bola at start-up with 2000 kbit/s = %d, want 2", got)
	}
	if got := (BOLA{}).Choose(state(0, -1)); got != 0 {
		t.Errorf("bola with nothing measured = %d, want 0", got)
	}
}

func TestQoE(t *testing.T) {
	// 0.3 + 0.75 + 0.75 + 0.3 - |0.45| - 0 - |0.45| - 4.3 x 1
	if got := QoE([]float64{300, 750, 750, 300}, 1); math.Abs(got-(-3.1)) > 1e-9 {
		t.Errorf("QoE = %v, want -3.1", got)
	}
	if got := QoE(nil, 0); got != 0 {
		t.Errorf("QoE of nothing = %v", got)
	}
}

func TestSimulateConstant(t *testing.T) {
	// 1200 kbit/s = 150000 B/s, no RTT. The first segment (300 kbit/s,
	// 150000 B) takes 1 s; then the rate rule holds 750 (0.9 x 1200 = 1080),
	// 375000 B in 2.5 s each, the buffer growing 1.5 s a segment until the
	// next segment would not fit under the 10 s cap: then each request
	// waits until it fits (1 s, then 1.5 s each).
	v := Nominal([]float64{300, 750, 1500}, 4, 6)
	r := Simulate(Rate{}, v, trace.Constant(1200), Config{RTT: -1, MaxBuffer: 10})
	wantQ := []int{0, 1, 1, 1, 1, 1}
	wantEnd := []float64{1, 3.5, 6, 9.5, 13.5, 17.5}
	wantBuf := []float64{4, 5.5, 7, 7.5, 7.5, 7.5}
	for i, s := range r.Steps {
		if s.Quality != wantQ[i] || math.Abs(s.End-wantEnd[i]) > 1e-9 || math.Abs(s.Buffer-wantBuf[i]) > 1e-9 || s.Rebuffer != 0 {
			t.Errorf("segment %d: %+v; want quality %d, end %v, buffer %v", i, s, wantQ[i], wantEnd[i], wantBuf[i])
		}
	}
	if r.Startup != 1 || r.Switches != 1 || math.Abs(r.QoE-(0.3+5*0.75-0.45)) > 1e-9 || math.Abs(r.AvgKbps-675) > 1e-9 {
		t.Errorf("result %+v", r)
	}
}

func TestSimulateStall(t *testing.T) {
	// 800 kbit/s (100000 B/s) for 5 s, nothing for 10 s. BBA at 300
	// kbit/s: 150000 B takes 1.5 s. Segments 1-3 arrive at 1.5, 3, 4.5;
	// segment 4 has 0.5 s of link before the outage and 1 s after it:
	// it arrives at 16 with the buffer (4+4+4-3 = 9 s at 4.5 s) empty
	// since 13.5: 2.5 s of rebuffering.
	tr, err := trace.Parse(strings.NewReader("0,800\n5,0\n15,800\n20,800\n"), "outage")
	if err != nil {
		t.Fatal(err)
	}
	r := Simulate(BBA{}, Nominal([]float64{300, 3000}, 4, 4), tr, Config{RTT: -1})
	if len(r.Steps) != 4 || math.Abs(r.Steps[3].End-16) > 1e-9 || math.Abs(r.Rebuffer-2.5) > 1e-9 || math.Abs(r.Steps[3].Rebuffer-2.5) > 1e-9 {
		t.Errorf("%+v", r)
	}
	if want := 4*0.3 - RebufferPenalty*2.5; math.Abs(r.QoE-want) > 1e-9 {
		t.Errorf("QoE %v, want %v", r.QoE, want)
	}
}

func TestSimulateDeterministic(t *testing.T) {
	tr, _ := trace.Parse(strings.NewReader("0,3000\n3,200\n7,5000\n9,900\n"), "x")
	v := Nominal(ladder, 4, 30)
	for _, rule := range Rules() {
		a := Simulate(rule, v, tr, Config{Offset: 5})
		b := Simulate(rule, v, tr, Config{Offset: 5})
		if a.QoE != b.QoE || len(a.Steps) != 30 {
			t.Errorf("%s: %v then %v", rule.Name(), a.QoE, b.QoE)
		}
	}
}

func TestByName(t *testing.T) {
	for _, n := range []string{"rate", "bba", "bola", "ours"} {
		if r, err := ByName(n); err != nil || r.Name() != n {
			t.Errorf("ByName(%q) = %v, %v", n, r, err)
		}
	}
	if _, err := ByName("pensieve"); err == nil {
		t.Error("ByName(pensieve) succeeded")
	}
}

func TestOurs(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    *State
		want int
	}{
		{"nothing measured", state(0, -1), 0},
		// BBA's map holds 1500 at 20 s (f = 2550); 4000 kbit/s carries
		// 3000 with 1.25 to spare, and the guard (3 s of 18) passes: 3000.
		{"climb", state(20, 2, 4000, 4000, 4000, 4000, 4000), 3},
		// The link fell to 400: one poor download widens the reservoir to
		// 5 s, and f(6) = 447 takes the map from 3000 down to 750; the
		// guard, at the harmonic mean 1429 over the capped factor 1.25,
		// needs 2.6 s of the 3.5 s above the reserve (2.5 s): 750.
		{"fall", state(6, 3, 4000, 4000, 4000, 4000, 400), 1},
		// f(14) = 1756 would lift 750 to 1500, but the map may not climb
		// past 1.2 x the harmonic mean (1200), nor does the forecast
		// carry 1500 with 1.25 to spare: 750.
		{"map capped", state(14, 1, 1000, 1000, 1000, 1000, 1000), 1},
		// A dip: 16 s buffered, the last choice 3000, the last download at
		// 800. The map holds 3000 (f = 2021 is inside its hysteresis
		// band), the choice does not fall below the last one, and the
		// guard passes (7.75 s at 1935 / 1.25, of 14): the dip is ridden.
		{"dip", state(16, 3, 3000, 3000, 3000, 3000, 800), 3},
		// Steady at 800 with 8 s buffered: the map says 1500 (f = 962,
		// down from 3000), which would take 7.5 s of the 6 s above the
		// reserve: the guard takes 750.
		{"guard", state(8, 3, 800, 800, 800, 800, 800), 1},
	} {
		if got := (Ours{}).Choose(tc.s); got != tc.want {
			t.Errorf("%s: ours = %d, want %d", tc.name, got, tc.want)
		}
	}
	if f := Forecast([]float64{1000, 4000, 4000, 4000, 4000, 4000}); f != 4000 {
		t.Errorf("forecast %v: the oldest sample is out of the window", f)
	}
	if f := Forecast([]float64{1000, 3000}); math.Abs(f-1500) > 1e-9 {
		t.Errorf("forecast %v, want the harmonic mean 1500", f)
	}
}
