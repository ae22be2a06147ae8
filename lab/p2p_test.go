package lab

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/applayer/applayer/internal/testutil"
	"github.com/applayer/applayer/p2p/metainfo"
	"github.com/applayer/applayer/p2p/peer"
)

// TestLabSwarm starts the torrent service alone: the leechers complete
// from the seeder and each other, and a peer that joins later downloads
// the file through the tracker.
func TestLabSwarm(t *testing.T) {
	// A base port whose +6969 is free on 127.0.69.1.
	l, err := net.Listen("tcp", "127.0.69.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	base := port - 6969
	if base < 0 {
		t.Skip("the kernel gave a port below 6969")
	}
	spec := Spec{Name: "torrent", Kind: "torrent", Host: "127.0.69.1", Port: 6969, Args: map[string]string{"size": "1000000", "leechers": "3"}}
	lab := &Lab{Topology: Topology{BasePort: base, Services: []Spec{spec}}, Logger: slog.New(slog.DiscardHandler)}
	eps, err := lab.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		lab.Shutdown(ctx)
	})
	if len(eps) != 3 || !strings.Contains(eps[2].Try, "aria2c") {
		t.Fatalf("endpoints %+v", eps)
	}
	svc := lab.running[0].svc.(*torrentService)
	for i, p := range svc.peers {
		select {
		case <-p.Done():
		case <-time.After(testutil.Patience):
			t.Fatalf("lab peer %d incomplete: %+v", i, p.Stats())
		}
	}
	m, err := metainfo.Load(svc.torrent)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	late := &peer.Server{Torrent: m, Dir: dir, Logger: slog.New(slog.DiscardHandler)}
	pl, err := net.Listen("tcp", "127.0.69.9:0")
	if err != nil {
		t.Fatal(err)
	}
	go late.Serve(pl)
	t.Cleanup(func() { late.Close() })
	select {
	case <-late.Done():
	case <-time.After(testutil.Patience):
		t.Fatalf("late peer incomplete: %+v", late.Stats())
	}
	got, _ := os.ReadFile(filepath.Join(dir, "sample.bin"))
	want, _ := os.ReadFile(filepath.Join(svc.dir, "seed", "sample.bin"))
	if len(want) != 1000000 || !bytes.Equal(got, want) {
		t.Fatalf("the late peer's file (%d bytes) differs from the seeded one (%d)", len(got), len(want))
	}
}
