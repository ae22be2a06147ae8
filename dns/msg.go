package dns

import (
	"errors"
)

// HeaderLen is the size of the fixed header (RFC 1035 §4.1.1).
const HeaderLen = 12

// MinUDPSize is the largest UDP message a client without EDNS accepts (RFC
// 1035 §4.2.1); DefaultEDNSSize is the size applayer advertises, the value
// of DNS Flag Day 2020.
const (
	MinUDPSize      = 512
	DefaultEDNSSize = 1232
)

// Header is the 12-byte message header of RFC 1035 §4.1.1, less the four
// counts, which are the lengths of the sections.
type Header struct {
	ID                 uint16
	Response           bool // QR
	Opcode             Opcode
	Authoritative      bool // AA
	Truncated          bool // TC
	RecursionDesired   bool // RD
	RecursionAvailable bool // RA
	Zero               bool // Z, must be zero (RFC 1035), kept for fidelity
	AuthenticData      bool // AD (RFC 4035 §3.2.3)
	CheckingDisabled   bool // CD
	// Rcode is the full response code: the header's four bits plus, when the
	// message has EDNS, the OPT record's eight extended bits (RFC 6891 §6.1.3).
	Rcode Rcode
}

// Question is one entry of the question section (RFC 1035 §4.1.2).
type Question struct {
	Name  string
	Type  Type
	Class Class
}

// RR is a resource record (RFC 1035 §4.1.3): the textbook's (Name, Value,
// Type, TTL), plus the class. Data holds the typed value.
type RR struct {
	Name  string
	Type  Type
	Class Class
	TTL   uint32
	Data  RData
}

// EDNS is the content of the OPT pseudo-record (RFC 6891 §6.1.2).
type EDNS struct {
	UDPSize  uint16 // the largest UDP payload the sender accepts
	Version  uint8
	DO       bool   // DNSSEC OK
	Options  []byte // the raw option list, kept as it came
	extRcode uint8
}

// Msg is a whole DNS message: header, question, answer, authority and
// additional sections (RFC 1035 §4.1). The OPT record, when present, is
// lifted out of the additional section into EDNS; a TSIG record (RFC 8945)
// stays the last record of Additional.
type Msg struct {
	Header
	Question   []Question
	Answer     []RR
	Authority  []RR
	Additional []RR
	EDNS       *EDNS
}

// Errors reported by Unpack. A server answers FORMERR to all of them when it
// can read the header, and drops the message otherwise.
var (
	ErrShort       = errors.New("dns: message truncated")
	ErrPointer     = errors.New("dns: bad compression pointer")
	ErrLabelType   = errors.New("dns: unknown label type")
	ErrTrailing    = errors.New("dns: trailing bytes after message")
	ErrRDataLength = errors.New("dns: rdata length does not match its content")
	ErrTwoOPT      = errors.New("dns: more than one OPT record")
	ErrTooLarge    = errors.New("dns: message larger than 65535 bytes")
)

// SetQuestion resets m to a query for name and t in class IN, with a new ID
// and RD set: what a stub resolver sends.
func (m *Msg) SetQuestion(id uint16, name string, t Type) *Msg {
	*m = Msg{Header: Header{ID: id, RecursionDesired: true}, Question: []Question{{Name: Fqdn(name), Type: t, Class: ClassIN}}}
	return m
}

// SetReply makes m a response to req: same ID, opcode, RD, CD and
// question, QR set, sections empty. When req had EDNS, m advertises
// DefaultEDNSSize (RFC 6891 §7: a responder includes OPT when the query did).
func (m *Msg) SetReply(req *Msg) *Msg {
	q := m.Question[:0]
	an, ns, ad := m.Answer[:0], m.Authority[:0], m.Additional[:0]
	e := m.EDNS
	*m = Msg{Header: Header{
		ID: req.ID, Response: true, Opcode: req.Opcode,
		RecursionDesired: req.RecursionDesired, CheckingDisabled: req.CheckingDisabled,
	}}
	m.Question = append(q, req.Question...)
	m.Answer, m.Authority, m.Additional = an, ns, ad
	if req.EDNS != nil {
		if e == nil {
			e = new(EDNS)
		}
		*e = EDNS{UDPSize: DefaultEDNSSize, DO: req.EDNS.DO}
		m.EDNS = e
	}
	return m
}

// SetEDNS adds an OPT record advertising size to m.
func (m *Msg) SetEDNS(size uint16) *Msg {
	m.EDNS = &EDNS{UDPSize: size}
	return m
}

// MaxUDPSize is the largest response the sender of query m accepts over
// UDP: its EDNS size (at least 512) or 512 without EDNS.
func (m *Msg) MaxUDPSize() int {
	if m.EDNS == nil || m.EDNS.UDPSize < MinUDPSize {
		return MinUDPSize
	}
	return int(m.EDNS.UDPSize)
}
