package tracker

import (
	"bytes"
	"cmp"
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/applayer/applayer/internal/transcript"
	"github.com/applayer/applayer/p2p/bencode"
	"github.com/applayer/applayer/p2p/metainfo"
	"github.com/applayer/applayer/web"
)

// DefaultTimeout bounds an announce or scrape when Client.Timeout is zero.
const DefaultTimeout = 15 * time.Second

// MaxResponse bounds an HTTP tracker's answer (1 MiB).
const MaxResponse = 1 << 20

// Client announces to and scrapes HTTP and UDP trackers.
type Client struct {
	// Timeout bounds each announce or scrape (default DefaultTimeout); a
	// UDP request is resent after 1, 2, 4... seconds within it.
	Timeout time.Duration
	// Trace records the exchanges; nil records nothing.
	Trace *transcript.Recorder
}

// Request is an announce.
type Request struct {
	InfoHash   metainfo.Hash
	PeerID     [20]byte
	Port       uint16
	Uploaded   int64
	Downloaded int64
	Left       int64
	Event      Event
	// NumWant is how many peers to ask for; negative for the tracker's
	// default.
	NumWant int
	Key     uint32
	// IP, when valid, is sent as BEP 3's ip parameter (HTTP) or in the
	// announce's IP field (UDP, IPv4 only): the address peers should
	// dial, for a peer listening on another address than the one its
	// announce comes from.
	IP netip.Addr
}

// Response is a tracker's answer to an announce.
type Response struct {
	Interval    time.Duration
	MinInterval time.Duration
	Seeders     int
	Leechers    int
	Peers       []Peer
}

func (c *Client) timeout() time.Duration { return cmp.Or(max(c.Timeout, 0), DefaultTimeout) }

// Announce sends req to the tracker at rawURL (http:// or udp://).
func (c *Client) Announce(ctx context.Context, rawURL string, req Request) (*Response, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("tracker: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	switch u.Scheme {
	case "http":
		return c.announceHTTP(ctx, u, req)
	case "udp":
		return c.announceUDP(ctx, u, req)
	}
	return nil, fmt.Errorf("tracker: %s: unsupported scheme %q", rawURL, u.Scheme)
}

func hostPort(u *url.URL, def string) string {
	if u.Port() == "" {
		return net.JoinHostPort(u.Hostname(), def)
	}
	return u.Host
}

// get fetches an HTTP tracker's bencoded answer.
func (c *Client) get(ctx context.Context, u *url.URL, query string) ([]byte, error) {
	addr := hostPort(u, "80")
	conn, err := web.Dial(ctx, addr, web.Options{Timeout: c.timeout(), Trace: c.Trace})
	if err != nil {
		return nil, fmt.Errorf("tracker: %w", err)
	}
	defer conn.Close()
	target := cmp.Or(u.EscapedPath(), "/")
	if u.RawQuery != "" {
		query = u.RawQuery + "&" + query
	}
	resp, err := conn.Do(ctx, &web.OutRequest{Method: "GET", Target: target + "?" + query, Host: u.Host, Close: true})
	if err != nil {
		return nil, fmt.Errorf("tracker: %s: %w", addr, err)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponse+1))
	if err != nil {
		return nil, fmt.Errorf("tracker: %s: %w", addr, err)
	}
	if len(body) > MaxResponse {
		return nil, fmt.Errorf("tracker: %s: answer over %d bytes", addr, MaxResponse)
	}
	if resp.Status != 200 {
		return nil, fmt.Errorf("tracker: %s: HTTP %d %s", addr, resp.Status, resp.Reason)
	}
	return body, nil
}

// httpAnswer is an HTTP announce's answer, peers either compact or not.
type httpAnswer struct {
	Failure     string             `bencode:"failure reason"`
	Warning     string             `bencode:"warning message"`
	Interval    int64              `bencode:"interval"`
	MinInterval int64              `bencode:"min interval"`
	Complete    int                `bencode:"complete"`
	Incomplete  int                `bencode:"incomplete"`
	Peers       bencode.RawMessage `bencode:"peers"`
	Peers6      []byte             `bencode:"peers6"`
}

