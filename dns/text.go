package dns

import (
	"strconv"
	"strings"
)

// String returns the record in zone-file form, as dig prints it:
// "www.example.com.	300	IN	A	192.0.2.1".
func (r RR) String() string {
	var d string
	if r.Data != nil {
		d = r.Data.String()
	}
	return r.Name + "\t" + strconv.FormatUint(uint64(r.TTL), 10) + "\t" + r.Class.String() + "\t" + r.Type.String() + "\t" + d
}

// String returns the question as dig prints it: ";www.example.com. IN A".
func (q Question) String() string {
	return ";" + q.Name + "\t\t" + q.Class.String() + "\t" + q.Type.String()
}

// FlagString returns the header flags that are set, in dig's order and
// spelling: "qr aa rd ra".
func (h Header) FlagString() string {
	var f []string
	for _, x := range [...]struct {
		on   bool
		name string
	}{{h.Response, "qr"}, {h.Authoritative, "aa"}, {h.Truncated, "tc"}, {h.RecursionDesired, "rd"},
		{h.RecursionAvailable, "ra"}, {h.AuthenticData, "ad"}, {h.CheckingDisabled, "cd"}} {
		if x.on {
			f = append(f, x.name)
		}
	}
	return strings.Join(f, " ")
}

// String returns the message laid out like dig's output: header, flags,
// counts, the OPT pseudo-section and the four sections.
func (m *Msg) String() string {
	var b strings.Builder
	b.WriteString(";; ->>HEADER<<- opcode: " + m.Opcode.String() + ", status: " + m.Rcode.String() + ", id: " + strconv.Itoa(int(m.ID)) + "\n")
	ar := len(m.Additional)
	if m.EDNS != nil {
		ar++
	}
	b.WriteString(";; flags: " + m.FlagString() + "; QUERY: " + strconv.Itoa(len(m.Question)) + ", ANSWER: " + strconv.Itoa(len(m.Answer)) +
		", AUTHORITY: " + strconv.Itoa(len(m.Authority)) + ", ADDITIONAL: " + strconv.Itoa(ar) + "\n")
	if e := m.EDNS; e != nil {
		b.WriteString("\n;; OPT PSEUDOSECTION:\n; EDNS: version: " + strconv.Itoa(int(e.Version)) + ", flags:")
		if e.DO {
			b.WriteString(" do")
		}
		b.WriteString("; udp: " + strconv.Itoa(int(e.UDPSize)) + "\n")
	}
	if len(m.Question) > 0 {
		b.WriteString("\n;; QUESTION SECTION:\n")
		for _, q := range m.Question {
			b.WriteString(q.String() + "\n")
		}
	}
	for _, s := range [...]struct {
		name string
		rrs  []RR
	}{{"ANSWER", m.Answer}, {"AUTHORITY", m.Authority}, {"ADDITIONAL", m.Additional}} {
		if len(s.rrs) == 0 {
			continue
		}
		b.WriteString("\n;; " + s.name + " SECTION:\n")
		for _, r := range s.rrs {
			b.WriteString(r.String() + "\n")
		}
	}
	return b.String()
}

// Summary returns a one-line description of the message for transcripts:
// "query 4711 www.example.com. A +rd" or "response 4711 NOERROR aa: 2
// answers, 0 authority, 1 additional".
func (m *Msg) Summary() string {
	var b strings.Builder
	if m.Response {
		b.WriteString("response ")
	} else {
		b.WriteString("query ")
	}
	b.WriteString(strconv.Itoa(int(m.ID)))
	if m.Opcode != OpcodeQuery {
		b.WriteString(" " + m.Opcode.String())
	}
	for _, q := range m.Question {
		b.WriteString(" " + q.Name + " " + q.Type.String())
	}
	if m.Response {
		b.WriteString(" " + m.Rcode.String())
	}
	if f := m.FlagString(); f != "" {
		b.WriteString(" [" + f + "]")
	}
	if m.Response {
		b.WriteString(": ")
		for i, r := range m.Answer {
			if i == 3 {
				b.WriteString(" ...")
				break
			}
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(r.Type.String() + " " + r.Data.String())
		}
		b.WriteString(" (" + strconv.Itoa(len(m.Answer)) + " answer, " + strconv.Itoa(len(m.Authority)) + " authority, " + strconv.Itoa(len(m.Additional)) + " additional)")
	}
	return b.String()
}
