package dns

import (
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"strconv"
)

// RData is the typed value of a resource record. The concrete types are
// *A, *AAAA, *NS, *CNAME, *PTR, *MX, *SOA, *TXT, *SRV, *TSIG and *Unknown.
type RData interface {
	// appendWire appends the wire form; names are compressed through p when
	// p is not nil and the type allows it (RFC 3597 §4).
	appendWire(b []byte, p *packer) ([]byte, error)
	// String returns the presentation form used in zone files and by dig.
	String() string
}

// Target returns the domain name d points to: an NS or MX host, a CNAME,
// PTR or SRV target, an SOA's primary server; "" for other types. It is
// what additional-section processing looks up and what a zone check reads
// for a name missing its trailing dot.
func Target(d RData) string {
	switch d := d.(type) {
	case *NS:
		return d.Host
	case *CNAME:
		return d.Target
	case *PTR:
		return d.Target
	case *MX:
		return d.Host
	case *SRV:
		return d.Target
	case *SOA:
		return d.MName
	}
	return ""
}

// A is an IPv4 address (RFC 1035 §3.4.1).
type A struct{ Addr netip.Addr }

// AAAA is an IPv6 address (RFC 3596 §2.2).
type AAAA struct{ Addr netip.Addr }

// NS names an authoritative name server (RFC 1035 §3.3.11).
type NS struct{ Host string }

// CNAME names the canonical name of an alias (RFC 1035 §3.3.1).
type CNAME struct{ Target string }

// PTR points to another name, for reverse look-ups (RFC 1035 §3.3.12).
type PTR struct{ Target string }

// MX names a mail exchanger and its preference (RFC 1035 §3.3.9).
type MX struct {
	Pref uint16
	Host string
}

// SOA marks the start of a zone of authority (RFC 1035 §3.3.13).
type SOA struct {
	MName, RName                            string
	Serial, Refresh, Retry, Expire, Minimum uint32
}

// TXT holds one or more character strings (RFC 1035 §3.3.14).
type TXT struct{ Strings []string }

// SRV locates a service (RFC 2782). Its target is never compressed.
type SRV struct {
	Priority, Weight, Port uint16
	Target                 string
}

// Unknown carries the data of any other type as it came (RFC 3597).
type Unknown struct{ Data []byte }

func (r *A) appendWire(b []byte, _ *packer) ([]byte, error) {
	if !r.Addr.Is4() {
		return b, errBadAddr
	}
	a := r.Addr.As4()
	return append(b, a[:]...), nil
}

func (r *AAAA) appendWire(b []byte, _ *packer) ([]byte, error) {
	if !r.Addr.Is6() {
		return b, errBadAddr
	}
	a := r.Addr.As16()
	return append(b, a[:]...), nil
}

func (r *NS) appendWire(b []byte, p *packer) ([]byte, error)    { return p.name(b, r.Host, true) }
func (r *CNAME) appendWire(b []byte, p *packer) ([]byte, error) { return p.name(b, r.Target, true) }
func (r *PTR) appendWire(b []byte, p *packer) ([]byte, error)   { return p.name(b, r.Target, true) }

func (r *MX) appendWire(b []byte, p *packer) ([]byte, error) {
	b = binary.BigEndian.AppendUint16(b, r.Pref)
	return p.name(b, r.Host, true)
}

