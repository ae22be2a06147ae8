package dns

import (
	"encoding/binary"
)

// Unpack decodes a whole message into m, reusing m's slices. Every length is
// checked against the bytes present, compression pointers must point
// backwards (so a loop is impossible), and names and labels are held to
// their limits (RFC 1035 §2.3.4, §4.1.4). Counts that promise more records
// than the message holds give ErrShort.
func (m *Msg) Unpack(b []byte) error {
	if len(b) < HeaderLen {
		return ErrShort
	}
	m.unpackHeader(b)
	qd := int(binary.BigEndian.Uint16(b[4:]))
	an := int(binary.BigEndian.Uint16(b[6:]))
	ns := int(binary.BigEndian.Uint16(b[8:]))
	ar := int(binary.BigEndian.Uint16(b[10:]))
	m.Question = m.Question[:0]
	m.Answer, m.Authority, m.Additional = m.Answer[:0], m.Authority[:0], m.Additional[:0]
	m.EDNS = nil
	off := HeaderLen
	// Each question takes at least 5 bytes and each record 11: reject lying
	// counts before allocating for them.
	if qd*5+(an+ns+ar)*11 > len(b)-off {
		return ErrShort
	}
	for i := 0; i < qd; i++ {
		name, o, err := readName(b, off, len(b))
		if err != nil {
			return err
		}
		if len(b)-o < 4 {
			return ErrShort
		}
		m.Question = append(m.Question, Question{name, Type(binary.BigEndian.Uint16(b[o:])), Class(binary.BigEndian.Uint16(b[o+2:]))})
		off = o + 4
	}
	var err error
	if m.Answer, off, err = unpackRRs(b, off, an, m.Answer); err != nil {
		return err
	}
	if m.Authority, off, err = unpackRRs(b, off, ns, m.Authority); err != nil {
		return err
	}
	if m.Additional, off, err = unpackRRs(b, off, ar, m.Additional); err != nil {
		return err
	}
	if off != len(b) {
		return ErrTrailing
	}
	// Lift the OPT record out of the additional section (RFC 6891 §6.1.1).
	for i := 0; i < len(m.Additional); i++ {
		r := &m.Additional[i]
		if r.Type != TypeOPT {
			continue
		}
		if m.EDNS != nil || r.Name != "." {
			return ErrTwoOPT
		}
		u := r.Data.(*Unknown)
		m.EDNS = &EDNS{UDPSize: uint16(r.Class), extRcode: uint8(r.TTL >> 24), Version: uint8(r.TTL >> 16), DO: r.TTL&(1<<15) != 0, Options: u.Data}
		m.Rcode |= Rcode(m.EDNS.extRcode) << 4
		m.Additional = append(m.Additional[:i], m.Additional[i+1:]...)
		i--
	}
	return nil
}

func (m *Msg) unpackHeader(b []byte) {
	f := binary.BigEndian.Uint16(b[2:])
	m.Header = Header{
		ID:                 binary.BigEndian.Uint16(b),
		Response:           f&(1<<15) != 0,
		Opcode:             Opcode(f>>11) & 0xF,
		Authoritative:      f&(1<<10) != 0,
		Truncated:          f&(1<<9) != 0,
		RecursionDesired:   f&(1<<8) != 0,
		RecursionAvailable: f&(1<<7) != 0,
		Zero:               f&(1<<6) != 0,
		AuthenticData:      f&(1<<5) != 0,
		CheckingDisabled:   f&(1<<4) != 0,
		Rcode:              Rcode(f & 0xF),
	}
}

// UnpackHeader decodes only the header of b, so that a server can answer
// FORMERR to a message whose body it cannot read.
func UnpackHeader(b []byte) (Header, bool) {
	if len(b) < HeaderLen {
		return Header{}, false
	}
	var m Msg
	m.unpackHeader(b)
	return m.Header, true
}

func unpackRRs(b []byte, off, n int, dst []RR) ([]RR, int, error) {
	for i := 0; i < n; i++ {
		name, o, err := readName(b, off, len(b))
		if err != nil {
			return dst, off, err
		}
		if len(b)-o < 10 {
			return dst, off, ErrShort
		}
		r := RR{Name: name, Type: Type(binary.BigEndian.Uint16(b[o:])), Class: Class(binary.BigEndian.Uint16(b[o+2:])), TTL: binary.BigEndian.Uint32(b[o+4:])}
		l := int(binary.BigEndian.Uint16(b[o+8:]))
		o += 10
		if len(b)-o < l {
			return dst, off, ErrShort
		}
		if r.Type == TypeOPT {
			r.Data = &Unknown{append([]byte(nil), b[o:o+l]...)}
		} else if l == 0 && (r.Class == ClassANY || r.Class == ClassNONE) {
			// RFC 2136 §2.5.2, §2.4: an UPDATE's delete forms carry no rdata.
			r.Data = &Unknown{}
		} else if r.Data, err = unpackRData(b, o, o+l, r.Type); err != nil {
			return dst, off, err
		}
		dst = append(dst, r)
		off = o + l
	}
	return dst, off, nil
}

// readName reads a possibly compressed name at b[off:], not reading past
// end for its in-line part, and returns it in presentation form and the
// offset after it. A pointer must point before the label that holds it, so
// every jump goes strictly backwards and the walk ends.
func readName(b []byte, off, end int) (string, int, error) {
	var buf [MaxNameLen + 64]byte
	out := buf[:0]
	wire := 0 // wire length so far, the final zero included at the end
	next := -1
	limit := end
	for {
		if off >= limit {
			return "", 0, ErrShort
		}
		c := int(b[off])
		switch c & 0xC0 {
		case 0x00:
			if c == 0 {
				if next < 0 {
					next = off + 1
				}
				if len(out) == 0 {
					return ".", next, nil
				}
				return string(out), next, nil
			}
			if off+1+c > limit {
				return "", 0, ErrShort
			}
			wire += 1 + c
			if wire+1 > MaxNameLen {
				return "", 0, errNameLen
			}
			out = appendLabelText(out, b[off+1:off+1+c])
			out = append(out, '.')
			off += 1 + c
		case 0xC0:
			if off+2 > limit {
				return "", 0, ErrShort
			}
			ptr := int(binary.BigEndian.Uint16(b[off:]) & 0x3FFF)
			if ptr >= off {
				return "", 0, ErrPointer
			}
			if next < 0 {
				next = off + 2
			}
			// Once we follow a pointer, the name may continue anywhere
			// before it in the message.
			limit = off
			off = ptr
		default:
			return "", 0, ErrLabelType
		}
	}
}
