package proxy

import (
	"cmp"
	"io"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/applayer/applayer/web"
)

// tunnelIdle closes a CONNECT tunnel in which neither side sent anything
// for this long.
const tunnelIdle = 5 * time.Minute

// connect opens a tunnel to host:port for a CONNECT request (RFC 9110
// §9.3.6), only to the allowed ports: a proxy that tunnels anywhere
// relays spam to port 25.
func (s *Server) connect(w web.ResponseWriter, r *web.Request) {
	web.Blocking(w)
	ports := s.ConnectPorts
	if ports == nil {
		ports = DefaultConnectPorts
	}
	_, port, err := net.SplitHostPort(r.Host)
	n, err2 := strconv.Atoi(port)
	if err != nil || err2 != nil || !slices.Contains(ports, n) {
		web.WriteError(w, web.StatusForbidden, "CONNECT is allowed only to ports "+portList(ports))
		return
	}
	d := net.Dialer{Timeout: cmp.Or(s.OriginTimeout, DefaultOriginTimeout)}
	up, err := d.Dial("tcp", r.Host)
	if err != nil {
		s.badGateway(w, err)
		return
	}
	defer up.Close()
	nc, br, err := web.Tunnel(w)
	if err != nil {
		return
	}
	s.stats.tunnels.Add(1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		pipe(up, &idleReader{c: nc, r: br})
		if tc, ok := up.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
	}()
	pipe(nc, &idleReader{c: up, r: up})
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
	wg.Wait()
}

func pipe(dst net.Conn, src io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			dst.SetWriteDeadline(time.Now().Add(tunnelIdle))
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// idleReader moves c's read deadline before each read.
type idleReader struct {
	c net.Conn
	r io.Reader
}

func (i *idleReader) Read(p []byte) (int, error) {
	i.c.SetReadDeadline(time.Now().Add(tunnelIdle))
	return i.r.Read(p)
}

func portList(ps []int) string {
	var b []byte
	for i, p := range ps {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = strconv.AppendInt(b, int64(p), 10)
	}
	return string(b)
}
