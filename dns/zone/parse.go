package zone

import (
	"encoding/hex"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/applayer/applayer/dns"
)

// maxIncludeDepth bounds nested $INCLUDE directives.
const maxIncludeDepth = 8

// Record is a parsed resource record and where it came from.
type Record struct {
	dns.RR
	File string
	Line int
}

// parser holds the state RFC 1035 §5.1 carries from line to line.
type parser struct {
	origin     string // "" until known
	defaultTTL uint32
	haveTTL    bool // $TTL seen
	lastTTL    uint32
	haveLast   bool
	lastOwner  string
	out        []Record
	depth      int
}

// Parse reads a master file (RFC 1035 §5) from r. origin is the starting
// $ORIGIN; when empty, relative names are an error until a $ORIGIN line.
// $INCLUDE is resolved relative to the directory of file. Errors are
// *Error values naming file and line.
func Parse(r io.Reader, file, origin string) ([]Record, error) {
	p := &parser{}
	if origin != "" {
		if err := dns.CheckName(origin); err != nil {
			return nil, &Error{File: file, Msg: "origin " + origin + ": " + err.Error()}
		}
		p.origin = dns.Fqdn(origin)
	}
	if err := p.parse(r, file); err != nil {
		return nil, err
	}
	return p.out, nil
}

// ParseFile reads the master file at path; see Parse.
func ParseFile(path, origin string) ([]Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse(f, path, origin)
}

func (p *parser) parse(r io.Reader, file string) error {
	lx := newLexer(r, file)
	for {
		e, err := lx.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := p.entry(lx, e, file); err != nil {
			var ze *Error
			if errors.As(err, &ze) {
				return err
			}
			return lx.errorf(e.line, "%v", err)
		}
	}
}

func (p *parser) entry(lx *lexer, e entry, file string) error {
	t := e.toks
	if !e.indent && strings.HasPrefix(t[0].text, "$") && !t[0].quoted {
		switch strings.ToUpper(t[0].text) {
		case "$ORIGIN":
			if len(t) != 2 {
				return errors.New("$ORIGIN takes one name")
			}
			n, err := p.name(t[1].text)
			if err != nil {
				return err
			}
			p.origin = n
			return nil
		case "$TTL":
			if len(t) != 2 {
				return errors.New("$TTL takes one value")
			}
			v, err := parseTTL(t[1].text)
			if err != nil {
				return err
			}
			p.defaultTTL, p.haveTTL = v, true
			return nil
		case "$INCLUDE":
			if len(t) < 2 || len(t) > 3 {
				return errors.New("$INCLUDE takes a file name and an optional origin")
			}
			if p.depth >= maxIncludeDepth {
				return errors.New("$INCLUDE nested too deeply")
			}
			path := t[1].text
			if !filepath.IsAbs(path) {
				path = filepath.Join(filepath.Dir(file), path)
			}
			// RFC 1035 §5.1: the origin and owner return to their values
			// before the include once it ends.
			saveOrigin, saveOwner := p.origin, p.lastOwner
			if len(t) == 3 {
				n, err := p.name(t[2].text)
				if err != nil {
					return err
				}
				p.origin = n
			}
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			p.depth++
			err = p.parse(f, path)
			p.depth--
			p.origin, p.lastOwner = saveOrigin, saveOwner
			return err
		default:
			return errors.New("unsupported directive " + t[0].text)
		}
	}
	var rr dns.RR
	if e.indent {
		if p.lastOwner == "" {
			return errors.New("record with no owner: the first record must name one")
		}
		rr.Name = p.lastOwner
	} else {
		n, err := p.name(t[0].text)
		if err != nil {
			return err
		}
		rr.Name = n
		t = t[1:]
	}
	// TTL and class, in either order (RFC 1035 §5.1).
	haveTTL, haveClass := false, false
	rr.Class = dns.ClassIN
	for len(t) > 0 && !t[0].quoted {
		s := t[0].text
		if !haveTTL && len(s) > 0 && s[0] >= '0' && s[0] <= '9' {
			v, err := parseTTL(s)
			if err != nil {
				return err
			}
			rr.TTL, haveTTL = v, true
			t = t[1:]
			continue
		}
		if c, ok := dns.ParseClass(s); ok && !haveClass {
			if c != dns.ClassIN {
				return errors.New("class " + s + " is not supported; only IN")
			}
			haveClass = true
			t = t[1:]
			continue
		}
		break
	}
	if len(t) == 0 {
		return errors.New("record has no type")
	}
	typ, ok := dns.ParseType(t[0].text)
	if !ok {
		return errors.New("unknown type " + t[0].text)
	}
	rr.Type = typ
	data, err := p.rdata(typ, t[1:])
	if err != nil {
		return errors.New(typ.String() + ": " + err.Error())
	}
	rr.Data = data
	// A record must fit in a message (RFC 1035 §3.2.1: RDLENGTH is 16 bits),
	// or no server could ever send it.
	if _, err := (&dns.Msg{Answer: []dns.RR{rr}}).Pack(); err != nil {
		return errors.New(typ.String() + ": the record does not fit in a DNS message: " + err.Error())
	}
	if !haveTTL {
		switch {
		case p.haveTTL:
			rr.TTL = p.defaultTTL
		case p.haveLast:
			rr.TTL = p.lastTTL
		case typ == dns.TypeSOA:
			rr.TTL = data.(*dns.SOA).Minimum // RFC 1035's rule before $TTL
		default:
			return errors.New("no TTL: give one or a $TTL line")
		}
	}
	if typ == dns.TypeSOA && p.origin == "" {
		p.origin = rr.Name // no $ORIGIN: the SOA's owner is the origin
	}
	p.lastTTL, p.haveLast = rr.TTL, true
	p.lastOwner = rr.Name
	p.out = append(p.out, Record{RR: rr, File: lx.file, Line: e.line})
	return nil
}

