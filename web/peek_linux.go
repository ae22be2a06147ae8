//go:build linux && !386

package web

import (
	"syscall"
	"unsafe"
)

// peekReady reports whether a read on fd would not block: a byte is
// waiting, the peer closed, or the socket failed. It reads nothing
// (MSG_PEEK) and never blocks (MSG_DONTWAIT).
func peekReady(fd uintptr) bool {
	var b [1]byte
	for {
		_, _, errno := syscall.Syscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b[0])), 1, syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
		switch errno {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		return true
	}
}
