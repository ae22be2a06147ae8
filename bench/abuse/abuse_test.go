//go:build linux

package main

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestSmoke runs the suite with tiny counts against the DNS and mail
// servers: a DNS-over-TCP exhaustion (from one address, from two, and the
// memory variant), the ANY amplification and the smuggling variants. It
// checks what does not depend on the machine's speed: every fresh client
// served, the held connections seen on the server's side, no false end of
// data taken, ANY minimal. The full suite is run by hand (bench/README.md).
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds applayer and runs servers as processes; skipped in -short mode")
	}
	bin := filepath.Join(t.TempDir(), "applayer")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/applayer").CombinedOutput(); err != nil {
		t.Fatalf("building applayer: %v\n%s", err, out)
	}
	const conns = 40
	var out strings.Builder
	rows, err := Run(Config{
		Bin:   bin,
		Only:  regexp.MustCompile(`^(dns-tcp-silent|dns-any-udp|smtp-smuggling)/applayer$`),
		Conns: conns, Spread: 2, MemConns: conns / 2, Tries: 3, Hold: 300 * time.Millisecond,
	}, &out)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, r := range rows {
		seen[r.attack]++
		if len(r.problems) > 0 {
			t.Errorf("%s against %s: %v", r.attack, r.server, r.problems)
		}
		if p := r.probes; p != nil && p.served != p.tries {
			t.Errorf("%s against %s: %d of %d fresh clients served: %v", r.attack, r.server, p.served, p.tries, p.errs)
		}
		if want := conns; r.attack == "dns-tcp-silent" {
			if strings.Contains(r.sent, "memory") {
				want = conns / 2
			}
			if r.held < want {
				t.Errorf("%s (%s): the server held %d connections, want %d", r.attack, r.sent, r.held, want)
			}
		}
		if !strings.Contains(out.String(), "| "+r.attack+" | "+r.server+" |") {
			t.Errorf("no line for %s against %s", r.attack, r.server)
		}
	}
	want := map[string]int{"dns-tcp-silent": 3, "dns-any-udp": 1, "smtp-smuggling": 1}
	for a, n := range want {
		if seen[a] != n {
			t.Errorf("%d rows for %s, want %d", seen[a], a, n)
		}
	}
}
