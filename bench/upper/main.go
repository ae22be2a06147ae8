// Command upper benchmarks the uppercase server against a plain loopback
// copy, in the same run, as separate processes:
//
//   - TCP: stream SIZE bytes through `applayer upper serve` and through a
//     plain echo server (same buffer size, same system calls, no
//     uppercasing); report each run's throughput, the medians, and their
//     ratio. A one-way copy (the receiver discards) is reported as the
//     loopback's limit.
//   - UDP: exchanges per second with one request outstanding, against our
//     server and against a plain UDP echo.
//
// Every loop is bounded by a byte or exchange count and stops by itself;
// everything listens on 127.0.0.1.
//
//	go run ./bench/upper -size 1GiB -runs 5 -exchanges 50000
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	var (
		size      = flag.String("size", "1GiB", "bytes to stream per TCP run (KiB, MiB, GiB suffixes)")
		runs      = flag.Int("runs", 5, "TCP runs per server, alternating")
		exchanges = flag.Int("exchanges", 50000, "UDP exchanges per server")
		bin       = flag.String("bin", "", "applayer binary (default: build it)")
		echoMode  = flag.String("echo", "", "internal: run as the plain echo server on this address")
	)
	flag.Parse()
	if *echoMode != "" {
		runEcho(*echoMode)
		return
	}
	n, err := parseSize(*size)
	check(err)
	if *bin == "" {
		dir, err := os.MkdirTemp("", "upperbench")
		check(err)
		defer os.RemoveAll(dir)
		*bin = filepath.Join(dir, "applayer")
		out, err := exec.Command("go", "build", "-o", *bin, "./cmd/applayer").CombinedOutput()
		if err != nil {
			fatal("building applayer: %v\n%s", err, out)
		}
	}
	self, err := os.Executable()
	check(err)

	ourAddr := freeAddr()
	ours := start(*bin, "upper", "serve", "--listen", ourAddr, "--log-level", "warn")
	defer stop(ours)
	echoAddr := freeAddr()
	echo := start(self, "-echo", echoAddr)
	defer stop(echo)
	waitTCP(ourAddr)
	waitTCP(echoAddr)

	fmt.Printf("TCP: %s per run, %d runs each, alternating\n", *size, *runs)
	var tOurs, tEcho, tOneWay []float64
	for i := 0; i < *runs; i++ {
		tOurs = append(tOurs, streamEcho(ourAddr, n))
		tEcho = append(tEcho, streamEcho(echoAddr, n))
		tOneWay = append(tOneWay, streamOneWay(echoAddr, n))
		fmt.Printf("  run %d: applayer %.0f MB/s, plain echo %.0f MB/s, one-way copy %.0f MB/s\n", i+1, tOurs[i], tEcho[i], tOneWay[i])
	}
	mo, me, mw := median(tOurs), median(tEcho), median(tOneWay)
	var ratios []float64
	for i := range tOurs {
		ratios = append(ratios, tOurs[i]/tEcho[i])
	}
	fmt.Printf("  median: applayer %.0f MB/s, plain echo %.0f MB/s, one-way copy %.0f MB/s\n", mo, me, mw)
	fmt.Printf("  applayer / plain echo: median of the runs' ratios %.2f (ratio of medians %.2f)\n", median(ratios), mo/me)

	fmt.Printf("UDP: %d exchanges per run, one outstanding, %d runs each, alternating\n", *exchanges, *runs)
	var uo, ue, ur []float64
	for i := 0; i < *runs; i++ {
		uo = append(uo, udpRate(ourAddr, *exchanges))
		ue = append(ue, udpRate(echoAddr, *exchanges))
		ur = append(ur, uo[i]/ue[i])
	}
	fmt.Printf("  median: applayer %.0f exchanges/s, plain echo %.0f exchanges/s; median of the runs' ratios %.2f\n", median(uo), median(ue), median(ur))
}

