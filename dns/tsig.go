package dns

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
	"time"
)

// TSIG is a transaction signature (RFC 8945 §4.2). It is always the last
// record of the additional section, with class ANY and TTL 0.
type TSIG struct {
	Algorithm  string
	TimeSigned uint64 // seconds since the epoch, 48 bits on the wire
	Fudge      uint16
	MAC        []byte
	OrigID     uint16
	Error      Rcode
	OtherData  []byte
}

func (r *TSIG) appendWire(b []byte, p *packer) ([]byte, error) {
	b, err := p.name(b, r.Algorithm, false)
	if err != nil {
		return b, err
	}
	b = binary.BigEndian.AppendUint16(b, uint16(r.TimeSigned>>32))
	b = binary.BigEndian.AppendUint32(b, uint32(r.TimeSigned))
	b = binary.BigEndian.AppendUint16(b, r.Fudge)
	b = binary.BigEndian.AppendUint16(b, uint16(len(r.MAC)))
	b = append(b, r.MAC...)
	b = binary.BigEndian.AppendUint16(b, r.OrigID)
	b = binary.BigEndian.AppendUint16(b, uint16(r.Error))
	b = binary.BigEndian.AppendUint16(b, uint16(len(r.OtherData)))
	return append(b, r.OtherData...), nil
}

func (r *TSIG) String() string {
	return r.Algorithm + " " + strconv.FormatUint(r.TimeSigned, 10) + " " + strconv.Itoa(int(r.Fudge)) + " " +
		strconv.Itoa(len(r.MAC)) + " " + base64.StdEncoding.EncodeToString(r.MAC) + " " +
		strconv.Itoa(int(r.OrigID)) + " " + r.Error.String() + " " + strconv.Itoa(len(r.OtherData))
}

func unpackTSIG(msg []byte, off, end int) (RData, error) {
	alg, o, err := readName(msg, off, end)
	if err != nil {
		return nil, err
	}
	if end-o < 10 {
		return nil, ErrRDataLength
	}
	r := &TSIG{Algorithm: alg}
	r.TimeSigned = uint64(binary.BigEndian.Uint16(msg[o:]))<<32 | uint64(binary.BigEndian.Uint32(msg[o+2:]))
	r.Fudge = binary.BigEndian.Uint16(msg[o+6:])
	ml := int(binary.BigEndian.Uint16(msg[o+8:]))
	o += 10
	if end-o < ml+6 {
		return nil, ErrRDataLength
	}
	r.MAC = append([]byte(nil), msg[o:o+ml]...)
	o += ml
	r.OrigID = binary.BigEndian.Uint16(msg[o:])
	r.Error = Rcode(binary.BigEndian.Uint16(msg[o+2:]))
	ol := int(binary.BigEndian.Uint16(msg[o+4:]))
	o += 6
	if end-o != ol {
		return nil, ErrRDataLength
	}
	r.OtherData = append([]byte(nil), msg[o:end]...)
	return r, nil
}

// HMACSHA256 is the TSIG algorithm applayer signs with (RFC 8945 §6).
const HMACSHA256 = "hmac-sha256."

// TSIGKey is a shared secret named as in `tsig-keygen` output.
type TSIGKey struct {
	Name   string // the key's name, e.g. "update-key."
	Secret []byte
}

// ParseTSIGKey reads NAME:SECRET, the secret in base64, optionally
// preceded by "hmac-sha256:" as nsupdate's -y takes it.
func ParseTSIGKey(s string) (*TSIGKey, error) {
	s = strings.TrimPrefix(s, "hmac-sha256:")
	name, secret, ok := strings.Cut(s, ":")
	if !ok || name == "" {
		return nil, errors.New("dns: TSIG key wants NAME:BASE64SECRET")
	}
	b, err := base64.StdEncoding.DecodeString(secret)
	if err != nil || len(b) == 0 {
		return nil, errors.New("dns: TSIG key secret is not base64")
	}
	if err := CheckName(name); err != nil {
		return nil, err
	}
	return &TSIGKey{Name: CanonicalName(name), Secret: b}, nil
}

// TSIG errors (RFC 8945 §5.2). They travel in the TSIG record's Error field
// of a NOTAUTH answer.
var (
	ErrBadKey  = errors.New("dns: TSIG key unknown")
	ErrBadSig  = errors.New("dns: TSIG signature does not verify")
	ErrBadTime = errors.New("dns: TSIG time outside the fudge window")
	ErrNoTSIG  = errors.New("dns: message is not signed")
)

// RcodeBadSig is BADSIG, carried in the TSIG record (it shares 16 with
// BADVERS, RFC 8945 §3).
const RcodeBadSig Rcode = 16

// tsigStart returns the offset of the last record of a message, where a
// TSIG record must be, by walking the message's sections.
func tsigStart(b []byte) (int, error) {
	if len(b) < HeaderLen {
		return 0, ErrShort
	}
	qd := int(binary.BigEndian.Uint16(b[4:]))
	rrs := int(binary.BigEndian.Uint16(b[6:])) + int(binary.BigEndian.Uint16(b[8:])) + int(binary.BigEndian.Uint16(b[10:]))
	if binary.BigEndian.Uint16(b[10:]) == 0 {
		// A TSIG record is the last of the additional section (RFC 8945
		// §5.1); one anywhere else signs nothing.
		return 0, ErrNoTSIG
	}
	off := HeaderLen
	for i := 0; i < qd; i++ {
		_, o, err := readName(b, off, len(b))
		if err != nil {
			return 0, err
		}
		off = o + 4
	}
	last := off
	for i := 0; i < rrs; i++ {
		last = off
		_, o, err := readName(b, off, len(b))
		if err != nil {
			return 0, err
		}
		if o+10 > len(b) {
			return 0, ErrShort
		}
		off = o + 10 + int(binary.BigEndian.Uint16(b[o+8:]))
	}
	return last, nil
}

