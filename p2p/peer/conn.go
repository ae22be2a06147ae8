package peer

import (
	"bufio"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/applayer/applayer/internal/transcript"
)

// blockKey names a block: its piece and offset.
type blockKey struct{ index, begin uint32 }

// upload is a block a peer asked us for.
type upload struct {
	key    blockKey
	length uint32
}

// conn is one peer connection. The fields under "loop" belong to the loop
// goroutine; the writer's queue is guarded by wmu.
type conn struct {
	s        *Server
	nc       net.Conn
	addr     string
	id       [20]byte
	outbound bool
	fast     bool
	ext      bool // BEP 10
	tr       *transcript.Session

	// loop
	registered     bool
	closed         bool
	have           []bool
	nHave          int
	wanted         int // pieces it has that we lack
	amChoking      bool
	amInterested   bool
	peerChoking    bool
	peerInterested bool
	inflight       map[blockKey]time.Time
	cancelled      int // blocks we cancelled that may still come
	unexpected     int
	lastBlock      time.Time
	snubbed        bool
	down           int64 // payload bytes received
	lastDown       int64
	lastUp         int64
	downRate       float64
	upRate         float64
	strikes        int
	extMetadata    int // the peer's ID for ut_metadata, 0 if none
	extPex         int // the peer's ID for ut_pex, 0 if none
	listenPort     int // from its extension handshake
	pexSent        map[netip.AddrPort]bool
	connectedAt    time.Time
	lastSent       time.Time

	// writer
	wmu     sync.Mutex
	wcond   *sync.Cond
	ctrl    []byte
	uploads []upload
	wclosed bool
	up      atomic.Int64 // payload bytes sent
	upLimit *limiter
	slow    bool // a write stalled while holding the upload turn
}

func newConn(s *Server, nc net.Conn, id [20]byte, outbound, fast bool) *conn {
	c := &conn{s: s, nc: nc, addr: nc.RemoteAddr().String(), id: id, outbound: outbound, fast: fast,
		amChoking: true, peerChoking: true, inflight: map[blockKey]time.Time{}, connectedAt: time.Now(),
		upLimit: newLimiter(s.PeerUploadRate)}
	c.wcond = sync.NewCond(&c.wmu)
	c.tr = s.Trace.Session("bittorrent", c.addr)
	return c
}

// send queues a message; it never blocks the loop.
func (c *conn) send(m Message) {
	if c.tr.Enabled() {
		c.tr.Server(m.String())
	}
	c.wmu.Lock()
	c.ctrl = AppendMessage(c.ctrl, m)
	c.wmu.Unlock()
	c.wcond.Signal()
	c.lastSent = time.Now()
}

// queueUpload adds a request to the writer's queue and returns the
// queue's length.
func (c *conn) queueUpload(u upload) int {
	c.wmu.Lock()
	c.uploads = append(c.uploads, u)
	n := len(c.uploads)
	c.wmu.Unlock()
	c.wcond.Signal()
	return n
}

// cancelUpload drops a queued request (the peer's CANCEL).
func (c *conn) cancelUpload(k blockKey) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	for i, u := range c.uploads {
		if u.key == k {
			c.uploads = append(c.uploads[:i], c.uploads[i+1:]...)
			return
		}
	}
}

// dropUploads forgets every queued request (we choked the peer) and
// returns them.
func (c *conn) dropUploads() []upload {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	u := c.uploads
	c.uploads = nil
	return u
}

func (c *conn) stopWriter() {
	c.wmu.Lock()
	c.wclosed = true
	c.wmu.Unlock()
	c.wcond.Broadcast()
}

