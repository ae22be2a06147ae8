package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// stopWithParent makes the process get SIGTERM when its parent dies, if
// that parent is `go run`: go run does not pass SIGTERM on (kill %1 on a
// backgrounded `go run ./cmd/applayer lab up` stops only go run), and the
// lab would go on holding every port. A lab started any other way (nohup,
// a service manager) keeps running without its parent.
func stopWithParent() {
	if !startedByGoRun() {
		return
	}
	ppid := os.Getppid()
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(syscall.SIGTERM), 0, 0, 0); err != nil {
		return
	}
	if os.Getppid() != ppid {
		// The parent died before the prctl took effect.
		syscall.Kill(os.Getpid(), syscall.SIGTERM)
	}
}

// startedByGoRun reports whether this binary is one `go run` built: it lives
// in go's temporary build directory (go-build*/.../exe/).
func startedByGoRun() bool {
	self, err := os.Executable()
	if err != nil {
		return false
	}
	return filepath.Base(filepath.Dir(self)) == "exe" && strings.Contains(self, string(filepath.Separator)+"go-build")
}
