package dns

import (
	"encoding/binary"
	"errors"
)

var (
	errBadAddr   = errors.New("dns: address does not match the record type")
	errStringLen = errors.New("dns: character-string longer than 255 octets")
	errNoData    = errors.New("dns: record has no data")
)

// maxCompress bounds the names remembered for compression in one message;
// later names are written in full from there on, which only costs bytes.
const maxCompress = 64

// packer writes messages, compressing names (RFC 1035 §4.1.4). It keeps the
// offsets of names already written, as suffixes of their presentation
// strings, so that a later name sharing a suffix becomes a pointer. Reusing
// one packer makes encoding allocation-free.
type packer struct {
	msgStart int // offset of the message's first byte in the buffer
	n        int
	names    [maxCompress]string
	offs     [maxCompress]uint16
	buf      []byte // the buffer being written, for offsets
}

// A Packer encodes messages into a caller's buffer with no allocation once
// warmed up. The zero value is ready; a Packer is not safe for concurrent
// use.
type Packer struct{ p packer }

// Pack appends m's wire form to b.
func (pk *Packer) Pack(b []byte, m *Msg) ([]byte, error) { return m.appendPack(b, &pk.p, 0) }

// PackLimit appends m's wire form to b, at most limit bytes of it (RFC 2181
// §9): when the whole message does not fit, the additional section is left
// out (keeping OPT and TSIG); when it still does not fit, TC is set and only
// the question is sent. limit 0 means no truncation: a message over 65535
// bytes is then an error.
func (pk *Packer) PackLimit(b []byte, m *Msg, limit int) ([]byte, error) {
	return m.appendPack(b, &pk.p, limit)
}

// Pack returns m's wire form.
func (m *Msg) Pack() ([]byte, error) {
	var p packer
	return m.appendPack(make([]byte, 0, 512), &p, 0)
}

// name writes a name, compressed when compress is true and p is not nil.
func (p *packer) name(b []byte, name string, compress bool) ([]byte, error) {
	if p == nil || !compress {
		return appendNameWire(b, name)
	}
	if name == "" || name[len(name)-1] != '.' {
		name = Fqdn(name)
	}
	start := len(b)
	if len(name) >= MaxNameLen {
		// Only a long name can exceed the limit; escapes make the wire
		// form shorter than the text, so check it exactly.
		if _, err := appendNameWire(nil, name); err != nil {
			return b, err
		}
	}
	s := name
	for s != "." {
		// Look for s among the remembered names.
		for i := 0; i < p.n; i++ {
			if equalFold(p.names[i], s) {
				return binary.BigEndian.AppendUint16(b, 0xC000|p.offs[i]), nil
			}
		}
		off := len(b) - p.msgStart
		if off < 0x4000 && p.n < maxCompress {
			p.names[p.n], p.offs[p.n] = s, uint16(off)
			p.n++
		}
		// Write the first label of s and move on to the rest.
		i := 0
		for ; i < len(s); i++ {
			if s[i] == '\\' {
				i++
			} else if s[i] == '.' {
				break
			}
		}
		if i == 0 {
			return b[:start], errEmptyLbl
		}
		var err error
		lbl := s[:i+1] // the label with its dot, written as a one-label name
		if b, err = appendNameWire(b, lbl); err != nil {
			return b[:start], err
		}
		b = b[:len(b)-1] // drop the root byte appendNameWire added
		if i+1 >= len(s) {
			s = "."
		} else {
			s = s[i+1:]
		}
	}
	return append(b, 0), nil
}

// appendPack writes m. limit > 0 applies the truncation rules of PackLimit.
func (m *Msg) appendPack(b []byte, p *packer, limit int) ([]byte, error) {
	start := len(b)
	out, err := m.packSections(b, p, true, true)
	if err != nil {
		return out, err
	}
	if limit <= 0 {
		if len(out)-start > 0xFFFF {
			return b, ErrTooLarge
		}
		return out, nil
	}
	if len(out)-start <= limit {
		return out, nil
	}
	// Too big: drop the additional section first (its data is optional),
	// then the answer and authority too, with TC set.
	if out, err = m.packSections(b[:start], p, true, false); err != nil {
		return out, err
	}
	if len(out)-start <= limit {
		return out, nil
	}
	return m.packSections(b[:start], p, false, false)
}