func (r *SOA) appendWire(b []byte, p *packer) ([]byte, error) {
	b, err := p.name(b, r.MName, true)
	if err != nil {
		return b, err
	}
	if b, err = p.name(b, r.RName, true); err != nil {
		return b, err
	}
	for _, v := range [5]uint32{r.Serial, r.Refresh, r.Retry, r.Expire, r.Minimum} {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	return b, nil
}

func (r *TXT) appendWire(b []byte, _ *packer) ([]byte, error) {
	if len(r.Strings) == 0 {
		return append(b, 0), nil // one empty string: RDATA may not be empty
	}
	for _, s := range r.Strings {
		if len(s) > 255 {
			return b, errStringLen
		}
		b = append(b, byte(len(s)))
		b = append(b, s...)
	}
	return b, nil
}

func (r *SRV) appendWire(b []byte, p *packer) ([]byte, error) {
	b = binary.BigEndian.AppendUint16(b, r.Priority)
	b = binary.BigEndian.AppendUint16(b, r.Weight)
	b = binary.BigEndian.AppendUint16(b, r.Port)
	return p.name(b, r.Target, false)
}

func (r *Unknown) appendWire(b []byte, _ *packer) ([]byte, error) { return append(b, r.Data...), nil }

func (r *A) String() string     { return r.Addr.String() }
func (r *AAAA) String() string  { return r.Addr.String() }
func (r *NS) String() string    { return r.Host }
func (r *CNAME) String() string { return r.Target }
func (r *PTR) String() string   { return r.Target }
func (r *MX) String() string    { return strconv.Itoa(int(r.Pref)) + " " + r.Host }
func (r *SOA) String() string {
	b := []byte(r.MName + " " + r.RName)
	for _, v := range [5]uint32{r.Serial, r.Refresh, r.Retry, r.Expire, r.Minimum} {
		b = append(b, ' ')
		b = strconv.AppendUint(b, uint64(v), 10)
	}
	return string(b)
}
func (r *TXT) String() string {
	var b []byte
	for i, s := range r.Strings {
		if i > 0 {
			b = append(b, ' ')
		}
		b = appendQuoted(b, s)
	}
	if len(r.Strings) == 0 {
		b = append(b, `""`...)
	}
	return string(b)
}
func (r *SRV) String() string {
	return strconv.Itoa(int(r.Priority)) + " " + strconv.Itoa(int(r.Weight)) + " " + strconv.Itoa(int(r.Port)) + " " + r.Target
}

// String uses the generic form of RFC 3597 §5: \# length hex.
func (r *Unknown) String() string {
	s := `\# ` + strconv.Itoa(len(r.Data))
	if len(r.Data) > 0 {
		s += " " + hex.EncodeToString(r.Data)
	}
	return s
}

// appendQuoted writes a character-string in double quotes, escaping quotes,
// backslashes and unprintable bytes (RFC 1035 §5.1).
func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c > 0x7e:
			b = append(b, '\\', '0'+c/100, '0'+c/10%10, '0'+c%10)
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// unpackRData decodes the rdata of type t at msg[off:end].
func unpackRData(msg []byte, off, end int, t Type) (RData, error) {
	d := msg[off:end]
	switch t {
	case TypeA:
		if len(d) != 4 {
			return nil, ErrRDataLength
		}
		return &A{netip.AddrFrom4([4]byte(d))}, nil
	case TypeAAAA:
		if len(d) != 16 {
			return nil, ErrRDataLength
		}
		return &AAAA{netip.AddrFrom16([16]byte(d))}, nil
	case TypeNS, TypeCNAME, TypePTR:
		n, o, err := readName(msg, off, end)
		if err != nil {
			return nil, err
		}
		if o != end {
			return nil, ErrRDataLength
		}
		switch t {
		case TypeNS:
			return &NS{n}, nil
		case TypeCNAME:
			return &CNAME{n}, nil
		}
		return &PTR{n}, nil
	case TypeMX:
		if len(d) < 3 {
			return nil, ErrRDataLength
		}
		n, o, err := readName(msg, off+2, end)
		if err != nil {
			return nil, err
		}
		if o != end {
			return nil, ErrRDataLength
		}
		return &MX{binary.BigEndian.Uint16(d), n}, nil
	case TypeSOA:
		m, o, err := readName(msg, off, end)
		if err != nil {
			return nil, err
		}
		r, o, err := readName(msg, o, end)
		if err != nil {
			return nil, err
		}
		if end-o != 20 {
			return nil, ErrRDataLength
		}
		u := func(i int) uint32 { return binary.BigEndian.Uint32(msg[o+4*i:]) }
		return &SOA{m, r, u(0), u(1), u(2), u(3), u(4)}, nil
	case TypeTXT:
		if len(d) == 0 {
			return nil, ErrRDataLength
		}
		var ss []string
		for len(d) > 0 {
			l := int(d[0])
			if 1+l > len(d) {
				return nil, ErrRDataLength
			}
			ss = append(ss, string(d[1:1+l]))
			d = d[1+l:]
		}
		return &TXT{ss}, nil
	case TypeSRV:
		if len(d) < 7 {
			return nil, ErrRDataLength
		}
		n, o, err := readName(msg, off+6, end)
		if err != nil {
			return nil, err
		}
		if o != end {
			return nil, ErrRDataLength
		}
		return &SRV{binary.BigEndian.Uint16(d), binary.BigEndian.Uint16(d[2:]), binary.BigEndian.Uint16(d[4:]), n}, nil
	case TypeTSIG:
		return unpackTSIG(msg, off, end)
	}
	if r, ok, err := unpackDNSSEC(msg, off, end, t); ok {
		return r, err
	}
	return &Unknown{append([]byte(nil), d...)}, nil
}

// UnpackRData decodes uncompressed rdata of type t, such as the generic
// form of RFC 3597 §5 read from a zone file.
func UnpackRData(t Type, b []byte) (RData, error) {
	return unpackRData(b, 0, len(b), t)
}
