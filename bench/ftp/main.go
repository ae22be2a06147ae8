// Command ftp benchmarks applayer's FTP data path against vsftpd and the
// loopback limit in the same run: RETR and STOR of one large file.
//
//	go run ./bench/ftp -size-mib 1024 -runs 5
//
// It builds applayer, writes a file of -size-mib MiB into a temporary root,
// and starts, as separate processes on 127.0.0.1: applayer ftp serve,
// vsftpd (Debian's, with its own config: anonymous, sendfile, uploads
// allowed; it needs root), and a plain sendfile server (this program
// re-run with -sendfile-server), the loopback limit: sendfile(2) of the
// file to a reader that discards with 1 MiB reads. Each run fetches the
// file from each of the three in rotating order with the same reader
// (applayer's ftp client for the two FTP servers, reading into a 1 MiB
// buffer), then with curl (an independent client) from the two FTP
// servers, then stores it with applayer's client (sendfile from the file)
// on both servers. It prints every measure and the medians.
package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/applayer/applayer/ftp"
)

func main() {
	if len(os.Args) == 4 && os.Args[1] == "-sendfile-server" {
		sendfileServer(os.Args[2], os.Args[3])
		return
	}
	sizeMiB := flag.Int("size-mib", 1024, "file size in MiB")
	runs := flag.Int("runs", 5, "runs")
	vsftpd := flag.String("vsftpd", "/usr/sbin/vsftpd", "vsftpd binary")
	clients := flag.Int("clients", 100, "clients at once in the concurrency test (0: none)")
	clientMiB := flag.Int("client-mib", 10, "size of the file each concurrent client fetches, MiB")
	flag.Parse()

	dir, err := os.MkdirTemp("", "bench-ftp")
	check(err)
	defer os.RemoveAll(dir)
	root := filepath.Join(dir, "root")
	check(os.MkdirAll(filepath.Join(root, "up"), 0o777))
	os.Chmod(dir, 0o755)
	big := filepath.Join(root, "big.bin")
	writeFile(big, int64(*sizeMiB)<<20)
	writeFile(filepath.Join(root, "small.bin"), int64(*clientMiB)<<20)
	size := int64(*sizeMiB) << 20

	bin := filepath.Join(dir, "applayer")
	out, err := exec.Command("go", "build", "-o", bin, "./cmd/applayer").CombinedOutput()
	if err != nil {
		log.Fatalf("go build: %v\n%s", err, out)
	}
	users := filepath.Join(dir, "users")
	add := exec.Command(bin, "ftp", "user", "add", "--users", users, "bench")
	add.Stdin = strings.NewReader("bench\n")
	check(add.Run())

	apAddr := freeAddr()
	ap := start(bin, "ftp", "serve", "--root", root, "--anonymous", "--users", users, "--listen", apAddr, "--log-level", "warn")
	defer stop(ap)

	var vsAddr string
	var vs *exec.Cmd
	if os.Geteuid() == 0 {
		vsAddr = freeAddr()
		_, port, _ := net.SplitHostPort(vsAddr)
		empty := filepath.Join(dir, "empty")
		os.Mkdir(empty, 0o755)
		conf := filepath.Join(dir, "vsftpd.conf")
		check(os.WriteFile(conf, []byte(fmt.Sprintf(`listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port=%s
anonymous_enable=YES
anon_root=%s
no_anon_password=YES
local_enable=NO
write_enable=YES
anon_upload_enable=YES
anon_other_write_enable=YES
run_as_launching_user=YES
background=NO
seccomp_sandbox=NO
use_sendfile=YES
xferlog_enable=NO
syslog_enable=NO
secure_chroot_dir=%s
hide_ids=YES
max_clients=0
max_per_ip=0
`, port, root, empty)), 0o600))
		vs = start(*vsftpd, conf)
		defer stop(vs)
	} else {
		log.Print("not root: vsftpd left out")
	}
	sfAddr := freeAddr()
	self, _ := os.Executable()
	sf := start(self, "-sendfile-server", sfAddr, big)
	defer stop(sf)
	for _, a := range []string{apAddr, vsAddr, sfAddr} {
		if a != "" {
			waitListening(a)
		}
	}
	curl, _ := exec.LookPath("curl")

	res := map[string][]float64{}
	record := func(name string, mbs float64) {
		res[name] = append(res[name], mbs)
		fmt.Printf("  %-32s %8.0f MB/s\n", name, mbs)
	}
	type target struct {
		name, addr, user string
	}
	targets := []target{{"loopback limit (sendfile)", sfAddr, ""}, {"applayer RETR", apAddr, "anonymous"}}
	if vsAddr != "" {
		targets = append(targets, target{"vsftpd RETR", vsAddr, "anonymous"})
	}
	for r := 0; r < *runs; r++ {
		fmt.Printf("run %d (load %s)\n", r+1, loadavg())
		for i := range targets {
			tg := targets[(i+r)%len(targets)]
			var mbs float64
			if tg.user == "" {
				mbs = rawRead(tg.addr, size)
			} else {
				mbs = ftpRetr(tg.addr, size)
			}
			record(tg.name, mbs)
		}
		if curl != "" {
			for _, tg := range targets[1:] {
				record(tg.name+" (curl)", curlRetr(curl, tg.addr, size))
			}
		}
		record("loopback to a file (splice)", rawToFile(sfAddr, filepath.Join(root, "up", "z.bin"), size))
		os.Remove(filepath.Join(root, "up", "z.bin"))
		record("applayer STOR", ftpStor(apAddr, "bench", "bench", big, "up/x.bin", size))
		if vsAddr != "" {
			record("vsftpd STOR", ftpStor(vsAddr, "anonymous", "x@", big, "up/y.bin", size))
		}
		os.Remove(filepath.Join(root, "up", "x.bin"))
		os.Remove(filepath.Join(root, "up", "y.bin"))
	}
	if *clients > 0 {
		fmt.Printf("\n%d clients at once, each fetching %d MiB:\n", *clients, *clientMiB)
		concurrent("applayer", apAddr, ap.Process.Pid, *clients, int64(*clientMiB)<<20)
		if vs != nil {
			concurrent("vsftpd", vsAddr, vs.Process.Pid, *clients, int64(*clientMiB)<<20)
		}
	}
	fmt.Printf("\nmedians of %d runs, %d MiB file:\n", *runs, *sizeMiB)
	names := make([]string, 0, len(res))
	for n := range res {
		names = append(names, n)
	}
	slices.Sort(names)
	lim := median(res["loopback limit (sendfile)"])
	for _, n := range names {
		m := median(res[n])
		fmt.Printf("  %-32s %8.0f MB/s  %.2f of the loopback limit\n", n, m, m/lim)
	}
	// Each run pairs measures taken moments apart: the median of the
	// runs' ratios is the figure that counts on a noisy machine.
	ratio := func(a, b string) float64 {
		var rs []float64
		for i := range res[a] {
			if i < len(res[b]) && res[b][i] > 0 {
				rs = append(rs, res[a][i]/res[b][i])
			}
		}
		return median(rs)
	}
	fmt.Printf("medians of the runs' ratios:\n  applayer RETR / loopback limit %.2f\n", ratio("applayer RETR", "loopback limit (sendfile)"))
	fmt.Printf("  applayer STOR / loopback to a file %.2f\n", ratio("applayer STOR", "loopback to a file (splice)"))
	if vsAddr != "" {
		fmt.Printf("  applayer / vsftpd: RETR %.2f, RETR by curl %.2f, STOR %.2f\n",
			ratio("applayer RETR", "vsftpd RETR"), ratio("applayer RETR (curl)", "vsftpd RETR (curl)"), ratio("applayer STOR", "vsftpd STOR"))
		fmt.Printf("  vsftpd RETR / loopback limit %.2f, vsftpd STOR / loopback to a file %.2f\n",
			ratio("vsftpd RETR", "loopback limit (sendfile)"), ratio("vsftpd STOR", "loopback to a file (splice)"))
	}
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

func writeFile(name string, size int64) {
	f, err := os.Create(name)
	check(err)
	block := make([]byte, 4<<20)
	rand.Read(block)
	for n := int64(0); n < size; n += int64(len(block)) {
		_, err := f.Write(block[:min(int64(len(block)), size-n)])
		check(err)
	}
	check(f.Close())
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	defer l.Close()
	return l.Addr().String()
}

func start(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Stderr = os.Stderr
	check(cmd.Start())
	return cmd
}

func stop(cmd *exec.Cmd) {
	cmd.Process.Kill()
	cmd.Wait()
}

func waitListening(addr string) {
	for i := 0; i < 200; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	log.Fatalf("%s never listened", addr)
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// sink reads with 1 MiB reads and throws the bytes away.
type sink struct{ buf []byte }

func (s *sink) Write(p []byte) (int, error) { return len(p), nil }

func (s *sink) ReadFrom(r io.Reader) (int64, error) {
	var n int64
	for {
		k, err := r.Read(s.buf)
		n += int64(k)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

func newSink() *sink { return &sink{buf: make([]byte, 1<<20)} }

func mbps(n int64, d time.Duration) float64 { return float64(n) / d.Seconds() / 1e6 }

// sendfileServer sends the file to each client with sendfile(2).
func sendfileServer(addr, file string) {
	l, err := net.Listen("tcp", addr)
	check(err)
	for {
		c, err := l.Accept()
		check(err)
		f, err := os.Open(file)
		check(err)
		io.Copy(c, f)
		f.Close()
		c.Close()
	}
}

func rawRead(addr string, size int64) float64 {
	t0 := time.Now()
	c, err := net.Dial("tcp", addr)
	check(err)
	n, err := newSink().ReadFrom(c)
	check(err)
	c.Close()
	if n != size {
		log.Fatalf("loopback: %d bytes", n)
	}
	return mbps(n, time.Since(t0))
}

// concurrent runs n clients at once fetching small.bin and reports whether
// all completed, the server's descriptors before and after, and the most
// memory its processes held (the sum of VmRSS over the server's process
// and its children, sampled every 20 ms: vsftpd forks two per session).
func concurrent(name, addr string, pid, n int, size int64) {
	fdsBefore := countFDs(pid)
	stopSampling := make(chan struct{})
	peak := make(chan int64)
	go func() {
		var max int64
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			if m := treeRSS(pid); m > max {
				max = m
			}
			select {
			case <-stopSampling:
				peak <- max
				return
			case <-t.C:
			}
		}
	}()
	t0 := time.Now()
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			ctx := context.Background()
			c, err := ftp.Dial(ctx, addr, ftp.Options{})
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			if err := c.Login(ctx, "", ""); err != nil {
				errs <- err
				return
			}
			got, err := c.Retr(ctx, "small.bin", 0, newSink())
			if err == nil && got != size {
				err = fmt.Errorf("%d bytes", got)
			}
			c.Quit()
			errs <- err
		}()
	}
	failed := 0
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			failed++
			if failed <= 3 {
				log.Printf("%s: %v", name, err)
			}
		}
	}
	d := time.Since(t0)
	close(stopSampling)
	rss := <-peak
	var fdsAfter int
	for i := 0; i < 100; i++ { // sessions end after the clients' QUIT
		if fdsAfter = countFDs(pid); fdsAfter <= fdsBefore {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Printf("  %-9s %d/%d complete in %.2f s (%.0f MB/s in all), descriptors %d before, %d after, peak memory %.1f MiB\n",
		name, n-failed, n, d.Seconds(), float64(int64(n)*size)/d.Seconds()/1e6, fdsBefore, fdsAfter, float64(rss)/(1<<20))
}

func countFDs(pid int) int {
	es, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return len(es)
}

// treeRSS sums VmRSS over pid and its descendants.
func treeRSS(pid int) int64 {
	children := map[int][]int{}
	ds, _ := os.ReadDir("/proc")
	for _, d := range ds {
		p, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces; cut after ")".
		i := strings.LastIndexByte(string(b), ')')
		f := strings.Fields(string(b[i+1:]))
		if len(f) > 1 {
			pp, _ := strconv.Atoi(f[1])
			children[pp] = append(children[pp], p)
		}
	}
	var sum int64
	var walk func(int)
	walk = func(p int) {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", p))
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "VmRSS:") {
				f := strings.Fields(l)
				if len(f) >= 2 {
					kb, _ := strconv.ParseInt(f[1], 10, 64)
					sum += kb << 10
				}
			}
		}
		for _, c := range children[p] {
			walk(c)
		}
	}
	walk(pid)
	return sum
}

