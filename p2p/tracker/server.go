// Package tracker is a BitTorrent tracker and its client: HTTP announce
// and scrape (BEP 3, the scrape convention of BEP 48), compact peer lists
// (BEP 23) with IPv6 peers in peers6 (BEP 7), and the UDP tracker protocol
// (BEP 15) with stateless connection IDs.
//
// A tracker keeps, per info-hash, the peers that announced within the
// last two intervals and answers each announce with a random subset of
// the others (NumWant of them, 50 by default), so that every peer learns
// a different slice of the swarm, as the textbook describes.
//
// Concurrency: HTTP connections are served by the web package's server;
// UDP by one read loop that answers each datagram at once. The swarms sit
// behind one mutex, held only to update a map and pick peers.
package tracker

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/applayer/applayer/internal/lifecycle"
	"github.com/applayer/applayer/internal/transcript"
	"github.com/applayer/applayer/p2p/bencode"
	"github.com/applayer/applayer/p2p/metainfo"
	"github.com/applayer/applayer/web"
)

// Defaults of the Server's fields.
const (
	DefaultAddr        = "127.0.0.1:6969"
	DefaultInterval    = 30 * time.Minute
	DefaultNumWant     = 50
	MaxNumWant         = 200
	DefaultMaxTorrents = 100000
	DefaultMaxPeers    = 10000
	// DefaultMaxPeersPerAddr bounds one IP address's peers (ports) in one
	// swarm, so that one source cannot fill a swarm with fake peers and
	// lock real ones out (a home behind NAT runs a few clients, not 32).
	DefaultMaxPeersPerAddr = 32
	// MaxScrape bounds the info-hashes of one scrape and the torrents of a
	// full scrape.
	MaxScrape = 100
)

// ErrServerClosed is returned by the Serve methods after Shutdown or Close.
var ErrServerClosed = errors.New("tracker: server closed")

// Server is a tracker over HTTP and UDP. Its exported fields are its
// configuration; the zero value serves both on DefaultAddr.
type Server struct {
	// Addr is the address ListenAndServe binds, TCP for HTTP and UDP on
	// the same port (default DefaultAddr).
	Addr string
	// Network is "tcp" (HTTP only), "udp" (UDP only) or "" for both.
	Network string
	// Interval is how often peers are told to announce (default
	// DefaultInterval); min interval is half of it. A peer silent for two
	// intervals is forgotten.
	Interval time.Duration
	// NumWant is how many peers an announce gets when it does not say
	// (default DefaultNumWant); a request for more gets at most MaxNumWant.
	NumWant int
	// MaxTorrents bounds the swarms tracked (default DefaultMaxTorrents);
	// MaxPeers the peers of one swarm (default DefaultMaxPeers).
	MaxTorrents, MaxPeers int
	// MaxPeersPerAddr bounds the peers of one IP address in one swarm
	// (default DefaultMaxPeersPerAddr; negative: no limit).
	MaxPeersPerAddr int
	// Allow, when not nil, lists the only info-hashes tracked.
	Allow map[metainfo.Hash]bool
	// MaxConns bounds HTTP connections (default lifecycle.DefaultMaxConns).
	MaxConns int
	// MaxConnsPerClient bounds one client address's HTTP connections
	// (default MaxConns/8; negative: none).
	MaxConnsPerClient int
	// Logger receives the server's log lines; nil means slog.Default().
	Logger *slog.Logger
	// Trace records each announce and scrape; nil records nothing.
	Trace *transcript.Recorder

	once  sync.Once
	st    store
	http  web.Server
	udp   lifecycle.Tracker
	key   [32]byte // for UDP connection IDs
	start time.Time
	now   func() time.Time
}

func (s *Server) init() {
	s.once.Do(func() {
		s.st.swarms = map[metainfo.Hash]*swarm{}
		s.st.maxTorrents = cmp.Or(max(s.MaxTorrents, 0), DefaultMaxTorrents)
		s.st.maxPeers = cmp.Or(max(s.MaxPeers, 0), DefaultMaxPeers)
		s.st.maxPerAddr = lifecycle.OrDefault(s.MaxPeersPerAddr, DefaultMaxPeersPerAddr)
		if s.MaxPeersPerAddr < 0 {
			s.st.maxPerAddr = 0
		}
		rand.Read(s.key[:])
		s.start = time.Now()
		if s.now == nil {
			s.now = time.Now
		}
		s.http = web.Server{Handler: web.HandlerFunc(s.serveHTTP), MaxConns: s.MaxConns, MaxConnsPerClient: s.MaxConnsPerClient, Logger: s.logger(), Trace: s.Trace, Name: "applayer-tracker"}
		s.udp.Name = "tracker/udp"
		s.udp.Logger = s.logger()
		s.udp.ErrClosed = ErrServerClosed
	})
}

