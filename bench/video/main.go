// Command video compares the rate-adaptation rules of video/abr on the
// same throughput traces and start offsets, in the simulator (no real
// time: every figure repeats exactly), and checks the target: on
// every trace, ours has a mean QoE_lin at least that of BOLA, BBA and the
// rate rule, and rebuffers no more than BOLA.
//
//	go run ./bench/video                      # the committed sizes and traces
//	go run ./bench/video -data /tmp/bench-dash -write-sizes bench/video/sizes.csv
//	go run ./bench/video -gen                 # rewrite bench/video/traces/*.csv
//	go run ./bench/video -http -data /tmp/bench-dash -dashjs node_modules/dashjs/dist/dash.all.min.js
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/applayer/applayer/video/abr"
	"github.com/applayer/applayer/video/dash"
	"github.com/applayer/applayer/video/trace"
)

func main() {
	var (
		data       = flag.String("data", "", "package directory to read segment sizes from (instead of -sizes)")
		sizes      = flag.String("sizes", "bench/video/sizes.csv", "segment sizes: kbps header line, then one line of sizes per segment")
		writeSizes = flag.String("write-sizes", "", "write the sizes read from -data to this file")
		traces     = flag.String("traces", "bench/video/traces/*.csv", "throughput traces (glob)")
		offsets    = flag.String("offsets", "0,7,13,29,41,53", "start offsets into each trace, seconds")
		loop       = flag.Int("loop", 4, "play the video this many times over (60 s content x 4 = 240 s)")
		rtt        = flag.Float64("rtt", abr.DefaultRTT, "seconds from request to first byte")
		maxBuf     = flag.Float64("max-buffer", abr.DefaultMaxBuffer, "player buffer, seconds")
		gen        = flag.Bool("gen", false, "write the synthetic traces into bench/video/traces and exit")
		verbose    = flag.Bool("v", false, "print every session")
		overHTTP   = flag.Bool("http", false, "play -data over HTTP in real time instead of simulating: our player with each rule and dash.js")
		clients    = flag.String("clients", "ours,bola,bba,rate,dash.js abrDynamic,dash.js abrBola", "with -http: the clients")
		dashjs     = flag.String("dashjs", "", "with -http: dash.js's dash.all.min.js (npm package dashjs)")
		httpTraces = flag.String("http-traces", "steps,lte_walk,hsdpa_low", "with -http: the traces (names under -traces' folder)")
	)
	flag.Parse()
	if *gen {
		if err := genTraces("bench/video/traces"); err != nil {
			fail(err)
		}
		return
	}
	if *overHTTP {
		if *data == "" {
			fail(fmt.Errorf("-http needs -data: a package directory"))
		}
		var trs []*trace.Trace
		for _, name := range strings.Split(*httpTraces, ",") {
			f, err := os.Open(filepath.Join(filepath.Dir(*traces), name+".csv"))
			if err != nil {
				fail(err)
			}
			tr, err := trace.Parse(f, name)
			f.Close()
			if err != nil {
				fail(err)
			}
			trs = append(trs, tr)
		}
		chromium, _ := exec.LookPath("chromium")
		if err := httpBench(*data, trs, strings.Split(*clients, ","), *dashjs, chromium, time.Duration(*rtt*float64(time.Second))); err != nil {
			fail(err)
		}
		return
	}
	var v abr.Video
	var err error
	if *data != "" {
		v, err = dash.LoadVideo(*data)
		if err == nil && *writeSizes != "" {
			err = saveSizes(*writeSizes, v)
		}
	} else {
		v, err = loadSizes(*sizes)
	}
	if err != nil {
		fail(err)
	}
	v = v.Loop(*loop)
	files, _ := filepath.Glob(*traces)
	sort.Strings(files)
	if len(files) == 0 {
		fail(fmt.Errorf("no traces match %s", *traces))
	}
	var offs []float64
	for _, s := range strings.Split(*offsets, ",") {
		o, err := strconv.ParseFloat(s, 64)
		if err != nil {
			fail(fmt.Errorf("-offsets: %v", err))
		}
		offs = append(offs, o)
	}
	fmt.Printf("content: %d segments of %g s, ladder %v kbit/s; %d offsets %v; RTT %g s, buffer %g s\n\n",
		len(v.Sizes), v.SegmentSeconds, v.Kbps, len(offs), offs, *rtt, *maxBuf)
	fmt.Println("| trace (mean kbit/s) | rule | QoE_lin (mean) | min | rebuffer s (mean) | avg kbit/s | switches | startup s |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|---:|")
	ok := true
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			fail(err)
		}
		tr, err := trace.Parse(fh, strings.TrimSuffix(filepath.Base(f), ".csv"))
		fh.Close()
		if err != nil {
			fail(err)
		}
		type agg struct{ qoe, minQ, rebuf, kbps, sw, start float64 }
		res := map[string]agg{}
		for _, rule := range abr.Rules() {
			a := agg{minQ: math.Inf(1)}
			for _, o := range offs {
				r := abr.Simulate(rule, v, tr, abr.Config{Offset: o, RTT: *rtt, MaxBuffer: *maxBuf})
				if *verbose {
					fmt.Printf("  %s %s offset %g: QoE %.2f rebuffer %.2f kbps %.0f switches %d\n", tr.Name, rule.Name(), o, r.QoE, r.Rebuffer, r.AvgKbps, r.Switches)
				}
				a.qoe += r.QoE
				a.minQ = math.Min(a.minQ, r.QoE)
				a.rebuf += r.Rebuffer
				a.kbps += r.AvgKbps
				a.sw += float64(r.Switches)
				a.start += r.Startup
			}
			k := float64(len(offs))
			a.qoe, a.rebuf, a.kbps, a.sw, a.start = a.qoe/k, a.rebuf/k, a.kbps/k, a.sw/k, a.start/k
			res[rule.Name()] = a
			fmt.Printf("| %s (%.0f) | %s | %.1f | %.1f | %.2f | %.0f | %.1f | %.2f |\n", tr.Name, tr.MeanKbps(), rule.Name(), a.qoe, a.minQ, a.rebuf, a.kbps, a.sw, a.start)
		}
		o := res["ours"]
		for _, other := range []string{"rate", "bba", "bola"} {
			if o.qoe < res[other].qoe {
				ok = false
				fmt.Printf("| %s | TARGET MISSED: ours %.1f < %s %.1f |\n", tr.Name, o.qoe, other, res[other].qoe)
			}
		}
		if o.rebuf > res["bola"].rebuf+1e-9 {
			ok = false
			fmt.Printf("| %s | TARGET MISSED: ours rebuffers %.2f s > bola %.2f s |\n", tr.Name, o.rebuf, res["bola"].rebuf)
		}
	}
	if ok {
		fmt.Println("\ntarget met: on every trace ours >= rate, bba and bola in mean QoE_lin, and rebuffers no more than bola")
	} else {
		fmt.Println("\ntarget missed (see above)")
		os.Exit(1)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench/video:", err)
	os.Exit(1)
}