func (c *Client) announceHTTP(ctx context.Context, u *url.URL, req Request) (*Response, error) {
	q := "info_hash=" + url.QueryEscape(string(req.InfoHash[:])) +
		"&peer_id=" + url.QueryEscape(string(req.PeerID[:])) +
		"&port=" + strconv.Itoa(int(req.Port)) +
		"&uploaded=" + strconv.FormatInt(req.Uploaded, 10) +
		"&downloaded=" + strconv.FormatInt(req.Downloaded, 10) +
		"&left=" + strconv.FormatInt(req.Left, 10) +
		"&compact=1&key=" + strconv.FormatUint(uint64(req.Key), 16)
	if req.Event != None {
		q += "&event=" + req.Event.String()
	}
	if req.NumWant >= 0 {
		q += "&numwant=" + strconv.Itoa(req.NumWant)
	}
	if req.IP.IsValid() {
		q += "&ip=" + req.IP.String()
	}
	body, err := c.get(ctx, u, q)
	if err != nil {
		return nil, err
	}
	var a httpAnswer
	if err := bencode.Unmarshal(body, &a); err != nil {
		return nil, fmt.Errorf("tracker: %s: %w", u.Host, err)
	}
	if a.Failure != "" {
		return nil, fmt.Errorf("tracker: %s: %s", u.Host, a.Failure)
	}
	r := &Response{Interval: time.Duration(a.Interval) * time.Second, MinInterval: time.Duration(a.MinInterval) * time.Second,
		Seeders: a.Complete, Leechers: a.Incomplete}
	if len(a.Peers) > 0 && a.Peers[0] == 'l' {
		var list []httpPeer
		if err := bencode.Unmarshal(a.Peers, &list); err != nil {
			return nil, fmt.Errorf("tracker: %s: peers: %w", u.Host, err)
		}
		for _, p := range list {
			ip, err := netip.ParseAddr(p.IP)
			if err != nil {
				continue
			}
			pe := Peer{Addr: netip.AddrPortFrom(ip.Unmap(), p.Port)}
			copy(pe.ID[:], p.ID)
			r.Peers = append(r.Peers, pe)
		}
	} else if len(a.Peers) > 0 {
		var compact []byte
		if err := bencode.Unmarshal(a.Peers, &compact); err != nil {
			return nil, fmt.Errorf("tracker: %s: peers: %w", u.Host, err)
		}
		r.Peers = append(r.Peers, ParseCompact(compact, 4)...)
	}
	r.Peers = append(r.Peers, ParseCompact(a.Peers6, 16)...)
	return r, nil
}

// ParseCompact reads compact peers (BEP 23, BEP 7): addresses of ipLen
// bytes (4 or 16) each followed by a port; a trailing partial entry is
// ignored.
func ParseCompact(b []byte, ipLen int) []Peer {
	var out []Peer
	for len(b) >= ipLen+2 {
		ip, _ := netip.AddrFromSlice(b[:ipLen])
		port := binary.BigEndian.Uint16(b[ipLen:])
		out = append(out, Peer{Addr: netip.AddrPortFrom(ip.Unmap(), port)})
		b = b[ipLen+2:]
	}
	return out
}