func (s *Server) logger() *slog.Logger { return cmp.Or(s.Logger, slog.Default()) }

func (s *Server) interval() time.Duration {
	if s.Interval <= 0 {
		return DefaultInterval
	}
	return s.Interval
}

// ListenAndServe binds Addr (TCP and UDP unless Network says one), then
// serves until Shutdown; both sockets are bound before either is served.
func (s *Server) ListenAndServe() error {
	addr := cmp.Or(s.Addr, DefaultAddr)
	var l net.Listener
	var pc net.PacketConn
	var err error
	if s.Network == "" || s.Network == "tcp" {
		if l, err = net.Listen("tcp", addr); err != nil {
			return err
		}
		addr = l.Addr().String()
	}
	if s.Network == "" || s.Network == "udp" {
		if pc, err = net.ListenPacket("udp", addr); err != nil {
			if l != nil {
				l.Close()
			}
			return err
		}
	}
	return s.ServeBoth(l, pc)
}

// ServeBoth serves HTTP on l and UDP on pc (either may be nil) until
// Shutdown; if one fails, the other is stopped too.
func (s *Server) ServeBoth(l net.Listener, pc net.PacketConn) error {
	return lifecycle.ServeBoth(l, pc, s.Serve, s.ServePacket, ErrServerClosed, s.Close)
}

// Serve answers HTTP announces, scrapes and the stats page on l.
func (s *Server) Serve(l net.Listener) error {
	s.init()
	err := s.http.Serve(l)
	if errors.Is(err, web.ErrServerClosed) {
		return ErrServerClosed
	}
	return err
}

// Shutdown stops both transports, letting answers in progress finish.
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	return errors.Join(s.http.Shutdown(ctx), s.udp.Shutdown(ctx))
}

// Close stops the server at once.
func (s *Server) Close() error {
	s.init()
	return errors.Join(s.http.Close(), s.udp.Close())
}

// announce records an announce as either transport does and returns the
// peers to hand out.
func (s *Server) announce(h metainfo.Hash, addr netip.AddrPort, id [20]byte, left int64, ev Event, numWant int) ([]Peer, Stats, error) {
	s.init()
	if s.Allow != nil && !s.Allow[h] {
		return nil, Stats{}, errors.New("torrent not tracked here")
	}
	if numWant < 0 {
		numWant = cmp.Or(s.NumWant, DefaultNumWant)
	}
	numWant = min(numWant, MaxNumWant)
	peers, stats, ok := s.st.announce(s.now(), 2*s.interval(), h, addr, id, left, ev, numWant)
	if !ok {
		return nil, stats, errors.New("tracker full")
	}
	return peers, stats, nil
}

// failure is an HTTP tracker's error answer (BEP 3: "failure reason").
func failure(w web.ResponseWriter, msg string) {
	b, _ := bencode.Marshal(map[string]string{"failure reason": msg})
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(200)
	w.Write(b)
}

func (s *Server) serveHTTP(w web.ResponseWriter, r *web.Request) {
	if r.Method != "GET" && r.Method != "HEAD" {
		w.WriteHeader(405)
		return
	}
	switch r.Path {
	case "/announce":
		s.httpAnnounce(w, r)
	case "/scrape":
		s.httpScrape(w, r)
	case "/", "/stats":
		s.stats(w)
	default:
		w.WriteHeader(404)
		w.Write([]byte("not found\n"))
	}
}

type httpPeer struct {
	ID   string `bencode:"peer id,omitempty"`
	IP   string `bencode:"ip"`
	Port uint16 `bencode:"port"`
}

type announceAnswer struct {
	Interval    int64              `bencode:"interval"`
	MinInterval int64              `bencode:"min interval"`
	Complete    int                `bencode:"complete"`
	Incomplete  int                `bencode:"incomplete"`
	Downloaded  int                `bencode:"downloaded"`
	Peers       bencode.RawMessage `bencode:"peers"`
	Peers6      []byte             `bencode:"peers6,omitempty"`
}

