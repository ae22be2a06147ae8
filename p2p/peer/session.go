package peer

import (
	"cmp"
	"crypto/sha1"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/applayer/applayer/p2p/tracker"
)

// session is the torrent's state, owned by the loop goroutine.
type session struct {
	s         *Server
	startOnce sync.Once
	stopOnce  sync.Once
	running   atomic.Bool

	n       int // pieces
	have    []bool
	nHave   int
	avail   []int    // how many connected peers have each piece
	pieces  []*piece // pieces being downloaded, by index
	started []int    // their indices, in the order they were started
	conns   map[*conn]bool
	byID    map[[20]byte]*conn
	banned  map[string]bool // peer IDs and addresses
	nBanned int
	known   map[string]time.Time // peer addresses and when last dialled
	dialing int
	done    bool

	optimistic     *conn
	nextOptimistic time.Time
	nextRechoke    time.Time
	nextPex        time.Time
	extraSlots     int // unchoke slots added while the upload limit is not reached
	downRate       float64
	upRate         float64
	lastDown       int64
	lastUp         int64
	selfAddrs      map[string]bool
}

// piece is a piece being downloaded: its bytes and the state of each block.
type piece struct {
	buf    []byte
	blocks []block
	got    int
}

type block struct {
	reqs int  // outstanding requests for it
	got  bool // received (not yet verified)
	from *conn
}

func (ss *session) init(s *Server, have []bool) {
	ss.s = s
	ss.n = len(have)
	ss.have = have
	ss.avail = make([]int, ss.n)
	ss.pieces = make([]*piece, ss.n)
	ss.conns = map[*conn]bool{}
	ss.byID = map[[20]byte]*conn{}
	ss.banned = map[string]bool{}
	ss.known = map[string]time.Time{}
	ss.selfAddrs = map[string]bool{}
	left := s.Torrent.Info.TotalLength()
	for i, h := range have {
		if h {
			ss.nHave++
			left -= s.Torrent.Info.PieceSize(i)
		}
	}
	s.left.Store(left)
	if ss.nHave == ss.n {
		ss.done = true
		s.doneOnce.Do(func() { close(s.done) })
	}
	ss.snapshot()
}

// loop runs the session until Shutdown.
func (s *Server) loop() {
	ss := &s.sess
	defer close(s.loopDone)
	for _, p := range s.Peers {
		ss.known[p] = time.Time{}
	}
	if p := s.port.Load(); p != 0 {
		ss.selfAddrs[fmt.Sprintf("127.0.0.1:%d", p)] = true
		ss.selfAddrs[fmt.Sprintf("[::1]:%d", p)] = true
		ss.selfAddrs[fmt.Sprintf("localhost:%d", p)] = true
		if ip := s.localIP(); ip.IsValid() {
			ss.selfAddrs[net.JoinHostPort(ip.String(), fmt.Sprint(p))] = true
		}
	}
	ss.nextRechoke = time.Now().Add(s.rechokeInterval())
	ss.nextPex = time.Now().Add(s.pexInterval())
	ss.dialMore()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case f := <-s.events:
			s.runEvent(f)
		case <-tick.C:
			ss.tick()
		case <-s.stop:
			for c := range ss.conns {
				ss.closeConn(c, errors.New("shutting down"))
			}
			return
		}
	}
}

// runEvent runs one event of the loop; a panic is logged with its stack
// and the loop goes on, as lifecycle does for a connection's handler, so
// that one bad message cannot take down every torrent of the process.
func (s *Server) runEvent(f func()) {
	defer func() {
		if p := recover(); p != nil {
			s.logger().Error("peer: panic in the loop", "panic", p, "stack", string(debug.Stack()))
		}
	}()
	f()
}

func (s *Server) rechokeInterval() time.Duration {
	return cmp.Or(max(s.RechokeInterval, 0), DefaultRechokeInterval)
}

func (s *Server) pexInterval() time.Duration {
	return cmp.Or(max(s.PexInterval, 0), pexInterval)
}

func (s *Server) optimisticInterval() time.Duration {
	return cmp.Or(max(s.OptimisticInterval, 0), DefaultOptimisticInterval)
}

// addPeers records addresses a tracker returned and dials some.
func (ss *session) addPeers(peers []tracker.Peer) {
	for _, p := range peers {
		a := p.Addr.String()
		if _, ok := ss.known[a]; !ok && len(ss.known) < 10000 {
			ss.known[a] = time.Time{}
		}
	}
	ss.dialMore()
}

