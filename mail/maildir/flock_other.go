//go:build !unix

package maildir

import "os"

// flock is a no-op where flock(2) does not exist: sessions are not kept
// apart there.
func flock(f *os.File, exclusive, wait bool) error { return nil }