func hash20(s string) (h metainfo.Hash, ok bool) {
	if len(s) != 20 {
		return h, false
	}
	copy(h[:], s)
	return h, true
}

func (s *Server) httpAnnounce(w web.ResponseWriter, r *web.Request) {
	q, err := url.ParseQuery(r.RawQuery)
	if err != nil {
		failure(w, "malformed query")
		return
	}
	h, ok := hash20(q.Get("info_hash"))
	if !ok {
		failure(w, "info_hash must be 20 bytes")
		return
	}
	var id [20]byte
	if pid := q.Get("peer_id"); len(pid) != 20 {
		failure(w, "peer_id must be 20 bytes")
		return
	} else {
		copy(id[:], pid)
	}
	port, err := strconv.ParseUint(q.Get("port"), 10, 16)
	if err != nil || port == 0 {
		failure(w, "bad port")
		return
	}
	left, err := strconv.ParseInt(cmp.Or(q.Get("left"), "0"), 10, 64)
	if err != nil || left < 0 {
		failure(w, "bad left")
		return
	}
	ev, ok := ParseEvent(q.Get("event"))
	if !ok {
		failure(w, "bad event")
		return
	}
	numWant := -1
	if nw := q.Get("numwant"); nw != "" {
		if numWant, err = strconv.Atoi(nw); err != nil || numWant < 0 {
			failure(w, "bad numwant")
			return
		}
	}
	ra, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		failure(w, "no client address")
		return
	}
	ip := ra.Addr().Unmap()
	// BEP 3's ip parameter is taken only from a loopback client naming
	// another loopback address: a lab's peers on 127.0.x.y announce over
	// connections from 127.0.0.1. From anyone else it would let a client
	// point the swarm at a third party.
	if v := q.Get("ip"); v != "" && ip.IsLoopback() {
		if claimed, err := netip.ParseAddr(v); err == nil && claimed.Unmap().IsLoopback() {
			ip = claimed.Unmap()
		}
	}
	addr := netip.AddrPortFrom(ip, uint16(port))
	peers, stats, err := s.announce(h, addr, id, left, ev, numWant)
	if err != nil {
		failure(w, err.Error())
		return
	}
	iv := s.interval()
	ans := announceAnswer{Interval: int64(iv / time.Second), MinInterval: int64(iv / 2 / time.Second),
		Complete: stats.Complete, Incomplete: stats.Incomplete, Downloaded: stats.Downloaded}
	if q.Get("compact") == "0" {
		list := []httpPeer{}
		noID := q.Get("no_peer_id") == "1"
		for _, p := range peers {
			hp := httpPeer{IP: p.Addr.Addr().String(), Port: p.Addr.Port()}
			if !noID {
				hp.ID = string(p.ID[:])
			}
			list = append(list, hp)
		}
		ans.Peers, _ = bencode.Marshal(list)
	} else {
		v4 := []byte{}
		for _, p := range peers {
			a := p.Addr.Addr()
			if a.Is4() {
				b := a.As4()
				v4 = append(v4, b[:]...)
			} else {
				b := a.As16()
				ans.Peers6 = append(ans.Peers6, b[:]...)
				ans.Peers6 = binary.BigEndian.AppendUint16(ans.Peers6, p.Addr.Port())
				continue
			}
			v4 = binary.BigEndian.AppendUint16(v4, p.Addr.Port())
		}
		ans.Peers, _ = bencode.Marshal(v4)
	}
	b, err := bencode.Marshal(ans)
	if err != nil {
		failure(w, "internal error")
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(200)
	w.Write(b)
}

type scrapeFile struct {
	Complete   int `bencode:"complete"`
	Downloaded int `bencode:"downloaded"`
	Incomplete int `bencode:"incomplete"`
}

func (s *Server) httpScrape(w web.ResponseWriter, r *web.Request) {
	q, err := url.ParseQuery(r.RawQuery)
	if err != nil {
		failure(w, "malformed query")
		return
	}
	files := map[string]scrapeFile{}
	if hs := q["info_hash"]; len(hs) > 0 {
		if len(hs) > MaxScrape {
			failure(w, fmt.Sprintf("at most %d info_hash per scrape", MaxScrape))
			return
		}
		var hashes []metainfo.Hash
		for _, x := range hs {
			h, ok := hash20(x)
			if !ok {
				failure(w, "info_hash must be 20 bytes")
				return
			}
			hashes = append(hashes, h)
		}
		for i, st := range s.st.scrape(s.now(), hashes) {
			files[string(hashes[i][:])] = scrapeFile{st.Complete, st.Downloaded, st.Incomplete}
		}
	} else {
		for h, st := range s.st.all(s.now(), MaxScrape) {
			files[string(h[:])] = scrapeFile{st.Complete, st.Downloaded, st.Incomplete}
		}
	}
	b, _ := bencode.Marshal(map[string]any{"files": files})
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(200)
	w.Write(b)
}