// Scrape asks an HTTP tracker (its announce URL, turned into the scrape
// URL by BEP 48's convention) or a UDP tracker for the counts of hashes.
func (c *Client) Scrape(ctx context.Context, rawURL string, hashes []metainfo.Hash) ([]Stats, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("tracker: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	switch u.Scheme {
	case "udp":
		return c.scrapeUDP(ctx, u, hashes)
	case "http":
	default:
		return nil, fmt.Errorf("tracker: %s: unsupported scheme %q", rawURL, u.Scheme)
	}
	dir, last := "", u.Path
	if i := strings.LastIndex(u.Path, "/"); i >= 0 {
		dir, last = u.Path[:i+1], u.Path[i+1:]
	}
	rest, ok := strings.CutPrefix(last, "announce")
	if !ok {
		return nil, fmt.Errorf("tracker: %s: no scrape URL for an announce URL without \"announce\"", rawURL)
	}
	su := *u
	su.Path = dir + "scrape" + rest
	su.RawPath = ""
	var q []string
	for _, h := range hashes {
		q = append(q, "info_hash="+url.QueryEscape(string(h[:])))
	}
	body, err := c.get(ctx, &su, strings.Join(q, "&"))
	if err != nil {
		return nil, err
	}
	var a struct {
		Failure string                `bencode:"failure reason"`
		Files   map[string]scrapeFile `bencode:"files"`
	}
	if err := bencode.Unmarshal(body, &a); err != nil {
		return nil, fmt.Errorf("tracker: %s: %w", u.Host, err)
	}
	if a.Failure != "" {
		return nil, fmt.Errorf("tracker: %s: %s", u.Host, a.Failure)
	}
	out := make([]Stats, len(hashes))
	for i, h := range hashes {
		f := a.Files[string(h[:])]
		out[i] = Stats{Complete: f.Complete, Incomplete: f.Incomplete, Downloaded: f.Downloaded}
	}
	return out, nil
}

// udpConn is a UDP tracker exchange: a socket connected to the tracker
// and the connection ID once obtained.
type udpConn struct {
	c    *net.UDPConn
	id   uint64
	tr   *transcript.Session
	buf  []byte
	addr string
}

func (c *Client) dialUDP(ctx context.Context, u *url.URL) (*udpConn, error) {
	addr := hostPort(u, "80")
	var d net.Dialer
	nc, err := d.DialContext(ctx, "udp", addr)
	if err != nil {
		return nil, fmt.Errorf("tracker: %w", err)
	}
	uc := &udpConn{c: nc.(*net.UDPConn), tr: c.Trace.Session("tracker/udp", addr), buf: make([]byte, 2048), addr: addr}
	var p []byte
	p = binary.BigEndian.AppendUint64(p, udpProtocolID)
	p = binary.BigEndian.AppendUint32(p, actionConnect)
	uc.tr.Client("connect")
	resp, err := uc.exchangeBody(ctx, p, nil, actionConnect)
	if err != nil {
		nc.Close()
		return nil, err
	}
	if len(resp) < 16 {
		nc.Close()
		return nil, fmt.Errorf("tracker: %s: short connect answer", addr)
	}
	uc.id = binary.BigEndian.Uint64(resp[8:])
	uc.tr.Server(fmt.Sprintf("connected id=%016x", uc.id))
	return uc, nil
}

// header starts a request after connect: connection ID, action, and room
// for the transaction ID.
func (uc *udpConn) header(action uint32) []byte {
	p := binary.BigEndian.AppendUint64(make([]byte, 0, 100), uc.id)
	p = binary.BigEndian.AppendUint32(p, action)
	return binary.BigEndian.AppendUint32(p, 0)
}

func (c *Client) announceUDP(ctx context.Context, u *url.URL, req Request) (*Response, error) {
	uc, err := c.dialUDP(ctx, u)
	if err != nil {
		return nil, err
	}
	defer uc.c.Close()
	p := uc.header(actionAnnounce)
	p = append(p, req.InfoHash[:]...)
	p = append(p, req.PeerID[:]...)
	p = binary.BigEndian.AppendUint64(p, uint64(req.Downloaded))
	p = binary.BigEndian.AppendUint64(p, uint64(req.Left))
	p = binary.BigEndian.AppendUint64(p, uint64(req.Uploaded))
	p = binary.BigEndian.AppendUint32(p, uint32(req.Event))
	if req.IP.Is4() {
		p = append(p, req.IP.AsSlice()...)
	} else {
		p = binary.BigEndian.AppendUint32(p, 0) // the sender's
	}
	p = binary.BigEndian.AppendUint32(p, req.Key)
	p = binary.BigEndian.AppendUint32(p, uint32(int32(req.NumWant)))
	p = binary.BigEndian.AppendUint16(p, req.Port)
	uc.tr.Client(fmt.Sprintf("announce %s port=%d left=%d event=%s", req.InfoHash, req.Port, req.Left, req.Event))
	resp, err := uc.exchangeFull(ctx, p, actionAnnounce)
	if err != nil {
		return nil, err
	}
	if len(resp) < 20 {
		return nil, fmt.Errorf("tracker: %s: short announce answer", uc.addr)
	}
	r := &Response{Interval: time.Duration(binary.BigEndian.Uint32(resp[8:])) * time.Second,
		Leechers: int(binary.BigEndian.Uint32(resp[12:])), Seeders: int(binary.BigEndian.Uint32(resp[16:]))}
	ipLen := 4
	if ra, ok := uc.c.RemoteAddr().(*net.UDPAddr); ok && ra.IP.To4() == nil {
		ipLen = 16
	}
	r.Peers = ParseCompact(resp[20:], ipLen)
	uc.tr.Server(fmt.Sprintf("interval=%s seeders=%d leechers=%d peers=%d", r.Interval, r.Seeders, r.Leechers, len(r.Peers)))
	return r, nil
}

