package http2

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"

	"github.com/applayer/applayer/web"
)

func frameOf(t testing.TB, b []byte) Frame {
	t.Helper()
	var hdr [FrameHeaderLen]byte
	f, err := ReadFrame(bytes.NewReader(b), &hdr, nil, MaxMaxFrameSize)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestFrameRoundTrip(t *testing.T) {
	f := frameOf(t, AppendSettings(nil, Setting{SettingInitialWindowSize, 12345}, Setting{SettingMaxFrameSize, 1 << 20}))
	var got []Setting
	if err := ParseSettings(f, func(s Setting) error { got = append(got, s); return nil }); err != nil || len(got) != 2 || got[0].Val != 12345 || got[1].ID != SettingMaxFrameSize {
		t.Errorf("SETTINGS: %v %v", got, err)
	}
	if d, err := ParsePing(frameOf(t, AppendPing(nil, true, [8]byte{1, 2, 3, 4, 5, 6, 7, 8}))); err != nil || d[7] != 8 {
		t.Errorf("PING: %v %v", d, err)
	}
	g, err := ParseGoAway(frameOf(t, AppendGoAway(nil, 7, ErrCodeEnhanceYourCalm, "calm")))
	if err != nil || g.LastStream != 7 || g.Code != ErrCodeEnhanceYourCalm || string(g.Debug) != "calm" {
		t.Errorf("GOAWAY: %+v %v", g, err)
	}
	if inc, err := ParseWindowUpdate(frameOf(t, AppendWindowUpdate(nil, 3, 1000))); err != nil || inc != 1000 {
		t.Errorf("WINDOW_UPDATE: %d %v", inc, err)
	}
	if code, err := ParseRSTStream(frameOf(t, AppendRSTStream(nil, 3, ErrCodeCancel))); err != nil || code != ErrCodeCancel {
		t.Errorf("RST_STREAM: %v %v", code, err)
	}
	// A header block split over HEADERS and CONTINUATIONs.
	block := bytes.Repeat([]byte("abcdefgh"), 5000)
	b := AppendHeaderBlock(nil, 5, 0, block, true, MinMaxFrameSize)
	r := bytes.NewReader(b)
	var hdr [FrameHeaderLen]byte
	var joined []byte
	for n := 0; ; n++ {
		f, err := ReadFrame(r, &hdr, nil, MinMaxFrameSize)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		want := FrameContinuation
		if n == 0 {
			want = FrameHeaders
			if !f.Flags.Has(FlagEndStream) {
				t.Error("END_STREAM not on the HEADERS frame")
			}
		}
		if f.Type != want || f.StreamID != 5 {
			t.Fatalf("frame %d: %v", n, f.FrameHeader)
		}
		joined = append(joined, f.Payload...)
		if f.Flags.Has(FlagEndHeaders) != (len(joined) == len(block)) {
			t.Fatalf("END_HEADERS on frame %d at %d of %d octets", n, len(joined), len(block))
		}
	}
	if !bytes.Equal(joined, block) {
		t.Error("header block changed in the split")
	}
	pp, err := ParsePushPromise(frameOf(t, AppendHeaderBlock(nil, 1, 2, []byte("blk"), false, MinMaxFrameSize)))
	if err != nil || pp.Promised != 2 || string(pp.Fragment) != "blk" {
		t.Errorf("PUSH_PROMISE: %+v %v", pp, err)
	}
}

func TestFrameErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		frame []byte
		parse func(Frame) error
		code  ErrCode
		conn  bool
	}{
		{"DATA on stream 0", AppendFrame(nil, FrameData, 0, 0, []byte("x")), func(f Frame) error { _, err := ParseData(f); return err }, ErrCodeProtocol, true},
		{"padding too long", AppendFrame(nil, FrameData, FlagPadded, 1, []byte{5, 'a'}), func(f Frame) error { _, err := ParseData(f); return err }, ErrCodeProtocol, true},
		{"PRIORITY of 4 octets", AppendFrame(nil, FramePriority, 0, 1, []byte{0, 0, 0, 0}), func(f Frame) error { _, err := ParsePriority(f); return err }, ErrCodeFrameSize, false},
		{"RST_STREAM on 0", AppendRSTStream(nil, 0, 0), func(f Frame) error { _, err := ParseRSTStream(f); return err }, ErrCodeProtocol, true},
		{"SETTINGS ACK with payload", AppendFrame(nil, FrameSettings, FlagAck, 0, make([]byte, 6)), func(f Frame) error { return ParseSettings(f, func(Setting) error { return nil }) }, ErrCodeFrameSize, true},
		{"SETTINGS of 5 octets", AppendFrame(nil, FrameSettings, 0, 0, make([]byte, 5)), func(f Frame) error { return ParseSettings(f, func(Setting) error { return nil }) }, ErrCodeFrameSize, true},
		{"ENABLE_PUSH 2", AppendSettings(nil, Setting{SettingEnablePush, 2}), func(f Frame) error { return ParseSettings(f, func(Setting) error { return nil }) }, ErrCodeProtocol, true},
		{"INITIAL_WINDOW_SIZE 2^31", AppendSettings(nil, Setting{SettingInitialWindowSize, 1 << 31}), func(f Frame) error { return ParseSettings(f, func(Setting) error { return nil }) }, ErrCodeFlowControl, true},
		{"MAX_FRAME_SIZE too small", AppendSettings(nil, Setting{SettingMaxFrameSize, 100}), func(f Frame) error { return ParseSettings(f, func(Setting) error { return nil }) }, ErrCodeProtocol, true},
		{"PING on a stream", AppendFrame(nil, FramePing, 0, 1, make([]byte, 8)), func(f Frame) error { _, err := ParsePing(f); return err }, ErrCodeProtocol, true},
		{"PING of 7 octets", AppendFrame(nil, FramePing, 0, 0, make([]byte, 7)), func(f Frame) error { _, err := ParsePing(f); return err }, ErrCodeFrameSize, true},
		{"GOAWAY on a stream", AppendFrame(nil, FrameGoAway, 0, 1, make([]byte, 8)), func(f Frame) error { _, err := ParseGoAway(f); return err }, ErrCodeProtocol, true},
		{"WINDOW_UPDATE 0 on a stream", AppendWindowUpdate(nil, 1, 0), func(f Frame) error { _, err := ParseWindowUpdate(f); return err }, ErrCodeProtocol, false},
		{"WINDOW_UPDATE 0 on the connection", AppendWindowUpdate(nil, 0, 0), func(f Frame) error { _, err := ParseWindowUpdate(f); return err }, ErrCodeProtocol, true},
		{"HEADERS priority cut short", AppendFrame(nil, FrameHeaders, FlagPriority, 1, []byte{0, 0}), func(f Frame) error { _, err := ParseHeaders(f); return err }, ErrCodeFrameSize, true},
		{"PRIORITY_UPDATE on a stream", AppendFrame(nil, FramePriorityUpdate, 0, 1, []byte{0, 0, 0, 1}), func(f Frame) error { _, err := ParsePriorityUpdate(f); return err }, ErrCodeProtocol, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.parse(frameOf(t, tc.frame))
			var e *Error
			if !errors.As(err, &e) || e.Code != tc.code || (e.Stream == 0) != tc.conn {
				t.Errorf("got %v, want a %v %s error", err, tc.code, map[bool]string{true: "connection", false: "stream"}[tc.conn])
			}
		})
	}
	var hdr [FrameHeaderLen]byte
	if _, err := ReadFrame(bytes.NewReader(AppendFrame(nil, FrameData, 0, 1, make([]byte, MinMaxFrameSize+1))), &hdr, nil, MinMaxFrameSize); err != ErrFrameTooLarge {
		t.Errorf("frame over the limit: %v", err)
	}
}

