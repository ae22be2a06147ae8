// Package peer is a BitTorrent peer (BEP 3): it downloads a torrent from
// other peers and uploads it to them at the same time, and seeds it once
// complete.
//
// It follows the textbook's account of BitTorrent: the file is cut into
// pieces (256 KiB by default) fetched in 16 KiB blocks with pipelined
// requests (enough outstanding to cover about a second of the peer's
// rate); the first pieces are picked at random so that a new peer soon
// has something to trade, then the rarest first among the pieces the
// neighbours have, always finishing started pieces first; at the end,
// when every missing piece is started, outstanding blocks are asked of
// several peers and the duplicates cancelled (endgame). Uploads follow
// tit-for-tat: every RechokeInterval (10 s) the UploadSlots (4) interested
// neighbours that send to us fastest are unchoked (when seeding, those we
// send to fastest), and every OptimisticInterval (30 s) one more, chosen
// at random, is unchoked optimistically.
//
// Every piece is checked against its SHA-1 before it is written; a peer
// that alone sent a bad piece, or had a part in three, is banned. Files
// are written under their name plus PartSuffix and renamed when the whole
// torrent is verified; on start, whatever is on disk is verified, so an
// interrupted download resumes.
//
// Concurrency (docs/ARCHITECTURE.md): each connection has a reader
// goroutine that decodes messages and a writer goroutine that sends
// control messages and uploads blocks; one loop goroutine owns all the
// torrent's state and handles every message in turn.
//
// Transcripts: each connection is a session; messages the remote peer
// sends are recorded as C: lines and ours as S: lines.
package peer

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/applayer/applayer/internal/lifecycle"
	"github.com/applayer/applayer/internal/transcript"
	"github.com/applayer/applayer/p2p/metainfo"
	"github.com/applayer/applayer/p2p/tracker"
)

// Defaults of the Server's fields.
const (
	DefaultAddr               = "127.0.0.1:6881"
	DefaultMaxPeers           = 50
	DefaultUploadSlots        = 4
	DefaultRechokeInterval    = 10 * time.Second
	DefaultOptimisticInterval = 30 * time.Second
	DefaultIdleTimeout        = 3 * time.Minute
	DefaultWriteTimeout       = time.Minute
	DefaultRequestTimeout     = 30 * time.Second
	DefaultHandshakeTimeout   = 10 * time.Second
	// DefaultMaxPeerRequests bounds the requests one peer may have queued
	// with us; a peer that sends more is disconnected (a request flood).
	DefaultMaxPeerRequests = 500
	// RandomFirstPieces is how many pieces are picked at random before
	// rarest first takes over.
	RandomFirstPieces = 4
	// MaxBadPieces is how many bad pieces a peer may have had a part in
	// before it is banned (a peer that alone sent one is banned at once).
	MaxBadPieces = 3
)

// ErrServerClosed is returned by Serve and ListenAndServe after Shutdown or
// Close.
var ErrServerClosed = errors.New("peer: server closed")

// Server shares one torrent: it listens for peers, dials those the
// trackers and Peers name, downloads what it lacks and uploads what it
// has. Its exported fields are its configuration, set before Serve;
// Torrent and Dir are required.
type Server struct {
	// Torrent is what is shared.
	Torrent *metainfo.MetaInfo
	// Dir is the directory holding the torrent's file (or its directory,
	// for several files).
	Dir string
	// Addr is the address ListenAndServe binds (default DefaultAddr).
	Addr string
	// PeerID identifies this peer (default: "-AL0001-" and 12 random
	// bytes).
	PeerID [20]byte
	// Peers are addresses (host:port) to dial besides the trackers'.
	Peers []string
	// NoTrackers skips the torrent's trackers (Peers only).
	NoTrackers bool
	// MaxPeers bounds the connections to peers (default DefaultMaxPeers).
	MaxPeers int
	// UploadSlots is how many peers are unchoked by rate at each rechoke,
	// besides the optimistic one (default DefaultUploadSlots).
	UploadSlots int
	// NoAutoSlots keeps UploadSlots fixed; by default, when UploadRate is
	// set and the upload stays under it, a slot is added each second, up to
	// the number of interested peers, and a seed unchokes every interested
	// peer.
	NoAutoSlots bool
	// NoUploadTurns lets every unchoked peer's blocks share the upload
	// limit at once; by default they take turns of a piece (see writeLoop).
	NoUploadTurns bool
	// RechokeInterval and OptimisticInterval are the choker's periods
	// (defaults DefaultRechokeInterval, DefaultOptimisticInterval).
	RechokeInterval, OptimisticInterval time.Duration
	// RequestQueue fixes how many block requests are kept outstanding with
	// each peer; by default (0) it follows the peer's rate: about a
	// second's worth, from 16 to 250 blocks.
	RequestQueue int
	// RequestTimeout is how long requests may go unanswered before they
	// are asked of other peers (default DefaultRequestTimeout).
	RequestTimeout time.Duration
	// UploadRate and DownloadRate bound the bytes per second of all
	// connections together (default 0: no limit); PeerUploadRate bounds
	// the upload to each peer (default 0: no limit).
	UploadRate, DownloadRate, PeerUploadRate int64
	// PexInterval is how often neighbours are told of our other peers
	// (BEP 11; default a minute).
	PexInterval time.Duration
	// AnnounceInterval, when set, replaces the interval the tracker asks.
	AnnounceInterval time.Duration
	// IdleTimeout drops a peer silent for that long (default
	// DefaultIdleTimeout; peers send keep-alives every two minutes).
	IdleTimeout time.Duration
	// WriteTimeout bounds each write to a peer (default DefaultWriteTimeout).
	WriteTimeout time.Duration
	// MaxConns bounds incoming connections being served or handshaking
	// (default lifecycle.DefaultMaxConns).
	MaxConns int
	// Logger receives the peer's log lines; nil means slog.Default().
	Logger *slog.Logger
	// Trace records each connection's messages; nil records nothing.
	Trace *transcript.Recorder

	once     sync.Once
	initErr  error
	listenIP atomic.Value // netip.Addr: the listener's, unless unspecified
	t        lifecycle.Tracker
	port     atomic.Int32

	st       *storage
	events   chan func()
	stop     chan struct{} // closed to stop the loop
	loopDone chan struct{}
	done     chan struct{} // closed when the download is complete
	doneOnce sync.Once
	stopOnce sync.Once
	annDone  chan struct{}
	annStop  context.CancelFunc
	annCtx   context.Context
	complete chan struct{} // tells the announcer to send "completed"

	upLimit, downLimit *limiter
	upTurn             sync.Mutex // see writeLoop

	uploaded, downloaded atomic.Int64
	left                 atomic.Int64

	snapMu sync.Mutex
	snap   Stats

	// Loop state: touched only by the loop goroutine.
	sess session
}

