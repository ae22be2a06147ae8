// Command p2p measures a BitTorrent swarm against the textbook's bound,
// D_p2p >= max{F/u_s, F/d_min, N F/(u_s + N u_i)}, with applayer's peers
// and, in the same run, aria2c's (Debian aria2), as separate processes on
// 127.0.0.1 around one applayer tracker:
//
//   - a seeder uploading at -seed-rate, N leechers each uploading at
//     -peer-rate (downloads unlimited), all started at once; leechers
//     keep seeding until the last one completes;
//   - the swarm time is from the start of the leechers to the last
//     completion; each run prints it beside the bound, and the medians and
//     their ratio to the bound come at the end;
//   - for applayer, the bytes uploaded by everyone over N F (waste).
//
// Every run is bounded (-timeout) and stops by itself.
//
//	go run ./bench/p2p -n 8 -size 32MiB -seed-rate 1MiB -peer-rate 512KiB -runs 3 -clients applayer,aria2
package main

import (
	"bufio"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	var (
		n        = flag.Int("n", 8, "leechers")
		size     = flag.String("size", "32MiB", "file size")
		seedRate = flag.String("seed-rate", "1MiB", "seeder upload, bytes/s")
		peerRate = flag.String("peer-rate", "512KiB", "each leecher's upload, bytes/s")
		runs     = flag.Int("runs", 3, "runs per client")
		clients  = flag.String("clients", "applayer,aria2", "clients to measure, in turn: applayer, aria2")
		bin      = flag.String("bin", "", "applayer binary (default: build it)")
		timeout  = flag.Duration("timeout", 5*time.Minute, "longest a run may take")
		extra    = flag.String("args", "", "extra flags for applayer's peers, space-separated")
	)
	flag.StringVar(&plotPath, "plot", "", "write each applayer run's per-leecher progress to PREFIX-applayer-RUN.svg")
	flag.Parse()
	F, us, ui := mustBytes(*size), mustBytes(*seedRate), mustBytes(*peerRate)
	N := float64(*n)
	bound := max(F/us, N*F/(us+N*ui))
	fmt.Printf("N=%d F=%s u_s=%s/s u_i=%s/s: D_p2p >= %.1f s (D_cs >= %.1f s)\n", *n, *size, *seedRate, *peerRate, bound, N*F/us)
	work, err := os.MkdirTemp("", "p2pbench")
	check(err)
	defer os.RemoveAll(work)
	if *bin == "" {
		*bin = filepath.Join(work, "applayer")
		out, err := exec.Command("go", "build", "-o", *bin, "./cmd/applayer").CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
			os.Exit(1)
		}
	}
	// One tracker for every run.
	tport := freePort()
	trk := exec.Command(*bin, "torrent", "tracker", "--listen", fmt.Sprintf("127.0.0.1:%d", tport), "--interval", "30s", "--log-level", "warn")
	check(trk.Start())
	defer trk.Process.Kill()
	waitListening(fmt.Sprintf("127.0.0.1:%d", tport))
	seedDir := filepath.Join(work, "seed")
	check(os.MkdirAll(seedDir, 0o755))
	data := make([]byte, int(F))
	rand.Read(data)
	check(os.WriteFile(filepath.Join(seedDir, "file.bin"), data, 0o644))
	torrent := filepath.Join(work, "f.torrent")
	out, err := exec.Command(*bin, "torrent", "create", filepath.Join(seedDir, "file.bin"), "--tracker",
		fmt.Sprintf("http://127.0.0.1:%d/announce", tport), "--output", torrent).CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "create: %v\n%s", err, out)
		os.Exit(1)
	}
	results := map[string][]float64{}
	wastes := map[string][]float64{}
	for r := range *runs {
		runNo = r + 1
		for _, client := range strings.Split(*clients, ",") {
			d, waste, err := run(client, *bin, torrent, seedDir, work, *n, int64(us), int64(ui), *timeout, strings.Fields(*extra))
			if err != nil {
				fmt.Printf("run %d %-8s failed: %v\n", r+1, client, err)
				continue
			}
			results[client] = append(results[client], d)
			w := ""
			if waste > 0 {
				wastes[client] = append(wastes[client], waste)
				w = fmt.Sprintf(", uploaded %.3f N F", waste)
			}
			fmt.Printf("run %d %-8s %.1f s = %.2fx the bound%s\n", r+1, client, d, d/bound, w)
		}
	}
	for _, client := range strings.Split(*clients, ",") {
		if len(results[client]) == 0 {
			continue
		}
		m := median(results[client])
		w := ""
		if len(wastes[client]) > 0 {
			w = fmt.Sprintf(", uploaded %.3f N F", median(wastes[client]))
		}
		fmt.Printf("median %-8s %.1f s = %.2fx the bound (%d runs%s)\n", client, m, m/bound, len(results[client]), w)
	}
}

