package lab

import (
	"context"
	"net"

	"github.com/applayer/applayer/upper"
)

func init() {
	Kinds["upper"] = newUpper
	defaultSpecs = append(defaultSpecs, Spec{Name: "upper", Kind: "upper", Host: "127.0.0.1", Port: 2000})
}

// upperService is the textbook's uppercase server, UDP and TCP on one port.
type upperService struct {
	addr string
	bin  string
	srv  *upper.Server
	l    net.Listener
	pc   net.PacketConn
}

func newUpper(spec Spec, env *Env) (Service, error) {
	return &upperService{
		addr: env.Addr(spec),
		bin:  env.Bin,
		srv:  &upper.Server{Logger: env.Logger.With("service", spec.Name), Trace: env.Trace},
	}, nil
}

func (s *upperService) Bind(ctx context.Context) ([]Endpoint, error) {
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", s.addr)
	if err != nil {
		return nil, err
	}
	pc, err := lc.ListenPacket(ctx, "udp", s.addr)
	if err != nil {
		l.Close()
		return nil, err
	}
	s.l, s.pc = l, pc
	return []Endpoint{
		{Service: "upper", Proto: "upper/udp", Addr: s.addr, Try: s.bin + " upper send --udp --server " + s.addr + " hello"},
		{Service: "upper", Proto: "upper/tcp", Addr: s.addr, Try: s.bin + " upper send --tcp --server " + s.addr + " hello"},
	}, nil
}

func (s *upperService) Serve() error { return s.srv.ServeBoth(s.l, s.pc) }

func (s *upperService) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	// Serve may never have run (another service failed to bind).
	s.l.Close()
	s.pc.Close()
	return err
}
