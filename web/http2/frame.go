package http2

import (
	"encoding/binary"
	"errors"
	"io"
	"strconv"
)

// FrameType is a frame's type octet (RFC 9113 §6, RFC 9218 §7.1).
type FrameType uint8

// The frame types.
const (
	FrameData           FrameType = 0x0
	FrameHeaders        FrameType = 0x1
	FramePriority       FrameType = 0x2
	FrameRSTStream      FrameType = 0x3
	FrameSettings       FrameType = 0x4
	FramePushPromise    FrameType = 0x5
	FramePing           FrameType = 0x6
	FrameGoAway         FrameType = 0x7
	FrameWindowUpdate   FrameType = 0x8
	FrameContinuation   FrameType = 0x9
	FramePriorityUpdate FrameType = 0x10
)

var frameNames = [...]string{"DATA", "HEADERS", "PRIORITY", "RST_STREAM", "SETTINGS", "PUSH_PROMISE", "PING", "GOAWAY", "WINDOW_UPDATE", "CONTINUATION"}

func (t FrameType) String() string {
	if int(t) < len(frameNames) {
		return frameNames[t]
	}
	if t == FramePriorityUpdate {
		return "PRIORITY_UPDATE"
	}
	return "UNKNOWN_" + strconv.Itoa(int(t))
}

// Flags are a frame's flag bits; their meaning depends on the type.
type Flags uint8

// The flags defined by RFC 9113.
const (
	FlagEndStream  Flags = 0x1  // DATA, HEADERS
	FlagAck        Flags = 0x1  // SETTINGS, PING
	FlagEndHeaders Flags = 0x4  // HEADERS, PUSH_PROMISE, CONTINUATION
	FlagPadded     Flags = 0x8  // DATA, HEADERS, PUSH_PROMISE
	FlagPriority   Flags = 0x20 // HEADERS
)

// Has reports whether every bit of g is set in f.
func (f Flags) Has(g Flags) bool { return f&g == g }

// ErrCode is an error code of RST_STREAM and GOAWAY (RFC 9113 §7).
type ErrCode uint32

// The error codes.
const (
	ErrCodeNo                 ErrCode = 0x0
	ErrCodeProtocol           ErrCode = 0x1
	ErrCodeInternal           ErrCode = 0x2
	ErrCodeFlowControl        ErrCode = 0x3
	ErrCodeSettingsTimeout    ErrCode = 0x4
	ErrCodeStreamClosed       ErrCode = 0x5
	ErrCodeFrameSize          ErrCode = 0x6
	ErrCodeRefusedStream      ErrCode = 0x7
	ErrCodeCancel             ErrCode = 0x8
	ErrCodeCompression        ErrCode = 0x9
	ErrCodeConnect            ErrCode = 0xa
	ErrCodeEnhanceYourCalm    ErrCode = 0xb
	ErrCodeInadequateSecurity ErrCode = 0xc
	ErrCodeHTTP11Required     ErrCode = 0xd
)

var errCodeNames = [...]string{"NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR", "SETTINGS_TIMEOUT", "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL", "COMPRESSION_ERROR", "CONNECT_ERROR", "ENHANCE_YOUR_CALM", "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED"}

func (c ErrCode) String() string {
	if int(c) < len(errCodeNames) {
		return errCodeNames[c]
	}
	return "0x" + strconv.FormatUint(uint64(c), 16)
}

// SettingID identifies a setting (RFC 9113 §6.5.2, RFC 9218 §2.1).
type SettingID uint16

// The settings.
const (
	SettingHeaderTableSize      SettingID = 0x1
	SettingEnablePush           SettingID = 0x2
	SettingMaxConcurrentStreams SettingID = 0x3
	SettingInitialWindowSize    SettingID = 0x4
	SettingMaxFrameSize         SettingID = 0x5
	SettingMaxHeaderListSize    SettingID = 0x6
	SettingNoRFC7540Priorities  SettingID = 0x9
)

var settingNames = [...]string{"", "HEADER_TABLE_SIZE", "ENABLE_PUSH", "MAX_CONCURRENT_STREAMS", "INITIAL_WINDOW_SIZE", "MAX_FRAME_SIZE", "MAX_HEADER_LIST_SIZE", "", "", "NO_RFC7540_PRIORITIES"}

