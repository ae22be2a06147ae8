package dash

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/applayer/applayer/internal/peertest"
	"github.com/applayer/applayer/video/trace"
)

// dashJSVersion is the dash.js the test plays with.
const dashJSVersion = "4.7.4"

// dashJS returns dash.js's dash.all.min.js: the file APPLAYER_DASHJS
// names, or the npm package dashjs installed on first use into the user's
// cache directory (npm is Debian's; .ci/run installs it).
func dashJS(t *testing.T) string {
	if p := os.Getenv("APPLAYER_DASHJS"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	npm := peertest.Require(t, "npm", "npm")
	cd, err := os.UserCacheDir()
	if err != nil {
		t.Skip("no user cache directory for dash.js: set APPLAYER_DASHJS")
	}
	dir := filepath.Join(cd, "applayer", "dashjs-"+dashJSVersion)
	p := filepath.Join(dir, "node_modules", "dashjs", "dist", "dash.all.min.js")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	os.MkdirAll(dir, 0o755)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, npm, "i", "--no-audit", "--no-fund", "--prefix", dir, "dashjs@"+dashJSVersion).CombinedOutput(); err != nil {
		msg := fmt.Sprintf("cannot install dash.js with npm (is the registry reachable?): %v\n%s", err, out)
		if os.Getenv("CI") != "" {
			t.Fatal(msg) // under CI a peer that cannot be had is a failure
		}
		t.Skip(msg)
	}
	return p
}

// TestDashJS: dash.js, in headless Chromium, plays our MPD and segments
// from our server (shaped) to the end with no error, with both of its
// rate-adaptation strategies; the server's own record shows every segment
// delivered.
func TestDashJS(t *testing.T) {
	js := dashJS(t)
	chromium := peertest.Require(t, "chromium", "chromium")
	dir, _ := tinyPackage(t)
	m, err := ParseBytes(must(os.ReadFile(filepath.Join(dir, ManifestName))), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for _, strategy := range []string{"abrDynamic", "abrBola"} {
		t.Run(strategy, func(t *testing.T) {
			s := &Server{Dir: dir, DashJS: js, Throughput: trace.Constant(2000)}
			addr := startServer(t, s)
			_, next := s.Reports()
			// Chromium's own helper processes may still write to the
			// profile after it is killed: the profile is removed at best,
			// and the whole process group is killed.
			profile, err := os.MkdirTemp("", "applayer-dashjs-")
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--mute-audio",
				"--autoplay-policy=no-user-gesture-required", "--no-first-run", "--disable-breakpad",
				"--disable-background-networking", "--disable-component-update", "--disable-sync",
				"--user-data-dir="+profile, fmt.Sprintf("http://%s%s?abr=%s", addr, PlayerPath, strategy))
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				cmd.Wait()
				os.RemoveAll(profile)
			}()
			select {
			case <-next:
			case <-time.After(90 * time.Second):
				t.Fatal("the player page never reported")
			}
			reports, _ := s.Reports()
			if len(reports) != 1 || reports[0].Event != "ended" || reports[0].Errors != "" || reports[0].ABR != strategy {
				t.Fatalf("reports %+v, want one ended without errors", reports)
			}
			var sent []Sent
			s.mu.Lock()
			for _, l := range s.links {
				sent = append(sent, l.sent...)
			}
			s.mu.Unlock()
			score, err := ScoreSent(m, sent, strategy)
			if err != nil {
				t.Fatal(err)
			}
			if len(score.Steps) != 4 {
				t.Errorf("the server sent %d of 4 segments: %+v", len(score.Steps), sent)
			}
			t.Logf("dash.js %s: %d segments, %.0f kbit/s, QoE_lin %.2f", strategy, len(score.Steps), score.AvgKbps, score.QoE)
		})
	}
}