func (m *Msg) packSections(b []byte, p *packer, withRecords, withAdditional bool) ([]byte, error) {
	p.n = 0
	p.msgStart = len(b)
	h := m.Header
	if !withRecords {
		h.Truncated = true
	}
	var flags uint16
	if h.Response {
		flags |= 1 << 15
	}
	flags |= uint16(h.Opcode&0xF) << 11
	for _, f := range [...]struct {
		on  bool
		bit uint16
	}{{h.Authoritative, 10}, {h.Truncated, 9}, {h.RecursionDesired, 8}, {h.RecursionAvailable, 7}, {h.Zero, 6}, {h.AuthenticData, 5}, {h.CheckingDisabled, 4}} {
		if f.on {
			flags |= 1 << f.bit
		}
	}
	flags |= uint16(h.Rcode & 0xF)
	an, ns, ar := len(m.Answer), len(m.Authority), len(m.Additional)
	var tsig *RR
	if ar > 0 && m.Additional[ar-1].Type == TypeTSIG {
		tsig = &m.Additional[ar-1]
	}
	if !withRecords {
		an, ns = 0, 0
	}
	if !withAdditional {
		ar = 0
		if tsig != nil {
			ar = 1
		}
	}
	if m.EDNS != nil {
		ar++
	}
	b = binary.BigEndian.AppendUint16(b, h.ID)
	b = binary.BigEndian.AppendUint16(b, flags)
	b = binary.BigEndian.AppendUint16(b, uint16(len(m.Question)))
	b = binary.BigEndian.AppendUint16(b, uint16(an))
	b = binary.BigEndian.AppendUint16(b, uint16(ns))
	b = binary.BigEndian.AppendUint16(b, uint16(ar))
	var err error
	for i := range m.Question {
		q := &m.Question[i]
		if b, err = p.name(b, q.Name, true); err != nil {
			return b, err
		}
		b = binary.BigEndian.AppendUint16(b, uint16(q.Type))
		b = binary.BigEndian.AppendUint16(b, uint16(q.Class))
	}
	if withRecords {
		for i := range m.Answer {
			if b, err = p.rr(b, &m.Answer[i]); err != nil {
				return b, err
			}
		}
		for i := range m.Authority {
			if b, err = p.rr(b, &m.Authority[i]); err != nil {
				return b, err
			}
		}
	}
	if withAdditional {
		for i := range m.Additional {
			if &m.Additional[i] == tsig {
				break
			}
			if b, err = p.rr(b, &m.Additional[i]); err != nil {
				return b, err
			}
		}
	}
	if e := m.EDNS; e != nil {
		// RFC 6891 §6.1.2: root name, type OPT, class = UDP size, TTL =
		// extended rcode, version and flags.
		b = append(b, 0)
		b = binary.BigEndian.AppendUint16(b, uint16(TypeOPT))
		b = binary.BigEndian.AppendUint16(b, e.UDPSize)
		b = append(b, byte(h.Rcode>>4), e.Version)
		var fl uint16
		if e.DO {
			fl |= 1 << 15
		}
		b = binary.BigEndian.AppendUint16(b, fl)
		b = binary.BigEndian.AppendUint16(b, uint16(len(e.Options)))
		b = append(b, e.Options...)
	}
	if tsig != nil {
		if b, err = p.rr(b, tsig); err != nil {
			return b, err
		}
	}
	return b, nil
}

// rr writes one resource record.
func (p *packer) rr(b []byte, r *RR) ([]byte, error) {
	start := len(b)
	b, err := p.name(b, r.Name, true)
	if err != nil {
		return b, err
	}
	if r.Data == nil {
		return b[:start], errNoData
	}
	b = binary.BigEndian.AppendUint16(b, uint16(r.Type))
	b = binary.BigEndian.AppendUint16(b, uint16(r.Class))
	b = binary.BigEndian.AppendUint32(b, r.TTL)
	lenAt := len(b)
	b = append(b, 0, 0)
	pp := p
	if !compressible(r.Type) {
		pp = nil
	}
	if b, err = r.Data.appendWire(b, pp); err != nil {
		return b[:start], err
	}
	l := len(b) - lenAt - 2
	if l > 0xFFFF {
		return b[:start], ErrTooLarge
	}
	binary.BigEndian.PutUint16(b[lenAt:], uint16(l))
	return b, nil
}

// compressible reports whether names inside t's rdata may be compressed:
// only the types of RFC 1035 (RFC 3597 §4).
func compressible(t Type) bool {
	switch t {
	case TypeNS, TypeCNAME, TypePTR, TypeMX, TypeSOA:
		return true
	}
	return false
}
