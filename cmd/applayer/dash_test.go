package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/applayer/applayer/internal/peertest"
)

// TestDashPackageServePlay runs the three commands as a user would: a
// tiny test clip is packaged with ffmpeg, served, and played with each
// rule; the play reports are checked, and the server stops on SIGTERM.
func TestDashPackageServePlay(t *testing.T) {
	peertest.Require(t, "ffmpeg", "ffmpeg")
	dir := filepath.Join(t.TempDir(), "pkg")
	out, errOut, code := run(t, "", "dash", "package", "--data", dir, "--duration", "4s", "--segment", "1s", "--fps", "12", "--ladder", "50:72,200:144", "--preset", "ultrafast")
	if code != 0 || !strings.Contains(out, "wrote "+filepath.Join(dir, "manifest.mpd")+": 4s of video in 1s segments, 2 rungs") {
		t.Fatalf("package: exit %d\n%s%s", code, out, errOut)
	}
	trace := filepath.Join(t.TempDir(), "link.csv")
	os.WriteFile(trace, []byte("0,5000\n1,20000\n"), 0o644)
	srv := exec.Command(bin, "dash", "serve", dir, "--listen", "127.0.0.1:0", "--throughput", trace, "--log-level", "warn")
	stdout, _ := srv.StdoutPipe()
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() {
		t.Fatal("serve printed nothing")
	}
	first := sc.Text()
	go func() {
		for sc.Scan() {
		}
	}()
	defer func() {
		srv.Process.Signal(syscall.SIGTERM)
		if err := srv.Wait(); err != nil {
			t.Errorf("serve after SIGTERM: %v, want exit 0", err)
		}
	}()
	// "serving DIR on http://127.0.0.1:PORT/manifest.mpd, shaped by ..."
	_, rest, _ := strings.Cut(first, " on ")
	url, _, _ := strings.Cut(rest, ",")
	if !strings.HasPrefix(url, "http://127.0.0.1:") || !strings.Contains(first, "shaped by") {
		t.Fatalf("serve said %q", first)
	}
	for _, rule := range []string{"rate", "bba", "bola", "ours"} {
		report := filepath.Join(t.TempDir(), rule+".json")
		plot := filepath.Join(t.TempDir(), rule+".svg")
		out, errOut, code := run(t, "", "dash", "play", url, "--abr", rule, "--report", report, "--plot", plot)
		if code != 0 || strings.Count(out, "\nsegment ") != 3 || !strings.Contains(out, rule+": 4 segments, average ") {
			t.Errorf("play --abr %s: exit %d\n%s%s", rule, code, out, errOut)
			continue
		}
		var res struct {
			Rule  string `json:"rule"`
			Steps []struct {
				Bytes float64 `json:"bytes"`
			} `json:"steps"`
			QoE float64 `json:"qoe_lin"`
		}
		b, err := os.ReadFile(report)
		if err != nil || json.Unmarshal(b, &res) != nil || res.Rule != rule || len(res.Steps) != 4 || res.Steps[0].Bytes <= 0 {
			t.Errorf("%s report: %v %s", rule, err, b)
		}
		if svg, err := os.ReadFile(plot); err != nil || !strings.HasPrefix(string(svg), "<svg") || !strings.HasSuffix(string(svg), "</svg>\n") {
			t.Errorf("%s plot: %v", rule, err)
		}
	}
	// The simulator mode downloads nothing and gives the same answer twice.
	a, _, code1 := run(t, "", "dash", "play", url, "--throughput", trace, "--offset", "0.5s", "--rtt", "80ms", "--quiet")
	b, _, code2 := run(t, "", "dash", "play", url, "--throughput", trace, "--offset", "0.5s", "--rtt", "80ms", "--quiet")
	if code1 != 0 || code2 != 0 || a != b || !strings.HasPrefix(a, "ours: 4 segments") {
		t.Errorf("simulated play: %q then %q", a, b)
	}
	_, errOut, code = run(t, "", "dash", "play", url, "--abr", "pensieve")
	if code != 1 || !strings.HasPrefix(errOut, "applayer: dash play: --abr: abr: no rule \"pensieve\"") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("unknown rule: exit %d, %q", code, errOut)
	}
}

func TestDashErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"dash", "serve", dir, "--listen", "127.0.0.1:0"}, "is not a package"},
		{[]string{"dash", "serve"}, "missing DIR"},
		{[]string{"dash", "play"}, "missing URL"},
		{[]string{"dash", "play", "https://example.com/a.mpd"}, "want an http:// URL"},
		{[]string{"dash", "package", "--ladder", "300"}, "KBPS:HEIGHT"},
		{[]string{"dash", "package", filepath.Join(dir, "nothing.mp4")}, "no such file"},
	} {
		_, errOut, code := run(t, "", tc.args...)
		if code != 1 || !strings.Contains(errOut, tc.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%v: exit %d, %q; want %q", tc.args, code, errOut, tc.want)
		}
	}
	os.WriteFile(filepath.Join(dir, "manifest.mpd"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dir, "bad.csv"), []byte("0,-1\n"), 0o644)
	_, errOut, code := run(t, "", "dash", "serve", dir, "--throughput", filepath.Join(dir, "bad.csv"))
	if code != 1 || !strings.Contains(errOut, "--throughput: trace bad.csv:1:") {
		t.Errorf("bad trace: exit %d, %q", code, errOut)
	}
}