func saveSizes(path string, v abr.Video) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# segment sizes in bytes of a package, one line per segment; the first line: segment seconds, then each rung's kbit/s\n")
	b.WriteString(strconv.FormatFloat(v.SegmentSeconds, 'f', -1, 64))
	for _, k := range v.Kbps {
		b.WriteString("," + strconv.FormatFloat(k, 'f', -1, 64))
	}
	b.WriteByte('\n')
	for _, row := range v.Sizes {
		for q, s := range row {
			if q > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.FormatFloat(s, 'f', -1, 64))
		}
		b.WriteByte('\n')
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func loadSizes(path string) (abr.Video, error) {
	f, err := os.Open(path)
	if err != nil {
		return abr.Video{}, err
	}
	defer f.Close()
	var v abr.Video
	sc := bufio.NewScanner(f)
	first := true
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		var nums []float64
		for _, s := range strings.Split(line, ",") {
			x, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return v, fmt.Errorf("%s: %q: %v", path, line, err)
			}
			nums = append(nums, x)
		}
		if first {
			v.SegmentSeconds, v.Kbps, first = nums[0], nums[1:], false
			continue
		}
		if len(nums) != len(v.Kbps) {
			return v, fmt.Errorf("%s: %q: want %d sizes", path, line, len(v.Kbps))
		}
		v.Sizes = append(v.Sizes, nums)
	}
	return v, sc.Err()
}

// genTraces writes the synthetic trace set: steps, a random walk like LTE,
// a low 3G-like trace with outages, and a constant 1500 kbit/s link. The
// generator is seeded: the files come out the same every time.
func genTraces(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	write := func(name, comment string, steps []trace.Step) error {
		var b strings.Builder
		b.WriteString("# " + comment + "\n")
		for _, s := range steps {
			fmt.Fprintf(&b, "%g,%g\n", s.Seconds, s.Kbps)
		}
		return os.WriteFile(filepath.Join(dir, name+".csv"), []byte(b.String()), 0o644)
	}
	if err := write("steps", "steps of 20 s: 3000, 800, 4000, 400, 2000 kbit/s", []trace.Step{{Seconds: 0, Kbps: 3000}, {Seconds: 20, Kbps: 800}, {Seconds: 40, Kbps: 4000}, {Seconds: 60, Kbps: 400}, {Seconds: 80, Kbps: 2000}}); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(18, 2026))
	var lte []trace.Step
	r := 3000.0
	for t := 0; t < 300; t++ {
		lte = append(lte, trace.Step{Seconds: float64(t), Kbps: math.Round(r)})
		r *= math.Exp(0.1*math.Log(3200/r) + rng.NormFloat64()*0.25)
		r = math.Min(math.Max(r, 500), 6000)
	}
	if err := write("lte_walk", "LTE-like: a random walk in log rate, pulled towards 3200, between 500 and 6000 kbit/s, 1 s steps (seeded)", lte); err != nil {
		return err
	}
	var low []trace.Step
	r = 800
	for t := 0; t < 300; t++ {
		k := math.Round(r)
		if rng.Float64() < 0.02 {
			// an outage of 1 to 3 s
			n := 1 + rng.IntN(3)
			for j := 0; j < n && t < 300; j++ {
				low = append(low, trace.Step{Seconds: float64(t), Kbps: 0})
				t++
			}
			t--
			continue
		}
		low = append(low, trace.Step{Seconds: float64(t), Kbps: k})
		r *= math.Exp(0.1*math.Log(850/r) + rng.NormFloat64()*0.3)
		r = math.Min(math.Max(r, 200), 1500)
	}
	if err := write("hsdpa_low", "3G-like, low: a random walk in log rate, pulled towards 850, between 200 and 1500 kbit/s, with outages of 1-3 s, 1 s steps (seeded)", low); err != nil {
		return err
	}
	return write("constant_1500", "a constant 1500 kbit/s link", []trace.Step{{Seconds: 0, Kbps: 1500}})
}
