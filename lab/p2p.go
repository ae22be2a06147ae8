package lab

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/applayer/applayer/p2p/metainfo"
	"github.com/applayer/applayer/p2p/peer"
	"github.com/applayer/applayer/p2p/tracker"
)

func init() {
	Kinds["torrent"] = newTorrentService
	defaultSpecs = append(defaultSpecs, Spec{Name: "torrent", Kind: "torrent", Host: "127.0.69.1", Port: 6969})
}

// A torrent swarm: the tracker on the Spec's host, a seeder and leechers
// on the next loopback addresses, all on the same port, with the
// textbook's rate limits (the seeder's upload u_s, each leecher's u_i),
// sharing a file of random bytes. Leechers keep seeding once complete, so
// a peer that joins later (the TRY lines: applayer and aria2c) downloads
// from the whole swarm.
//
// Args: "size" (bytes, default 4 MiB), "leechers" (default 3), "seed-rate"
// and "peer-rate" (bytes/s, default 1 MiB and 256 KiB).
type torrentService struct {
	spec    Spec
	env     *Env
	addr    string
	dir     string
	temp    bool
	trk     *tracker.Server
	tl      net.Listener
	tpc     net.PacketConn
	peers   []*peer.Server
	pls     []net.Listener
	torrent string
}

func newTorrentService(spec Spec, env *Env) (Service, error) {
	return &torrentService{spec: spec, env: env, addr: env.Addr(spec)}, nil
}

func (s *torrentService) arg(name string, def int) (int, error) {
	v, ok := s.spec.Args[name]
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("torrent: arg %s=%q: want a number", name, v)
	}
	return n, nil
}

// hostAt is the spec's host plus i in its last byte (127.0.69.1 + 2 is
// 127.0.69.3).
func hostAt(host string, i int) (string, error) {
	ip := net.ParseIP(host).To4()
	if ip == nil || int(ip[3])+i > 254 {
		return "", fmt.Errorf("torrent: host %q: want an IPv4 address with room after it", host)
	}
	out := append(net.IP(nil), ip...)
	out[3] += byte(i)
	return out.String(), nil
}

func (s *torrentService) Bind(ctx context.Context) (eps []Endpoint, err error) {
	defer func() {
		if err != nil {
			s.closeAll()
		}
	}()
	size, err := s.arg("size", 4<<20)
	if err != nil {
		return nil, err
	}
	nLeech, err := s.arg("leechers", 3)
	if err != nil {
		return nil, err
	}
	seedRate, err := s.arg("seed-rate", 1<<20)
	if err != nil {
		return nil, err
	}
	peerRate, err := s.arg("peer-rate", 256<<10)
	if err != nil {
		return nil, err
	}
	if s.dir, s.temp, err = s.env.ServiceDir(s.spec.Name); err != nil {
		return nil, err
	}
	var lc net.ListenConfig
	if s.tl, err = lc.Listen(ctx, "tcp", s.addr); err != nil {
		return nil, err
	}
	if s.tpc, err = lc.ListenPacket(ctx, "udp", s.addr); err != nil {
		return nil, err
	}
	logger := s.env.Logger.With("service", s.spec.Name)
	s.trk = &tracker.Server{Interval: time.Minute, Logger: logger, Trace: s.env.Trace}

	// The file and its torrent.
	seedDir := filepath.Join(s.dir, "seed")
	if err := os.MkdirAll(seedDir, 0o755); err != nil {
		return nil, err
	}
	data := make([]byte, size)
	rand.Read(data)
	src := filepath.Join(seedDir, "sample.bin")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		return nil, err
	}
	announce := "http://" + s.addr + "/announce"
	m, err := metainfo.Create(src, metainfo.CreateOptions{Trackers: [][]string{{announce}, {"udp://" + s.addr}}, CreatedBy: "applayer lab"})
	if err != nil {
		return nil, err
	}
	b, err := m.Marshal()
	if err != nil {
		return nil, err
	}
	s.torrent = filepath.Join(s.dir, "sample.torrent")
	if err := os.WriteFile(s.torrent, b, 0o644); err != nil {
		return nil, err
	}
	_, port, _ := net.SplitHostPort(s.addr)
	for i := range nLeech + 1 {
		host, err := hostAt(s.spec.Host, i+1)
		if err != nil {
			return nil, err
		}
		l, err := lc.Listen(ctx, "tcp", net.JoinHostPort(host, port))
		if err != nil {
			return nil, err
		}
		s.pls = append(s.pls, l)
		p := &peer.Server{Torrent: m, Dir: seedDir, UploadRate: int64(seedRate), Logger: logger, Trace: s.env.Trace,
			RechokeInterval: 2 * time.Second, OptimisticInterval: 6 * time.Second}
		if i > 0 {
			p.Dir = filepath.Join(s.dir, fmt.Sprintf("leecher%d", i))
			p.UploadRate = int64(peerRate)
		}
		if err := p.Open(); err != nil {
			return nil, err
		}
		s.peers = append(s.peers, p)
	}
	newPeer, _ := hostAt(s.spec.Host, nLeech+2)
	ariaPeer, _ := hostAt(s.spec.Host, nLeech+3)
	eps = []Endpoint{
		{Service: s.spec.Name, Proto: "bittorrent tracker (http)", Addr: s.addr, Try: "curl -s http://" + s.addr + "/stats"},
		{Service: s.spec.Name, Proto: "bittorrent swarm", Addr: s.pls[0].Addr().String(),
			Try: s.env.Bin + " torrent get " + ShowPath(s.torrent) + " --data dl --listen " + net.JoinHostPort(newPeer, port)},
		{Service: s.spec.Name, Proto: "bittorrent (aria2c joins)", Addr: s.pls[0].Addr().String(),
			Try: "aria2c --interface=" + ariaPeer + " --listen-port=" + port + " --dir=dl --seed-time=0 --enable-dht=false --enable-dht6=false --bt-enable-lpd=false --no-conf --summary-interval=0 " + ShowPath(s.torrent)},
	}
	return eps, nil
}

func (s *torrentService) Serve() error {
	var wg sync.WaitGroup
	errs := make([]error, len(s.peers)+1)
	for i, p := range s.peers {
		wg.Go(func() { errs[i] = p.Serve(s.pls[i]) })
	}
	errs[len(s.peers)] = s.trk.ServeBoth(s.tl, s.tpc)
	wg.Wait()
	for i, err := range errs {
		if errors.Is(err, peer.ErrServerClosed) || errors.Is(err, tracker.ErrServerClosed) {
			errs[i] = nil
		}
	}
	return errors.Join(errs...)
}

func (s *torrentService) Shutdown(ctx context.Context) error {
	var errs []error
	for _, p := range s.peers {
		errs = append(errs, p.Shutdown(ctx))
	}
	if s.trk != nil {
		errs = append(errs, s.trk.Shutdown(ctx))
	}
	s.closeAll()
	return errors.Join(errs...)
}

// closeAll closes whatever Bind opened (Serve may never have run).
func (s *torrentService) closeAll() {
	for _, l := range s.pls {
		l.Close()
	}
	for _, p := range s.peers {
		p.Close()
	}
	if s.tl != nil {
		s.tl.Close()
	}
	if s.tpc != nil {
		s.tpc.Close()
	}
	if s.temp && s.dir != "" {
		os.RemoveAll(s.dir)
	}
}
