package peer

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/applayer/applayer/internal/peertest"
	"github.com/applayer/applayer/internal/testutil"
	"github.com/applayer/applayer/p2p/metainfo"
	"github.com/applayer/applayer/p2p/tracker"
)

// freePort returns a loopback port nobody listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startTracker serves our tracker on 127.0.0.1 and returns its HTTP
// announce URL and its UDP one.
func startTracker(t *testing.T) (string, string) {
	t.Helper()
	trk := &tracker.Server{Logger: quiet, Interval: time.Minute}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	go trk.ServeBoth(l, pc)
	t.Cleanup(func() { trk.Close() })
	return "http://" + l.Addr().String() + "/announce", "udp://" + l.Addr().String()
}

// writeTorrent saves m in dir and returns the path.
func writeTorrent(t *testing.T, m *metainfo.MetaInfo, dir string) string {
	t.Helper()
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "t.torrent")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// aria2 returns the command line of an aria2c peer on 127.0.0.1:port.
func aria2(t *testing.T, torrent, dir string, port int, seed bool) *exec.Cmd {
	bin := peertest.Require(t, "aria2c", "aria2")
	args := []string{"--interface=127.0.0.1", "--dir=" + dir, fmt.Sprintf("--listen-port=%d", port),
		"--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false", "--enable-peer-exchange=false",
		"--summary-interval=0", "--console-log-level=warn", "--no-conf", "--bt-tracker-connect-timeout=5",
		"--bt-stop-timeout=60"}
	if seed {
		args = append(args, "--seed-ratio=0.0", "--bt-seed-unverified=true", "--check-integrity=false")
	} else {
		args = append(args, "--seed-time=0")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*testutil.Patience)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, bin, append(args, torrent)...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	return cmd
}

// libtorrent returns the command line of a python3-libtorrent peer.
func libtorrent(t *testing.T, torrent, dir string, port int, seed bool, peers ...string) *exec.Cmd {
	py := peertest.RequirePython(t, "python3-libtorrent", "libtorrent")
	args := []string{"testdata/lt_peer.py", torrent, dir, fmt.Sprint(port), "--timeout", "60"}
	if seed {
		args = append(args, "--seed")
	}
	for _, p := range peers {
		args = append(args, "--peer", p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*testutil.Patience)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, py, args...)
	if os.Getenv("LT_DEBUG") != "" {
		cmd.Stderr = os.Stderr
	}
	return cmd
}

// interop runs one direction with a foreign peer: either it downloads
// from our seeder or we download from it, through our tracker over
// HTTP or UDP.
func interop(t *testing.T, foreign func(t *testing.T, torrent, dir string, port int, seed bool, peers ...string) *exec.Cmd, udp bool) {
	httpURL, udpURL := startTracker(t)
	url := httpURL
	if udp {
		url = udpURL
	}
	m, seedDir, data := makeTorrent(t, 3<<20+12345, 0, url)
	torrent := writeTorrent(t, m, t.TempDir())

	t.Run("they download", func(t *testing.T) {
		seed := &Server{Torrent: m, Dir: seedDir}
		addr := serve(t, seed)
		dir := t.TempDir()
		cmd := foreign(t, torrent, dir, freePort(t), false, addr)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", cmd.Args[0], err, out)
		}
		checkFile(t, filepath.Join(dir, "file.bin"), data)
		if seed.Stats().Uploaded < int64(len(data)) {
			t.Errorf("our seeder uploaded %d bytes of %d", seed.Stats().Uploaded, len(data))
		}
	})
	t.Run("we download", func(t *testing.T) {
		port := freePort(t)
		cmd := foreign(t, torrent, seedDir, port, true)
		var out bytes.Buffer
		startSeeder(t, cmd, &out, port)
		dir := t.TempDir()
		leech := &Server{Torrent: m, Dir: dir}
		serve(t, leech)
		select {
		case <-leech.Done():
		case <-time.After(testutil.Patience):
			t.Fatalf("not complete: %+v\n%s", leech.Stats(), out.String())
		}
		checkFile(t, filepath.Join(dir, "file.bin"), data)
	})
}

func TestAria2HTTPTracker(t *testing.T) {
	interop(t, func(t *testing.T, torrent, dir string, port int, seed bool, _ ...string) *exec.Cmd {
		return aria2(t, torrent, dir, port, seed)
	}, false)
}

// aria2 speaks to UDP trackers only with its DHT on, which these tests
// keep off: the UDP tracker is checked with libtorrent.

func TestLibtorrentHTTPTracker(t *testing.T) {
	interop(t, libtorrent, false)
}

func TestLibtorrentUDPTracker(t *testing.T) {
	interop(t, libtorrent, true)
}

// magnetTest: a foreign peer downloads a magnet link from our seeder,
// fetching the info dictionary from it first (BEP 9).
func magnetTest(t *testing.T, foreign func(t *testing.T, torrent, dir string, port int, seed bool, peers ...string) *exec.Cmd) {
	httpURL, _ := startTracker(t)
	m, seedDir, data := makeTorrent(t, 1<<20+777, 0, httpURL)
	seed := &Server{Torrent: m, Dir: seedDir}
	addr := serve(t, seed)
	dir := t.TempDir()
	cmd := foreign(t, m.Magnet().String(), dir, freePort(t), false, addr)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd.Args[0], err, out)
	}
	checkFile(t, filepath.Join(dir, "file.bin"), data)
}