// streamEcho writes n bytes of lower-case text and reads the answer back at
// the same time; it returns MB/s (10^6 bytes) of the stream.
func streamEcho(addr string, n int64) float64 {
	c, err := net.Dial("tcp", addr)
	check(err)
	defer c.Close()
	chunk := []byte(strings.Repeat("the quick brown fox jumps over the lazy dog\n", 128<<10/44))
	start := time.Now()
	errc := make(chan error, 1)
	go func() {
		var sent int64
		for sent < n {
			b := chunk[:min(int64(len(chunk)), n-sent)]
			if _, err := c.Write(b); err != nil {
				errc <- err
				return
			}
			sent += int64(len(b))
		}
		errc <- c.(*net.TCPConn).CloseWrite()
	}()
	got, err := io.CopyBuffer(io.Discard, c, make([]byte, 128<<10))
	check(err)
	check(<-errc)
	if got != n {
		fatal("%s answered %d bytes of %d", addr, got, n)
	}
	return float64(n) / time.Since(start).Seconds() / 1e6
}

// streamOneWay sends n bytes to the echo server in its discard mode (a
// first byte of '!' tells it not to answer): the loopback's one-way limit.
func streamOneWay(addr string, n int64) float64 {
	c, err := net.Dial("tcp", addr)
	check(err)
	defer c.Close()
	chunk := make([]byte, 128<<10)
	chunk[0] = '!'
	start := time.Now()
	var sent int64
	for sent < n {
		b := chunk[:min(int64(len(chunk)), n-sent)]
		_, err := c.Write(b)
		check(err)
		chunk[0] = 'x'
		sent += int64(len(b))
	}
	c.(*net.TCPConn).CloseWrite()
	io.ReadAll(c) // the server closes after reading everything
	return float64(n) / time.Since(start).Seconds() / 1e6
}

func udpRate(addr string, count int) float64 {
	c, err := net.Dial("udp", addr)
	check(err)
	defer c.Close()
	msg := []byte("how fast can one datagram go round?")
	buf := make([]byte, 2048)
	c.SetDeadline(time.Now().Add(time.Minute))
	start := time.Now()
	for i := 0; i < count; i++ {
		_, err := c.Write(msg)
		check(err)
		_, err = c.Read(buf)
		check(err)
	}
	return float64(count) / time.Since(start).Seconds()
}

// runEcho is the reference: the same read/write loop as the server, with a
// 128 KiB buffer, and no uppercasing; plus a UDP echo on the same port.
func runEcho(addr string) {
	l, err := net.Listen("tcp", addr)
	check(err)
	pc, err := net.ListenPacket("udp", addr)
	check(err)
	go func() {
		buf := make([]byte, 1<<16)
		for {
			n, a, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(buf[:n], a)
		}
	}()
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			buf := make([]byte, 128<<10)
			discard := false
			first := true
			for {
				n, err := c.Read(buf)
				if first && n > 0 {
					discard, first = buf[0] == '!', false
				}
				if n > 0 && !discard {
					if _, werr := c.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}()
	}
}

func start(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Stderr = os.Stderr
	check(cmd.Start())
	return cmd
}

func stop(cmd *exec.Cmd) {
	cmd.Process.Signal(os.Interrupt)
	cmd.Wait()
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	defer l.Close()
	return l.Addr().String()
}

func waitTCP(addr string) {
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	fatal("nothing listens on %s", addr)
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func parseSize(s string) (int64, error) {
	mult := int64(1)
	for suf, m := range map[string]int64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30} {
		if strings.HasSuffix(s, suf) {
			s, mult = strings.TrimSuffix(s, suf), m
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v <= 0 {
		return 0, errors.New("bad -size " + s)
	}
	return v * mult, nil
}

func check(err error) {
	if err != nil {
		fatal("%v", err)
	}
}

func fatal(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "upperbench: "+format+"\n", args...)
	os.Exit(1)
}
