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
	"net"
	"os"
	"os/exec"
	"path/filepath"
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
	done := make(chan int, n)
	start := func(args []string, env []string, leecher int, parse bool) error {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = append(os.Environ(), env...)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		if err := cmd.Start(); err != nil {
			return err
		}
		procs = append(procs, cmd)
		go func() {
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
	t0 := time.Now()
	for i := range n {
		ld := filepath.Join(dir, fmt.Sprint(i))
		os.MkdirAll(ld, 0o755)
		switch client {
		case "applayer":
			args := append([]string{bin, "torrent", "get", torrent, "--seed", "--progress", "off", "--data", ld, "--listen", "127.0.0.1:" + port(),
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
	// Stop everyone and sum what they uploaded.
	for _, p := range procs {
		p.Process.Signal(syscall.SIGTERM)
	}
	for _, p := range procs {
		p.Wait()
	}
	procs = nil
	size, _ := os.Stat(filepath.Join(seedDir, "file.bin"))
	mu.Lock()
	defer mu.Unlock()
	return d, float64(uploaded) / (float64(n) * float64(size.Size())), nil
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