// exchangeFull is exchange for a request longer than its header: the
// transaction ID goes in bytes 12 to 16 and the rest follows.
func (uc *udpConn) exchangeFull(ctx context.Context, p []byte, action uint32) ([]byte, error) {
	return uc.exchangeBody(ctx, p[:12], p[16:], action)
}

// exchangeBody sends head, a fresh transaction ID and body until an
// answer with that transaction ID comes, resending after 1, 2, 4... s.
func (uc *udpConn) exchangeBody(ctx context.Context, head, body []byte, action uint32) ([]byte, error) {
	var tidb [4]byte
	crand.Read(tidb[:])
	p := append(append(append([]byte{}, head...), tidb[:]...), body...)
	return uc.send(ctx, p, binary.BigEndian.Uint32(tidb[:]), action)
}

func (uc *udpConn) send(ctx context.Context, p []byte, tid uint32, action uint32) ([]byte, error) {
	wait := time.Second
	for {
		if _, err := uc.c.Write(p); err != nil {
			return nil, fmt.Errorf("tracker: %s: %w", uc.addr, err)
		}
		dl := time.Now().Add(wait)
		if d, ok := ctx.Deadline(); ok && d.Before(dl) {
			dl = d
		}
		uc.c.SetReadDeadline(dl)
		for {
			n, err := uc.c.Read(uc.buf)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					break
				}
				return nil, fmt.Errorf("tracker: %s: %w", uc.addr, err)
			}
			r := uc.buf[:n]
			if n < 8 || binary.BigEndian.Uint32(r[4:]) != tid {
				continue
			}
			switch binary.BigEndian.Uint32(r) {
			case action:
				return bytes.Clone(r), nil
			case actionError:
				return nil, fmt.Errorf("tracker: %s: %s", uc.addr, r[8:])
			}
			return nil, fmt.Errorf("tracker: %s: unexpected action %d", uc.addr, binary.BigEndian.Uint32(r))
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("tracker: %s: no answer: %w", uc.addr, ctx.Err())
		}
		wait *= 2
	}
}

func (c *Client) scrapeUDP(ctx context.Context, u *url.URL, hashes []metainfo.Hash) ([]Stats, error) {
	if len(hashes) == 0 || len(hashes) > 74 {
		return nil, errors.New("tracker: a UDP scrape takes 1 to 74 info-hashes")
	}
	uc, err := c.dialUDP(ctx, u)
	if err != nil {
		return nil, err
	}
	defer uc.c.Close()
	p := uc.header(actionScrape)
	for _, h := range hashes {
		p = append(p, h[:]...)
	}
	uc.tr.Client(fmt.Sprintf("scrape %d info-hashes", len(hashes)))
	resp, err := uc.exchangeFull(ctx, p, actionScrape)
	if err != nil {
		return nil, err
	}
	out := make([]Stats, len(hashes))
	for i := range out {
		o := 8 + 12*i
		if len(resp) < o+12 {
			return nil, fmt.Errorf("tracker: %s: short scrape answer", uc.addr)
		}
		out[i] = Stats{Complete: int(binary.BigEndian.Uint32(resp[o:])), Downloaded: int(binary.BigEndian.Uint32(resp[o+4:])), Incomplete: int(binary.BigEndian.Uint32(resp[o+8:]))}
	}
	return out, nil
}