// run measures one swarm and returns its time and, for applayer, the
// bytes uploaded over N F.
func run(client, bin, torrent, seedDir, work string, n int, us, ui int64, timeout time.Duration, extra []string) (float64, float64, error) {
	dir, err := os.MkdirTemp(work, client)
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(dir)
	var procs []*exec.Cmd
	defer func() {
		for _, p := range procs {
			p.Process.Signal(syscall.SIGTERM)
		}
		for _, p := range procs {
			done := make(chan struct{})
			go func() { p.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				p.Process.Kill()
				<-done
			}
		}
	}()
	var mu sync.Mutex
	var uploaded, downloaded int64
	var readers sync.WaitGroup // the stdout readers: the last lines come after exit
	done := make(chan int, n)
	var t0 time.Time
	start := func(args []string, env []string, leecher int, parse bool) error {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = append(os.Environ(), env...)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		if parse && leecher >= 0 {
			stderr, err := cmd.StderrPipe()
			if err != nil {
				return err
			}
			go readProgress(stderr, leecher, &mu, t0)
		}
		if err := cmd.Start(); err != nil {
			return err
		}
		procs = append(procs, cmd)
		readers.Add(1)
		go func() {
			defer readers.Done()
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				line := sc.Text()
				if strings.Contains(line, "complete in") && leecher >= 0 {
					done <- leecher
				}
				if parse && strings.Contains(line, "stopped,") {
					f := strings.Fields(line)
					for i, w := range f {
						if w == "bytes" && i > 0 {
							x, _ := strconv.ParseInt(f[i-1], 10, 64)
							mu.Lock()
							if strings.HasPrefix(f[i+1], "uploaded") {
								uploaded += x
							} else {
								downloaded += x
							}
							mu.Unlock()
						}
					}
				}
			}
		}()
		return nil
	}
	port := func() string { return fmt.Sprint(freePort()) }
	switch client {
	case "applayer":
		seedArgs := append([]string{bin, "torrent", "get", torrent, "--seed", "--progress", "off", "--data", seedDir, "--listen", "127.0.0.1:" + port(),
			"--upload-rate", fmt.Sprint(us), "--log-level", "warn"}, extra...)
		if err := start(seedArgs, nil, -1, true); err != nil {
			return 0, 0, err
		}
	case "aria2":
		sp := port()
		if err := start([]string{"aria2c", "--interface=127.0.0.1", "--dir=" + seedDir, "--listen-port=" + sp, "--enable-dht=false", "--enable-dht6=false",
			"--bt-enable-lpd=false", "--enable-peer-exchange=false", "--seed-ratio=0.0", "--bt-seed-unverified=true", "--check-integrity=false",
			"--summary-interval=0", "--console-log-level=warn", "--no-conf", fmt.Sprintf("--max-upload-limit=%d", us), torrent},
			[]string{"HOME=" + dir}, -1, false); err != nil {
			return 0, 0, err
		}
	default:
		return 0, 0, fmt.Errorf("unknown client %q", client)
	}
	time.Sleep(time.Second) // the seeder announces before the leechers
	t0 = time.Now()
	mu.Lock()
	progress = map[int][]sample{}
	mu.Unlock()
	for i := range n {
		ld := filepath.Join(dir, fmt.Sprint(i))
		os.MkdirAll(ld, 0o755)
		switch client {
		case "applayer":
			args := append([]string{bin, "torrent", "get", torrent, "--seed", "--progress", "on", "--data", ld, "--listen", "127.0.0.1:" + port(),
				"--upload-rate", fmt.Sprint(ui), "--log-level", "warn"}, extra...)
			if err := start(args, nil, i, true); err != nil {
				return 0, 0, err
			}
		case "aria2":
			hook := filepath.Join(dir, fmt.Sprintf("hook%d.sh", i))
			os.WriteFile(hook, []byte("#!/bin/sh\necho complete in\n"), 0o755)
			// aria2 runs the hook with its stdout: the line reaches us.
			if err := start([]string{"aria2c", "--interface=127.0.0.1", "--dir=" + ld, "--listen-port=" + port(), "--enable-dht=false", "--enable-dht6=false",
				"--bt-enable-lpd=false", "--enable-peer-exchange=false", "--seed-ratio=0.0", "--summary-interval=0", "--console-log-level=warn", "--no-conf",
				fmt.Sprintf("--max-upload-limit=%d", ui), "--on-bt-download-complete=" + hook, torrent}, []string{"HOME=" + ld}, i, false); err != nil {
				return 0, 0, err
			}
		}
	}
	deadline := time.After(timeout)
	for range n {
		select {
		case <-done:
		case <-deadline:
			return 0, 0, fmt.Errorf("not complete after %v", timeout)
		}
	}
	d := time.Since(t0).Seconds()
	if client != "applayer" {
		return d, 0, nil
	}
	if plotPath != "" {
		mu.Lock()
		writePlot(fmt.Sprintf("%s-%s-%d.svg", plotPath, client, runNo), progress, d, n)
		mu.Unlock()
	}
	// Stop everyone and sum what they uploaded.
	for _, p := range procs {
		p.Process.Signal(syscall.SIGTERM)
	}
	// Read the stdout pipes to their end before Wait closes them.
	readers.Wait()
	for _, p := range procs {
		p.Wait()
	}
	procs = nil
	size, _ := os.Stat(filepath.Join(seedDir, "file.bin"))
	mu.Lock()
	defer mu.Unlock()
	return d, float64(uploaded) / (float64(n) * float64(size.Size())), nil
}

