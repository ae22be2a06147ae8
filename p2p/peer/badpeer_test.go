package peer

import (
	"bufio"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/applayer/applayer/internal/testutil"
	"github.com/applayer/applayer/p2p/metainfo"
)

// fakePeer listens on loopback, handshakes with whoever connects for m,
// and then runs behave on the connection.
func fakePeer(t *testing.T, m *metainfo.MetaInfo, behave func(c net.Conn, br *bufio.Reader)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				if _, err := ReadHandshake(br); err != nil {
					return
				}
				id := [20]byte{'-', 'B', 'A', 'D'}
				c.Write(AppendHandshake(nil, Handshake{InfoHash: m.InfoHash, PeerID: id}))
				behave(c, br)
			}()
		}
	}()
	return l.Addr().String()
}

// allBits is a full bitfield for n pieces.
func allBits(n int) []byte {
	b := make([]byte, (n+7)/8)
	for i := range n {
		b[i/8] |= 0x80 >> (i % 8)
	}
	return b
}

// TestBadDataBanned: a peer that answers every request with garbage is
// banned, and the download completes, correct, from an honest seeder.
func TestBadDataBanned(t *testing.T) {
	m, seedDir, data := makeTorrent(t, 2<<20, 32<<10)
	bad := fakePeer(t, m, func(c net.Conn, br *bufio.Reader) {
		c.Write(AppendMessage(nil, Message{Type: MsgBitfield, Bitfield: allBits(m.Info.NumPieces())}))
		c.Write(AppendMessage(nil, Message{Type: MsgUnchoke}))
		for {
			msg, err := ReadMessage(br, 0)
			if err != nil {
				return
			}
			if msg.Type == MsgRequest {
				junk := make([]byte, msg.Length)
				for i := range junk {
					junk[i] = 0xAA
				}
				if _, err := c.Write(AppendMessage(nil, Message{Type: MsgPiece, Index: msg.Index, Begin: msg.Begin, Block: junk})); err != nil {
					return
				}
			}
		}
	})
	// The honest seeder is slow, so that the bad peer gets requests.
	seed := &Server{Torrent: m, Dir: seedDir, NoTrackers: true, UploadRate: 1 << 20}
	good := serve(t, seed)
	dir := t.TempDir()
	leech := &Server{Torrent: m, Dir: dir, NoTrackers: true, Peers: []string{bad, good}}
	serve(t, leech)
	waitDone(t, leech, "leecher")
	checkFile(t, filepath.Join(dir, "file.bin"), data)
	if st := leech.Stats(); st.Banned != 1 {
		t.Errorf("banned %d peers, want the bad one", st.Banned)
	}
}

// TestNeverUnchokes: a peer that has everything but never unchokes does
// not stop the download from another.
func TestNeverUnchokes(t *testing.T) {
	m, seedDir, data := makeTorrent(t, 1<<20, 0)
	tease := fakePeer(t, m, func(c net.Conn, br *bufio.Reader) {
		c.Write(AppendMessage(nil, Message{Type: MsgBitfield, Bitfield: allBits(m.Info.NumPieces())}))
		io.Copy(io.Discard, br)
	})
	good := serve(t, &Server{Torrent: m, Dir: seedDir, NoTrackers: true})
	dir := t.TempDir()
	leech := &Server{Torrent: m, Dir: dir, NoTrackers: true, Peers: []string{tease, good}}
	serve(t, leech)
	waitDone(t, leech, "leecher")
	checkFile(t, filepath.Join(dir, "file.bin"), data)
}

// dialSeeder connects to our seeder as a bare peer and handshakes.
func dialSeeder(t *testing.T, addr string, m *metainfo.MetaInfo) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.Write(AppendHandshake(nil, Handshake{InfoHash: m.InfoHash, PeerID: [20]byte{'-', 'F', 'L'}}))
	br := bufio.NewReader(c)
	if _, err := ReadHandshake(br); err != nil {
		t.Fatal(err)
	}
	return c, br
}

// untilClosed reads until the seeder closes the connection and fails the
// test if it does not.
func untilClosed(t *testing.T, c net.Conn, br *bufio.Reader) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(testutil.Patience))
	for {
		if _, err := ReadMessage(br, 1<<20); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("the seeder kept the connection open")
			}
			return
		}
	}
}