// dialMore dials known peers not tried in the last 30 s while there is
// room for connections.
func (ss *session) dialMore() {
	s := ss.s
	maxPeers := cmp.Or(max(s.MaxPeers, 0), DefaultMaxPeers)
	now := time.Now()
	connected := map[string]bool{}
	for c := range ss.conns {
		connected[c.addr] = true
	}
	for a, last := range ss.known {
		if len(ss.conns)+ss.dialing >= maxPeers {
			return
		}
		if connected[a] || ss.banned[a] || ss.selfAddrs[a] || (!last.IsZero() && now.Sub(last) < 30*time.Second) {
			continue
		}
		ss.known[a] = now
		ss.dialing++
		go s.dial(a)
	}
}

// dial connects to a peer, handshakes, and serves the connection.
func (s *Server) dial(addr string) {
	defer s.post(func() { s.sess.dialing-- })
	d := net.Dialer{Timeout: DefaultHandshakeTimeout}
	if ip := s.localIP(); ip.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: ip.AsSlice()}
	}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		s.logger().Debug("peer: dial", "addr", addr, "err", err)
		return
	}
	nc.SetDeadline(time.Now().Add(DefaultHandshakeTimeout))
	if _, err := nc.Write(AppendHandshake(nil, s.handshake())); err != nil {
		nc.Close()
		return
	}
	h, err := ReadHandshake(nc)
	if err != nil || h.InfoHash != s.Torrent.InfoHash {
		s.logger().Debug("peer: handshake", "addr", addr, "err", err)
		nc.Close()
		return
	}
	nc.SetDeadline(time.Time{})
	s.runConn(nc, h, true)
}

func (s *Server) handshake() Handshake {
	h := Handshake{InfoHash: s.Torrent.InfoHash, PeerID: s.PeerID}
	h.Reserved[7] |= reservedFast
	h.Reserved[5] |= reservedExtension
	return h
}

// serveConn serves an incoming connection (lifecycle's handler).
func (s *Server) serveConn(nc net.Conn) {
	nc.SetDeadline(time.Now().Add(DefaultHandshakeTimeout))
	h, err := ReadHandshake(nc)
	if err != nil || h.InfoHash != s.Torrent.InfoHash {
		return
	}
	if _, err := nc.Write(AppendHandshake(nil, s.handshake())); err != nil {
		return
	}
	nc.SetDeadline(time.Time{})
	s.runConn(nc, h, false)
}

// runConn registers a handshaken connection with the loop and reads from
// it until it ends.
func (s *Server) runConn(nc net.Conn, h Handshake, outbound bool) {
	c := newConn(s, nc, h.PeerID, outbound, h.Fast())
	c.ext = h.Extensions()
	c.tr.Note(fmt.Sprintf("handshake peer id %q fast=%v extensions=%v", h.PeerID[:8], h.Fast(), h.Extensions()))
	if !s.post(func() { s.sess.addConn(c) }) {
		nc.Close()
		return
	}
	c.readLoop()
	nc.Close()
}

func (ss *session) addConn(c *conn) {
	s := ss.s
	reject := func(why string) {
		c.tr.Note("dropped: " + why)
		c.closed = true // messages already read are ignored
		c.nc.Close()
	}
	maxPeers := cmp.Or(max(s.MaxPeers, 0), DefaultMaxPeers)
	switch {
	case c.id == s.PeerID:
		if c.outbound {
			ss.selfAddrs[c.addr] = true
		}
		reject("connected to ourselves")
		return
	case ss.banned[string(c.id[:])] || ss.banned[c.addr]:
		reject("banned")
		return
	case len(ss.conns) >= maxPeers:
		reject("too many peers")
		return
	}
	if old := ss.byID[c.id]; old != nil {
		// Two connections between the same peers (both dialled): keep the
		// one dialled by the peer with the lower ID, as the other side
		// decides too.
		weDialNew := c.outbound
		keepNew := weDialNew == (string(s.PeerID[:]) < string(c.id[:]))
		if old.outbound == c.outbound || !keepNew {
			reject("duplicate connection")
			return
		}
		ss.closeConn(old, errors.New("duplicate connection"))
	}
	c.registered = true
	c.have = make([]bool, ss.n)
	ss.conns[c] = true
	ss.byID[c.id] = c
	switch {
	case c.fast && ss.nHave == ss.n:
		c.send(Message{Type: MsgHaveAll})
	case c.fast && ss.nHave == 0:
		c.send(Message{Type: MsgHaveNone})
	case ss.nHave > 0:
		c.send(Message{Type: MsgBitfield, Bitfield: ss.bitfield()})
	}
	if c.ext {
		c.send(Message{Type: MsgExtended, ExtID: 0, Payload: s.extHandshake()})
	}
	go c.writeLoop()
	ss.snapshot()
}

