package trace

import (
	"math"
	"strings"
	"testing"
)

const steps = "# the bench's steps trace\n0,3000\n20,800\n40,4000\n60,400\n80,2000\n"

func mustParse(t testing.TB, s string) *Trace {
	t.Helper()
	tr, err := Parse(strings.NewReader(s), "test")
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6*math.Max(1, math.Abs(b)) }

func TestSteps(t *testing.T) {
	tr := mustParse(t, steps)
	if tr.Period() != 100 {
		t.Fatalf("period %v, want 100", tr.Period())
	}
	if got := tr.MeanKbps(); !near(got, 2040) {
		t.Errorf("mean %v kbit/s, want 2040", got)
	}
	for _, tc := range []struct{ at, kbps float64 }{{0, 3000}, {19.99, 3000}, {20, 800}, {65, 400}, {99.9, 2000}, {100, 3000}, {125, 800}, {1e6 + 45, 4000}} {
		if got := tr.Kbps(tc.at); got != tc.kbps {
			t.Errorf("Kbps(%v) = %v, want %v", tc.at, got, tc.kbps)
		}
	}
	for _, tc := range []struct{ from, n, want float64 }{
		{0, 375000, 1},            // 3000 kbit/s = 375000 B/s
		{10, 375000 * 10, 20},     // exactly to the step
		{19, 375000 + 100000, 21}, // 1 s at 3000, then 1 s at 800 (100000 B/s)
		{0, 0, 0},
		{95, 250000 * 5, 100},                   // the end of the period
		{95, 250000*5 + 375000, 101},            // into the next lap
		{0, tr.Bytes(0, 100) * 3, 300},          // three laps
		{30, 100000*10 + 500000*20 + 50000, 61}, // across three steps
	} {
		if got := tr.Finish(tc.from, tc.n); !near(got, tc.want) {
			t.Errorf("Finish(%v, %v) = %v, want %v", tc.from, tc.n, got, tc.want)
		}
	}
	if got := tr.Bytes(15, 25); !near(got, 5*375000+5*100000) {
		t.Errorf("Bytes(15,25) = %v", got)
	}
}

func TestOutage(t *testing.T) {
	tr := mustParse(t, "0,800\n2,0\n5,800\n6,800\n")
	// period 7: 800 for 2 s, nothing for 3 s, 800 for 2 s
	if got := tr.Finish(1, 100000); !near(got, 2) {
		t.Errorf("a transfer ending as the outage starts ends at %v, want 2", got)
	}
	if got := tr.Finish(1, 150000); !near(got, 5.5) {
		t.Errorf("a transfer across the outage ends at %v, want 5.5", got)
	}
	if got := tr.Finish(3, 1); !near(got, 5+1.0/100000) {
		t.Errorf("a transfer starting in the outage ends at %v", got)
	}
}

func TestFinishInvertsBytes(t *testing.T) {
	tr := mustParse(t, "0,500\n1.5,0\n2,6000\n7,200\n9,1200\n")
	for from := 0.0; from < 40; from += 0.37 {
		for _, d := range []float64{0.01, 0.5, 3, 17, 100} {
			to := from + d
			n := tr.Bytes(from, to)
			got := tr.Finish(from, n)
			if n > 0 && !(got <= to+1e-6 && tr.Bytes(from, got) >= n-1e-3) {
				t.Fatalf("Finish(%v, Bytes(%v,%v)=%v) = %v", from, from, to, n, got)
			}
		}
	}
}

func TestParseRejects(t *testing.T) {
	for _, bad := range []string{
		"", "# only a comment\n", "1,100\n", "0,100\n0,200\n", "0,100\n5,100\n3,100\n",
		"0,-5\n", "0,1e3\n", "0,NaN\n", "0,Inf\n", "0,100,3\n", "0 100\n", "0,\n", ",100\n",
		"0,0\n", "0,0\n1,0\n", "0,.5\n", "0,5.\n", "0,200000000\n", "0,0x10\n", "-1,100\n",
		"0,100\n" + strings.Repeat("9", 5000) + ",1\n",
	} {
		if tr, err := Parse(strings.NewReader(bad), "bad"); err == nil {
			t.Errorf("Parse(%q) = %v, want an error", bad, tr.Steps())
		}
	}
	tr := mustParse(t, "\n# comment\n 0 , 100 \n\n2.5,300\r\n")
	if s := tr.Steps(); len(s) != 2 || s[1] != (Step{2.5, 300}) || tr.Period() != 5 {
		t.Errorf("steps %v period %v", s, tr.Period())
	}
}

func FuzzParse(f *testing.F) {
	f.Add(steps)
	f.Add("0,800\n2,0\n5,800\n6,800\n")
	f.Add("0,1500\n")
	f.Add("0,0.5\n0.25,99999999\n")
	f.Fuzz(func(t *testing.T, s string) {
		tr, err := Parse(strings.NewReader(s), "fuzz")
		if err != nil {
			return
		}
		if tr.Period() <= 0 || tr.MeanKbps() <= 0 {
			t.Fatalf("period %v mean %v", tr.Period(), tr.MeanKbps())
		}
		for _, from := range []float64{0, 0.3, tr.Period() / 2, tr.Period() * 3.7} {
			end := tr.Finish(from, 1e5)
			if end < from || math.IsNaN(end) || math.IsInf(end, 0) {
				t.Fatalf("Finish(%v) = %v", from, end)
			}
			if got := tr.Bytes(from, end); math.Abs(got-1e5) > 1 {
				t.Fatalf("Bytes(%v, Finish) = %v, want 1e5", from, got)
			}
		}
	})
}
