package dns

import (
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The DNSSEC record types (RFC 4034, RFC 5155, RFC 7344). TypeDS is in
// types.go with the others.
const (
	TypeRRSIG      Type = 46
	TypeNSEC       Type = 47
	TypeDNSKEY     Type = 48
	TypeNSEC3      Type = 50
	TypeNSEC3PARAM Type = 51
	TypeCDS        Type = 59
	TypeCDNSKEY    Type = 60
)

func init() {
	for t, n := range map[Type]string{TypeNSEC3PARAM: "NSEC3PARAM", TypeCDS: "CDS", TypeCDNSKEY: "CDNSKEY"} {
		typeNames[t] = n
		typeByName[n] = t
	}
}

// DNSKEY flags (RFC 4034 §2.1.1, RFC 5011 §7).
const (
	FlagZone   = 0x0100 // a zone key: may sign RRsets
	FlagRevoke = 0x0080
	FlagSEP    = 0x0001 // secure entry point: a KSK
)

// DNSKEY is a zone's public key (RFC 4034 §2); CDNSKEY (RFC 7344) has the
// same form, and a *DNSKEY with Child set is that record.
type DNSKEY struct {
	Flags     uint16
	Protocol  uint8 // always 3
	Algorithm uint8
	PublicKey []byte
	Child     bool // CDNSKEY rather than DNSKEY (presentation only)
}

// DS is the digest of a child's DNSKEY held by the parent (RFC 4034 §5);
// CDS (RFC 7344) has the same form.
type DS struct {
	KeyTag     uint16
	Algorithm  uint8
	DigestType uint8
	Digest     []byte
}

// RRSIG is a signature over one RRset (RFC 4034 §3).
type RRSIG struct {
	TypeCovered Type
	Algorithm   uint8
	Labels      uint8
	OrigTTL     uint32
	Expiration  uint32 // seconds since 1970, serial arithmetic (RFC 1982)
	Inception   uint32
	KeyTag      uint16
	SignerName  string
	Signature   []byte
}

// NSEC names the next owner in the zone's canonical order and the types at
// its owner (RFC 4034 §4).
type NSEC struct {
	NextDomain string
	Types      []Type // ascending
}

// NSEC3 is the hashed form of NSEC (RFC 5155 §3). NextHashed is the raw
// hash (base32hex in presentation).
type NSEC3 struct {
	Hash       uint8
	Flags      uint8 // bit 0: opt-out
	Iterations uint16
	Salt       []byte
	NextHashed []byte
	Types      []Type
}

// NSEC3PARAM gives the parameters authoritative servers use to find the
// NSEC3 records of a zone (RFC 5155 §4).
type NSEC3PARAM struct {
	Hash       uint8
	Flags      uint8
	Iterations uint16
	Salt       []byte
}

// Limits on what a stranger's record can make us hold.
const maxTypeBitmap = 32 * (2 + 32) // every window present

var (
	errBitmap = errors.New("dns: bad type bitmap")
	errField  = errors.New("dns: bad field in DNSSEC record")
)

// Base32Hex is the encoding of NSEC3 hashes in presentation form (RFC 4648
// §7 without padding, RFC 5155 §3.3), lowercase as zone files print it.
var Base32Hex = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

func (r *DNSKEY) appendWire(b []byte, _ *packer) ([]byte, error) {
	b = binary.BigEndian.AppendUint16(b, r.Flags)
	b = append(b, r.Protocol, r.Algorithm)
	return append(b, r.PublicKey...), nil
}

func (r *DS) appendWire(b []byte, _ *packer) ([]byte, error) {
	b = binary.BigEndian.AppendUint16(b, r.KeyTag)
	b = append(b, r.Algorithm, r.DigestType)
	return append(b, r.Digest...), nil
}

func (r *RRSIG) appendWire(b []byte, _ *packer) ([]byte, error) {
	b = r.AppendSignedData(b)
	return append(b, r.Signature...), nil
}

// AppendSignedData appends the RRSIG rdata without the signature, in
// canonical form: the first part of what is signed (RFC 4034 §3.1.8.1).
func (r *RRSIG) AppendSignedData(b []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(r.TypeCovered))
	b = append(b, r.Algorithm, r.Labels)
	b = binary.BigEndian.AppendUint32(b, r.OrigTTL)
	b = binary.BigEndian.AppendUint32(b, r.Expiration)
	b = binary.BigEndian.AppendUint32(b, r.Inception)
	b = binary.BigEndian.AppendUint16(b, r.KeyTag)
	nb, err := appendNameWire(b, lowerASCII(r.SignerName))
	if err != nil {
		return append(b, 0)
	}
	return nb
}

