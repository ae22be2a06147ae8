package peer

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/applayer/applayer/internal/testutil"
	"github.com/applayer/applayer/p2p/metainfo"
	"github.com/applayer/applayer/p2p/tracker"
)

var quiet = slog.New(slog.DiscardHandler)

// makeTorrent writes a file of n random bytes in a new directory and
// returns the torrent, the directory and the data.
func makeTorrent(t testing.TB, n int, pieceLen int64, trackers ...string) (*metainfo.MetaInfo, string, []byte) {
	t.Helper()
	dir := t.TempDir()
	data := make([]byte, n)
	rand.Read(data)
	p := filepath.Join(dir, "file.bin")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var tiers [][]string
	for _, tr := range trackers {
		tiers = append(tiers, []string{tr})
	}
	m, err := metainfo.Create(p, metainfo.CreateOptions{PieceLength: pieceLen, Trackers: tiers})
	if err != nil {
		t.Fatal(err)
	}
	return m, dir, data
}

// serve starts s on 127.0.0.1:0 and returns its address.
func serve(t testing.TB, s *Server) string {
	t.Helper()
	if s.Logger == nil {
		s.Logger = quiet
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		if err := <-errc; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve = %v", err)
		}
	})
	return l.Addr().String()
}

func waitDone(t testing.TB, s *Server, what string) {
	t.Helper()
	select {
	case <-s.Done():
	case <-time.After(testutil.Patience):
		st := s.Stats()
		t.Fatalf("%s: not complete after %v: %d/%d pieces, %d peers", what, testutil.Patience, st.Have, st.Pieces, st.Peers)
	}
}

func checkFile(t testing.TB, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: %d bytes differ from the %d seeded", path, len(got), len(want))
	}
	if _, err := os.Stat(path + PartSuffix); !os.IsNotExist(err) {
		t.Errorf("%s%s still exists", path, PartSuffix)
	}
}

func TestSeedToLeecher(t *testing.T) {
	m, seedDir, data := makeTorrent(t, 3<<20+5000, 0)
	seed := &Server{Torrent: m, Dir: seedDir, NoTrackers: true}
	addr := serve(t, seed)
	if st := seed.Stats(); !st.Complete || st.Have != st.Pieces {
		t.Fatalf("seeder: %+v", st)
	}
	dl := t.TempDir()
	leech := &Server{Torrent: m, Dir: dl, NoTrackers: true, Peers: []string{addr}}
	serve(t, leech)
	waitDone(t, leech, "leecher")
	checkFile(t, filepath.Join(dl, "file.bin"), data)
}

// TestSwarmWithTracker runs our tracker, a seeder and four leechers that
// find each other through it; the seeder's upload is limited, so the
// leechers must trade pieces among themselves.
func TestSwarmWithTracker(t *testing.T) {
	trk := &tracker.Server{Logger: quiet, Interval: time.Minute}
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go trk.Serve(tl)
	t.Cleanup(func() { trk.Close() })
	m, seedDir, data := makeTorrent(t, 4<<20, 64<<10, "http://"+tl.Addr().String()+"/announce")
	seed := &Server{Torrent: m, Dir: seedDir, UploadRate: 2 << 20}
	serve(t, seed)
	var leechers []*Server
	var dirs []string
	for range 4 {
		d := t.TempDir()
		l := &Server{Torrent: m, Dir: d, RechokeInterval: time.Second, OptimisticInterval: 3 * time.Second}
		serve(t, l)
		leechers = append(leechers, l)
		dirs = append(dirs, d)
	}
	for i, l := range leechers {
		waitDone(t, l, "leecher")
		checkFile(t, filepath.Join(dirs[i], "file.bin"), data)
	}
	var fromPeers int64
	for _, l := range leechers {
		fromPeers += l.Stats().Uploaded
	}
	if fromPeers == 0 {
		t.Error("the leechers uploaded nothing to each other")
	}
	t.Logf("seeder uploaded %d, leechers %d (file %d)", seed.Stats().Uploaded, fromPeers, len(data))
}

// TestPex: two leechers that know only the seeder learn of each other
// from it (BEP 11) and connect.
func TestPex(t *testing.T) {
	m, seedDir, _ := makeTorrent(t, 4<<20, 0)
	seed := &Server{Torrent: m, Dir: seedDir, NoTrackers: true, UploadRate: 256 << 10, PexInterval: time.Second}
	addr := serve(t, seed)
	var ls []*Server
	for range 2 {
		l := &Server{Torrent: m, Dir: t.TempDir(), NoTrackers: true, Peers: []string{addr}, PexInterval: time.Second}
		serve(t, l)
		ls = append(ls, l)
	}
	testutil.WaitFor(t, "the leechers connected to each other", func() bool {
		return ls[0].Stats().Peers == 2 && ls[1].Stats().Peers == 2
	})
}