func (ss *session) bitfield() []byte {
	b := make([]byte, (ss.n+7)/8)
	for i, h := range ss.have {
		if h {
			b[i/8] |= 0x80 >> (i % 8)
		}
	}
	return b
}

// closeConn forgets a connection: its requests go back to the pool, its
// pieces leave the availability counts.
func (ss *session) closeConn(c *conn, err error) {
	if c.closed {
		return
	}
	c.closed = true
	c.nc.Close()
	c.stopWriter()
	if !c.registered {
		return
	}
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
		c.tr.Note("closed: " + err.Error())
		ss.s.logger().Debug("peer: connection closed", "addr", c.addr, "err", err)
	}
	for k := range c.inflight {
		ss.unrequest(k)
	}
	c.inflight = nil
	for i, h := range c.have {
		if h {
			ss.avail[i]--
		}
	}
	delete(ss.conns, c)
	if ss.byID[c.id] == c {
		delete(ss.byID, c.id)
	}
	if ss.optimistic == c {
		ss.optimistic = nil
	}
	if !c.amChoking {
		ss.fillSlots()
	}
	ss.requestAll()
	ss.snapshot()
}

// unrequest marks one request for a block as gone.
func (ss *session) unrequest(k blockKey) {
	p := ss.pieces[k.index]
	if p == nil {
		return
	}
	b := &p.blocks[k.begin/BlockSize]
	if b.reqs > 0 {
		b.reqs--
	}
}

// ban disconnects a peer and refuses it from now on.
func (ss *session) ban(c *conn, why string) {
	ss.s.logger().Warn("peer: banning a peer", "addr", c.addr, "why", why)
	ss.banned[string(c.id[:])] = true
	ss.banned[c.addr] = true
	ss.nBanned++
	ss.closeConn(c, errors.New("banned: "+why))
}

// drop disconnects a peer that broke the protocol.
func (ss *session) drop(c *conn, why string) {
	ss.s.logger().Info("peer: dropping a peer", "addr", c.addr, "why", why)
	ss.closeConn(c, errors.New(why))
}

// handle is one message from c.
func (ss *session) handle(c *conn, m Message) {
	if c.closed || !c.registered {
		return
	}
	if m.KeepAlive {
		return
	}
	info := &ss.s.Torrent.Info
	switch m.Type {
	case MsgChoke:
		c.peerChoking = true
		if !c.fast {
			for k := range c.inflight {
				ss.unrequest(k)
			}
			clear(c.inflight)
			ss.requestAll()
		}
	case MsgUnchoke:
		c.peerChoking = false
		ss.request(c)
	case MsgInterested:
		c.peerInterested = true
		ss.fillSlots()
	case MsgNotInterested:
		c.peerInterested = false
		if !c.amChoking {
			ss.choke(c)
			ss.fillSlots()
		}
	case MsgHave:
		if int(m.Index) >= ss.n {
			ss.drop(c, "have for a piece out of range")
			return
		}
		ss.peerHas(c, int(m.Index))
		ss.afterHave(c)
	case MsgBitfield:
		// BEP 3 wants it first, but aria2 sends one after have none when
		// it finds pieces on disk: it is taken as more haves.
		if len(m.Bitfield) != (ss.n+7)/8 {
			ss.drop(c, fmt.Sprintf("bitfield of %d bytes for %d pieces", len(m.Bitfield), ss.n))
			return
		}
		for i := range ss.n {
			if m.Bitfield[i/8]&(0x80>>(i%8)) != 0 {
				ss.peerHas(c, i)
			}
		}
		for i := ss.n; i < len(m.Bitfield)*8; i++ {
			if m.Bitfield[i/8]&(0x80>>(i%8)) != 0 {
				ss.drop(c, "bitfield with spare bits set")
				return
			}
		}
		ss.afterHave(c)
	case MsgHaveAll, MsgHaveNone:
		if !c.fast {
			ss.drop(c, "have all/none without the fast extension")
			return
		}
		if m.Type == MsgHaveAll {
			for i := range ss.n {
				ss.peerHas(c, i)
			}
		}
		ss.afterHave(c)
	case MsgRequest:
		if m.Length == 0 || m.Length > MaxRequestLength || int(m.Index) >= ss.n ||
			int64(m.Begin)+int64(m.Length) > info.PieceSize(int(m.Index)) {
			ss.drop(c, "bad request "+m.String())
			return
		}
		if c.amChoking || !ss.have[m.Index] {
			if c.fast {
				c.send(Message{Type: MsgReject, Index: m.Index, Begin: m.Begin, Length: m.Length})
			}
			return
		}
		if n := c.queueUpload(upload{blockKey{m.Index, m.Begin}, m.Length}); n > DefaultMaxPeerRequests {
			ss.ban(c, fmt.Sprintf("request flood: %d queued", n))
		}
	case MsgCancel:
		c.cancelUpload(blockKey{m.Index, m.Begin})
	case MsgPiece:
		ss.gotBlock(c, m)
	case MsgReject:
		if !c.fast {
			ss.drop(c, "reject without the fast extension")
			return
		}
		k := blockKey{m.Index, m.Begin}
		if _, ok := c.inflight[k]; ok {
			delete(c.inflight, k)
			ss.unrequest(k)
			ss.requestAll()
		}
	case MsgExtended:
		if c.ext {
			ss.handleExtended(c, m)
		}
	default:
		// suggest, allowed fast, port: not acted on.
	}
}