func (r *NSEC) appendWire(b []byte, _ *packer) ([]byte, error) {
	b, err := appendNameWire(b, r.NextDomain)
	if err != nil {
		return b, err
	}
	return AppendTypeBitmap(b, r.Types), nil
}

func (r *NSEC3) appendWire(b []byte, _ *packer) ([]byte, error) {
	if len(r.Salt) > 255 || len(r.NextHashed) > 255 {
		return b, errStringLen
	}
	b = append(b, r.Hash, r.Flags)
	b = binary.BigEndian.AppendUint16(b, r.Iterations)
	b = append(b, byte(len(r.Salt)))
	b = append(b, r.Salt...)
	b = append(b, byte(len(r.NextHashed)))
	b = append(b, r.NextHashed...)
	return AppendTypeBitmap(b, r.Types), nil
}

func (r *NSEC3PARAM) appendWire(b []byte, _ *packer) ([]byte, error) {
	if len(r.Salt) > 255 {
		return b, errStringLen
	}
	b = append(b, r.Hash, r.Flags)
	b = binary.BigEndian.AppendUint16(b, r.Iterations)
	b = append(b, byte(len(r.Salt)))
	return append(b, r.Salt...), nil
}

// AppendTypeBitmap appends the type bitmap of RFC 4034 §4.1.2: windows of
// 256 types, each with only the octets it needs.
func AppendTypeBitmap(b []byte, types []Type) []byte {
	ts := append([]Type(nil), types...)
	sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
	for i := 0; i < len(ts); {
		win := byte(ts[i] >> 8)
		var bits [32]byte
		n := 0
		for ; i < len(ts) && byte(ts[i]>>8) == win; i++ {
			lo := byte(ts[i])
			bits[lo/8] |= 0x80 >> (lo % 8)
			n = int(lo/8) + 1
		}
		b = append(b, win, byte(n))
		b = append(b, bits[:n]...)
	}
	return b
}

// ParseTypeBitmap reads a type bitmap: windows in ascending order, each of
// 1 to 32 octets (RFC 4034 §4.1.2).
func ParseTypeBitmap(d []byte) ([]Type, error) {
	if len(d) > maxTypeBitmap {
		return nil, errBitmap
	}
	var out []Type
	last := -1
	for len(d) > 0 {
		if len(d) < 2 {
			return nil, errBitmap
		}
		win, n := int(d[0]), int(d[1])
		if win <= last || n < 1 || n > 32 || len(d) < 2+n {
			return nil, errBitmap
		}
		last = win
		for i, c := range d[2 : 2+n] {
			for bit := 0; bit < 8; bit++ {
				if c&(0x80>>bit) != 0 {
					out = append(out, Type(win<<8|i*8+bit))
				}
			}
		}
		d = d[2+n:]
	}
	return out, nil
}

// HasType reports whether t is among ts.
func HasType(ts []Type, t Type) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}

