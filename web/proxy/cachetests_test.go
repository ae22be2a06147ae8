package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/applayer/applayer/internal/peertest"
	"github.com/applayer/applayer/internal/testutil"
)

// cacheTestsVersion is the npm release of the cache-tests suite scored
// here and in bench/web/cachetests.sh.
const cacheTestsVersion = "0.4.5"

// minRequired is the target: above Squid (120 of 157 in this
// release), Varnish (105) and nginx (93).
const minRequired = 125

// TestCacheTests runs the cache-tests suite (the one behind
// cache-tests.fyi) against the proxy in reverse mode in front of the
// suite's own origin, and requires minRequired of its 157 required tests.
// It needs node and npm, and the suite: from APPLAYER_CACHE_TESTS (a
// directory holding node_modules/http-cache-tests), or installed with npm
// into the user's cache directory on first use; when that install fails
// (no registry), the test skips and says why.
func TestCacheTests(t *testing.T) {
	if testing.Short() {
		t.Skip("the cache-tests suite takes about 30 s; skipped with -short")
	}
	node := peertest.Require(t, "node", "nodejs")
	npm := peertest.Require(t, "npm", "npm")
	dir := os.Getenv("APPLAYER_CACHE_TESTS")
	if dir == "" {
		cd, err := os.UserCacheDir()
		if err != nil {
			t.Skip("no user cache directory for the suite: set APPLAYER_CACHE_TESTS")
		}
		dir = filepath.Join(cd, "applayer", "cache-tests-"+cacheTestsVersion)
	}
	suite := filepath.Join(dir, "node_modules", "http-cache-tests")
	if _, err := os.Stat(filepath.Join(suite, "package.json")); err != nil {
		os.MkdirAll(dir, 0o755)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, npm, "i", "--no-audit", "--no-fund", "--prefix", dir, "http-cache-tests@"+cacheTestsVersion).CombinedOutput()
		if err != nil {
			msg := fmt.Sprintf("cannot install the cache-tests suite with npm (is the registry reachable?): %v\n%s", err, out)
			if os.Getenv("CI") != "" {
				t.Fatal(msg) // under CI a suite that cannot run is a failure, as a missing peer is
			}
			t.Skip(msg)
		}
	}
	// The suite's origin listens on every interface: keep it on loopback.
	srvFile := filepath.Join(suite, "server", "server.mjs")
	b, err := os.ReadFile(srvFile)
	if err != nil {
		t.Fatal(err)
	}
	if s := string(b); strings.Contains(s, "server.listen(port)\n") {
		os.WriteFile(srvFile, []byte(strings.Replace(s, "server.listen(port)\n", "server.listen(port, '127.0.0.1')\n", 1)), 0o644)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	originAddr := l.Addr().String()
	_, port, _ := net.SplitHostPort(originAddr)
	l.Close()
	origin := exec.Command(node, srvFile)
	origin.Dir = t.TempDir()
	origin.Env = append(os.Environ(), "npm_config_protocol=http", "npm_config_port="+port, "npm_config_pidfile="+filepath.Join(origin.Dir, "server.pid"))
	if err := origin.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { origin.Process.Kill(); origin.Wait() }()
	testutil.WaitListening(t, originAddr)

	px := &Server{Origin: originAddr}
	addr := startProxy(t, px)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cli := exec.CommandContext(ctx, node, "--no-warnings", filepath.Join(suite, "cli.mjs"))
	cli.Dir = origin.Dir
	cli.Env = append(os.Environ(), "npm_config_base=http://"+addr, "npm_config_id=", "npm_package_config_id=")
	res, err := cli.Output()
	if err != nil {
		t.Fatalf("cache-tests client: %v\n%s", err, res)
	}
	resFile := filepath.Join(origin.Dir, "results.json")
	os.WriteFile(resFile, res, 0o644)
	score, err := exec.Command(node, filepath.Join("..", "..", "bench", "web", "cachetests_score.mjs"), suite, resFile, "--json").Output()
	if err != nil {
		t.Fatalf("scoring: %v\n%s", err, score)
	}
	var sc struct {
		Required, RequiredPassed, Optimal, OptimalPassed int
		FailedRequired                                   []string
	}
	if err := json.Unmarshal(score, &sc); err != nil {
		t.Fatalf("score %q: %v", score, err)
	}
	t.Logf("cache-tests %s: required %d/%d, optimal %d/%d; failed required: %s", cacheTestsVersion,
		sc.RequiredPassed, sc.Required, sc.OptimalPassed, sc.Optimal, strings.Join(sc.FailedRequired, " "))
	if sc.RequiredPassed < minRequired {
		t.Errorf("required tests passed: %d of %d, want at least %d", sc.RequiredPassed, sc.Required, minRequired)
	}
}
