package lab

import (
	"context"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/applayer/applayer/internal/transcript"

	"github.com/applayer/applayer/upper"
)

// freeBase returns a base port under which the upper service's offset lands
// on a port the kernel just reported free.
func freeBase(t *testing.T) int {
	t.Helper()
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if p > 2000 {
			return p - 2000
		}
	}
	t.Fatal("no free port")
	return 0
}

func upperOnly(base int) Topology {
	return Topology{BasePort: base, Services: []Spec{{Name: "upper", Kind: "upper", Host: "127.0.0.1", Port: 2000}}}
}

func TestValidate(t *testing.T) {
	ok := upperOnly(10000)
	if err := ok.Validate(); err != nil {
		t.Errorf("Validate(upper only) = %v", err)
	}
	if err := DefaultTopology().Validate(); err != nil {
		t.Errorf("Validate(default) = %v", err)
	}
	tests := []struct {
		name string
		spec Spec
		want string
	}{
		{"not loopback", Spec{Name: "x", Kind: "upper", Host: "10.0.0.1", Port: 1}, "not a loopback address"},
		{"bad host", Spec{Name: "x", Kind: "upper", Host: "localhost", Port: 1}, "not a loopback address"},
		{"unknown kind", Spec{Name: "x", Kind: "gopher", Host: "127.0.0.1", Port: 1}, `unknown kind "gopher"`},
		{"same address", Spec{Name: "x", Kind: "upper", Host: "127.0.0.1", Port: 2000}, `both want 127.0.0.1:12000`},
		{"same name", Spec{Name: "upper", Kind: "upper", Host: "127.0.0.2", Port: 2000}, "name used twice"},
		{"port range", Spec{Name: "x", Kind: "upper", Host: "127.0.0.1", Port: 60000}, "out of range"},
	}
	for _, tt := range tests {
		topo := upperOnly(10000)
		topo.Services = append(topo.Services, tt.spec)
		if err := topo.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Validate = %v, want an error containing %q", tt.name, err, tt.want)
		}
	}
}

func TestStartServeShutdown(t *testing.T) {
	l := &Lab{Topology: upperOnly(freeBase(t)), Logger: slog.New(slog.DiscardHandler)}
	ctx := context.Background()
	eps, err := l.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(eps) != 2 || eps[0].Proto != "upper/udp" || eps[1].Proto != "upper/tcp" || !strings.Contains(eps[0].Try, "upper send") {
		t.Errorf("endpoints = %+v", eps)
	}
	ans, err := upper.SendTCP(ctx, eps[1].Addr, []byte("lab"), upper.Options{})
	if err != nil || string(ans) != "LAB" {
		t.Errorf("TCP through the lab = %q, %v", ans, err)
	}
	conn, err := upper.DialUDP(ctx, eps[0].Addr, upper.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if ans, _, err := conn.Exchange(ctx, []byte("lab"), time.Second, 2); err != nil || string(ans) != "LAB" {
		t.Errorf("UDP through the lab = %q, %v", ans, err)
	}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := l.Shutdown(sctx); err != nil {
		t.Errorf("Shutdown = %v", err)
	}
	select {
	case err := <-l.Err():
		t.Errorf("a service reported %v after a clean shutdown", err)
	default:
	}
	if _, err := net.Dial("tcp", eps[1].Addr); err == nil {
		t.Error("the upper service still accepts after Shutdown")
	}
}

// TestBindConflict: a port in use stops the start, names the service and the
// address, and releases what was already bound.
func TestBindConflict(t *testing.T) {
	base := freeBase(t)
	topo := upperOnly(base)
	topo.Services = append(topo.Services, Spec{Name: "upper2", Kind: "upper", Host: "127.0.0.1", Port: 2001})
	busy, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(base+2001)))
	if err != nil {
		t.Skip("port taken meanwhile:", err)
	}
	defer busy.Close()
	l := &Lab{Topology: topo, Logger: slog.New(slog.DiscardHandler)}
	_, err = l.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "upper2") || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("Start = %v, want the service name and the cause", err)
	}
	// The first service's sockets were released.
	again, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(base+2000)))
	if err != nil {
		t.Errorf("the first service's port was not released: %v", err)
	} else {
		again.Close()
	}
}

// TestTraceLabels: with a TraceSink every line names its service, and
// TraceOnly keeps the services named (by Spec name or host name).
func TestTraceLabels(t *testing.T) {
	base := freeBase(t)
	topo := upperOnly(base)
	topo.Services = append(topo.Services, Spec{Name: "upper2", Kind: "upper", Host: "127.0.0.2", Port: 2000,
		Records: []string{"upper2.example.com. 300 IN A 127.0.0.2"}})
	var mu sync.Mutex
	var lines []transcript.Event
	sink := transcript.SinkFunc(func(e transcript.Event) { mu.Lock(); lines = append(lines, e); mu.Unlock() })
	l := &Lab{Topology: topo, Logger: slog.New(slog.DiscardHandler), TraceSink: sink, TraceOnly: []string{"upper2.example.com."}}
	eps, err := l.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Shutdown(context.Background())
	for _, ep := range eps {
		if ep.Proto == "upper/tcp" {
			if _, err := upper.SendTCP(context.Background(), ep.Addr, []byte("x"), upper.Options{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	l.Shutdown(context.Background())
	mu.Lock()
	defer mu.Unlock()
	if len(lines) == 0 {
		t.Fatal("nothing traced")
	}
	for _, e := range lines {
		if !strings.HasPrefix(e.Proto, "upper2 ") {
			t.Errorf("traced %q: want only upper2's lines, labelled", e.Proto)
		}
	}
	bad := &Lab{Topology: topo, TraceSink: sink, TraceOnly: []string{"nosuch"}}
	if _, err := bad.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "no such service") {
		t.Errorf("TraceOnly nosuch: %v", err)
	}
}
