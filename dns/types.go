package dns

import "strconv"

// Type is a resource record type (RFC 1035 §3.2.2, RFC 3596, RFC 6891).
type Type uint16

// Record types carried with a structure of their own. Any other type is
// carried as opaque data ([Unknown], RFC 3597).
const (
	TypeA     Type = 1
	TypeNS    Type = 2
	TypeCNAME Type = 5
	TypeSOA   Type = 6
	TypePTR   Type = 12
	TypeMX    Type = 15
	TypeTXT   Type = 16
	TypeAAAA  Type = 28
	TypeSRV   Type = 33
	TypeDS    Type = 43
	TypeOPT   Type = 41
	TypeTSIG  Type = 250
	TypeIXFR  Type = 251
	TypeAXFR  Type = 252
	TypeANY   Type = 255
)

var typeNames = map[Type]string{
	TypeA: "A", TypeNS: "NS", TypeCNAME: "CNAME", TypeSOA: "SOA", TypePTR: "PTR",
	TypeMX: "MX", TypeTXT: "TXT", TypeAAAA: "AAAA", TypeSRV: "SRV", TypeDS: "DS", TypeOPT: "OPT",
	TypeTSIG: "TSIG", TypeIXFR: "IXFR", TypeAXFR: "AXFR", TypeANY: "ANY",
	// Types we carry opaquely but print by name, as dig does.
	13: "HINFO", 46: "RRSIG", 47: "NSEC", 48: "DNSKEY", 50: "NSEC3",
	52: "TLSA", 64: "SVCB", 65: "HTTPS", 99: "SPF", 257: "CAA", 35: "NAPTR",
}

var typeByName = func() map[string]Type {
	m := make(map[string]Type, len(typeNames))
	for t, n := range typeNames {
		m[n] = t
	}
	return m
}()

// String returns the mnemonic ("MX"), or "TYPE" and the number for types
// without one (RFC 3597 §5).
func (t Type) String() string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return "TYPE" + strconv.Itoa(int(t))
}

// ParseType reads a mnemonic or the RFC 3597 form TYPEnnn, in any case.
func ParseType(s string) (Type, bool) {
	u := upperASCII(s)
	if t, ok := typeByName[u]; ok {
		return t, true
	}
	if len(u) > 4 && u[:4] == "TYPE" {
		n, err := strconv.ParseUint(u[4:], 10, 16)
		if err == nil {
			return Type(n), true
		}
	}
	return 0, false
}

// Class is a resource record class (RFC 1035 §3.2.4). Only IN is served.
type Class uint16

const (
	ClassIN   Class = 1
	ClassCH   Class = 3
	ClassNONE Class = 254 // RFC 2136 §2.4: delete an RR
	ClassANY  Class = 255
)

// String returns "IN", "CH", "NONE", "ANY" or "CLASSnnn".
func (c Class) String() string {
	switch c {
	case ClassIN:
		return "IN"
	case ClassCH:
		return "CH"
	case ClassNONE:
		return "NONE"
	case ClassANY:
		return "ANY"
	}
	return "CLASS" + strconv.Itoa(int(c))
}

// ParseClass reads "IN", "CH", "NONE", "ANY" or "CLASSnnn".
func ParseClass(s string) (Class, bool) {
	switch u := upperASCII(s); u {
	case "IN":
		return ClassIN, true
	case "CH":
		return ClassCH, true
	case "NONE":
		return ClassNONE, true
	case "ANY":
		return ClassANY, true
	default:
		if len(u) > 5 && u[:5] == "CLASS" {
			n, err := strconv.ParseUint(u[5:], 10, 16)
			if err == nil {
				return Class(n), true
			}
		}
	}
	return 0, false
}

// Opcode is the kind of query in the header (RFC 1035 §4.1.1, RFC 2136).
type Opcode uint8

const (
	OpcodeQuery  Opcode = 0
	OpcodeStatus Opcode = 2
	OpcodeNotify Opcode = 4
	OpcodeUpdate Opcode = 5
)

// String returns the opcode's name as dig prints it.
func (o Opcode) String() string {
	switch o {
	case OpcodeQuery:
		return "QUERY"
	case 1:
		return "IQUERY"
	case OpcodeStatus:
		return "STATUS"
	case OpcodeNotify:
		return "NOTIFY"
	case OpcodeUpdate:
		return "UPDATE"
	}
	return "OPCODE" + strconv.Itoa(int(o))
}

// Rcode is a response code (RFC 1035 §4.1.1; the upper bits come from the
// OPT record, RFC 6891 §6.1.3, and TSIG errors from RFC 8945).
type Rcode uint16

const (
	RcodeSuccess  Rcode = 0 // NOERROR
	RcodeFormErr  Rcode = 1
	RcodeServFail Rcode = 2
	RcodeNXDomain Rcode = 3
	RcodeNotImp   Rcode = 4
	RcodeRefused  Rcode = 5
	RcodeYXDomain Rcode = 6
	RcodeYXRRSet  Rcode = 7
	RcodeNXRRSet  Rcode = 8
	RcodeNotAuth  Rcode = 9
	RcodeNotZone  Rcode = 10
	RcodeBadVers  Rcode = 16 // also BADSIG inside a TSIG record
	RcodeBadKey   Rcode = 17
	RcodeBadTime  Rcode = 18
)

var rcodeNames = [...]string{"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
	"YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE"}

// String returns the name dig prints ("NXDOMAIN").
func (r Rcode) String() string {
	if int(r) < len(rcodeNames) {
		return rcodeNames[r]
	}
	switch r {
	case RcodeBadVers:
		return "BADVERS"
	case RcodeBadKey:
		return "BADKEY"
	case RcodeBadTime:
		return "BADTIME"
	}
	return "RCODE" + strconv.Itoa(int(r))
}

func upperASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'a' && c <= 'z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'a' && b[j] <= 'z' {
					b[j] -= 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