// writeLoop sends control messages first, then the blocks asked for,
// each within the upload limits.
func (c *conn) writeLoop() {
	s := c.s
	wt := cmp.Or(s.WriteTimeout, DefaultWriteTimeout)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.stop:
		case <-ctx.Done():
		}
		cancel()
	}()
	// With a global upload limit, peers take turns: a writer holds the
	// turn for up to a piece's worth of blocks, so that one neighbour gets
	// a whole piece at the full rate (and can pass it on) instead of every
	// neighbour getting a fraction of it at once. A peer whose writes
	// stall does not keep the turn: it is sent without turns from then on.
	holding, sent := false, 0
	turnBlocks := max(1, int(s.Torrent.Info.PieceLength/BlockSize))
	release := func() {
		if holding {
			s.upTurn.Unlock()
			holding = false
		}
	}
	defer release()
	var buf []byte
	for {
		c.wmu.Lock()
		for len(c.ctrl) == 0 && len(c.uploads) == 0 && !c.wclosed {
			c.wcond.Wait()
		}
		if c.wclosed {
			c.wmu.Unlock()
			return
		}
		if len(c.ctrl) > 0 {
			b := c.ctrl
			c.ctrl = nil
			c.wmu.Unlock()
			c.nc.SetWriteDeadline(time.Now().Add(wt))
			if _, err := c.nc.Write(b); err != nil {
				c.nc.Close()
				return
			}
			continue
		}
		u := c.uploads[0]
		c.uploads = c.uploads[1:]
		c.wmu.Unlock()
		n := int(u.length)
		if cap(buf) < 13+n {
			buf = make([]byte, 13+n)
		}
		buf = buf[:13+n]
		binary.BigEndian.PutUint32(buf, uint32(9+n))
		buf[4] = MsgPiece
		binary.BigEndian.PutUint32(buf[5:], u.key.index)
		binary.BigEndian.PutUint32(buf[9:], u.key.begin)
		off := int64(u.key.index)*s.Torrent.Info.PieceLength + int64(u.key.begin)
		if err := s.st.ReadAt(buf[13:], off); err != nil {
			s.logger().Error("peer: reading a block", "err", err)
			c.nc.Close()
			return
		}
		if s.upLimit != nil && c.upLimit == nil && !c.slow && !holding && !s.NoUploadTurns {
			s.upTurn.Lock()
			holding, sent = true, 0
		}
		if s.upLimit.wait(ctx, n) != nil || c.upLimit.wait(ctx, n) != nil {
			return
		}
		c.wmu.Lock()
		closed := c.wclosed
		c.wmu.Unlock()
		if closed {
			return
		}
		if c.tr.Enabled() {
			c.tr.Server(Message{Type: MsgPiece, Index: u.key.index, Begin: u.key.begin, Block: buf[13:]}.String())
		}
		d := wt
		if holding {
			d = time.Second
		}
		c.nc.SetWriteDeadline(time.Now().Add(d))
		w, err := c.nc.Write(buf)
		var ne net.Error
		if err != nil && holding && errors.As(err, &ne) && ne.Timeout() {
			release()
			c.slow = true
			c.nc.SetWriteDeadline(time.Now().Add(wt))
			_, err = c.nc.Write(buf[w:])
		}
		if err != nil {
			c.nc.Close()
			return
		}
		c.up.Add(int64(n))
		s.uploaded.Add(int64(n))
		if holding {
			sent++
			c.wmu.Lock()
			empty := len(c.uploads) == 0
			c.wmu.Unlock()
			if sent >= turnBlocks || empty {
				release()
			}
		}
	}
}

// readLoop decodes messages and hands them to the loop until the
// connection fails; then it tells the loop.
func (c *conn) readLoop() {
	s := c.s
	idle := cmp.Or(s.IdleTimeout, DefaultIdleTimeout)
	maxMsg := max(DefaultMaxMessage, (s.Torrent.Info.NumPieces()+7)/8+1)
	br := bufio.NewReaderSize(c.nc, 64<<10)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.stop:
		case <-ctx.Done():
		}
		cancel()
	}()
	for {
		c.nc.SetReadDeadline(time.Now().Add(idle))
		m, err := ReadMessage(br, maxMsg)
		if err != nil {
			s.post(func() { s.sess.closeConn(c, err) })
			return
		}
		if c.tr.Enabled() {
			c.tr.Client(m.String())
		}
		if m.Type == MsgPiece && !m.KeepAlive {
			if s.downLimit.wait(ctx, len(m.Block)) != nil {
				return
			}
		}
		if !s.post(func() { s.sess.handle(c, m) }) {
			return
		}
	}
}
