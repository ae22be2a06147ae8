//go:build !linux

package web

import "os"

// Without epoll every connection keeps its goroutine while idle; these
// stand-ins let server.go read the same everywhere.

type pollers struct{}

type poller struct{}

type pollState struct{ p *poller }

func (p *poller) run(*pollState) {}

func (c *conn) park() bool { return false }

func (s *Server) stopPollers() {}

func (c *conn) rawRead(b []byte) (int, error)  { return c.nc.Read(b) }
func (c *conn) rawWrite(b []byte) (int, error) { return c.nc.Write(b) }

func (c *conn) rawSendfile(*os.File, int64) (int64, error) { return 0, errWouldBlock }

type rawIO struct{}

func (c *conn) initPoll() { c.fd = -1 }