// stats writes the stats page: counts, and the swarms.
func (s *Server) stats(w web.ResponseWriter) {
	all := s.st.all(s.now(), 1000)
	s.st.mu.Lock()
	announces, scrapes := s.st.announces, s.st.scrapes
	s.st.mu.Unlock()
	hashes := make([]metainfo.Hash, 0, len(all))
	for h := range all {
		hashes = append(hashes, h)
	}
	slices.SortFunc(hashes, func(a, b metainfo.Hash) int { return strings.Compare(string(a[:]), string(b[:])) })
	var b strings.Builder
	up := time.Since(s.start).Round(time.Second)
	fmt.Fprintf(&b, "<!doctype html>\n<title>applayer tracker</title>\n<h1>applayer tracker</h1>\n<p>up %s; %d announces, %d scrapes; %d torrents; interval %s</p>\n",
		html.EscapeString(up.String()), announces, scrapes, len(all), s.interval())
	b.WriteString("<table>\n<tr><th>info-hash</th><th>seeders</th><th>leechers</th><th>completed</th></tr>\n")
	for _, h := range hashes {
		st := all[h]
		fmt.Fprintf(&b, "<tr><td><code>%s</code></td><td>%d</td><td>%d</td><td>%d</td></tr>\n", h, st.Complete, st.Incomplete, st.Downloaded)
	}
	b.WriteString("</table>\n")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(200)
	w.Write([]byte(b.String()))
}

// UDP tracker protocol (BEP 15).
const (
	udpProtocolID  = 0x41727101980
	actionConnect  = 0
	actionAnnounce = 1
	actionScrape   = 2
	actionError    = 3
	// connIDEpoch is how long one connection ID epoch lasts; an ID is
	// accepted in its epoch and the next, so for one to two minutes
	// (BEP 15: "up to two minutes").
	connIDEpoch = time.Minute
)

// connID is the connection ID for a client in an epoch: a keyed hash of
// its address (SHA-256 of a secret key and fixed-length fields), so the
// server keeps no state and a spoofed source cannot get one it can use.
func (s *Server) connID(addr netip.AddrPort, epoch int64) uint64 {
	var b [32 + 16 + 2 + 8]byte
	copy(b[:], s.key[:])
	a := addr.Addr().Unmap().As16()
	copy(b[32:], a[:])
	binary.BigEndian.PutUint16(b[48:], addr.Port())
	binary.BigEndian.PutUint64(b[50:], uint64(epoch))
	sum := sha256.Sum256(b[:])
	return binary.BigEndian.Uint64(sum[:])
}

func (s *Server) validConnID(addr netip.AddrPort, id uint64) bool {
	e := s.now().UnixNano() / int64(connIDEpoch)
	return id == s.connID(addr, e) || id == s.connID(addr, e-1)
}

// ServePacket answers UDP tracker requests on pc until Shutdown or Close.
func (s *Server) ServePacket(pc net.PacketConn) error {
	s.init()
	return s.udp.ServePacket(pc, func(pc net.PacketConn) error {
		buf := make([]byte, 2048)
		var out []byte
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				if s.udp.ShuttingDown() {
					return ErrServerClosed
				}
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					continue
				}
				return err
			}
			ua, ok := from.(*net.UDPAddr)
			if !ok {
				continue
			}
			ap := ua.AddrPort()
			ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
			out = s.handleUDP(out[:0], buf[:n], ap)
			if len(out) > 0 {
				pc.WriteTo(out, from)
			}
		}
	})
}