// peerHas records that c has piece i.
func (ss *session) peerHas(c *conn, i int) {
	if c.have[i] {
		return
	}
	c.have[i] = true
	c.nHave++
	ss.avail[i]++
	if !ss.have[i] {
		c.wanted++
	}
}

// afterHave updates our interest in c after it announced pieces.
func (ss *session) afterHave(c *conn) {
	if ss.done && c.nHave == ss.n {
		ss.closeConn(c, errors.New("both seeding"))
		return
	}
	if c.wanted > 0 && !c.amInterested {
		c.amInterested = true
		c.send(Message{Type: MsgInterested})
	}
	ss.request(c)
}

func (ss *session) choke(c *conn) {
	if c.amChoking {
		return
	}
	c.amChoking = true
	c.send(Message{Type: MsgChoke})
	dropped := c.dropUploads()
	if c.fast {
		for _, u := range dropped {
			c.send(Message{Type: MsgReject, Index: u.key.index, Begin: u.key.begin, Length: u.length})
		}
	}
}

func (ss *session) unchoke(c *conn) {
	if !c.amChoking {
		return
	}
	c.amChoking = false
	c.send(Message{Type: MsgUnchoke})
}

// fillSlots unchokes interested peers while fewer than UploadSlots+1 are
// unchoked, so that a new neighbour need not wait for the next rechoke
// when a slot is free.
func (ss *session) fillSlots() {
	slots := ss.slots() + 1
	n := 0
	var waiting []*conn
	for c := range ss.conns {
		if !c.amChoking && c.peerInterested {
			n++
		} else if c.amChoking && c.peerInterested {
			waiting = append(waiting, c)
		}
	}
	rand.Shuffle(len(waiting), func(i, j int) { waiting[i], waiting[j] = waiting[j], waiting[i] })
	for _, c := range waiting {
		if n >= slots {
			break
		}
		ss.unchoke(c)
		n++
	}
}

// rechoke is the textbook's choker: the UploadSlots interested peers that
// send to us fastest (when seeding: that we send to fastest) are
// unchoked, plus one optimistic unchoke rotated every OptimisticInterval.
func (ss *session) rechoke(now time.Time) {
	s := ss.s
	slots := ss.slots()
	var cands []*conn
	for c := range ss.conns {
		if c.peerInterested {
			cands = append(cands, c)
		}
	}
	rand.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
	rate := func(c *conn) float64 {
		if ss.done {
			return c.upRate
		}
		return c.downRate
	}
	slices.SortStableFunc(cands, func(a, b *conn) int { return cmp.Compare(rate(b), rate(a)) })
	keep := map[*conn]bool{}
	for _, c := range cands[:min(slots, len(cands))] {
		keep[c] = true
	}
	opt := ss.optimistic
	if opt == nil || opt.closed || !opt.peerInterested || keep[opt] || !now.Before(ss.nextOptimistic) {
		opt = nil
		var rest []*conn
		for _, c := range cands {
			if !keep[c] {
				rest = append(rest, c)
			}
		}
		if len(rest) > 0 {
			opt = rest[rand.IntN(len(rest))]
		}
		ss.optimistic = opt
		ss.nextOptimistic = now.Add(s.optimisticInterval())
	}
	if opt != nil {
		keep[opt] = true
	}
	for c := range ss.conns {
		if keep[c] {
			ss.unchoke(c)
		} else {
			ss.choke(c)
		}
	}
}