func (id SettingID) String() string {
	if int(id) < len(settingNames) && settingNames[id] != "" {
		return settingNames[id]
	}
	return "UNKNOWN_SETTING_" + strconv.Itoa(int(id))
}

// A Setting is one identifier and value of a SETTINGS frame.
type Setting struct {
	ID  SettingID
	Val uint32
}

// Protocol limits (RFC 9113 §4.2, §6.5.2, §6.9.1).
const (
	FrameHeaderLen      = 9
	MinMaxFrameSize     = 1 << 14
	MaxMaxFrameSize     = 1<<24 - 1
	MaxWindowSize       = 1<<31 - 1
	DefaultWindowSize   = 65535
	DefaultHeaderTable  = 4096
	ClientPreface       = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
	prefaceRequestLine  = "PRI * HTTP/2.0\r\n\r\n"
	prefaceAfterRequest = "SM\r\n\r\n"
)

// Error is an HTTP/2 error: a connection error when Stream is 0, else a
// stream error on Stream (RFC 9113 §5.4).
type Error struct {
	Code   ErrCode
	Stream uint32
	Reason string
}

func (e *Error) Error() string {
	if e.Stream == 0 {
		return "http2: connection error " + e.Code.String() + ": " + e.Reason
	}
	return "http2: stream " + strconv.FormatUint(uint64(e.Stream), 10) + " error " + e.Code.String() + ": " + e.Reason
}

func connError(code ErrCode, reason string) *Error { return &Error{Code: code, Reason: reason} }

func streamError(id uint32, code ErrCode, reason string) *Error {
	return &Error{Code: code, Stream: id, Reason: reason}
}

// FrameHeader is the fixed nine-octet start of every frame (RFC 9113 §4.1).
type FrameHeader struct {
	Length   uint32
	Type     FrameType
	Flags    Flags
	StreamID uint32 // the reserved bit is cleared
}

// Frame is a frame header with its payload.
type Frame struct {
	FrameHeader
	Payload []byte
}

func (h FrameHeader) String() string {
	return h.Type.String() + " stream=" + strconv.FormatUint(uint64(h.StreamID), 10) + " len=" + strconv.FormatUint(uint64(h.Length), 10) + " flags=0x" + strconv.FormatUint(uint64(h.Flags), 16)
}

// ParseFrameHeader decodes the nine octets of b.
func ParseFrameHeader(b []byte) FrameHeader {
	_ = b[8]
	return FrameHeader{
		Length:   uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]),
		Type:     FrameType(b[3]),
		Flags:    Flags(b[4]),
		StreamID: binary.BigEndian.Uint32(b[5:]) & (1<<31 - 1),
	}
}

// ErrFrameTooLarge is returned by ReadFrame for a frame whose length
// exceeds the limit given; the frame's header has been read, its payload
// not.
var ErrFrameTooLarge = errors.New("http2: frame larger than SETTINGS_MAX_FRAME_SIZE")

// ReadFrame reads one frame from r whose payload is at most max octets.
// The payload is read into buf when it fits (else into a new slice); the
// returned frame's Payload aliases it.
func ReadFrame(r io.Reader, hdr *[FrameHeaderLen]byte, buf []byte, max uint32) (Frame, error) {
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return Frame{}, err
	}
	fh := ParseFrameHeader(hdr[:])
	if fh.Length > max {
		return Frame{FrameHeader: fh}, ErrFrameTooLarge
	}
	if fh.Length == 0 {
		return Frame{FrameHeader: fh}, nil
	}
	var p []byte
	if int(fh.Length) <= cap(buf) {
		p = buf[:fh.Length]
	} else {
		p = make([]byte, fh.Length)
	}
	if _, err := io.ReadFull(r, p); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return Frame{}, err
	}
	return Frame{FrameHeader: fh, Payload: p}, nil
}

// AppendFrameHeader appends a frame header.
func AppendFrameHeader(b []byte, length int, t FrameType, f Flags, stream uint32) []byte {
	return append(b, byte(length>>16), byte(length>>8), byte(length), byte(t), byte(f),
		byte(stream>>24)&0x7f, byte(stream>>16), byte(stream>>8), byte(stream))
}

