//go:build linux

package main

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// raiseNOFILE lifts this process's soft RLIMIT_NOFILE to its hard limit
// (the servers it starts inherit it) and returns the new limit.
func raiseNOFILE() (uint64, error) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, err
	}
	r.Cur = r.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, err
	}
	return r.Cur, nil
}

// procTree is pid and its descendants, from /proc (nginx's workers,
// Postfix's daemons).
func procTree(pid int) []int {
	children := map[int][]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces; cut at the last ')'.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		pp, _ := strconv.Atoi(f[1])
		children[pp] = append(children[pp], p)
	}
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}

// statusKiB sums a "Name: N kB" field of /proc/PID/status (VmRSS) or
// /proc/PID/smaps_rollup (Pss) over pids.
func sumKiB(pids []int, file, field string) int64 {
	var total int64
	for _, p := range pids {
		f, err := os.Open(filepath.Join("/proc", strconv.Itoa(p), file))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := sc.Text()
			if rest, ok := strings.CutPrefix(line, field+":"); ok {
				fs := strings.Fields(rest)
				if len(fs) > 0 {
					n, _ := strconv.ParseInt(fs[0], 10, 64)
					total += n
				}
				break
			}
		}
		f.Close()
	}
	return total
}

func rssKiB(pids []int) int64 { return sumKiB(pids, "status", "VmRSS") }
func pssKiB(pids []int) int64 { return sumKiB(pids, "smaps_rollup", "Pss") }

// heldConns counts the established TCP connections on local port port
// whose sockets the processes pids hold open: what the server holds, not
// what waits in its listen queue or what it has closed.
func heldConns(pids []int, port int) int {
	inodes := map[string]bool{}
	for _, p := range pids {
		dir := filepath.Join("/proc", strconv.Itoa(p), "fd")
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			l, err := os.Readlink(filepath.Join(dir, e.Name()))
			if err == nil && strings.HasPrefix(l, "socket:[") {
				inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
			}
		}
	}
	n := 0
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(file)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			if len(fs) < 10 || fs[3] != "01" { // ESTABLISHED
				continue
			}
			_, hexPort, ok := strings.Cut(fs[1], ":")
			if !ok {
				continue
			}
			lp, _ := strconv.ParseInt(hexPort, 16, 32)
			if int(lp) == port && inodes[fs[9]] {
				n++
			}
		}
		f.Close()
	}
	return n
}
