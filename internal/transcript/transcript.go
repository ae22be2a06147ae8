// Package transcript records protocol dialogues the way the textbook prints
// them:
//
//	S: 220 hamburger.edu
//	C: HELO crepes.fr
//	S: 250 Hello crepes.fr, pleased to meet you
//
// Every server and client in applayer takes a *Recorder. A nil *Recorder, and
// the nil *Session it hands out, are valid and do nothing: a disabled
// transcript costs one nil check per message. Callers that would have to
// build an expensive summary (a decoded DNS message, say) check
// [Session.Enabled] first.
//
// Events go to a [Sink]. [TextSink] writes timestamped lines to an io.Writer
// (the --trace flag sends them to stderr); [Hub] fans events out to
// subscribers that come and go, which is how the lab streams transcripts to a
// web page. Text protocols record one event per line; binary protocols
// record a one-line decoded summary per message.
//
// Credentials are redacted unless the Recorder says otherwise: protocol code
// records them with [Session.ClientSecret] (or ServerSecret), never with
// Client.
package transcript

import (
	"strconv"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Dir says who sent a message.
type Dir uint8

const (
	// Client marks what the client sent ("C:").
	Client Dir = iota
	// Server marks what the server sent ("S:").
	Server
	// Note marks a remark of the recorder's own, not a message on the wire
	// (a connection opened or closed, a timeout).
	Note
)

// String returns the textbook's prefix: "C", "S", or "*" for a note.
func (d Dir) String() string {
	switch d {
	case Client:
		return "C"
	case Server:
		return "S"
	default:
		return "*"
	}
}

// Event is one recorded message.
type Event struct {
	Time    time.Time
	Proto   string // protocol and transport, e.g. "upper/tcp", "smtp", "dns/udp"
	Session uint64 // distinguishes interleaved dialogues; unique per Recorder
	Peer    string // the other end's address, as the recording side sees it
	Dir     Dir
	Text    string // one line, without line terminator
}

// A Sink receives events. Implementations must be safe for concurrent use
// and must not block for long: they are called on the protocol's own path.
type Sink interface {
	Record(Event)
}

// SinkFunc adapts a function to a Sink.
type SinkFunc func(Event)

// Record calls f(e).
func (f SinkFunc) Record(e Event) { f(e) }

// MaxText is the longest text kept in one event; longer texts are cut and
// marked with their full length. It keeps a megabyte DATA line or a 64 KiB
// datagram from flooding a terminal.
const MaxText = 240

// A Recorder hands out Sessions that record into one Sink. The zero value
// and nil record nothing.
type Recorder struct {
	sink        Sink
	showSecrets bool
	next        atomic.Uint64
}

// New returns a Recorder that sends events to sink. A nil sink gives a nil
// Recorder.
func New(sink Sink) *Recorder {
	if sink == nil {
		return nil
	}
	return &Recorder{sink: sink}
}

// ShowSecrets makes the Recorder print credentials in clear instead of
// "<redacted>". It is meant for teaching on a lab's throw-away accounts.
func (r *Recorder) ShowSecrets(show bool) *Recorder {
	if r != nil {
		r.showSecrets = show
	}
	return r
}

// Session starts recording one dialogue, a connection or, for datagram
// protocols, one exchange or one peer. It returns nil when r is nil.
func (r *Recorder) Session(proto, peer string) *Session {
	if r == nil || r.sink == nil {
		return nil
	}
	return &Session{r: r, proto: proto, peer: peer, id: r.next.Add(1)}
}

// A Session records one dialogue. All methods are safe on a nil *Session.
type Session struct {
	r     *Recorder
	proto string
	peer  string
	id    uint64
}

// Enabled reports whether anything is being recorded.
func (s *Session) Enabled() bool { return s != nil }

// Client records a message the client sent.
func (s *Session) Client(text string) {
	if s != nil {
		s.emit(Client, text)
	}
}

// Server records a message the server sent.
func (s *Session) Server(text string) {
	if s != nil {
		s.emit(Server, text)
	}
}

// Note records a remark that is not on the wire.
func (s *Session) Note(text string) {
	if s != nil {
		s.emit(Note, text)
	}
}

// ClientBytes records raw bytes sent by the client, quoted where they are not
// printable. It copies nothing when s is nil.
func (s *Session) ClientBytes(b []byte) {
	if s != nil {
		s.emit(Client, Printable(b))
	}
}

// ServerBytes is ClientBytes for the server's side.
func (s *Session) ServerBytes(b []byte) {
	if s != nil {
		s.emit(Server, Printable(b))
	}
}

// ClientSecret records a client message that carries a credential, such as
// "PASS " + password or "AUTH PLAIN " + token: the secret part is replaced by
// "<redacted>" unless the Recorder shows secrets.
func (s *Session) ClientSecret(prefix, secret string) {
	if s != nil {
		s.emit(Client, s.redact(prefix, secret))
	}
}

// ServerSecret is ClientSecret for the server's side.
func (s *Session) ServerSecret(prefix, secret string) {
	if s != nil {
		s.emit(Server, s.redact(prefix, secret))
	}
}

func (s *Session) redact(prefix, secret string) string {
	if s.r.showSecrets {
		return prefix + secret
	}
	return prefix + "<redacted>"
}

func (s *Session) emit(d Dir, text string) {
	if len(text) > MaxText {
		n := len(text)
		cut := MaxText
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		text = text[:cut] + "… (" + strconv.Itoa(n) + " bytes)"
	}
	s.r.sink.Record(Event{Time: time.Now(), Proto: s.proto, Session: s.id, Peer: s.peer, Dir: d, Text: text})
}

// Printable renders bytes as one line of text: valid printable UTF-8 stays as
// it is, and CR, LF, tabs, other control bytes and invalid UTF-8 are written
// as Go escapes (\r, \n, \x00). It reads at most MaxText+1 bytes of b, so
// recording a huge buffer costs no more than a small one.
func Printable(b []byte) string {
	full := len(b)
	if len(b) > MaxText {
		b = b[:MaxText]
	}
	out := make([]byte, 0, len(b)+8)
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		switch {
		case r == utf8.RuneError && size <= 1:
			out = append(out, `\x`...)
			out = append(out, "0123456789abcdef"[b[0]>>4], "0123456789abcdef"[b[0]&15])
		case r == '\\':
			out = append(out, `\\`...)
		case r < 0x20 || r == 0x7f:
			q := strconv.QuoteRune(r) // "'\n'" or "'\x00'"
			out = append(out, q[1:len(q)-1]...)
		default:
			out = append(out, b[:size]...)
		}
		b = b[size:]
	}
	if full > MaxText {
		out = append(out, "… ("...)
		out = strconv.AppendInt(out, int64(full), 10)
		out = append(out, " bytes)"...)
	}
	return string(out)
}
