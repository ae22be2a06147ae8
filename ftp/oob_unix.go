//go:build unix

package ftp

import (
	"net"
	"syscall"
)

// oobInline keeps TCP urgent data in the control connection's stream
// (SO_OOBINLINE), as vsftpd does: clients send ABOR, or the Telnet Synch
// before it, with MSG_OOB (Python's ftplib sends "ABOR\r\n" so), and
// without it the kernel would take the urgent byte, the line's LF or the
// Telnet DM, out of the stream.
func oobInline(c net.Conn) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) {
		syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_OOBINLINE, 1)
	})
}
