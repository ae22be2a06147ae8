package dns

import (
	"encoding/base64"
	"encoding/binary"
	"strconv"
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
