package http2

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/applayer/applayer/internal/peertest"
)

func writeCert(t *testing.T, ts *testServer) string {
	// The pool came from this PEM; curl wants the file.
	p := filepath.Join(t.TempDir(), "cert.pem")
	if err := os.WriteFile(p, ts.certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCurl(t *testing.T) {
	curl := peertest.Require(t, "curl", "curl")
	ts := startServer(t, testSite(t), nil)
	cert := writeCert(t, ts)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"prior knowledge", []string{"--http2-prior-knowledge", "http://" + ts.addr + "/a.txt"}},
		{"Upgrade: h2c", []string{"--http2", "http://" + ts.addr + "/a.txt"}},
		{"TLS ALPN h2", []string{"--http2", "--cacert", cert, "https://" + strings.Replace(ts.tlsAddr, "127.0.0.1", "localhost", 1) + "/a.txt"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"-sS", "--max-time", "20", "-w", "\n%{http_version} %{http_code}"}, tc.args...)
			out, err := exec.Command(curl, args...).CombinedOutput()
			if err != nil {
				t.Fatalf("curl %v: %v\n%s", args, err, out)
			}
			if want := "abcdefghijklmnopqrstuvwxyz\n2 200"; string(out) != want {
				t.Errorf("curl %s: got %q, want %q", tc.name, out, want)
			}
		})
	}
	// A POST over the upgrade is served as HTTP/1.1 (no body is taken
	// across the switch), and HTTP/1.1 still works on the same port.
	out, err := exec.Command(curl, "-sS", "--max-time", "20", "--http2", "-d", "hello", "-w", "\n%{http_version}", "http://"+ts.addr+"/echo").CombinedOutput()
	if err != nil || string(out) != "hello\n1.1" {
		t.Errorf("curl --http2 POST: %q, %v; want the body echoed over 1.1", out, err)
	}
}

var dataFrame = regexp.MustCompile(`recv DATA frame <length=(\d+), flags=0x0(\d), stream_id=(\d+)>`)

// TestNghttpInterleaves fetches a large and a small object at once: the
// small one's DATA must arrive before the large one's end (no head-of-line
// blocking behind the large object).
func TestNghttpInterleaves(t *testing.T) {
	nghttp := peertest.Require(t, "nghttp", "nghttp2-client")
	ts := startServer(t, testSite(t), nil)
	base := "http://" + ts.addr
	out, err := exec.Command(nghttp, "-nv", "-t", "20", base+"/big.bin", base+"/stream/300000", base+"/a.txt").CombinedOutput()
	if err != nil {
		t.Fatalf("nghttp: %v\n%s", err, out)
	}
	var ids []string
	for _, m := range sentHeaders.FindAllStringSubmatch(string(out), -1) {
		ids = append(ids, m[1])
	}
	if len(ids) != 3 {
		t.Fatalf("nghttp sent HEADERS on %v, want 3 streams:\n%s", ids, out)
	}
	big, mid, small := ids[0], ids[1], ids[2]
	var order []string
	total := map[string]int{}
	endAt := map[string]int{}
	for i, m := range dataFrame.FindAllStringSubmatch(string(out), -1) {
		order = append(order, m[3])
		n, _ := strconv.Atoi(m[1])
		total[m[3]] += n
		if m[2] == "1" {
			endAt[m[3]] = i
		}
	}
	if len(endAt) != 3 {
		t.Fatalf("streams ended: %v; nghttp said:\n%s", endAt, out)
	}
	if endAt[small] > endAt[big] || endAt[small] > endAt[mid] {
		t.Errorf("the small object ended after a large one: DATA order %v", order)
	}
	firstBig := slices.Index(order, big)
	if !slices.Contains(order[firstBig:endAt[big]], mid) {
		t.Errorf("the two large objects were not interleaved: DATA order %v", order)
	}
	if got, want := []int{total[big], total[mid], total[small]}, []int{len(ts.site["big.bin"]), 300000, 26}; !slices.Equal(got, want) {
		t.Errorf("DATA octets per stream %v, want %v", got, want)
	}
}

var sentHeaders = regexp.MustCompile(`send HEADERS frame <length=\d+, flags=0x[0-9a-f]+, stream_id=(\d+)>`)

// h2specPath finds h2spec in PATH or in GOPATH/bin; tests that need it
// skip without it (it is a Go program, not a Debian package: .ci/run
// installs it with go install).
func h2specPath(t *testing.T) string {
	if p, err := exec.LookPath("h2spec"); err == nil {
		return p
	}
	gopath, _ := exec.Command("go", "env", "GOPATH").Output()
	p := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "h2spec")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatal("h2spec is not installed; .ci/run installs it with go install github.com/summerwind/h2spec/cmd/h2spec@v2.2.1")
	}
	t.Skip("h2spec is not installed (go install github.com/summerwind/h2spec/cmd/h2spec@latest); skipping")
	return ""
}

var h2specSummary = regexp.MustCompile(`(\d+) tests, (\d+) passed, (\d+) skipped, (\d+) failed`)

func TestH2spec(t *testing.T) {
	h2spec := h2specPath(t)
	ts := startServer(t, testSite(t), nil)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"h2c", nil},
		{"h2c strict", []string{"-S"}},
		{"TLS", []string{"-t", "-k"}},
		{"TLS strict", []string{"-t", "-k", "-S"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := ts.addr
			if strings.HasPrefix(tc.name, "TLS") {
				addr = ts.tlsAddr
			}
			host, port, _ := strings.Cut(addr, ":")
			args := append([]string{"-h", host, "-p", port, "-o", "5"}, tc.args...)
			out, _ := exec.Command(h2spec, args...).CombinedOutput()
			m := h2specSummary.FindStringSubmatch(string(out))
			if m == nil {
				t.Fatalf("h2spec %v printed no summary:\n%s", args, out)
			}
			if m[4] != "0" || m[3] != "0" || m[1] != m[2] {
				t.Errorf("h2spec %v: %s\n%s", args, m[0], failures(string(out)))
			}
			t.Log("h2spec", strings.Join(args, " "), ":", m[0])
		})
	}
}

// failures keeps the part of h2spec's report after "Failures:".
func failures(out string) string {
	if i := strings.Index(out, "Failures:"); i >= 0 {
		return out[i:]
	}
	return out
}