// Stats is a snapshot of the torrent's progress.
type Stats struct {
	Pieces, Have int
	// Map says which pieces are verified.
	Map                  []bool
	Peers                int
	Unchoked             int // peers we upload to
	Interested           int // peers interested in our pieces
	Downloading          int // peers we are interested in that unchoke us
	Queued               int // blocks peers asked for, waiting to be sent
	Requests             int // blocks we asked for, not yet received
	Downloaded, Uploaded int64
	// DownRate and UpRate are bytes per second, smoothed over a few
	// seconds.
	DownRate, UpRate float64
	Complete         bool
	Banned           int
}

func (s *Server) logger() *slog.Logger { return cmp.Or(s.Logger, slog.Default()) }

func (s *Server) init() error {
	s.once.Do(func() {
		s.t.Name = "peer"
		s.t.MaxConns = s.MaxConns
		s.t.Logger = s.logger()
		s.t.ErrClosed = ErrServerClosed
		s.events = make(chan func(), 256)
		s.stop = make(chan struct{})
		s.loopDone = make(chan struct{})
		s.done = make(chan struct{})
		s.annDone = make(chan struct{})
		s.complete = make(chan struct{}, 1)
		s.annCtx, s.annStop = context.WithCancel(context.Background())
		if s.Torrent == nil {
			s.initErr = errors.New("peer: no torrent")
			return
		}
		if s.PeerID == ([20]byte{}) {
			copy(s.PeerID[:], "-AL0001-")
			rand.Read(s.PeerID[8:])
		}
		s.upLimit = newLimiter(s.UploadRate)
		s.downLimit = newLimiter(s.DownloadRate)
		st, err := openStorage(&s.Torrent.Info, s.Dir)
		if err != nil {
			s.initErr = fmt.Errorf("peer: %w", err)
			return
		}
		have, err := st.Verify()
		if err != nil {
			st.Close()
			s.initErr = fmt.Errorf("peer: verifying %s: %w", s.Dir, err)
			return
		}
		s.st = st
		s.sess.init(s, have)
	})
	return s.initErr
}

// Open opens and verifies the files on disk, which Serve does first; it
// lets a caller see what is already there (Stats) before serving.
func (s *Server) Open() error { return s.init() }

// ListenAndServe binds Addr and serves until Shutdown.
func (s *Server) ListenAndServe() error {
	if err := s.init(); err != nil {
		return err
	}
	l, err := net.Listen("tcp", cmp.Or(s.Addr, DefaultAddr))
	if err != nil {
		return err
	}
	return s.Serve(l)
}

// Serve accepts peers on l, dials the trackers' and Peers, and trades
// pieces until Shutdown or Close. The port of l is what the trackers are
// told.
func (s *Server) Serve(l net.Listener) error {
	if err := s.init(); err != nil {
		l.Close()
		return err
	}
	if ta, ok := l.Addr().(*net.TCPAddr); ok {
		s.port.Store(int32(ta.Port))
		if ip, ok := netip.AddrFromSlice(ta.IP); ok && !ip.IsUnspecified() {
			s.listenIP.Store(ip.Unmap())
		}
	}
	select {
	case <-s.stop:
		l.Close()
		return ErrServerClosed
	default:
	}
	s.sess.startOnce.Do(func() {
		s.sess.running.Store(true)
		go s.loop()
		go s.announcer()
	})
	return s.t.ServeListener(l, s.serveConn)
}

