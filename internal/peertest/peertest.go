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
	"strings"
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
	missing(t, "peer "+name+" is not installed (Debian package "+pkg+")", "")
	return ""
}

// RequireFeature is Require for a peer whose capability depends on a
// package it only recommends: it runs the program with probe and looks
// for want in what it prints. swaks, for one, has no TLS without
// libnet-ssleay-perl, and says so when asked with --support:
//
//	peertest.RequireFeature(t, "swaks", "swaks", "=== TLS supported", "libnet-ssleay-perl", "--support")
func RequireFeature(t testing.TB, name, pkg, want, featurePkg string, probe ...string) string {
	t.Helper()
	p := Require(t, name, pkg)
	out, _ := exec.Command(p, probe...).CombinedOutput()
	if !strings.Contains(string(out), want) {
		missing(t, "peer "+name+" lacks a capability: \""+strings.Join(probe, " ")+"\" does not print \""+want+
			"\" (Debian package "+featurePkg+" adds it)", string(out))
	}
	return p
}

// missing fails the test under CI, where .ci/run installs every peer, and
// skips it elsewhere; detail (what the peer printed) is logged first.
func missing(t testing.TB, msg, detail string) {
	t.Helper()
	msg += "; .ci/run installs it"
	if detail != "" {
		t.Log(detail)
	}
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg + "; skipping")
}

// RequirePython returns the path of a python3 that can import every module
// in modules (for example "dns.resolver" from python3-dnspython), and skips
// or fails like Require otherwise. It tries the python3 on PATH first, then
// Debian's /usr/bin/python3: a python3 installed apart from the system (by
// pyenv, say) does not see the modules that Debian's packages install.
func RequirePython(t testing.TB, pkg string, modules ...string) string {
	t.Helper()
	var candidates []string
	if p, err := exec.LookPath("python3"); err == nil {
		candidates = append(candidates, p)
	}
	if p, err := exec.LookPath("/usr/bin/python3"); err == nil && (len(candidates) == 0 || candidates[0] != p) {
		candidates = append(candidates, p)
	}
	if len(candidates) == 0 {
		return Require(t, "python3", "python3")
	}
	if len(modules) == 0 {
		modules = []string{"sys"} // the standard library alone: python3 runs
	}
	for _, py := range candidates {
		if exec.Command(py, "-c", "import "+strings.Join(modules, ", ")).Run() == nil {
			return py
		}
	}
	missing(t, "python3 modules "+strings.Join(modules, ", ")+" are missing (Debian package "+pkg+")", "")
	return ""
}