func unpackDNSSEC(msg []byte, off, end int, t Type) (RData, bool, error) {
	d := msg[off:end]
	switch t {
	case TypeDNSKEY, TypeCDNSKEY:
		if len(d) < 4 {
			return nil, true, ErrRDataLength
		}
		return &DNSKEY{binary.BigEndian.Uint16(d), d[2], d[3], append([]byte(nil), d[4:]...), t == TypeCDNSKEY}, true, nil
	case TypeDS, TypeCDS:
		if len(d) < 4 {
			return nil, true, ErrRDataLength
		}
		return &DS{binary.BigEndian.Uint16(d), d[2], d[3], append([]byte(nil), d[4:]...)}, true, nil
	case TypeRRSIG:
		if len(d) < 19 {
			return nil, true, ErrRDataLength
		}
		n, o, err := readName(msg, off+18, end)
		if err != nil {
			return nil, true, err
		}
		return &RRSIG{
			TypeCovered: Type(binary.BigEndian.Uint16(d)), Algorithm: d[2], Labels: d[3],
			OrigTTL: binary.BigEndian.Uint32(d[4:]), Expiration: binary.BigEndian.Uint32(d[8:]),
			Inception: binary.BigEndian.Uint32(d[12:]), KeyTag: binary.BigEndian.Uint16(d[16:]),
			SignerName: n, Signature: append([]byte(nil), msg[o:end]...),
		}, true, nil
	case TypeNSEC:
		n, o, err := readName(msg, off, end)
		if err != nil {
			return nil, true, err
		}
		ts, err := ParseTypeBitmap(msg[o:end])
		if err != nil {
			return nil, true, err
		}
		return &NSEC{n, ts}, true, nil
	case TypeNSEC3, TypeNSEC3PARAM:
		if len(d) < 5 {
			return nil, true, ErrRDataLength
		}
		r := &NSEC3{Hash: d[0], Flags: d[1], Iterations: binary.BigEndian.Uint16(d[2:])}
		sl := int(d[4])
		if len(d) < 5+sl {
			return nil, true, ErrRDataLength
		}
		r.Salt = append([]byte(nil), d[5:5+sl]...)
		rest := d[5+sl:]
		if t == TypeNSEC3PARAM {
			if len(rest) != 0 {
				return nil, true, ErrRDataLength
			}
			return &NSEC3PARAM{r.Hash, r.Flags, r.Iterations, r.Salt}, true, nil
		}
		if len(rest) < 1 || len(rest) < 1+int(rest[0]) || rest[0] == 0 {
			return nil, true, ErrRDataLength
		}
		r.NextHashed = append([]byte(nil), rest[1:1+rest[0]]...)
		ts, err := ParseTypeBitmap(rest[1+rest[0]:])
		if err != nil {
			return nil, true, err
		}
		r.Types = ts
		return r, true, nil
	}
	return nil, false, nil
}

func (r *DNSKEY) String() string {
	return strconv.Itoa(int(r.Flags)) + " " + strconv.Itoa(int(r.Protocol)) + " " + strconv.Itoa(int(r.Algorithm)) + " " + base64.StdEncoding.EncodeToString(r.PublicKey)
}

func (r *DS) String() string {
	return strconv.Itoa(int(r.KeyTag)) + " " + strconv.Itoa(int(r.Algorithm)) + " " + strconv.Itoa(int(r.DigestType)) + " " + strings.ToUpper(hex.EncodeToString(r.Digest))
}

func (r *RRSIG) String() string {
	return r.TypeCovered.String() + " " + strconv.Itoa(int(r.Algorithm)) + " " + strconv.Itoa(int(r.Labels)) + " " +
		strconv.FormatUint(uint64(r.OrigTTL), 10) + " " + SigTime(r.Expiration) + " " + SigTime(r.Inception) + " " +
		strconv.Itoa(int(r.KeyTag)) + " " + r.SignerName + " " + base64.StdEncoding.EncodeToString(r.Signature)
}

func typeList(ts []Type) string {
	var b strings.Builder
	for _, t := range ts {
		b.WriteByte(' ')
		b.WriteString(t.String())
	}
	return b.String()
}

func (r *NSEC) String() string { return r.NextDomain + typeList(r.Types) }

func saltString(s []byte) string {
	if len(s) == 0 {
		return "-"
	}
	return strings.ToUpper(hex.EncodeToString(s))
}

func (r *NSEC3) String() string {
	return strconv.Itoa(int(r.Hash)) + " " + strconv.Itoa(int(r.Flags)) + " " + strconv.Itoa(int(r.Iterations)) + " " +
		saltString(r.Salt) + " " + strings.ToUpper(Base32Hex.EncodeToString(r.NextHashed)) + typeList(r.Types)
}

func (r *NSEC3PARAM) String() string {
	return strconv.Itoa(int(r.Hash)) + " " + strconv.Itoa(int(r.Flags)) + " " + strconv.Itoa(int(r.Iterations)) + " " + saltString(r.Salt)
}

// SigTime prints a signature time as YYYYMMDDHHmmSS in UTC (RFC 4034
// §3.2), the time nearest now that the 32-bit value can stand for.
func SigTime(t uint32) string {
	return SigTimeToTime(t, time.Now()).UTC().Format("20060102150405")
}

// SigTimeToTime resolves a 32-bit signature time to the instant within 68
// years of now that it names (serial arithmetic, RFC 1982 / RFC 4034
// §3.1.5).
func SigTimeToTime(t uint32, now time.Time) time.Time {
	n := now.Unix()
	d := int64(int32(t - uint32(n)))
	return time.Unix(n+d, 0)
}

