package peer

import (
	"bufio"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/applayer/applayer/p2p/bencode"
	"github.com/applayer/applayer/p2p/metainfo"
	"github.com/applayer/applayer/p2p/tracker"
)

// The extension protocol (BEP 10) and the metadata exchange (BEP 9),
// which lets a peer that knows only a magnet link's info-hash fetch the
// info dictionary from the peers.

// metadataPiece is the size of the pieces the info dictionary is sent in.
const metadataPiece = 16 << 10

// MaxMetadataSize bounds an info dictionary fetched from peers (8 MiB).
const MaxMetadataSize = 8 << 20

// Our extended message IDs, as our extension handshake announces them.
const (
	extMetadata = 1
	extPex      = 2
)

// pexInterval is how often the peers we are connected to are sent to
// each neighbour that speaks ut_pex (BEP 11 asks for at most once a
// minute).
const pexInterval = time.Minute

// maxPex bounds the peers added by one PEX message, sent or taken.
const maxPex = 50

// pexMsg is a ut_pex message (BEP 11): compact peers added and dropped.
type pexMsg struct {
	Added    []byte `bencode:"added,omitempty"`
	AddedF   []byte `bencode:"added.f,omitempty"`
	Added6   []byte `bencode:"added6,omitempty"`
	Dropped  []byte `bencode:"dropped,omitempty"`
	Dropped6 []byte `bencode:"dropped6,omitempty"`
}

// extHandshake is the dictionary of the extension handshake.
type extHandshake struct {
	M            map[string]int `bencode:"m"`
	MetadataSize int            `bencode:"metadata_size,omitempty"`
	Port         int            `bencode:"p,omitempty"`
	ReqQ         int            `bencode:"reqq,omitempty"`
	V            string         `bencode:"v,omitempty"`
}

type metadataMsg struct {
	MsgType   int `bencode:"msg_type"`
	Piece     int `bencode:"piece"`
	TotalSize int `bencode:"total_size,omitempty"`
}

func (s *Server) extHandshake() []byte {
	h := extHandshake{M: map[string]int{"ut_metadata": extMetadata, "ut_pex": extPex}, V: "applayer", ReqQ: 250, Port: int(s.port.Load())}
	if s.Torrent != nil {
		h.MetadataSize = len(s.Torrent.InfoBytes)
	}
	b, _ := bencode.Marshal(h)
	return b
}

// handleExtended is an extended message from c.
func (ss *session) handleExtended(c *conn, m Message) {
	if m.ExtID == 0 {
		var h extHandshake
		if err := (&bencode.Decoder{MaxSize: 64 << 10}).Unmarshal(m.Payload, &h); err != nil {
			// Some clients' dictionaries are not canonical; without their
			// IDs we only leave the extensions unused.
			c.tr.Note("extension handshake not understood: " + err.Error())
			return
		}
		c.extMetadata = h.M["ut_metadata"]
		c.extPex = h.M["ut_pex"]
		if h.Port > 0 && h.Port < 65536 {
			c.listenPort = h.Port
		}
		return
	}
	if m.ExtID == extPex {
		ss.handlePex(c, m.Payload)
		return
	}
	if m.ExtID != extMetadata {
		return
	}
	var req metadataMsg
	if _, err := bencode.UnmarshalPrefix(m.Payload, &req); err != nil || req.MsgType != 0 || c.extMetadata == 0 {
		return
	}
	info := ss.s.Torrent.InfoBytes
	if req.Piece < 0 || req.Piece*metadataPiece >= len(info) {
		b, _ := bencode.Marshal(metadataMsg{MsgType: 2, Piece: req.Piece})
		c.send(Message{Type: MsgExtended, ExtID: byte(c.extMetadata), Payload: b})
		return
	}
	b, _ := bencode.Marshal(metadataMsg{MsgType: 1, Piece: req.Piece, TotalSize: len(info)})
	end := min(len(info), (req.Piece+1)*metadataPiece)
	b = append(b, info[req.Piece*metadataPiece:end]...)
	c.send(Message{Type: MsgExtended, ExtID: byte(c.extMetadata), Payload: b})
}