// AppendFrame appends a whole frame.
func AppendFrame(b []byte, t FrameType, f Flags, stream uint32, payload []byte) []byte {
	b = AppendFrameHeader(b, len(payload), t, f, stream)
	return append(b, payload...)
}

// stripPadding removes the Pad Length octet and the padding of a PADDED
// frame (RFC 9113 §6.1); skip octets after the pad length belong to the
// frame's fixed fields and stay.
func stripPadding(f Frame) ([]byte, error) {
	p := f.Payload
	if !f.Flags.Has(FlagPadded) {
		return p, nil
	}
	if len(p) < 1 {
		return nil, connError(ErrCodeFrameSize, f.Type.String()+" padded frame without a pad length")
	}
	pad := int(p[0])
	p = p[1:]
	if pad > len(p) {
		return nil, connError(ErrCodeProtocol, f.Type.String()+" padding longer than the payload")
	}
	return p[:len(p)-pad], nil
}

// ParseData returns a DATA frame's data without its padding.
func ParseData(f Frame) ([]byte, error) {
	if f.StreamID == 0 {
		return nil, connError(ErrCodeProtocol, "DATA on stream 0")
	}
	p, err := stripPadding(f)
	if err != nil {
		// RFC 9113 §6.1: padding as long as the payload is a connection
		// PROTOCOL_ERROR.
		return nil, err
	}
	return p, nil
}

// Priority is the RFC 7540 priority of HEADERS and PRIORITY frames.
type Priority struct {
	StreamDep uint32
	Exclusive bool
	Weight    uint8 // the weight minus one, as on the wire
}

func parsePriority(b []byte) Priority {
	v := binary.BigEndian.Uint32(b)
	return Priority{StreamDep: v & (1<<31 - 1), Exclusive: v>>31 == 1, Weight: b[4]}
}

// Headers is a parsed HEADERS frame.
type Headers struct {
	Priority    Priority
	HasPriority bool
	Fragment    []byte // the header block fragment
}

// ParseHeaders parses a HEADERS frame.
func ParseHeaders(f Frame) (Headers, error) {
	var h Headers
	if f.StreamID == 0 {
		return h, connError(ErrCodeProtocol, "HEADERS on stream 0")
	}
	p, err := stripPadding(f)
	if err != nil {
		return h, err
	}
	if f.Flags.Has(FlagPriority) {
		if len(p) < 5 {
			return h, connError(ErrCodeFrameSize, "HEADERS too short for its priority")
		}
		h.Priority, h.HasPriority = parsePriority(p), true
		p = p[5:]
	}
	h.Fragment = p
	return h, nil
}

// ParsePriority parses a PRIORITY frame (RFC 9113 §6.3).
func ParsePriority(f Frame) (Priority, error) {
	if f.StreamID == 0 {
		return Priority{}, connError(ErrCodeProtocol, "PRIORITY on stream 0")
	}
	if len(f.Payload) != 5 {
		return Priority{}, streamError(f.StreamID, ErrCodeFrameSize, "PRIORITY payload is not 5 octets")
	}
	return parsePriority(f.Payload), nil
}

// ParseRSTStream returns the error code of a RST_STREAM frame.
func ParseRSTStream(f Frame) (ErrCode, error) {
	if f.StreamID == 0 {
		return 0, connError(ErrCodeProtocol, "RST_STREAM on stream 0")
	}
	if len(f.Payload) != 4 {
		return 0, connError(ErrCodeFrameSize, "RST_STREAM payload is not 4 octets")
	}
	return ErrCode(binary.BigEndian.Uint32(f.Payload)), nil
}