// handleUDP answers one datagram; a packet too short to carry a
// transaction ID is dropped (nil).
func (s *Server) handleUDP(out, p []byte, from netip.AddrPort) []byte {
	if len(p) < 16 {
		return nil
	}
	cid := binary.BigEndian.Uint64(p)
	action := binary.BigEndian.Uint32(p[8:])
	tid := binary.BigEndian.Uint32(p[12:])
	tr := s.Trace.Session("tracker/udp", from.String())
	udpError := func(msg string) []byte {
		tr.Server("error " + msg)
		out = binary.BigEndian.AppendUint32(out, actionError)
		out = binary.BigEndian.AppendUint32(out, tid)
		return append(out, msg...)
	}
	if action == actionConnect {
		if cid != udpProtocolID {
			return nil
		}
		id := s.connID(from, s.now().UnixNano()/int64(connIDEpoch))
		if tr.Enabled() {
			tr.Client("connect")
			tr.Server(fmt.Sprintf("connected id=%016x", id))
		}
		out = binary.BigEndian.AppendUint32(out, actionConnect)
		out = binary.BigEndian.AppendUint32(out, tid)
		return binary.BigEndian.AppendUint64(out, id)
	}
	if !s.validConnID(from, cid) {
		// The source may be forged: answer only when the answer is no
		// larger than the datagram, so that the tracker never amplifies.
		const msg = "bad connection id"
		if len(p) < 8+len(msg) {
			return nil
		}
		return udpError(msg)
	}
	switch action {
	case actionAnnounce:
		if len(p) < 98 {
			return udpError("short announce")
		}
		h, _ := hash20(string(p[16:36]))
		var id [20]byte
		copy(id[:], p[36:56])
		left := int64(binary.BigEndian.Uint64(p[64:]))
		ev := Event(binary.BigEndian.Uint32(p[80:]))
		numWant := int(int32(binary.BigEndian.Uint32(p[92:])))
		port := binary.BigEndian.Uint16(p[96:])
		if left < 0 || ev > Stopped || port == 0 {
			return udpError("bad announce")
		}
		if numWant < 0 {
			numWant = -1
		}
		if tr.Enabled() {
			tr.Client(fmt.Sprintf("announce %s port=%d left=%d event=%s numwant=%d", h, port, left, ev, numWant))
		}
		ip := from.Addr()
		if claimed, ok := netip.AddrFromSlice(p[84:88]); ok && ip.IsLoopback() && claimed.IsLoopback() {
			ip = claimed // as the HTTP ip parameter: loopback only
		}
		addr := netip.AddrPortFrom(ip, port)
		peers, stats, err := s.announce(h, addr, id, left, ev, numWant)
		if err != nil {
			return udpError(err.Error())
		}
		out = binary.BigEndian.AppendUint32(out, actionAnnounce)
		out = binary.BigEndian.AppendUint32(out, tid)
		out = binary.BigEndian.AppendUint32(out, uint32(s.interval()/time.Second))
		out = binary.BigEndian.AppendUint32(out, uint32(stats.Incomplete))
		out = binary.BigEndian.AppendUint32(out, uint32(stats.Complete))
		n := 0
		for _, pe := range peers {
			a := pe.Addr.Addr()
			// BEP 15: 6-byte peers over IPv4, 18-byte over IPv6.
			if a.Is4() != from.Addr().Is4() {
				continue
			}
			out = append(out, a.AsSlice()...)
			out = binary.BigEndian.AppendUint16(out, pe.Addr.Port())
			n++
		}
		if tr.Enabled() {
			tr.Server(fmt.Sprintf("interval=%d seeders=%d leechers=%d peers=%d", s.interval()/time.Second, stats.Complete, stats.Incomplete, n))
		}
		return out
	case actionScrape:
		n := (len(p) - 16) / 20
		if n == 0 || n > 74 { // 74 answers fit in 8 + 12*74 < 1500 bytes
			return udpError("scrape wants 1 to 74 info-hashes")
		}
		hashes := make([]metainfo.Hash, n)
		for i := range hashes {
			copy(hashes[i][:], p[16+20*i:])
		}
		if tr.Enabled() {
			tr.Client(fmt.Sprintf("scrape %d info-hashes", n))
		}
		out = binary.BigEndian.AppendUint32(out, actionScrape)
		out = binary.BigEndian.AppendUint32(out, tid)
		for _, st := range s.st.scrape(s.now(), hashes) {
			out = binary.BigEndian.AppendUint32(out, uint32(st.Complete))
			out = binary.BigEndian.AppendUint32(out, uint32(st.Downloaded))
			out = binary.BigEndian.AppendUint32(out, uint32(st.Incomplete))
		}
		return out
	}
	return udpError("unknown action")
}