// FetchOptions are the choices of FetchMetadata.
type FetchOptions struct {
	// PeerID identifies us to the peers (default random).
	PeerID [20]byte
	// Port is the port told to the trackers (default 6881).
	Port uint16
	// Timeout bounds each peer's exchange (default 30 s).
	Timeout time.Duration
}

// FetchMetadata gets the info dictionary of a magnet link from peers (BEP
// 9): it asks the magnet's trackers for peers, adds the magnet's own
// peers, and asks each in turn until one sends a dictionary whose SHA-1 is
// the info-hash. The torrent returned has the magnet's trackers.
func FetchMetadata(ctx context.Context, mg metainfo.Magnet, opts FetchOptions) (*metainfo.MetaInfo, error) {
	if opts.PeerID == ([20]byte{}) {
		copy(opts.PeerID[:], "-AL0001-")
		rand.Read(opts.PeerID[8:])
	}
	peers := append([]string(nil), mg.Peers...)
	var c tracker.Client
	var errs []error
	for _, tr := range mg.Trackers {
		r, err := c.Announce(ctx, tr, tracker.Request{InfoHash: mg.InfoHash, PeerID: opts.PeerID, Port: cmp.Or(opts.Port, 6881), Left: 1, NumWant: -1})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, p := range r.Peers {
			peers = append(peers, p.Addr.String())
		}
	}
	if len(peers) == 0 {
		return nil, errors.Join(append([]error{errors.New("peer: no peers to fetch the metadata from")}, errs...)...)
	}
	for _, addr := range peers {
		info, err := fetchFrom(ctx, addr, mg.InfoHash, opts)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", addr, err))
			continue
		}
		m, err := metainfo.ParseInfo(info)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", addr, err))
			continue
		}
		if len(mg.Trackers) > 0 {
			m.Announce = mg.Trackers[0]
			if len(mg.Trackers) > 1 {
				for _, t := range mg.Trackers {
					m.AnnounceList = append(m.AnnounceList, []string{t})
				}
			}
		}
		return m, nil
	}
	return nil, errors.Join(append([]error{errors.New("peer: no peer sent the metadata")}, errs...)...)
}

// fetchFrom asks one peer for the info dictionary.
func fetchFrom(ctx context.Context, addr string, ih metainfo.Hash, opts FetchOptions) ([]byte, error) {
	timeout := cmp.Or(opts.Timeout, 30*time.Second)
	d := net.Dialer{Timeout: timeout}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Now()) })
	defer stop()
	nc.SetDeadline(time.Now().Add(timeout))
	h := Handshake{InfoHash: ih, PeerID: opts.PeerID}
	h.Reserved[5] |= reservedExtension
	if _, err := nc.Write(AppendHandshake(nil, h)); err != nil {
		return nil, err
	}
	br := bufio.NewReader(nc)
	theirs, err := ReadHandshake(br)
	if err != nil {
		return nil, err
	}
	if theirs.InfoHash != ih {
		return nil, errors.New("handshake for another torrent")
	}
	if !theirs.Extensions() {
		return nil, errors.New("the peer has no extension protocol")
	}
	hs, _ := bencode.Marshal(extHandshake{M: map[string]int{"ut_metadata": extMetadata}, V: "applayer"})
	if _, err := nc.Write(AppendMessage(nil, Message{Type: MsgExtended, ExtID: 0, Payload: hs})); err != nil {
		return nil, err
	}
	var info []byte
	var got []bool
	remote, size := 0, 0
	for {
		m, err := ReadMessage(br, 0)
		if err != nil {
			return nil, err
		}
		if m.KeepAlive || m.Type != MsgExtended {
			continue
		}
		if m.ExtID == 0 {
			var eh extHandshake
			if err := (&bencode.Decoder{MaxSize: 64 << 10}).Unmarshal(m.Payload, &eh); err != nil {
				return nil, fmt.Errorf("extension handshake: %w", err)
			}
			remote, size = eh.M["ut_metadata"], eh.MetadataSize
			if remote == 0 || size <= 0 || size > MaxMetadataSize {
				return nil, fmt.Errorf("the peer offers no metadata (ut_metadata %d, size %d)", remote, size)
			}
			info = make([]byte, size)
			got = make([]bool, (size+metadataPiece-1)/metadataPiece)
			var reqs []byte
			for i := range got {
				b, _ := bencode.Marshal(metadataMsg{MsgType: 0, Piece: i})
				reqs = AppendMessage(reqs, Message{Type: MsgExtended, ExtID: byte(remote), Payload: b})
			}
			if _, err := nc.Write(reqs); err != nil {
				return nil, err
			}
			continue
		}
		if m.ExtID != extMetadata || info == nil {
			continue
		}
		var md metadataMsg
		data, err := bencode.UnmarshalPrefix(m.Payload, &md)
		if err != nil {
			return nil, fmt.Errorf("metadata message: %w", err)
		}
		switch md.MsgType {
		case 2:
			return nil, fmt.Errorf("the peer rejected metadata piece %d", md.Piece)
		case 1:
		default:
			continue
		}
		if md.Piece < 0 || md.Piece >= len(got) {
			return nil, fmt.Errorf("metadata piece %d out of range", md.Piece)
		}
		want := min(metadataPiece, size-md.Piece*metadataPiece)
		if len(data) != want {
			return nil, fmt.Errorf("metadata piece %d of %d bytes, want %d", md.Piece, len(data), want)
		}
		copy(info[md.Piece*metadataPiece:], data)
		got[md.Piece] = true
		complete := true
		for _, g := range got {
			complete = complete && g
		}
		if complete {
			if sha1.Sum(info) != ih {
				return nil, errors.New("the metadata does not match the info-hash")
			}
			return info, nil
		}
	}
}

