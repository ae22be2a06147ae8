//go:build unix

package maildir

import (
	"os"
	"syscall"
)

// flock takes an flock on f: exclusive or shared, waiting or not. Locks
// are per open file, so two opens in one process exclude each other too.
func flock(f *os.File, exclusive, wait bool) error {
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	if !wait {
		how |= syscall.LOCK_NB
	}
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if err != syscall.EINTR {
			if err == syscall.EWOULDBLOCK {
				return ErrLocked
			}
			return err
		}
	}
}
