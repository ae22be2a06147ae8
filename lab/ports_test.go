package lab

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/applayer/applayer/internal/peertest"
)

// TestNoRestrictedPorts: no port of the default lab is one browsers refuse
// (Chromium's kRestrictedPorts; 10080, the old web port, is on it).
func TestNoRestrictedPorts(t *testing.T) {
	bad := map[int]bool{}
	for _, p := range RestrictedPorts {
		bad[p] = true
	}
	if !bad[10080] || !bad[6667] || !bad[25] {
		t.Fatal("the restricted list lost entries")
	}
	topo := DefaultTopology()
	ports := topo.Ports()
	if len(ports) < len(topo.Services) {
		t.Fatalf("Ports() = %v", ports)
	}
	for _, p := range ports {
		if bad[p] {
			t.Errorf("the default lab uses port %d, which browsers refuse (ERR_UNSAFE_PORT)", p)
		}
	}
}

// TestBrowserOpensLabPage: headless Chromium, a real browser, loads the
// lab's web page on its default port.
func TestBrowserOpensLabPage(t *testing.T) {
	chromium := peertest.Require(t, "chromium", "chromium")
	var spec Spec
	for _, s := range DefaultTopology().Services {
		if s.Kind == "web" {
			spec = s
		}
	}
	l := &Lab{Topology: Topology{BasePort: DefaultBasePort, Services: []Spec{spec}}, Logger: slog.New(slog.DiscardHandler)}
	eps, err := l.Start(context.Background())
	if errors.Is(err, syscall.EADDRINUSE) {
		t.Skip("the default web port is taken (a lab running?):", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		l.Shutdown(ctx)
	}()
	url := "http://" + eps[0].Addr + "/"
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--user-data-dir="+t.TempDir(), "--dump-dom", url).Output()
	if err != nil || !strings.Contains(string(out), "<img") {
		t.Errorf("chromium --dump-dom %s: %v\n%.500s", url, err, out)
	}
}

// TestBindErrorNamesHolder: a port in use names the process holding it
// (this test's own) and suggests --base-port.
func TestBindErrorNamesHolder(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	_, err = net.Listen("tcp", busy.Addr().String())
	msg := bindError("upper", err, 10000).Error()
	for _, want := range []string{"address already in use", "--base-port 20000", "held by process " + strconv.Itoa(syscallGetpid())} {
		if !strings.Contains(msg, want) {
			t.Errorf("bindError = %q, want %q", msg, want)
		}
	}
	if a, ok := procAddr("0100007F:2742"); !ok || a != netip.MustParseAddrPort("127.0.0.1:10050") {
		t.Errorf("procAddr = %v %v", a, ok)
	}
}

func syscallGetpid() int { return syscall.Getpid() }