// name makes s absolute: "@" is the origin, relative names get the origin
// appended (RFC 1035 §5.1).
func (p *parser) name(s string) (string, error) {
	var n string
	switch {
	case s == "@":
		if p.origin == "" {
			return "", errors.New("@ used with no origin known: add $ORIGIN")
		}
		n = p.origin
	case strings.HasSuffix(s, ".") && !strings.HasSuffix(s, `\.`) || s == ".":
		n = s
	default:
		if p.origin == "" {
			return "", errors.New("relative name " + s + " with no origin known: add $ORIGIN")
		}
		if p.origin == "." {
			n = s + "."
		} else {
			n = s + "." + p.origin
		}
	}
	if err := dns.CheckName(n); err != nil {
		return "", errors.New(s + ": " + strings.TrimPrefix(err.Error(), "dns: "))
	}
	return n, nil
}

// parseTTL reads a number of seconds or BIND's units: 1w2d3h4m5s.
func parseTTL(s string) (uint32, error) {
	if v, err := strconv.ParseUint(s, 10, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		if err != nil || v > 1<<31-1 {
			return 0, errors.New("TTL " + s + " is over 2147483647 (RFC 2181 §8)")
		}
		return uint32(v), nil
	}
	var total, cur uint64
	digits := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' {
			cur = cur*10 + uint64(c-'0')
			digits = true
			if cur > 1<<32 {
				return 0, errors.New("bad TTL " + s)
			}
			continue
		}
		if !digits {
			return 0, errors.New("bad TTL " + s)
		}
		var mult uint64
		switch c | 0x20 {
		case 's':
			mult = 1
		case 'm':
			mult = 60
		case 'h':
			mult = 3600
		case 'd':
			mult = 86400
		case 'w':
			mult = 604800
		default:
			return 0, errors.New("bad TTL " + s)
		}
		total += cur * mult
		cur, digits = 0, false
	}
	if digits {
		return 0, errors.New("bad TTL " + s + ": a number after a unit needs a unit too")
	}
	if total > 1<<31-1 {
		return 0, errors.New("TTL " + s + " is over 2147483647 (RFC 2181 §8)")
	}
	return uint32(total), nil
}

