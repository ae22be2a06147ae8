package main

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/applayer/applayer/internal/testutil"
)

func TestTorrentCalc(t *testing.T) {
	out, errOut, code := run(t, "", "torrent", "calc", "8", "32MiB", "1MiB", "512KiB", "inf")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"D_cs  >= max{N F/u_s = 256.0 s", "} = 256.0 s", "N F/(u_s + N u_i) = 51.2 s} = 51.2 s", "D_cs / D_p2p = 5.00"} {
		if !strings.Contains(out, want) {
			t.Errorf("calc output lacks %q:\n%s", want, out)
		}
	}
	// The textbook's example: F = 15 Gbits, u_s = 30 Mbps, u = 300 kbps, d_min = 2 Mbps, N = 1000.
	out, _, _ = run(t, "", "torrent", "calc", "1000", "15G", "30M", "300k", "2M")
	if !strings.Contains(out, "D_cs  >= max{N F/u_s = 500000.0 s, F/d_min = 7500.0 s} = 500000.0 s") || !strings.Contains(out, "} = 45454.5 s") {
		t.Errorf("calc output:\n%s", out)
	}
	if _, errOut, code := run(t, "", "torrent", "calc", "0", "1", "1", "1", "1"); code != 1 || !strings.Contains(errOut, "applayer: torrent calc: N: want a positive integer") {
		t.Errorf("N=0: exit %d, %q", code, errOut)
	}
}

// TestTorrentCommands runs the tracker, a seeder and a downloader as a user
// would and checks the file arrives; then the magnet link is downloaded.
func TestTorrentCommands(t *testing.T) {
	dir := t.TempDir()
	data := make([]byte, 700000)
	rand.Read(data)
	src := filepath.Join(dir, "seed", "file.bin")
	os.MkdirAll(filepath.Dir(src), 0o755)
	os.WriteFile(src, data, 0o644)
	tport, sport := freePort(t), freePort(t)
	tracker := fmt.Sprintf("http://127.0.0.1:%d/announce", tport)
	torrent := filepath.Join(dir, "f.torrent")
	out, errOut, code := run(t, "", "torrent", "create", src, "--tracker", tracker, "--output", torrent)
	if code != 0 || !strings.Contains(out, "in 3 pieces of 256.0 KiB") || !strings.Contains(out, "magnet:?xt=urn:btih:") {
		t.Fatalf("create: exit %d, %q %q", code, out, errOut)
	}
	magnet := strings.TrimSpace(out[strings.Index(out, "magnet:"):])
	for _, args := range [][]string{
		{"torrent", "tracker", "--listen", fmt.Sprintf("127.0.0.1:%d", tport), "--log-level", "warn"},
		{"torrent", "seed", torrent, "--data", filepath.Dir(src), "--listen", fmt.Sprintf("127.0.0.1:%d", sport), "--log-level", "warn"},
	} {
		cmd := exec.Command(bin, args...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	}
	testutil.WaitListening(t, fmt.Sprintf("127.0.0.1:%d", tport))
	testutil.WaitListening(t, fmt.Sprintf("127.0.0.1:%d", sport))
	for _, what := range []string{torrent, magnet} {
		dl := t.TempDir()
		cmd := exec.Command(bin, "torrent", "get", what, "--data", dl, "--listen", fmt.Sprintf("127.0.0.1:%d", freePort(t)),
			"--peer", fmt.Sprintf("127.0.0.1:%d", sport), "--log-level", "warn")
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		if err := cmd.Run(); err != nil {
			t.Fatalf("get %s: %v\n%s%s", what, err, o.String(), e.String())
		}
		if !strings.Contains(o.String(), "file.bin: complete in") {
			t.Errorf("get said %q", o.String())
		}
		got, err := os.ReadFile(filepath.Join(dl, "file.bin"))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("downloaded file differs (%v)", err)
		}
	}
	if _, errOut, code := run(t, "", "torrent", "get", filepath.Join(dir, "missing.torrent")); code != 1 || strings.Count(errOut, "\n") != 1 {
		t.Errorf("missing torrent: exit %d, %q", code, errOut)
	}
}