// listenAddr is where c's peer accepts connections: the address we dialled,
// or its address with the port its extension handshake gave.
func (c *conn) listenAddr() (netip.AddrPort, bool) {
	ap, err := netip.ParseAddrPort(c.addr)
	if err != nil {
		return ap, false
	}
	if c.outbound {
		return ap, true
	}
	if c.listenPort == 0 {
		return ap, false
	}
	return netip.AddrPortFrom(ap.Addr(), uint16(c.listenPort)), true
}

// sendPex tells each ut_pex neighbour which peers joined and left since
// the last message.
func (ss *session) sendPex() {
	now := map[netip.AddrPort]bool{}
	for c := range ss.conns {
		if a, ok := c.listenAddr(); ok {
			now[a] = true
		}
	}
	for c := range ss.conns {
		if c.extPex == 0 {
			continue
		}
		self, _ := c.listenAddr()
		if c.pexSent == nil {
			c.pexSent = map[netip.AddrPort]bool{}
		}
		var msg pexMsg
		n := 0
		for a := range now {
			if a == self || c.pexSent[a] || n >= maxPex {
				continue
			}
			c.pexSent[a] = true
			n++
			if a.Addr().Is4() {
				msg.Added = appendCompact(msg.Added, a)
				msg.AddedF = append(msg.AddedF, 0)
			} else {
				msg.Added6 = appendCompact(msg.Added6, a)
			}
		}
		for a := range c.pexSent {
			if !now[a] {
				delete(c.pexSent, a)
				if a.Addr().Is4() {
					msg.Dropped = appendCompact(msg.Dropped, a)
				} else {
					msg.Dropped6 = appendCompact(msg.Dropped6, a)
				}
			}
		}
		if len(msg.Added)+len(msg.Added6)+len(msg.Dropped)+len(msg.Dropped6) == 0 {
			continue
		}
		b, _ := bencode.Marshal(msg)
		c.send(Message{Type: MsgExtended, ExtID: byte(c.extPex), Payload: b})
	}
}

func appendCompact(b []byte, a netip.AddrPort) []byte {
	b = append(b, a.Addr().AsSlice()...)
	return binary.BigEndian.AppendUint16(b, a.Port())
}

// handlePex takes the peers a neighbour added; dropped ones are left to
// fail on their own.
func (ss *session) handlePex(c *conn, payload []byte) {
	var msg pexMsg
	if err := (&bencode.Decoder{MaxSize: 64 << 10}).Unmarshal(payload, &msg); err != nil {
		c.tr.Note("ut_pex message not understood: " + err.Error())
		return
	}
	var peers []tracker.Peer
	peers = append(peers, tracker.ParseCompact(msg.Added, 4)...)
	peers = append(peers, tracker.ParseCompact(msg.Added6, 16)...)
	if len(peers) > maxPex {
		peers = peers[:maxPex]
	}
	ss.addPeers(peers)
}