// rawToFile receives the sendfile server's stream into a new file, as a
// server's STOR does (File.ReadFrom of the socket: splice(2)): the limit
// of an upload on this machine, disk writes included.
func rawToFile(addr, name string, size int64) float64 {
	t0 := time.Now()
	c, err := net.Dial("tcp", addr)
	check(err)
	f, err := os.Create(name)
	check(err)
	n, err := f.ReadFrom(c)
	check(err)
	check(f.Close())
	c.Close()
	if n != size {
		log.Fatalf("loopback to a file: %d bytes", n)
	}
	return mbps(n, time.Since(t0))
}

func ftpRetr(addr string, size int64) float64 {
	ctx := context.Background()
	c, err := ftp.Dial(ctx, addr, ftp.Options{})
	check(err)
	defer c.Close()
	check(c.Login(ctx, "", ""))
	t0 := time.Now()
	n, err := c.Retr(ctx, "big.bin", 0, newSink())
	d := time.Since(t0)
	check(err)
	if n != size {
		log.Fatalf("%s: %d bytes", addr, n)
	}
	c.Quit()
	return mbps(n, d)
}

func ftpStor(addr, user, pass, file, name string, size int64) float64 {
	ctx := context.Background()
	c, err := ftp.Dial(ctx, addr, ftp.Options{})
	check(err)
	defer c.Close()
	check(c.Login(ctx, user, pass))
	f, err := os.Open(file)
	check(err)
	defer f.Close()
	t0 := time.Now()
	n, err := c.Stor(ctx, name, f, 0, false)
	d := time.Since(t0)
	check(err)
	if n != size {
		log.Fatalf("%s: stored %d bytes", addr, n)
	}
	c.Quit()
	return mbps(n, d)
}

// curlRetr fetches with curl and takes curl's own transfer time.
func curlRetr(curl, addr string, size int64) float64 {
	out, err := exec.Command(curl, "-sS", "-o", "/dev/null", "-w", "%{size_download} %{time_total}", "ftp://"+addr+"/big.bin").Output()
	check(err)
	f := strings.Fields(string(out))
	if len(f) != 2 {
		log.Fatalf("curl said %q", out)
	}
	n, _ := strconv.ParseInt(f[0], 10, 64)
	secs, _ := strconv.ParseFloat(f[1], 64)
	if n != size {
		log.Fatalf("curl: %d bytes", n)
	}
	return float64(n) / secs / 1e6
}
