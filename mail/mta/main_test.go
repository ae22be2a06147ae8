package mta

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// The applayer binary, built once for the tests that run it as a user
// would (the SIGKILL test, the CLI test).
var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
	binOut  []byte
)

func applayerBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "applayer-mta-test-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "applayer")
		binOut, binErr = exec.Command("go", "build", "-o", binPath, "github.com/applayer/applayer/cmd/applayer").CombinedOutput()
	})
	if binErr != nil {
		t.Fatalf("go build: %v\n%s", binErr, binOut)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}