// ParseSettings calls fn for each setting of a SETTINGS frame, in order
// (RFC 9113 §6.5). An ACK must be empty.
func ParseSettings(f Frame, fn func(Setting) error) error {
	if f.StreamID != 0 {
		return connError(ErrCodeProtocol, "SETTINGS on a stream")
	}
	if f.Flags.Has(FlagAck) {
		if len(f.Payload) != 0 {
			return connError(ErrCodeFrameSize, "SETTINGS ACK with a payload")
		}
		return nil
	}
	if len(f.Payload)%6 != 0 {
		return connError(ErrCodeFrameSize, "SETTINGS payload is not a multiple of 6 octets")
	}
	for p := f.Payload; len(p) > 0; p = p[6:] {
		s := Setting{ID: SettingID(binary.BigEndian.Uint16(p)), Val: binary.BigEndian.Uint32(p[2:])}
		if err := s.Valid(); err != nil {
			return err
		}
		if err := fn(s); err != nil {
			return err
		}
	}
	return nil
}

// Valid checks a setting's value against RFC 9113 §6.5.2.
func (s Setting) Valid() error {
	switch s.ID {
	case SettingEnablePush:
		if s.Val > 1 {
			return connError(ErrCodeProtocol, "SETTINGS_ENABLE_PUSH is neither 0 nor 1")
		}
	case SettingInitialWindowSize:
		if s.Val > MaxWindowSize {
			return connError(ErrCodeFlowControl, "SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1")
		}
	case SettingMaxFrameSize:
		if s.Val < MinMaxFrameSize || s.Val > MaxMaxFrameSize {
			return connError(ErrCodeProtocol, "SETTINGS_MAX_FRAME_SIZE outside 2^14..2^24-1")
		}
	case SettingNoRFC7540Priorities:
		if s.Val > 1 {
			return connError(ErrCodeProtocol, "SETTINGS_NO_RFC7540_PRIORITIES is neither 0 nor 1")
		}
	}
	return nil
}

// AppendSettings appends a SETTINGS frame.
func AppendSettings(b []byte, ss ...Setting) []byte {
	b = AppendFrameHeader(b, 6*len(ss), FrameSettings, 0, 0)
	for _, s := range ss {
		b = binary.BigEndian.AppendUint16(b, uint16(s.ID))
		b = binary.BigEndian.AppendUint32(b, s.Val)
	}
	return b
}

// PushPromise is a parsed PUSH_PROMISE frame.
type PushPromise struct {
	Promised uint32
	Fragment []byte
}

// ParsePushPromise parses a PUSH_PROMISE frame (RFC 9113 §6.6).
func ParsePushPromise(f Frame) (PushPromise, error) {
	if f.StreamID == 0 {
		return PushPromise{}, connError(ErrCodeProtocol, "PUSH_PROMISE on stream 0")
	}
	p, err := stripPadding(f)
	if err != nil {
		return PushPromise{}, err
	}
	if len(p) < 4 {
		return PushPromise{}, connError(ErrCodeFrameSize, "PUSH_PROMISE too short")
	}
	return PushPromise{Promised: binary.BigEndian.Uint32(p) & (1<<31 - 1), Fragment: p[4:]}, nil
}

// ParsePing checks a PING frame and returns its opaque data.
func ParsePing(f Frame) ([8]byte, error) {
	var d [8]byte
	if f.StreamID != 0 {
		return d, connError(ErrCodeProtocol, "PING on a stream")
	}
	if len(f.Payload) != 8 {
		return d, connError(ErrCodeFrameSize, "PING payload is not 8 octets")
	}
	copy(d[:], f.Payload)
	return d, nil
}

// GoAway is a parsed GOAWAY frame.
type GoAway struct {
	LastStream uint32
	Code       ErrCode
	Debug      []byte
}

// ParseGoAway parses a GOAWAY frame (RFC 9113 §6.8).
func ParseGoAway(f Frame) (GoAway, error) {
	if f.StreamID != 0 {
		return GoAway{}, connError(ErrCodeProtocol, "GOAWAY on a stream")
	}
	if len(f.Payload) < 8 {
		return GoAway{}, connError(ErrCodeFrameSize, "GOAWAY too short")
	}
	return GoAway{
		LastStream: binary.BigEndian.Uint32(f.Payload) & (1<<31 - 1),
		Code:       ErrCode(binary.BigEndian.Uint32(f.Payload[4:])),
		Debug:      f.Payload[8:],
	}, nil
}