func TestRequestFloodBanned(t *testing.T) {
	m, seedDir, _ := makeTorrent(t, 1<<20, 0)
	seed := &Server{Torrent: m, Dir: seedDir, NoTrackers: true, UploadRate: 64 << 10}
	addr := serve(t, seed)
	c, br := dialSeeder(t, addr, m)
	c.Write(AppendMessage(nil, Message{Type: MsgInterested}))
	for {
		msg, err := ReadMessage(br, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if msg.Type == MsgUnchoke {
			break
		}
	}
	var flood []byte
	for i := range DefaultMaxPeerRequests + 10 {
		flood = AppendMessage(flood, Message{Type: MsgRequest, Index: uint32(i % 4), Begin: uint32(i%16) * BlockSize, Length: BlockSize})
	}
	go c.Write(flood)
	untilClosed(t, c, br)
	testutil.WaitFor(t, "the flooder banned", func() bool { return seed.Stats().Banned == 1 })
}

func TestMalformedDropped(t *testing.T) {
	m, seedDir, _ := makeTorrent(t, 1<<20, 0)
	addr := serve(t, &Server{Torrent: m, Dir: seedDir, NoTrackers: true})
	for name, msg := range map[string][]byte{
		"oversized":         {0x10, 0, 0, 0, MsgPiece},
		"short have":        {0, 0, 0, 2, MsgHave, 0},
		"have out of range": AppendMessage(nil, Message{Type: MsgHave, Index: 1000}),
		"bitfield length":   AppendMessage(nil, Message{Type: MsgBitfield, Bitfield: []byte{1, 2, 3}}),
		"huge request":      AppendMessage(nil, Message{Type: MsgRequest, Index: 0, Begin: 0, Length: 1 << 20}),
	} {
		t.Run(name, func(t *testing.T) {
			c, br := dialSeeder(t, addr, m)
			c.Write(msg)
			untilClosed(t, c, br)
		})
	}
}

// TestResume: a download with half its pieces already in the .part file
// verifies them and fetches only the rest.
func TestResume(t *testing.T) {
	m, seedDir, data := makeTorrent(t, 2<<20, 0)
	dir := t.TempDir()
	part := make([]byte, len(data))
	half := 4 * int(m.Info.PieceLength)
	copy(part, data[:half])
	part[half-1] ^= 1 // the fourth piece is damaged
	if err := os.WriteFile(filepath.Join(dir, "file.bin"+PartSuffix), part, 0o644); err != nil {
		t.Fatal(err)
	}
	leech := &Server{Torrent: m, Dir: dir, NoTrackers: true}
	if err := leech.Open(); err != nil {
		t.Fatal(err)
	}
	if st := leech.Stats(); st.Have != 3 || st.Complete {
		t.Fatalf("after verifying: %d pieces", st.Have)
	}
	good := serve(t, &Server{Torrent: m, Dir: seedDir, NoTrackers: true})
	leech.Peers = []string{good}
	serve(t, leech)
	waitDone(t, leech, "leecher")
	checkFile(t, filepath.Join(dir, "file.bin"), data)
	if got, want := leech.Stats().Downloaded, int64(len(data)-3*int(m.Info.PieceLength)); got != want {
		t.Errorf("downloaded %d bytes, want the %d missing", got, want)
	}
}

// TestStalledReaderKeepsNoTurn: a peer that asks for many blocks and never
// reads them cannot hold the seeder's upload turn: another leecher still
// downloads everything.
func TestStalledReaderKeepsNoTurn(t *testing.T) {
	m, seedDir, data := makeTorrent(t, 8<<20, 0)
	seed := &Server{Torrent: m, Dir: seedDir, NoTrackers: true, UploadRate: 64 << 20}
	addr := serve(t, seed)
	c, br := dialSeeder(t, addr, m)
	c.(*net.TCPConn).SetReadBuffer(4096)
	c.Write(AppendMessage(nil, Message{Type: MsgInterested}))
	for {
		msg, err := ReadMessage(br, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if msg.Type == MsgUnchoke {
			break
		}
	}
	var reqs []byte
	for i := range 400 {
		reqs = AppendMessage(reqs, Message{Type: MsgRequest, Index: uint32(i / 16), Begin: uint32(i%16) * BlockSize, Length: BlockSize})
	}
	c.Write(reqs) // and never read again
	dir := t.TempDir()
	leech := &Server{Torrent: m, Dir: dir, NoTrackers: true, Peers: []string{addr}}
	serve(t, leech)
	waitDone(t, leech, "leecher")
	checkFile(t, filepath.Join(dir, "file.bin"), data)
}

// TestDuplicateDropped: a second connection from the same peer ID is
// dropped, and what it sent before the drop is ignored (it once reached
// the loop for a connection never registered and crashed the process).
func TestDuplicateDropped(t *testing.T) {
	m, seedDir, data := makeTorrent(t, 1<<20, 0)
	addr := serve(t, &Server{Torrent: m, Dir: seedDir, NoTrackers: true})
	first, fbr := dialSeeder(t, addr, m)
	first.Write(AppendMessage(nil, Message{Type: MsgInterested}))
	if _, err := ReadMessage(fbr, 1<<20); err != nil { // the seeder's have all
		t.Fatal(err)
	}
	for range 5 {
		c, br := dialSeeder(t, addr, m)
		var b []byte
		for i := range 4 {
			b = AppendMessage(b, Message{Type: MsgHave, Index: uint32(i)})
		}
		c.Write(b)
		untilClosed(t, c, br)
	}
	dir := t.TempDir()
	leech := &Server{Torrent: m, Dir: dir, NoTrackers: true, Peers: []string{addr}}
	serve(t, leech)
	waitDone(t, leech, "leecher")
	checkFile(t, filepath.Join(dir, "file.bin"), data)
}