// sample is a leecher's progress at a time since the start.
type sample struct {
	t      float64
	pieces int
	total  int
}

var (
	progress = map[int][]sample{}
	plotPath string
	runNo    int
	pieceRe  = regexp.MustCompile(`(\d+)/(\d+) pieces`)
)

// readProgress parses the progress lines of `applayer torrent get
// --progress on` (separated by carriage returns).
func readProgress(r io.Reader, leecher int, mu *sync.Mutex, t0 time.Time) {
	br := bufio.NewReader(r)
	var line []byte
	for {
		b, err := br.ReadByte()
		if err != nil {
			return
		}
		if b != '\r' && b != '\n' {
			line = append(line, b)
			continue
		}
		if m := pieceRe.FindSubmatch(line); m != nil {
			p, _ := strconv.Atoi(string(m[1]))
			tot, _ := strconv.Atoi(string(m[2]))
			mu.Lock()
			progress[leecher] = append(progress[leecher], sample{time.Since(t0).Seconds(), p, tot})
			mu.Unlock()
		}
		line = line[:0]
	}
}

// writePlot draws each leecher's pieces over time, and the bound, as SVG.
func writePlot(path string, prog map[int][]sample, d float64, n int) {
	const w, h, m = 640.0, 360.0, 40.0
	tmax := d * 1.05
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="11">`+"\n", w, h)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/><line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="black"/><line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="black"/>`+"\n", m, h-m, w-m/2, h-m, m, h-m, m, m/2)
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f">time (s), swarm done at %.1f s</text><text x="4" y="%.0f">pieces</text>`+"\n", w/2-60, h-8, d, m/2-4)
	for s := 0.0; s <= tmax; s += 10 {
		x := m + (w-1.5*m)*s/tmax
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f">%.0f</text>`, x-6, h-m+14, s)
	}
	colors := []string{"#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666"}
	for i := range n {
		ss := prog[i]
		if len(ss) == 0 {
			continue
		}
		var pts []string
		for _, s := range ss {
			x := m + (w-1.5*m)*s.t/tmax
			y := h - m - (h-1.5*m)*float64(s.pieces)/float64(max(s.total, 1))
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" points="%s"/>`+"\n", colors[i%len(colors)], strings.Join(pts, " "))
	}
	b.WriteString("</svg>\n")
	os.WriteFile(path, []byte(b.String()), 0o644)
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitListening(addr string) {
	for range 200 {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	fmt.Fprintln(os.Stderr, addr, "never listened")
	os.Exit(1)
}

func median(x []float64) float64 {
	s := slices.Clone(x)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func mustBytes(s string) float64 {
	mult := 1.0
	for _, m := range []struct {
		suf string
		f   float64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if strings.HasSuffix(s, m.suf) {
			s, mult = strings.TrimSuffix(s, m.suf), m.f
			break
		}
	}
	x, err := strconv.ParseFloat(s, 64)
	check(err)
	return x * mult
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
