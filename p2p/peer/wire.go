package peer

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Message types of the peer wire protocol (BEP 3), the fast extension
// (BEP 6) and the extension protocol (BEP 10).
const (
	MsgChoke         = 0
	MsgUnchoke       = 1
	MsgInterested    = 2
	MsgNotInterested = 3
	MsgHave          = 4
	MsgBitfield      = 5
	MsgRequest       = 6
	MsgPiece         = 7
	MsgCancel        = 8
	MsgPort          = 9
	MsgSuggest       = 0x0d
	MsgHaveAll       = 0x0e
	MsgHaveNone      = 0x0f
	MsgReject        = 0x10
	MsgAllowedFast   = 0x11
	MsgExtended      = 20
)

// BlockSize is the size of the blocks a peer requests (16 KiB, what every
// client asks for).
const BlockSize = 16 << 10

// MaxRequestLength is the largest block a peer may ask of us (BEP 3's
// advice: clients close connections asking for more than 128 KiB).
const MaxRequestLength = 128 << 10

// DefaultMaxMessage bounds a message's length when a reader is given no
// limit: room for a block of MaxRequestLength, a bitfield of a million
// pieces, or an extension message.
const DefaultMaxMessage = MaxRequestLength + 64<<10

// ProtocolName is the handshake's protocol string.
const ProtocolName = "BitTorrent protocol"

// Reserved bits this package sets or reads in the handshake.
const (
	reservedExtension = 0x10 // byte 5: BEP 10
	reservedFast      = 0x04 // byte 7: BEP 6
)

// Handshake is the first message each side sends.
type Handshake struct {
	Reserved [8]byte
	InfoHash [20]byte
	PeerID   [20]byte
}

// Extensions reports the BEP 10 bit; Fast the BEP 6 bit.
func (h *Handshake) Extensions() bool { return h.Reserved[5]&reservedExtension != 0 }

// Fast reports the BEP 6 bit.
func (h *Handshake) Fast() bool { return h.Reserved[7]&reservedFast != 0 }

// AppendHandshake encodes h (68 bytes).
func AppendHandshake(b []byte, h Handshake) []byte {
	b = append(b, byte(len(ProtocolName)))
	b = append(b, ProtocolName...)
	b = append(b, h.Reserved[:]...)
	b = append(b, h.InfoHash[:]...)
	return append(b, h.PeerID[:]...)
}

// ReadHandshake reads the 68 bytes of a handshake.
func ReadHandshake(r io.Reader) (Handshake, error) {
	var b [68]byte
	var h Handshake
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return h, err
	}
	if b[0] != byte(len(ProtocolName)) || !bytes.Equal(b[1:20], []byte(ProtocolName)) {
		return h, errors.New("peer: not a BitTorrent handshake")
	}
	copy(h.Reserved[:], b[20:28])
	copy(h.InfoHash[:], b[28:48])
	copy(h.PeerID[:], b[48:68])
	return h, nil
}

// Message is one message after the handshake. Which fields are set
// depends on Type.
type Message struct {
	KeepAlive bool // a zero-length message; Type is meaningless
	Type      byte
	// Index, Begin, Length: have, request, cancel, reject, suggest,
	// allowed fast (Index), piece (Index, Begin).
	Index, Begin, Length uint32
	// Bitfield for bitfield; Block for piece; Payload for extended
	// (after ExtID), port, and types this package does not know.
	Bitfield []byte
	Block    []byte
	ExtID    byte
	Payload  []byte
}

func (m Message) String() string {
	if m.KeepAlive {
		return "keep-alive"
	}
	switch m.Type {
	case MsgChoke:
		return "choke"
	case MsgUnchoke:
		return "unchoke"
	case MsgInterested:
		return "interested"
	case MsgNotInterested:
		return "not interested"
	case MsgHave:
		return fmt.Sprintf("have %d", m.Index)
	case MsgBitfield:
		return fmt.Sprintf("bitfield (%d bytes)", len(m.Bitfield))
	case MsgRequest:
		return fmt.Sprintf("request %d+%d len %d", m.Index, m.Begin, m.Length)
	case MsgPiece:
		return fmt.Sprintf("piece %d+%d len %d", m.Index, m.Begin, len(m.Block))
	case MsgCancel:
		return fmt.Sprintf("cancel %d+%d len %d", m.Index, m.Begin, m.Length)
	case MsgHaveAll:
		return "have all"
	case MsgHaveNone:
		return "have none"
	case MsgReject:
		return fmt.Sprintf("reject %d+%d len %d", m.Index, m.Begin, m.Length)
	case MsgAllowedFast:
		return fmt.Sprintf("allowed fast %d", m.Index)
	case MsgSuggest:
		return fmt.Sprintf("suggest %d", m.Index)
	case MsgExtended:
		return fmt.Sprintf("extended %d (%d bytes)", m.ExtID, len(m.Payload))
	}
	return fmt.Sprintf("message %d (%d bytes)", m.Type, len(m.Payload))
}