func (p *parser) rdata(t dns.Type, toks []token) (dns.RData, error) {
	if len(toks) > 0 && toks[0].text == `\#` && !toks[0].quoted {
		return generic(t, toks[1:])
	}
	want := func(n int) error {
		if len(toks) != n {
			return errors.New("want " + strconv.Itoa(n) + " fields, have " + strconv.Itoa(len(toks)))
		}
		return nil
	}
	u16 := func(s string) (uint16, error) {
		v, err := strconv.ParseUint(s, 10, 16)
		if err != nil {
			return 0, errors.New("bad number " + s)
		}
		return uint16(v), nil
	}
	switch t {
	case dns.TypeA, dns.TypeAAAA:
		if err := want(1); err != nil {
			return nil, err
		}
		a, err := netip.ParseAddr(toks[0].text)
		if err != nil || t == dns.TypeA && !a.Is4() || t == dns.TypeAAAA && (!a.Is6() || a.Zone() != "") {
			return nil, errors.New("bad address " + toks[0].text)
		}
		if t == dns.TypeA {
			return &dns.A{Addr: a}, nil
		}
		return &dns.AAAA{Addr: a}, nil
	case dns.TypeNS, dns.TypeCNAME, dns.TypePTR:
		if err := want(1); err != nil {
			return nil, err
		}
		n, err := p.name(toks[0].text)
		if err != nil {
			return nil, err
		}
		switch t {
		case dns.TypeNS:
			return &dns.NS{Host: n}, nil
		case dns.TypeCNAME:
			return &dns.CNAME{Target: n}, nil
		}
		return &dns.PTR{Target: n}, nil
	case dns.TypeMX:
		if err := want(2); err != nil {
			return nil, err
		}
		pref, err := u16(toks[0].text)
		if err != nil {
			return nil, err
		}
		n, err := p.name(toks[1].text)
		if err != nil {
			return nil, err
		}
		return &dns.MX{Pref: pref, Host: n}, nil
	case dns.TypeSRV:
		if err := want(4); err != nil {
			return nil, err
		}
		var v [3]uint16
		for i := range v {
			x, err := u16(toks[i].text)
			if err != nil {
				return nil, err
			}
			v[i] = x
		}
		n, err := p.name(toks[3].text)
		if err != nil {
			return nil, err
		}
		return &dns.SRV{Priority: v[0], Weight: v[1], Port: v[2], Target: n}, nil
	case dns.TypeSOA:
		if err := want(7); err != nil {
			return nil, err
		}
		m, err := p.name(toks[0].text)
		if err != nil {
			return nil, err
		}
		r, err := p.name(toks[1].text)
		if err != nil {
			return nil, err
		}
		var v [5]uint32
		for i := range v {
			s := toks[2+i].text
			if i == 0 {
				x, err := strconv.ParseUint(s, 10, 32)
				if err != nil {
					return nil, errors.New("bad serial " + s)
				}
				v[i] = uint32(x)
				continue
			}
			x, err := parseTTL(s)
			if err != nil {
				return nil, err
			}
			v[i] = x
		}
		return &dns.SOA{MName: m, RName: r, Serial: v[0], Refresh: v[1], Retry: v[2], Expire: v[3], Minimum: v[4]}, nil
	case dns.TypeTXT:
		if len(toks) == 0 {
			return nil, errors.New("no text")
		}
		ss := make([]string, 0, len(toks))
		for _, tk := range toks {
			s, err := unescape(tk.text)
			if err != nil {
				return nil, err
			}
			if len(s) > 255 {
				return nil, errors.New("character-string longer than 255 octets")
			}
			ss = append(ss, s)
		}
		return &dns.TXT{Strings: ss}, nil
	case dns.TypeOPT, dns.TypeTSIG, dns.TypeAXFR, dns.TypeIXFR, dns.TypeANY:
		return nil, errors.New("not a type a zone holds")
	}
	fields := make([]string, len(toks))
	for i, tk := range toks {
		fields[i] = tk.text
	}
	if d, ok, err := dns.ParseDNSSECRData(t, fields, p.name); ok {
		return d, err
	}
	return nil, errors.New(`this type is read in the generic form of RFC 3597 only: \# length hex`)
}

// generic reads RFC 3597 §5 rdata: a length and hex digits, in any number
// of fields.
func generic(t dns.Type, toks []token) (dns.RData, error) {
	if len(toks) == 0 {
		return nil, errors.New(`\# needs a length`)
	}
	n, err := strconv.Atoi(toks[0].text)
	if err != nil || n < 0 || n > 65535 {
		return nil, errors.New(`bad \# length ` + toks[0].text)
	}
	var hx strings.Builder
	for _, tk := range toks[1:] {
		hx.WriteString(tk.text)
	}
	b, err := hex.DecodeString(hx.String())
	if err != nil {
		return nil, errors.New(`bad hex in \# data`)
	}
	if len(b) != n {
		return nil, errors.New(`\# length ` + toks[0].text + " does not match " + strconv.Itoa(len(b)) + " bytes of data")
	}
	switch t {
	case dns.TypeA, dns.TypeAAAA, dns.TypeNS, dns.TypeCNAME, dns.TypePTR, dns.TypeMX, dns.TypeSOA, dns.TypeTXT, dns.TypeSRV:
		// A known type in generic form must still be well formed: decode
		// it through the wire codec.
		return dns.UnpackRData(t, b)
	}
	return &dns.Unknown{Data: b}, nil
}

// unescape turns \X and \DDD into bytes (RFC 1035 §5.1).
func unescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b = append(b, c)
			continue
		}
		i++
		if i >= len(s) {
			return "", errors.New("backslash at the end of a string")
		}
		c = s[i]
		if c >= '0' && c <= '9' {
			if i+2 >= len(s) || s[i+1] < '0' || s[i+1] > '9' || s[i+2] < '0' || s[i+2] > '9' {
				return "", errors.New(`bad \DDD escape`)
			}
			v := int(c-'0')*100 + int(s[i+1]-'0')*10 + int(s[i+2]-'0')
			if v > 255 {
				return "", errors.New(`bad \DDD escape`)
			}
			c = byte(v)
			i += 2
		}
		b = append(b, c)
	}
	return string(b), nil
}
