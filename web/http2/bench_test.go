package http2

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// BenchmarkH2load serves b.N requests for a small file to h2load (10
// connections, 10 streams each), for profiling the server with
// go test -bench H2load -cpuprofile. Timings belong in bench/web.
func BenchmarkH2load(b *testing.B) {
	h2load, err := exec.LookPath("h2load")
	if err != nil {
		b.Skip("needs h2load (Debian nghttp2-client)")
	}
	for _, path := range []string{"/index.html", "/big.bin"} {
		b.Run(strings.TrimPrefix(path, "/"), func(b *testing.B) {
			ts := startServer(b, testSite(b), nil)
			b.ResetTimer()
			out, err := exec.Command(h2load, "-n", strconv.Itoa(max(b.N, 100)), "-c", "10", "-m", "10", "http://"+ts.addr+path).CombinedOutput()
			if err != nil || !strings.Contains(string(out), " 0 failed") {
				b.Fatalf("h2load: %v\n%s", err, out)
			}
		})
	}
}