// AppendGoAway appends a GOAWAY frame.
func AppendGoAway(b []byte, last uint32, code ErrCode, debug string) []byte {
	b = AppendFrameHeader(b, 8+len(debug), FrameGoAway, 0, 0)
	b = binary.BigEndian.AppendUint32(b, last&(1<<31-1))
	b = binary.BigEndian.AppendUint32(b, uint32(code))
	return append(b, debug...)
}

// ParseWindowUpdate returns a WINDOW_UPDATE frame's increment (RFC 9113
// §6.9); zero is an error.
func ParseWindowUpdate(f Frame) (uint32, error) {
	if len(f.Payload) != 4 {
		return 0, connError(ErrCodeFrameSize, "WINDOW_UPDATE payload is not 4 octets")
	}
	inc := binary.BigEndian.Uint32(f.Payload) & (1<<31 - 1)
	if inc == 0 {
		if f.StreamID == 0 {
			return 0, connError(ErrCodeProtocol, "WINDOW_UPDATE with an increment of 0")
		}
		return 0, streamError(f.StreamID, ErrCodeProtocol, "WINDOW_UPDATE with an increment of 0")
	}
	return inc, nil
}

// AppendWindowUpdate appends a WINDOW_UPDATE frame.
func AppendWindowUpdate(b []byte, stream, inc uint32) []byte {
	b = AppendFrameHeader(b, 4, FrameWindowUpdate, 0, stream)
	return binary.BigEndian.AppendUint32(b, inc&(1<<31-1))
}

// AppendRSTStream appends a RST_STREAM frame.
func AppendRSTStream(b []byte, stream uint32, code ErrCode) []byte {
	b = AppendFrameHeader(b, 4, FrameRSTStream, 0, stream)
	return binary.BigEndian.AppendUint32(b, uint32(code))
}

// AppendPing appends a PING frame.
func AppendPing(b []byte, ack bool, data [8]byte) []byte {
	var f Flags
	if ack {
		f = FlagAck
	}
	b = AppendFrameHeader(b, 8, FramePing, f, 0)
	return append(b, data[:]...)
}

// AppendHeaderBlock appends a header block as HEADERS (or, with promised
// non-zero, PUSH_PROMISE) followed by as many CONTINUATION frames as
// maxFrame requires.
func AppendHeaderBlock(b []byte, stream, promised uint32, block []byte, endStream bool, maxFrame int) []byte {
	t, first := FrameHeaders, maxFrame
	var f Flags
	if promised != 0 {
		t, first = FramePushPromise, maxFrame-4
	}
	if endStream {
		f |= FlagEndStream
	}
	n := min(len(block), first)
	if n == len(block) {
		f |= FlagEndHeaders
	}
	extra := 0
	if promised != 0 {
		extra = 4
	}
	b = AppendFrameHeader(b, n+extra, t, f, stream)
	if promised != 0 {
		b = binary.BigEndian.AppendUint32(b, promised)
	}
	b = append(b, block[:n]...)
	for block = block[n:]; len(block) > 0; block = block[n:] {
		n = min(len(block), maxFrame)
		var cf Flags
		if n == len(block) {
			cf = FlagEndHeaders
		}
		b = AppendFrameHeader(b, n, FrameContinuation, cf, stream)
		b = append(b, block[:n]...)
	}
	return b
}

// PriorityUpdate is a parsed PRIORITY_UPDATE frame (RFC 9218 §7.1).
type PriorityUpdate struct {
	Prioritized uint32
	Value       string // a Priority field value, e.g. "u=1, i"
}

// ParsePriorityUpdate parses a PRIORITY_UPDATE frame.
func ParsePriorityUpdate(f Frame) (PriorityUpdate, error) {
	if f.StreamID != 0 {
		return PriorityUpdate{}, connError(ErrCodeProtocol, "PRIORITY_UPDATE on a stream")
	}
	if len(f.Payload) < 4 {
		return PriorityUpdate{}, connError(ErrCodeFrameSize, "PRIORITY_UPDATE too short")
	}
	id := binary.BigEndian.Uint32(f.Payload) & (1<<31 - 1)
	if id == 0 {
		return PriorityUpdate{}, connError(ErrCodeProtocol, "PRIORITY_UPDATE for stream 0")
	}
	return PriorityUpdate{Prioritized: id, Value: string(f.Payload[4:])}, nil
}