// localIP is the address the peer listens on, unless it listens on every
// address: its connections leave from there, and the trackers are told it
// (a lab's peers each have their own 127.0.x.y).
func (s *Server) localIP() netip.Addr {
	ip, _ := s.listenIP.Load().(netip.Addr)
	return ip
}

// Done is closed when every piece is downloaded and verified (at once if
// the files were complete on disk).
func (s *Server) Done() <-chan struct{} {
	s.init()
	return s.done
}

// Stats returns a snapshot of the progress, updated every second and at
// each verified piece.
func (s *Server) Stats() Stats {
	s.init()
	s.snapMu.Lock()
	defer s.snapMu.Unlock()
	st := s.snap
	st.Map = append([]bool(nil), s.snap.Map...)
	return st
}

// Port is the port being served, once Serve has started.
func (s *Server) Port() int { return int(s.port.Load()) }

// Shutdown tells the trackers this peer stops (within ctx), closes every
// connection and the files. If ctx ends first, it closes what is left and
// returns ctx.Err().
func (s *Server) Shutdown(ctx context.Context) error {
	if err := s.init(); err != nil {
		return s.t.Shutdown(ctx)
	}
	s.stopLoop()
	var err error
	if s.sess.running.Load() {
		select {
		case <-s.annDone:
		case <-ctx.Done():
			s.annStop()
			err = ctx.Err()
		}
	}
	return errors.Join(err, s.t.Shutdown(ctx), s.closeFiles())
}

// Close stops at once: no stopped announce, every connection closed.
func (s *Server) Close() error {
	if err := s.init(); err != nil {
		return s.t.Close()
	}
	s.annStop()
	s.stopLoop()
	return errors.Join(s.t.Close(), s.closeFiles())
}

func (s *Server) stopLoop() {
	s.sess.stopOnce.Do(func() { close(s.stop) })
	if s.sess.running.Load() {
		<-s.loopDone
	}
}

func (s *Server) closeFiles() error {
	if s.st == nil {
		return nil
	}
	return s.st.Close()
}

// post runs f on the loop goroutine; it returns false if the loop has
// stopped.
func (s *Server) post(f func()) bool {
	select {
	case s.events <- f:
		return true
	case <-s.stop:
		return false
	}
}

// announcer tells the trackers about this peer: started, then at each
// interval, completed once, stopped at Shutdown; it hands the peers they
// return to the loop.
func (s *Server) announcer() {
	defer close(s.annDone)
	tiers := s.Torrent.Trackers()
	if s.NoTrackers || len(tiers) == 0 {
		<-s.stop
		return
	}
	c := &tracker.Client{Trace: s.Trace}
	key := uint32(s.PeerID[19]) | uint32(s.PeerID[18])<<8 | uint32(s.PeerID[17])<<16
	ev := tracker.Started
	retry := 15 * time.Second
	for {
		req := tracker.Request{InfoHash: s.Torrent.InfoHash, PeerID: s.PeerID, Port: uint16(s.port.Load()),
			Uploaded: s.uploaded.Load(), Downloaded: s.downloaded.Load(), Left: s.left.Load(), Event: ev, NumWant: -1, Key: key,
			IP: s.localIP()}
		wait := retry
		if r, err := s.announceTiers(s.annCtx, c, tiers, req); err != nil {
			s.logger().Warn("peer: announce", "err", err)
			retry = min(2*retry, 5*time.Minute)
		} else {
			retry = 15 * time.Second
			wait = cmp.Or(s.AnnounceInterval, r.Interval, 30*time.Minute)
			peers := r.Peers
			s.post(func() { s.sess.addPeers(peers) })
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
			ev = tracker.None
		case <-s.complete:
			t.Stop()
			ev = tracker.Completed
		case <-s.stop:
			t.Stop()
			ctx, cancel := context.WithTimeout(s.annCtx, 5*time.Second)
			req.Event, req.Uploaded, req.Downloaded, req.Left = tracker.Stopped, s.uploaded.Load(), s.downloaded.Load(), s.left.Load()
			s.announceTiers(ctx, &tracker.Client{Trace: s.Trace, Timeout: 5 * time.Second}, tiers, req)
			cancel()
			return
		}
	}
}

// announceTiers tries each tracker of each tier in order (BEP 12) and
// moves the one that answers to the front of its tier.
func (s *Server) announceTiers(ctx context.Context, c *tracker.Client, tiers [][]string, req tracker.Request) (*tracker.Response, error) {
	var errs []error
	for _, tier := range tiers {
		for i, u := range tier {
			r, err := c.Announce(ctx, u, req)
			if err == nil {
				tier[0], tier[i] = tier[i], tier[0]
				return r, nil
			}
			errs = append(errs, err)
			if ctx.Err() != nil {
				return nil, errors.Join(errs...)
			}
		}
	}
	return nil, errors.Join(errs...)
}