// AppendMessage encodes m with its length prefix.
func AppendMessage(b []byte, m Message) []byte {
	if m.KeepAlive {
		return append(b, 0, 0, 0, 0)
	}
	var body int
	switch m.Type {
	case MsgHave, MsgSuggest, MsgAllowedFast:
		body = 4
	case MsgRequest, MsgCancel, MsgReject:
		body = 12
	case MsgBitfield:
		body = len(m.Bitfield)
	case MsgPiece:
		body = 8 + len(m.Block)
	case MsgExtended:
		body = 1 + len(m.Payload)
	case MsgChoke, MsgUnchoke, MsgInterested, MsgNotInterested, MsgHaveAll, MsgHaveNone:
	default:
		body = len(m.Payload)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(1+body))
	b = append(b, m.Type)
	switch m.Type {
	case MsgHave, MsgSuggest, MsgAllowedFast:
		b = binary.BigEndian.AppendUint32(b, m.Index)
	case MsgRequest, MsgCancel, MsgReject:
		b = binary.BigEndian.AppendUint32(b, m.Index)
		b = binary.BigEndian.AppendUint32(b, m.Begin)
		b = binary.BigEndian.AppendUint32(b, m.Length)
	case MsgBitfield:
		b = append(b, m.Bitfield...)
	case MsgPiece:
		b = binary.BigEndian.AppendUint32(b, m.Index)
		b = binary.BigEndian.AppendUint32(b, m.Begin)
		b = append(b, m.Block...)
	case MsgExtended:
		b = append(b, m.ExtID)
		b = append(b, m.Payload...)
	case MsgChoke, MsgUnchoke, MsgInterested, MsgNotInterested, MsgHaveAll, MsgHaveNone:
	default:
		b = append(b, m.Payload...)
	}
	return b
}

// ErrMessageTooLong is returned for a message over the reader's limit.
var ErrMessageTooLong = errors.New("peer: message over the length limit")

// ReadMessage reads one message of at most max bytes (DefaultMaxMessage
// when max <= 0). A message whose fixed-size body has the wrong length is
// an error; the byte slices in the result are freshly allocated.
func ReadMessage(r io.Reader, max int) (Message, error) {
	var m Message
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return m, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if max <= 0 {
		max = DefaultMaxMessage
	}
	if n == 0 {
		m.KeepAlive = true
		return m, nil
	}
	if n > uint32(max) {
		return m, fmt.Errorf("%w: %d bytes", ErrMessageTooLong, n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return m, err
	}
	return ParseMessage(body)
}

// ParseMessage decodes a message's body (its type byte and what follows,
// without the length prefix).
func ParseMessage(body []byte) (Message, error) {
	var m Message
	if len(body) == 0 {
		m.KeepAlive = true
		return m, nil
	}
	m.Type = body[0]
	p := body[1:]
	want := -1
	switch m.Type {
	case MsgChoke, MsgUnchoke, MsgInterested, MsgNotInterested, MsgHaveAll, MsgHaveNone:
		want = 0
	case MsgHave, MsgSuggest, MsgAllowedFast:
		want = 4
	case MsgRequest, MsgCancel, MsgReject:
		want = 12
	case MsgPort:
		want = 2
	}
	if want >= 0 && len(p) != want {
		return m, fmt.Errorf("peer: message type %d with %d bytes of body, want %d", m.Type, len(p), want)
	}
	switch m.Type {
	case MsgHave, MsgSuggest, MsgAllowedFast:
		m.Index = binary.BigEndian.Uint32(p)
	case MsgRequest, MsgCancel, MsgReject:
		m.Index = binary.BigEndian.Uint32(p)
		m.Begin = binary.BigEndian.Uint32(p[4:])
		m.Length = binary.BigEndian.Uint32(p[8:])
	case MsgBitfield:
		m.Bitfield = p
	case MsgPiece:
		if len(p) < 8 {
			return m, errors.New("peer: piece message shorter than its header")
		}
		m.Index = binary.BigEndian.Uint32(p)
		m.Begin = binary.BigEndian.Uint32(p[4:])
		m.Block = p[8:]
	case MsgExtended:
		if len(p) < 1 {
			return m, errors.New("peer: extended message without an ID")
		}
		m.ExtID = p[0]
		m.Payload = p[1:]
	default:
		m.Payload = p
	}
	return m, nil
}