func TestPriorityField(t *testing.T) {
	for v, want := range map[string]priority{
		"":              {urgency: 3, rfc9218: true},
		"u=0":           {urgency: 0, rfc9218: true},
		"u=5, i":        {urgency: 5, incremental: true, rfc9218: true},
		"i=?0, u=7":     {urgency: 7, rfc9218: true},
		"u=9":           {urgency: 3, rfc9218: true},
		"u=1;x=2, i=?1": {urgency: 1, incremental: true, rfc9218: true},
	} {
		if got := parsePriorityField(v); got != want {
			t.Errorf("Priority %q: %+v, want %+v", v, got, want)
		}
	}
}

func FuzzReadFrame(f *testing.F) {
	f.Add(AppendSettings(nil, Setting{SettingInitialWindowSize, 1}))
	f.Add(AppendPing(nil, false, [8]byte{}))
	f.Add(AppendGoAway(nil, 1, ErrCodeProtocol, "x"))
	f.Add(AppendWindowUpdate(nil, 1, 1))
	f.Add(AppendRSTStream(nil, 1, ErrCodeCancel))
	f.Add(AppendFrame(nil, FrameData, FlagPadded|FlagEndStream, 1, []byte{2, 'h', 'i', 0, 0}))
	f.Add(AppendFrame(nil, FrameHeaders, FlagPriority|FlagPadded|FlagEndHeaders, 1, []byte{1, 0, 0, 0, 3, 16, 0x82, 0}))
	f.Add(AppendFrame(nil, FramePriority, 0, 3, []byte{0x80, 0, 0, 1, 255}))
	f.Add(AppendFrame(nil, FramePriorityUpdate, 0, 0, []byte{0, 0, 0, 1, 'u', '=', '1'}))
	f.Add(AppendHeaderBlock(nil, 1, 2, []byte("promise"), false, MinMaxFrameSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		var hdr [FrameHeaderLen]byte
		for {
			fr, err := ReadFrame(r, &hdr, nil, MinMaxFrameSize)
			if err != nil {
				return
			}
			if int(fr.Length) != len(fr.Payload) {
				t.Fatalf("length %d, payload %d", fr.Length, len(fr.Payload))
			}
			// What parses re-encodes to the same octets.
			var again []byte
			switch fr.Type {
			case FrameSettings:
				var ss []Setting
				if ParseSettings(fr, func(s Setting) error { ss = append(ss, s); return nil }) == nil && !fr.Flags.Has(FlagAck) {
					again = AppendSettings(nil, ss...)
				}
			case FramePing:
				if d, err := ParsePing(fr); err == nil {
					again = AppendPing(nil, fr.Flags.Has(FlagAck), d)
					again[4] = byte(fr.Flags)
				}
			case FrameGoAway:
				if g, err := ParseGoAway(fr); err == nil {
					again = AppendGoAway(nil, g.LastStream, g.Code, string(g.Debug))
				}
			case FrameRSTStream:
				if code, err := ParseRSTStream(fr); err == nil {
					again = AppendRSTStream(nil, fr.StreamID, code)
				}
			case FrameData:
				if d, err := ParseData(fr); err == nil && !fr.Flags.Has(FlagPadded) {
					again = AppendFrame(nil, FrameData, fr.Flags, fr.StreamID, d)
				}
			case FrameHeaders:
				ParseHeaders(fr)
			case FramePriority:
				ParsePriority(fr)
			case FramePushPromise:
				ParsePushPromise(fr)
			case FrameWindowUpdate:
				ParseWindowUpdate(fr)
			case FramePriorityUpdate:
				ParsePriorityUpdate(fr)
			}
			if again != nil {
				orig := AppendFrame(nil, fr.Type, fr.Flags, fr.StreamID, fr.Payload)
				if fr.Type == FrameGoAway || fr.Type == FrameRSTStream || fr.Type == FrameSettings {
					// Flags and reserved bits are not kept.
					orig[4] = again[4]
				}
				if fr.Type == FrameGoAway {
					orig[9] &= 0x7f
				}
				if !bytes.Equal(again, orig) {
					t.Fatalf("%v re-encodes as %x, was %x", fr.FrameHeader, again, orig)
				}
			}
		}
	})
}

