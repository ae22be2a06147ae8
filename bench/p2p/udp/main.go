// Command udp measures UDP tracker announces per second (BEP 15) against
// applayer's tracker and opentracker (Debian opentracker) in the same run,
// alternating: -clients goroutines each connect once and then announce
// -n times with one request outstanding, each announce from its own peer
// (port) in one swarm of the whitelisted info-hash. Both trackers run as
// separate processes on 127.0.0.1; every loop is bounded by -n.
//
//	go run ./bench/p2p/udp -clients 4 -n 20000 -runs 3
package main

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

func main() {
	var (
		clients = flag.Int("clients", 4, "concurrent clients")
		n       = flag.Int("n", 20000, "announces per client per run")
		runs    = flag.Int("runs", 3, "runs per tracker, alternating")
		bin     = flag.String("bin", "", "applayer binary (default: build it)")
	)
	flag.Parse()
	work, err := os.MkdirTemp("", "udpbench")
	check(err)
	defer os.RemoveAll(work)
	os.Chmod(work, 0o755)
	if *bin == "" {
		*bin = filepath.Join(work, "applayer")
		out, err := exec.Command("go", "build", "-o", *bin, "./cmd/applayer").CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
			os.Exit(1)
		}
	}
	var ih [20]byte
	rand.Read(ih[:])
	check(os.WriteFile(filepath.Join(work, "wl.txt"), []byte(hex.EncodeToString(ih[:])+"\n"), 0o644))
	ours, theirs := freeUDP(), freeUDP()
	a := exec.Command(*bin, "torrent", "tracker", "--udp", "--listen", ours, "--log-level", "warn")
	check(a.Start())
	defer a.Process.Kill()
	_, port, _ := net.SplitHostPort(theirs)
	// Debian's build is whitelist-only, chroots to -d and will not stay root.
	o := exec.Command("opentracker", "-i", "127.0.0.1", "-P", port, "-p", port, "-w", "/wl.txt", "-d", work, "-u", "nobody")
	o.Stderr = os.Stderr
	check(o.Start())
	defer o.Process.Kill()
	time.Sleep(time.Second) // both bind; the first announce would retry anyway
	res := map[string][]float64{}
	for r := range *runs {
		for _, t := range []struct{ name, addr string }{{"applayer", ours}, {"opentracker", theirs}} {
			rate, err := bench(t.addr, ih, *clients, *n, r)
			if err != nil {
				fmt.Printf("run %d %-11s failed: %v\n", r+1, t.name, err)
				continue
			}
			res[t.name] = append(res[t.name], rate)
			fmt.Printf("run %d %-11s %8.0f announces/s\n", r+1, t.name, rate)
		}
	}
	ma, mo := median(res["applayer"]), median(res["opentracker"])
	fmt.Printf("median applayer %.0f/s, opentracker %.0f/s: %.2fx\n", ma, mo, ma/mo)
}

func bench(addr string, ih [20]byte, clients, n, run int) (float64, error) {
	var wg sync.WaitGroup
	errs := make([]error, clients)
	start := time.Now()
	for c := range clients {
		wg.Go(func() { errs[c] = client(addr, ih, n, uint16(1000+run*100+c*10)) })
	}
	wg.Wait()
	d := time.Since(start)
	for _, err := range errs {
		if err != nil {
			return 0, err
		}
	}
	return float64(clients*n) / d.Seconds(), nil
}

// client connects, then announces n times as peers with ports base+i.
func client(addr string, ih [20]byte, n int, base uint16) error {
	c, err := net.Dial("udp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	buf := make([]byte, 2048)
	exchange := func(p []byte, tid uint32) ([]byte, error) {
		for try := 0; try < 5; try++ {
			c.Write(p)
			c.SetReadDeadline(time.Now().Add(time.Second))
			for {
				k, err := c.Read(buf)
				if err != nil {
					break
				}
				if k >= 8 && binary.BigEndian.Uint32(buf[4:]) == tid {
					return buf[:k], nil
				}
			}
		}
		return nil, fmt.Errorf("%s: no answer", addr)
	}
	p := binary.BigEndian.AppendUint64(nil, 0x41727101980)
	p = binary.BigEndian.AppendUint32(p, 0)
	p = binary.BigEndian.AppendUint32(p, 1)
	r, err := exchange(p, 1)
	if err != nil {
		return err
	}
	if len(r) < 16 {
		return fmt.Errorf("short connect answer")
	}
	id := binary.BigEndian.Uint64(r[8:])
	connected := time.Now()
	for i := range n {
		if time.Since(connected) > 50*time.Second {
			return fmt.Errorf("run longer than a connection ID lives; lower -n")
		}
		tid := uint32(i + 2)
		p := binary.BigEndian.AppendUint64(make([]byte, 0, 98), id)
		p = binary.BigEndian.AppendUint32(p, 1)
		p = binary.BigEndian.AppendUint32(p, tid)
		p = append(p, ih[:]...)
		var pid [20]byte
		copy(pid[:], "-BENCH-")
		binary.BigEndian.PutUint32(pid[16:], uint32(i)<<8|uint32(base))
		p = append(p, pid[:]...)
		p = binary.BigEndian.AppendUint64(p, 0)
		p = binary.BigEndian.AppendUint64(p, 1000) // left
		p = binary.BigEndian.AppendUint64(p, 0)
		p = binary.BigEndian.AppendUint32(p, 0)
		p = binary.BigEndian.AppendUint32(p, 0)
		p = binary.BigEndian.AppendUint32(p, 0)
		p = binary.BigEndian.AppendUint32(p, 50) // numwant
		p = binary.BigEndian.AppendUint16(p, base+uint16(i%200))
		r, err := exchange(p, tid)
		if err != nil {
			return err
		}
		if binary.BigEndian.Uint32(r) != 1 {
			return fmt.Errorf("announce answered with action %d: %q", binary.BigEndian.Uint32(r), r[8:])
		}
	}
	return nil
}

func freeUDP() string {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	check(err)
	defer c.Close()
	return c.LocalAddr().String()
}

func median(x []float64) float64 {
	if len(x) == 0 {
		return 0
	}
	s := slices.Clone(x)
	slices.Sort(s)
	return s[len(s)/2]
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