// tsigVariables appends the TSIG variables of RFC 8945 §4.3.3 (or, with
// timersOnly, just the timers of §4.3.1 for later messages of a stream).
func tsigVariables(b []byte, keyName string, t *TSIG, timersOnly bool) []byte {
	if !timersOnly {
		b, _ = appendNameWire(b, CanonicalName(keyName))
		b = binary.BigEndian.AppendUint16(b, uint16(ClassANY))
		b = binary.BigEndian.AppendUint32(b, 0)
		b, _ = appendNameWire(b, CanonicalName(t.Algorithm))
	}
	b = binary.BigEndian.AppendUint16(b, uint16(t.TimeSigned>>32))
	b = binary.BigEndian.AppendUint32(b, uint32(t.TimeSigned))
	b = binary.BigEndian.AppendUint16(b, t.Fudge)
	if timersOnly {
		return b
	}
	b = binary.BigEndian.AppendUint16(b, uint16(t.Error))
	b = binary.BigEndian.AppendUint16(b, uint16(len(t.OtherData)))
	return append(b, t.OtherData...)
}

func tsigMAC(key *TSIGKey, prior []byte, msg []byte, vars []byte) []byte {
	h := hmac.New(sha256.New, key.Secret)
	if prior != nil {
		var l [2]byte
		binary.BigEndian.PutUint16(l[:], uint16(len(prior)))
		h.Write(l[:])
		h.Write(prior)
	}
	h.Write(msg)
	h.Write(vars)
	return h.Sum(nil)
}

// SignTSIG appends a TSIG record to the packed message wire and returns the
// signed message and its MAC. prior is the request's MAC when signing a
// response, or the previous message's MAC in a multi-message answer (then
// timersOnly is true for every message after the first, RFC 8945 §5.3.1).
func SignTSIG(wire []byte, key *TSIGKey, prior []byte, now time.Time, tsigErr Rcode, timersOnly bool) ([]byte, []byte, error) {
	if len(wire) < HeaderLen {
		return nil, nil, ErrShort
	}
	t := &TSIG{Algorithm: HMACSHA256, TimeSigned: uint64(now.Unix()), Fudge: 300, OrigID: binary.BigEndian.Uint16(wire), Error: tsigErr}
	if tsigErr == RcodeBadTime {
		// RFC 8945 §5.2.3: tell the client our time.
		t.OtherData = binary.BigEndian.AppendUint16(nil, uint16(t.TimeSigned>>32))
		t.OtherData = binary.BigEndian.AppendUint32(t.OtherData, uint32(t.TimeSigned))
	}
	t.MAC = tsigMAC(key, prior, wire, tsigVariables(nil, key.Name, t, timersOnly))
	var p packer
	out, err := p.rr(append([]byte(nil), wire...), &RR{Name: key.Name, Type: TypeTSIG, Class: ClassANY, TTL: 0, Data: t})
	if err != nil {
		return nil, nil, err
	}
	binary.BigEndian.PutUint16(out[10:], binary.BigEndian.Uint16(out[10:])+1)
	return out, t.MAC, nil
}

// VerifyTSIG checks the TSIG record that ends raw against keys (by key
// name). prior is the request's MAC when verifying a response. It returns
// the record and key; ErrNoTSIG when the message is not signed.
func VerifyTSIG(raw []byte, keys []*TSIGKey, prior []byte, now time.Time) (*TSIG, *TSIGKey, error) {
	start, err := tsigStart(raw)
	if err != nil {
		return nil, nil, err
	}
	var one Msg
	rrs, _, err := unpackRRs(raw, start, 1, one.Additional)
	if err != nil {
		return nil, nil, err
	}
	if rrs[0].Type != TypeTSIG {
		return nil, nil, ErrNoTSIG
	}
	t, ok := rrs[0].Data.(*TSIG)
	if !ok {
		// A TSIG record without data (class ANY, RDLENGTH 0) signs nothing.
		return nil, nil, ErrBadSig
	}
	var key *TSIGKey
	for _, k := range keys {
		if EqualNames(k.Name, rrs[0].Name) {
			key = k
		}
	}
	if key == nil || !EqualNames(t.Algorithm, HMACSHA256) {
		return t, nil, ErrBadKey
	}
	// The MAC covers the message as it was before the TSIG was added:
	// ARCOUNT one less and the original ID (RFC 8945 §4.3.2).
	msg := append([]byte(nil), raw[:start]...)
	binary.BigEndian.PutUint16(msg, t.OrigID)
	binary.BigEndian.PutUint16(msg[10:], binary.BigEndian.Uint16(msg[10:])-1)
	want := tsigMAC(key, prior, msg, tsigVariables(nil, rrs[0].Name, t, false))
	if !hmac.Equal(want, t.MAC) {
		return t, key, ErrBadSig
	}
	d := now.Unix() - int64(t.TimeSigned)
	if d < -int64(t.Fudge) || d > int64(t.Fudge) {
		return t, key, ErrBadTime
	}
	return t, key, nil
}
