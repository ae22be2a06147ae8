package lab

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// RestrictedPorts are the ports browsers refuse to connect to
// (net::ERR_UNSAFE_PORT): Chromium's kRestrictedPorts in
// net/base/port_util.cc, which Firefox's list matches. A lab page on one of
// them cannot be opened in a browser.
var RestrictedPorts = []int{
	1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79,
	87, 95, 101, 102, 103, 104, 109, 110, 111, 113, 115, 117, 119, 123, 135, 137,
	139, 143, 161, 179, 389, 427, 465, 512, 513, 514, 515, 526, 530, 531, 532,
	540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993, 995, 1719, 1720, 1723,
	2049, 3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669,
	6697, 10080,
}

// Ports returns every port the topology listens on: each service's port and
// the extra ports its kind adds (mail's submission port).
func (t Topology) Ports() []int {
	var ps []int
	for _, s := range t.Services {
		ps = append(ps, t.BasePort+s.Port)
		for _, k := range []string{"submission", "pop3", "imap"} {
			if p, err := strconv.Atoi(s.Args[k]); err == nil {
				ps = append(ps, t.BasePort+p)
			}
		}
	}
	return ps
}

// bindError explains a service that could not bind: an address in use is
// most often an earlier lab still running, so the error says which process
// holds the port when it can be found, and how to start elsewhere.
func bindError(service string, err error, base int) error {
	if !errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("lab: %s: %w", service, err)
	}
	other := base + 10000
	if other+8080 > 65535 {
		other = 20000
	}
	var oe *net.OpError
	holder := "probably an earlier lab that is still running"
	if errors.As(err, &oe) && oe.Addr != nil {
		if ap, perr := netip.ParseAddrPort(oe.Addr.String()); perr == nil {
			if pid, cmd := portHolder(ap, strings.HasPrefix(oe.Net, "udp")); pid > 0 {
				holder = fmt.Sprintf("held by process %d (%s): stop it (kill %d)", pid, cmd, pid)
			} else {
				holder += fmt.Sprintf(" (see: ss -tulpn 'sport = :%d')", ap.Port())
			}
		}
	}
	return fmt.Errorf("lab: %s: %w; %s, or start this lab on other ports with --base-port %d", service, err, holder, other)
}

// portHolder finds the process that holds a socket bound to ap, from
// /proc (Linux; processes of other users are not visible). It returns 0 if
// none is found.
func portHolder(ap netip.AddrPort, udp bool) (int, string) {
	files := []string{"/proc/net/tcp", "/proc/net/tcp6"}
	if udp {
		files = []string{"/proc/net/udp", "/proc/net/udp6"}
	}
	var inodes []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fs := strings.Fields(line)
			if len(fs) < 10 || (!udp && fs[3] != "0A") { // 0A: LISTEN
				continue
			}
			if a, ok := procAddr(fs[1]); ok && (a == ap || a.Port() == ap.Port() && a.Addr().IsUnspecified()) {
				inodes = append(inodes, "socket:["+fs[9]+"]")
			}
		}
	}
	if len(inodes) == 0 {
		return 0, ""
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range procs {
		link, err := os.Readlink(fd)
		if err != nil {
			continue
		}
		for _, in := range inodes {
			if link == in {
				pidDir := filepath.Dir(filepath.Dir(fd))
				pid, _ := strconv.Atoi(filepath.Base(pidDir))
				cmd, _ := os.ReadFile(filepath.Join(pidDir, "cmdline"))
				return pid, strings.TrimSpace(strings.ReplaceAll(string(cmd), "\x00", " "))
			}
		}
	}
	return 0, ""
}

// procAddr parses a /proc/net address, "0100007F:2742": the address as the
// kernel's native-endian 32-bit words, then the port.
func procAddr(s string) (netip.AddrPort, bool) {
	h, p, ok := strings.Cut(s, ":")
	port, err := strconv.ParseUint(p, 16, 16)
	if !ok || err != nil || (len(h) != 8 && len(h) != 32) {
		return netip.AddrPort{}, false
	}
	var raw []byte
	for i := 0; i < len(h); i += 8 {
		w, err := strconv.ParseUint(h[i:i+8], 16, 32)
		if err != nil {
			return netip.AddrPort{}, false
		}
		raw = binary.NativeEndian.AppendUint32(raw, uint32(w))
	}
	a, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(a.Unmap(), uint16(port)), true
}

// ShowPath spells a path for a try line: under the home directory as
// ~/..., which every shell expands, and quoted when it holds characters a
// shell would interpret.
func ShowPath(p string) string {
	if home, err := os.UserHomeDir(); err == nil && home != "/" {
		if rel, err := filepath.Rel(home, p); err == nil && rel != "." && !strings.HasPrefix(rel, "..") && shellSafe(rel) {
			return "~/" + rel
		}
	}
	if shellSafe(p) {
		return p
	}
	return "'" + strings.ReplaceAll(p, "'", `'\''`) + "'"
}

func shellSafe(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+:@%,=", r)) {
			return false
		}
	}
	return s != ""
}