// ParseSigTime reads YYYYMMDDHHmmSS or a plain number of seconds.
func ParseSigTime(s string) (uint32, error) {
	if len(s) == 14 {
		t, err := time.Parse("20060102150405", s)
		if err != nil {
			return 0, err
		}
		return uint32(t.Unix()), nil
	}
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, errors.New("bad signature time " + s)
	}
	return uint32(v), nil
}

// ParseDNSSECRData reads the presentation form of the DNSSEC types from
// fields (already split and unquoted); name makes a domain name absolute.
// ok is false for any other type.
func ParseDNSSECRData(t Type, fields []string, name func(string) (string, error)) (d RData, ok bool, err error) {
	num := func(s string, bits int) (uint64, error) {
		v, err := strconv.ParseUint(s, 10, bits)
		if err != nil {
			return 0, errors.New("bad number " + s)
		}
		return v, nil
	}
	need := func(n int) error {
		if len(fields) < n {
			return errors.New("want at least " + strconv.Itoa(n) + " fields, have " + strconv.Itoa(len(fields)))
		}
		return nil
	}
	alg := func(s string) (uint8, error) {
		if v, err := strconv.ParseUint(s, 10, 8); err == nil {
			return uint8(v), nil
		}
		switch strings.ToUpper(s) {
		case "ECDSAP256SHA256":
			return 13, nil
		case "ECDSAP384SHA384":
			return 14, nil
		case "ED25519":
			return 15, nil
		case "RSASHA256":
			return 8, nil
		}
		return 0, errors.New("bad algorithm " + s)
	}
	types := func(fs []string) ([]Type, error) {
		var ts []Type
		for _, f := range fs {
			x, ok := ParseType(f)
			if !ok {
				return nil, errors.New("unknown type " + f)
			}
			ts = append(ts, x)
		}
		sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
		return ts, nil
	}
	salt := func(s string) ([]byte, error) {
		if s == "-" {
			return nil, nil
		}
		b, err := hex.DecodeString(s)
		if err != nil || len(b) > 255 {
			return nil, errors.New("bad salt " + s)
		}
		return b, nil
	}
	switch t {
	case TypeDNSKEY, TypeCDNSKEY:
		if err := need(4); err != nil {
			return nil, true, err
		}
		f, err := num(fields[0], 16)
		if err != nil {
			return nil, true, err
		}
		p, err := num(fields[1], 8)
		if err != nil {
			return nil, true, err
		}
		a, err := alg(fields[2])
		if err != nil {
			return nil, true, err
		}
		k, err := base64.StdEncoding.DecodeString(strings.Join(fields[3:], ""))
		if err != nil {
			return nil, true, errors.New("bad base64 key")
		}
		return &DNSKEY{uint16(f), uint8(p), a, k, t == TypeCDNSKEY}, true, nil
	case TypeDS, TypeCDS:
		if err := need(4); err != nil {
			return nil, true, err
		}
		tag, err := num(fields[0], 16)
		if err != nil {
			return nil, true, err
		}
		a, err := alg(fields[1])
		if err != nil {
			return nil, true, err
		}
		dt, err := num(fields[2], 8)
		if err != nil {
			return nil, true, err
		}
		dg, err := hex.DecodeString(strings.Join(fields[3:], ""))
		if err != nil {
			return nil, true, errors.New("bad hex digest")
		}
		return &DS{uint16(tag), a, uint8(dt), dg}, true, nil
	case TypeRRSIG:
		if err := need(9); err != nil {
			return nil, true, err
		}
		r := &RRSIG{}
		tc, ok := ParseType(fields[0])
		if !ok {
			return nil, true, errors.New("unknown type " + fields[0])
		}
		r.TypeCovered = tc
		if r.Algorithm, err = alg(fields[1]); err != nil {
			return nil, true, err
		}
		var v uint64
		if v, err = num(fields[2], 8); err != nil {
			return nil, true, err
		}
		r.Labels = uint8(v)
		if v, err = num(fields[3], 32); err != nil {
			return nil, true, err
		}
		r.OrigTTL = uint32(v)
		if r.Expiration, err = ParseSigTime(fields[4]); err != nil {
			return nil, true, err
		}
		if r.Inception, err = ParseSigTime(fields[5]); err != nil {
			return nil, true, err
		}
		if v, err = num(fields[6], 16); err != nil {
			return nil, true, err
		}
		r.KeyTag = uint16(v)
		if r.SignerName, err = name(fields[7]); err != nil {
			return nil, true, err
		}
		if r.Signature, err = base64.StdEncoding.DecodeString(strings.Join(fields[8:], "")); err != nil {
			return nil, true, errors.New("bad base64 signature")
		}
		return r, true, nil
	case TypeNSEC:
		if err := need(1); err != nil {
			return nil, true, err
		}
		n, err := name(fields[0])
		if err != nil {
			return nil, true, err
		}
		ts, err := types(fields[1:])
		if err != nil {
			return nil, true, err
		}
		return &NSEC{n, ts}, true, nil
	case TypeNSEC3, TypeNSEC3PARAM:
		if err := need(4); err != nil {
			return nil, true, err
		}
		var v [3]uint64
		for i, bits := range [3]int{8, 8, 16} {
			if v[i], err = num(fields[i], bits); err != nil {
				return nil, true, err
			}
		}
		s, err := salt(fields[3])
		if err != nil {
			return nil, true, err
		}
		if t == TypeNSEC3PARAM {
			if len(fields) != 4 {
				return nil, true, errField
			}
			return &NSEC3PARAM{uint8(v[0]), uint8(v[1]), uint16(v[2]), s}, true, nil
		}
		if err := need(5); err != nil {
			return nil, true, err
		}
		h, err := Base32Hex.DecodeString(strings.ToLower(fields[4]))
		if err != nil || len(h) == 0 || len(h) > 255 {
			return nil, true, errors.New("bad next hashed owner " + fields[4])
		}
		ts, err := types(fields[5:])
		if err != nil {
			return nil, true, err
		}
		return &NSEC3{uint8(v[0]), uint8(v[1]), uint16(v[2]), s, h, ts}, true, nil
	}
	return nil, false, nil
}