// slots is how many peers the choker unchokes by rate: UploadSlots, plus
// one for each second the upload stayed well under its limit. The
// textbook's four slots assume four peers fill the uplink; when some of
// them cannot (they want little of what we have), the rest of the
// capacity goes to more peers instead of idling. Without an upload limit
// the capacity is unknown and the slots stay as configured.
//
// A seed has no tit to tat: unless NoAutoSlots is set, it unchokes every
// interested peer, so that each leecher gets pieces from it at once, and
// new pieces enter the swarm through all of them in parallel (a seed
// that feeds four leans on them to spread everything).
func (ss *session) slots() int {
	if ss.done && !ss.s.NoAutoSlots {
		return max(len(ss.conns), 1)
	}
	return cmp.Or(max(ss.s.UploadSlots, 0), DefaultUploadSlots) + ss.extraSlots
}

// adaptSlots adds a slot while the upload runs under 90 % of its limit,
// up to the number of interested peers, and takes slots back when fewer
// peers are interested. A slot is not taken back when the limit is
// reached: the limit then shares the uplink among the unchoked.
func (ss *session) adaptSlots() {
	limit := float64(ss.s.UploadRate)
	if limit <= 0 || ss.s.NoAutoSlots {
		return
	}
	interested := 0
	for c := range ss.conns {
		if c.peerInterested {
			interested++
		}
	}
	base := cmp.Or(max(ss.s.UploadSlots, 0), DefaultUploadSlots)
	switch {
	case ss.upRate < 0.9*limit && base+ss.extraSlots < interested:
		ss.extraSlots++
		ss.fillSlots()
	case base+ss.extraSlots > interested && ss.extraSlots > 0:
		ss.extraSlots--
	}
}

// queueDepth is how many requests to keep outstanding with c.
func (ss *session) queueDepth(c *conn) int {
	if q := ss.s.RequestQueue; q > 0 {
		return q
	}
	if c.snubbed {
		return 1
	}
	// About a second of the peer's rate, plus a margin for the ramp-up.
	return min(max(int(c.downRate/BlockSize)+8, 16), 250)
}

func (ss *session) requestAll() {
	for c := range ss.conns {
		ss.request(c)
	}
}

// request keeps c's pipeline full.
func (ss *session) request(c *conn) {
	if c.closed || c.peerChoking || !c.amInterested || ss.done {
		return
	}
	q := ss.queueDepth(c)
	now := time.Now()
	for len(c.inflight) < q {
		k, length, ok := ss.pick(c)
		if !ok {
			break
		}
		c.inflight[k] = now
		ss.pieces[k.index].blocks[k.begin/BlockSize].reqs++
		c.send(Message{Type: MsgRequest, Index: k.index, Begin: k.begin, Length: length})
	}
}

// blockLen is the length of block b of piece i.
func (ss *session) blockLen(i, b int) uint32 {
	size := ss.s.Torrent.Info.PieceSize(i)
	return uint32(min(BlockSize, size-int64(b)*BlockSize))
}

// pick chooses c's next block: a free block of a started piece c has
// (started pieces are finished first); else the first block of a new
// piece, random among the first RandomFirstPieces, then the rarest; in
// endgame (every missing piece started), a block already asked of
// another peer.
func (ss *session) pick(c *conn) (blockKey, uint32, bool) {
	for _, i := range ss.started {
		if !c.have[i] {
			continue
		}
		p := ss.pieces[i]
		for b := range p.blocks {
			if !p.blocks[b].got && p.blocks[b].reqs == 0 {
				return blockKey{uint32(i), uint32(b * BlockSize)}, ss.blockLen(i, b), true
			}
		}
	}
	if i, ok := ss.newPiece(c); ok {
		return blockKey{uint32(i), 0}, ss.blockLen(i, 0), true
	}
	if ss.nHave+len(ss.started) < ss.n {
		return blockKey{}, 0, false
	}
	// Endgame: at most two outstanding requests per block.
	for _, i := range ss.started {
		if !c.have[i] {
			continue
		}
		p := ss.pieces[i]
		for b := range p.blocks {
			k := blockKey{uint32(i), uint32(b * BlockSize)}
			if _, mine := c.inflight[k]; !p.blocks[b].got && !mine && p.blocks[b].reqs < 2 {
				return k, ss.blockLen(i, b), true
			}
		}
	}
	return blockKey{}, 0, false
}