func TestMagnetAria2(t *testing.T) {
	magnetTest(t, func(t *testing.T, torrent, dir string, port int, seed bool, _ ...string) *exec.Cmd {
		return aria2(t, torrent, dir, port, seed)
	})
}

func TestMagnetLibtorrent(t *testing.T) {
	magnetTest(t, libtorrent)
}

// TestFetchMetadata fetches a magnet's info dictionary from our seeder and
// from a libtorrent seeder, then downloads with it.
func TestFetchMetadata(t *testing.T) {
	httpURL, _ := startTracker(t)
	m, seedDir, data := makeTorrent(t, 1<<20+777, 0, httpURL)
	addr := serve(t, &Server{Torrent: m, Dir: seedDir, NoTrackers: true})
	t.Run("ours", func(t *testing.T) {
		mg := m.Magnet()
		mg.Trackers = nil
		mg.Peers = []string{addr}
		got, err := FetchMetadata(context.Background(), mg, FetchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got.InfoHash != m.InfoHash || !bytes.Equal(got.InfoBytes, m.InfoBytes) {
			t.Fatal("fetched another info dictionary")
		}
		dir := t.TempDir()
		leech := &Server{Torrent: got, Dir: dir, NoTrackers: true, Peers: []string{addr}}
		serve(t, leech)
		waitDone(t, leech, "leecher")
		checkFile(t, filepath.Join(dir, "file.bin"), data)
	})
	t.Run("libtorrent", func(t *testing.T) {
		port := freePort(t)
		cmd := libtorrent(t, writeTorrent(t, m, t.TempDir()), seedDir, port, true)
		var out bytes.Buffer
		startSeeder(t, cmd, &out, port)
		la := fmt.Sprintf("127.0.0.1:%d", port)
		mg := m.Magnet()
		mg.Trackers = nil
		mg.Peers = []string{la}
		got, err := FetchMetadata(context.Background(), mg, FetchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got.InfoHash != m.InfoHash {
			t.Fatal("fetched another info dictionary")
		}
	})
	t.Run("wrong metadata", func(t *testing.T) {
		mg := m.Magnet()
		mg.InfoHash[0] ^= 1 // a torrent the seeder does not have
		mg.Trackers = nil
		mg.Peers = []string{addr}
		if _, err := FetchMetadata(context.Background(), mg, FetchOptions{Timeout: 5 * time.Second}); err == nil {
			t.Fatal("fetched metadata for a torrent nobody has")
		}
	})
}

// startSeeder starts a foreign seeder and waits until it serves: aria2c
// once it listens; lt_peer.py once it says "ready" (before, libtorrent
// listens but refuses peers: the torrent is still paused).
func startSeeder(t *testing.T, cmd *exec.Cmd, out *bytes.Buffer, port int) {
	t.Helper()
	cmd.Stderr = out
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	br := bufio.NewReader(stdout)
	if strings.HasSuffix(cmd.Args[1], "lt_peer.py") {
		if line, err := br.ReadString('\n'); err != nil || line != "ready\n" {
			t.Fatalf("lt_peer.py: %q, %v\n%s", line, err, out)
		}
	} else {
		testutil.WaitListening(t, fmt.Sprintf("127.0.0.1:%d", port))
	}
	go io.Copy(io.Discard, br)
}

// TestMixedSwarm: our seeder (rate-limited, so the leechers must trade),
// our leecher, aria2c and libtorrent in one swarm through our tracker;
// everyone completes with the right bytes.
func TestMixedSwarm(t *testing.T) {
	httpURL, _ := startTracker(t)
	m, seedDir, data := makeTorrent(t, 3<<20, 0, httpURL)
	torrent := writeTorrent(t, m, t.TempDir())
	serve(t, &Server{Torrent: m, Dir: seedDir, UploadRate: 2 << 20})
	ariaDir, ltDir, ourDir := t.TempDir(), t.TempDir(), t.TempDir()
	cmds := []*exec.Cmd{aria2(t, torrent, ariaDir, freePort(t), false), libtorrent(t, torrent, ltDir, freePort(t), false)}
	outs := make([]bytes.Buffer, len(cmds))
	errc := make(chan error, len(cmds))
	for i, cmd := range cmds {
		cmd.Stdout, cmd.Stderr = &outs[i], &outs[i]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { errc <- cmd.Wait() }()
	}
	ours := &Server{Torrent: m, Dir: ourDir, UploadRate: 2 << 20}
	serve(t, ours)
	waitDone(t, ours, "our leecher")
	for range cmds {
		if err := <-errc; err != nil {
			t.Fatalf("a foreign leecher failed: %v\naria2c: %s\nlibtorrent: %s", err, outs[0].String(), outs[1].String())
		}
	}
	for _, d := range []string{ariaDir, ltDir, ourDir} {
		checkFile(t, filepath.Join(d, "file.bin"), data)
	}
}
