// Package peertest helps tests that drive applayer with independent
// software (curl, dig, python3, swaks...). Such a test calls Require for each
// program it needs: on a developer's machine a missing program skips the
// test with a message naming the Debian package that provides it; under CI
// (the CI environment variable is set) it fails the test, because .ci/run
// installs every peer and a peer test that silently skips cannot fail.
package peertest

import (
	"os"
	"os/exec"
	"testing"
)

// Require returns the path of the program name, or skips (fails under CI)
// when it is not installed. pkg names the Debian package that provides it.
func Require(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	msg := "peer " + name + " is not installed (Debian package " + pkg + "); .ci/run installs it"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg + "; skipping")
	return ""
}

// RequirePython returns the path of python3 if it can import every module
// in modules (for example "dns.resolver" from python3-dnspython), and skips
// or fails like Require otherwise.
func RequirePython(t testing.TB, pkg string, modules ...string) string {
	t.Helper()
	py := Require(t, "python3", "python3")
	for _, m := range modules {
		if err := exec.Command(py, "-c", "import "+m).Run(); err != nil {
			msg := "python3 module " + m + " is missing (Debian package " + pkg + ")"
			if os.Getenv("CI") != "" {
				t.Fatal(msg)
			}
			t.Skip(msg + "; skipping")
		}
	}
	return py
}