// newPiece starts a piece c has that nobody is fetching.
func (ss *session) newPiece(c *conn) (int, bool) {
	best, bestAvail, ties := -1, 0, 0
	random := ss.nHave < RandomFirstPieces
	for i := range ss.n {
		if ss.have[i] || ss.pieces[i] != nil || !c.have[i] {
			continue
		}
		a := ss.avail[i]
		if random {
			a = 0
		}
		switch {
		case best < 0 || a < bestAvail:
			best, bestAvail, ties = i, a, 1
		case a == bestAvail:
			// Reservoir sampling among equally rare pieces.
			ties++
			if rand.IntN(ties) == 0 {
				best = i
			}
		}
	}
	if best < 0 {
		return 0, false
	}
	size := ss.s.Torrent.Info.PieceSize(best)
	ss.pieces[best] = &piece{buf: make([]byte, size), blocks: make([]block, (size+BlockSize-1)/BlockSize)}
	ss.started = append(ss.started, best)
	return best, true
}

// gotBlock stores a block; a complete piece is verified and written.
func (ss *session) gotBlock(c *conn, m Message) {
	k := blockKey{m.Index, m.Begin}
	if _, ok := c.inflight[k]; !ok {
		c.unexpected++
		if c.unexpected > c.cancelled+64 {
			ss.ban(c, "blocks we did not ask for")
		}
		return
	}
	delete(c.inflight, k)
	c.lastBlock = time.Now()
	c.snubbed = false
	c.down += int64(len(m.Block))
	ss.s.downloaded.Add(int64(len(m.Block)))
	p := ss.pieces[m.Index]
	if p == nil {
		ss.request(c)
		return
	}
	bi := int(m.Begin / BlockSize)
	if m.Begin%BlockSize != 0 || uint32(len(m.Block)) != ss.blockLen(int(m.Index), bi) {
		ss.unrequest(k)
		ss.ban(c, "a block of the wrong size")
		return
	}
	b := &p.blocks[bi]
	if b.reqs > 0 {
		b.reqs--
	}
	if !b.got {
		copy(p.buf[m.Begin:], m.Block)
		b.got, b.from = true, c
		p.got++
		// Endgame: cancel the same block asked of others.
		for o := range ss.conns {
			if o == c {
				continue
			}
			if _, ok := o.inflight[k]; ok {
				delete(o.inflight, k)
				o.cancelled++
				if b.reqs > 0 {
					b.reqs--
				}
				o.send(Message{Type: MsgCancel, Index: k.index, Begin: k.begin, Length: uint32(len(m.Block))})
			}
		}
		if p.got == len(p.blocks) {
			ss.finishPiece(int(m.Index))
			if c.closed {
				return
			}
		}
	}
	ss.request(c)
}

// finishPiece verifies piece i and writes it, or throws it away and
// blames those who sent it.
func (ss *session) finishPiece(i int) {
	s := ss.s
	p := ss.pieces[i]
	if sha1.Sum(p.buf) != s.Torrent.Info.PieceHash(i) {
		from := map[*conn]bool{}
		for b := range p.blocks {
			from[p.blocks[b].from] = true
			p.blocks[b].got, p.blocks[b].from = false, nil
		}
		p.got = 0
		s.logger().Warn("peer: piece failed its hash check", "piece", i, "peers", len(from))
		for c := range from {
			if c == nil || c.closed {
				continue
			}
			c.strikes++
			if len(from) == 1 || c.strikes >= MaxBadPieces {
				ss.ban(c, fmt.Sprintf("sent bad data for piece %d", i))
			}
		}
		ss.requestAll()
		return
	}
	if err := s.st.WriteAt(p.buf, int64(i)*s.Torrent.Info.PieceLength); err != nil {
		s.logger().Error("peer: writing a piece", "piece", i, "err", err)
		for b := range p.blocks {
			p.blocks[b].got = false
		}
		p.got = 0
		return
	}
	ss.have[i] = true
	ss.nHave++
	s.left.Add(-int64(len(p.buf)))
	ss.pieces[i] = nil
	ss.started = slices.DeleteFunc(ss.started, func(x int) bool { return x == i })
	for c := range ss.conns {
		if c.have[i] {
			c.wanted--
			if c.wanted == 0 && c.amInterested {
				c.amInterested = false
				c.send(Message{Type: MsgNotInterested})
			}
		}
		c.send(Message{Type: MsgHave, Index: uint32(i)})
	}
	if ss.nHave == ss.n {
		ss.finish()
	}
	ss.snapshot()
}