// CanonicalRData returns the rdata of d in the canonical form of RFC 4034
// §6.2 (uncompressed; the names inside NS, CNAME, PTR, MX, SOA, SRV and
// RRSIG lowercased, as amended by RFC 6840 §5.1), appended to b.
func CanonicalRData(b []byte, d RData) ([]byte, error) {
	switch r := d.(type) {
	case *NS:
		return appendNameWire(b, lowerASCII(r.Host))
	case *CNAME:
		return appendNameWire(b, lowerASCII(r.Target))
	case *PTR:
		return appendNameWire(b, lowerASCII(r.Target))
	case *MX:
		return (&MX{r.Pref, lowerASCII(r.Host)}).appendWire(b, nil)
	case *SRV:
		return (&SRV{r.Priority, r.Weight, r.Port, lowerASCII(r.Target)}).appendWire(b, nil)
	case *SOA:
		c := *r
		c.MName, c.RName = lowerASCII(r.MName), lowerASCII(r.RName)
		return c.appendWire(b, nil)
	}
	return d.appendWire(b, nil)
}

// AppendNameWire appends name uncompressed in wire form, as it is written
// (no case change).
func AppendNameWire(b []byte, name string) ([]byte, error) { return appendNameWire(b, name) }

// CompareNames orders names canonically (RFC 4034 §6.1): by their labels
// from the root down, each compared as lowercase octets. It returns -1, 0
// or 1.
func CompareNames(a, b string) int {
	la, lb := wireLabels(a), wireLabels(b)
	for i := 1; i <= len(la) && i <= len(lb); i++ {
		if c := strings.Compare(la[len(la)-i], lb[len(lb)-i]); c != 0 {
			return c
		}
	}
	switch {
	case len(la) < len(lb):
		return -1
	case len(la) > len(lb):
		return 1
	}
	return 0
}

// wireLabels returns the labels of name as lowercase raw octets (escapes
// resolved).
func wireLabels(name string) []string {
	w, err := appendNameWire(nil, lowerASCII(Fqdn(name)))
	if err != nil {
		return Labels(lowerASCII(name))
	}
	var out []string
	for len(w) > 0 && w[0] != 0 {
		l := int(w[0])
		if 1+l > len(w) {
			break
		}
		out = append(out, string(w[1:1+l]))
		w = w[1+l:]
	}
	return out
}
