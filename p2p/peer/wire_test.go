package peer

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestMessageRoundTrip(t *testing.T) {
	for _, m := range []Message{
		{KeepAlive: true},
		{Type: MsgChoke}, {Type: MsgUnchoke}, {Type: MsgInterested}, {Type: MsgNotInterested},
		{Type: MsgHave, Index: 7},
		{Type: MsgBitfield, Bitfield: []byte{0xf0, 0x80}},
		{Type: MsgRequest, Index: 1, Begin: 16384, Length: 16384},
		{Type: MsgPiece, Index: 2, Begin: 0, Block: []byte("data")},
		{Type: MsgCancel, Index: 1, Begin: 16384, Length: 16384},
		{Type: MsgHaveAll}, {Type: MsgHaveNone},
		{Type: MsgReject, Index: 3, Begin: 4, Length: 5},
		{Type: MsgAllowedFast, Index: 9},
		{Type: MsgExtended, ExtID: 0, Payload: []byte("de")},
		{Type: MsgPort, Payload: []byte{0x1a, 0xe1}},
		{Type: 99, Payload: []byte("x")},
	} {
		b := AppendMessage(nil, m)
		got, err := ReadMessage(bytes.NewReader(b), 0)
		if err != nil {
			t.Errorf("%v: %v", m, err)
			continue
		}
		if got.String() != m.String() || !reflect.DeepEqual(normal(got), normal(m)) {
			t.Errorf("%v came back as %+v", m, got)
		}
	}
}

func normal(m Message) Message {
	for _, p := range []*[]byte{&m.Bitfield, &m.Block, &m.Payload} {
		if len(*p) == 0 {
			*p = nil
		}
	}
	return m
}

func TestMessageErrors(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want string
	}{
		{"\x00\x00\x00\x02\x04\x00", "type 4 with 1 bytes"},
		{"\x00\x00\x00\x02\x00\x00", "type 0 with 1 bytes"},
		{"\x00\x00\x00\x05\x07\x00\x00\x00\x00", "shorter than its header"},
		{"\x00\x00\x00\x01\x14", "without an ID"},
		{"\x00\x10\x00\x00\x07", "over the length limit"},
		{"\x00\x00\x00\x05\x04\x00", "unexpected EOF"},
		{"\x00\x00", "unexpected EOF"},
	} {
		_, err := ReadMessage(strings.NewReader(tt.in), 1<<16)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: %v, want %q", tt.in, err, tt.want)
		}
	}
	if _, err := ReadMessage(strings.NewReader(""), 0); !errors.Is(err, io.EOF) {
		t.Errorf("empty input: %v, want EOF", err)
	}
}

func TestHandshake(t *testing.T) {
	h := Handshake{InfoHash: [20]byte{1}, PeerID: [20]byte{2}}
	h.Reserved[7] = reservedFast
	h.Reserved[5] = reservedExtension
	b := AppendHandshake(nil, h)
	if len(b) != 68 || !bytes.HasPrefix(b, []byte("\x13BitTorrent protocol")) {
		t.Fatalf("handshake %q", b)
	}
	got, err := ReadHandshake(bytes.NewReader(b))
	if err != nil || got != h || !got.Fast() || !got.Extensions() {
		t.Errorf("got %+v, %v", got, err)
	}
	b[3] = 'X'
	if _, err := ReadHandshake(bytes.NewReader(b)); err == nil {
		t.Error("a wrong protocol string was accepted")
	}
}

// FuzzReadMessage checks that the decoder never panics, respects its
// limit, and that what it accepts re-encodes to the same bytes.
func FuzzReadMessage(f *testing.F) {
	for _, m := range []Message{{KeepAlive: true}, {Type: MsgHave, Index: 1}, {Type: MsgBitfield, Bitfield: []byte{0xff}},
		{Type: MsgRequest, Length: 16384}, {Type: MsgPiece, Block: []byte("abc")}, {Type: MsgExtended, Payload: []byte("d1:md6:ut_pexi1eee")}} {
		f.Add(AppendMessage(nil, m))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ReadMessage(bytes.NewReader(b), 1024)
		if err != nil {
			return
		}
		out := AppendMessage(nil, m)
		if !bytes.Equal(out, b[:len(out)]) {
			t.Fatalf("%q decoded as %v re-encodes as %q", b, m, out)
		}
		if len(out) > 1024+4 {
			t.Fatalf("message of %d bytes passed a limit of 1024", len(out))
		}
	})
}