// finish makes the download final and turns this peer into a seed.
func (ss *session) finish() {
	s := ss.s
	if err := s.st.Finish(); err != nil {
		s.logger().Error("peer: finishing the files", "err", err)
		return
	}
	ss.done = true
	s.logger().Info("peer: download complete", "torrent", s.Torrent.Info.Name)
	s.doneOnce.Do(func() { close(s.done) })
	select {
	case s.complete <- struct{}{}:
	default:
	}
	for c := range ss.conns {
		if c.nHave == ss.n {
			ss.closeConn(c, errors.New("both seeding"))
		}
	}
}

// tick runs every second: rates, stalled requests, keep-alives, dialling,
// the choker.
func (ss *session) tick() {
	s := ss.s
	now := time.Now()
	reqTimeout := cmp.Or(max(s.RequestTimeout, 0), DefaultRequestTimeout)
	const alpha = 0.3 // smoothing over about three seconds
	stalled := false
	for c := range ss.conns {
		up := c.up.Load()
		c.downRate = (1-alpha)*c.downRate + alpha*float64(c.down-c.lastDown)
		c.upRate = (1-alpha)*c.upRate + alpha*float64(up-c.lastUp)
		c.lastDown, c.lastUp = c.down, up
		if len(c.inflight) > 0 {
			last := c.lastBlock
			if last.Before(c.connectedAt) {
				last = c.connectedAt
			}
			oldest := now
			for _, t := range c.inflight {
				if t.Before(oldest) {
					oldest = t
				}
			}
			if now.Sub(oldest) > reqTimeout && now.Sub(last) > reqTimeout {
				c.snubbed = true
				for k := range c.inflight {
					ss.unrequest(k)
					c.cancelled++
					c.send(Message{Type: MsgCancel, Index: k.index, Begin: k.begin, Length: ss.blockLen(int(k.index), int(k.begin/BlockSize))})
				}
				clear(c.inflight)
				stalled = true
			}
		}
		if now.Sub(c.lastSent) > 90*time.Second {
			c.send(Message{KeepAlive: true})
		}
	}
	down, up := s.downloaded.Load(), s.uploaded.Load()
	ss.downRate = (1-alpha)*ss.downRate + alpha*float64(down-ss.lastDown)
	ss.upRate = (1-alpha)*ss.upRate + alpha*float64(up-ss.lastUp)
	ss.lastDown, ss.lastUp = down, up
	if stalled {
		ss.requestAll()
	}
	ss.adaptSlots()
	if !now.Before(ss.nextRechoke) {
		ss.rechoke(now)
		ss.nextRechoke = now.Add(s.rechokeInterval())
	}
	if now.Second()%5 == 0 {
		ss.dialMore()
	}
	if !now.Before(ss.nextPex) {
		ss.sendPex()
		ss.nextPex = now.Add(ss.s.pexInterval())
	}
	ss.snapshot()
}

// snapshot publishes the progress for Stats.
func (ss *session) snapshot() {
	s := ss.s
	st := Stats{Pieces: ss.n, Have: ss.nHave, Peers: len(ss.conns), Downloaded: s.downloaded.Load(), Uploaded: s.uploaded.Load(),
		DownRate: ss.downRate, UpRate: ss.upRate, Complete: ss.done, Banned: ss.nBanned}
	st.Map = append(st.Map, ss.have...)
	for c := range ss.conns {
		if !c.amChoking {
			st.Unchoked++
		}
		if c.peerInterested {
			st.Interested++
		}
		if c.amInterested && !c.peerChoking {
			st.Downloading++
		}
		c.wmu.Lock()
		st.Queued += len(c.uploads)
		c.wmu.Unlock()
		st.Requests += len(c.inflight)
	}
	s.snapMu.Lock()
	s.snap = st
	s.snapMu.Unlock()
}
