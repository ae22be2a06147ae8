//go:build !unix

package ftp

import "net"

func oobInline(net.Conn) {}