// FuzzServerConn feeds arbitrary octets after the preface to a server
// connection: frames, HPACK blocks, the state machine. Nothing may panic
// or hang, and the connection ends when its input does.
func FuzzServerConn(f *testing.F) {
	var enc rawConn
	enc.t = f
	enc.enc = newEncoder(&enc.buf)
	get := func(path string) []byte {
		enc.buf.Reset()
		return enc.get(path)
	}
	f.Add(AppendSettings(nil))
	f.Add(append(AppendSettings(nil), AppendHeaderBlock(nil, 1, 0, get("/a.txt"), true, MinMaxFrameSize)...))
	post := AppendHeaderBlock(nil, 1, 0, enc.block(":method", "POST", ":scheme", "http", ":authority", "x", ":path", "/echo", "content-length", "5"), false, MinMaxFrameSize)
	post = AppendFrame(post, FrameData, FlagEndStream, 1, []byte("hello"))
	f.Add(post)
	f.Add(append(AppendFrame(nil, FrameHeaders, 0, 1, get("/")[:3]), AppendFrame(nil, FrameContinuation, FlagEndHeaders, 1, get("/")[3:])...))
	f.Add(append(AppendHeaderBlock(nil, 1, 0, get("/big.bin"), true, MinMaxFrameSize), AppendRSTStream(nil, 1, ErrCodeCancel)...))
	f.Add(AppendFrame(AppendPing(nil, false, [8]byte{}), FramePriorityUpdate, 0, 0, []byte{0, 0, 0, 1, 'u', '=', '0'}))
	f.Add([]byte{0, 0, 4, 8, 0, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff})
	h := testSite(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		client, server := net.Pipe()
		s := &Server{Handler: h, Logger: quietLogger()}
		done := make(chan struct{})
		go func() {
			s.ServeHandoff(&web.Handoff{Conn: server})
			close(done)
		}()
		go io.Copy(io.Discard, client)
		client.Write([]byte(ClientPreface))
		client.Write(in)
		client.Close()
		<-done
	})
}
