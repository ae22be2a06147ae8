package dns

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	mdns "github.com/miekg/dns"
)

// sampleMsg is a response with every structured type, sharing suffixes so
// that compression has work to do.
func sampleMsg() *Msg {
	m := &Msg{Header: Header{ID: 0xbeef, Response: true, Authoritative: true, RecursionDesired: true}}
	m.Question = []Question{{"example.com.", TypeMX, ClassIN}}
	m.Answer = []RR{
		{"example.com.", TypeMX, ClassIN, 300, &MX{10, "mail.example.com."}},
		{"example.com.", TypeMX, ClassIN, 300, &MX{20, "mail2.example.net."}},
		{"www.example.com.", TypeCNAME, ClassIN, 60, &CNAME{"example.com."}},
		{"example.com.", TypeTXT, ClassIN, 60, &TXT{[]string{"v=spf1 -all", `quote " and \ back`}}},
		{"_sip._tcp.example.com.", TypeSRV, ClassIN, 60, &SRV{1, 2, 5060, "sip.example.com."}},
		{"4.3.2.1.in-addr.arpa.", TypePTR, ClassIN, 60, &PTR{"host.example.com."}},
		{"example.com.", Type(65280), ClassIN, 60, &Unknown{[]byte{3, 'a', 'b', 'c'}}},
	}
	m.Authority = []RR{
		{"example.com.", TypeNS, ClassIN, 3600, &NS{"ns1.example.com."}},
		{"example.com.", TypeSOA, ClassIN, 3600, &SOA{"ns1.example.com.", "hostmaster.example.com.", 2024010101, 7200, 3600, 1209600, 300}},
	}
	m.Additional = []RR{
		{"mail.example.com.", TypeA, ClassIN, 300, &A{netip.MustParseAddr("192.0.2.25")}},
		{"mail.example.com.", TypeAAAA, ClassIN, 300, &AAAA{netip.MustParseAddr("2001:db8::25")}},
	}
	m.EDNS = &EDNS{UDPSize: 1232, DO: true}
	return m
}

// TestGolden compares encoded messages with files under testdata/; run with
// -update to rewrite them after a deliberate change.
func TestGolden(t *testing.T) {
	q := new(Msg).SetQuestion(4711, "www.Example.com", TypeA)
	q.SetEDNS(1232)
	cases := map[string]*Msg{"query_a_edns": q, "response_mx": sampleMsg()}
	for name, m := range cases {
		t.Run(name, func(t *testing.T) {
			b, err := m.Pack()
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", name+".hex")
			got := hex.Dump(b)
			if os.Getenv("UPDATE_GOLDEN") != "" {
				os.WriteFile(path, []byte(got), 0o644)
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("Pack(%s) =\n%s\nwant\n%s", name, got, want)
			}
		})
	}
}

// TestCompressionRFC1035 checks the layout of RFC 1035 §4.1.4: F.ISI.ARPA,
// FOO.F.ISI.ARPA (a label then a pointer) and ARPA (a pointer alone).
func TestCompressionRFC1035(t *testing.T) {
	var p packer
	b := make([]byte, 20) // the RFC's example starts at offset 20
	b, _ = p.name(b, "F.ISI.ARPA.", true)
	b, _ = p.name(b, "FOO.F.ISI.ARPA.", true)
	b, _ = p.name(b, "ARPA.", true)
	want := "01460349534904415250410003464f4fc014c01a"
	if got := hex.EncodeToString(b[20:]); got != want {
		t.Errorf("compressed names = %s, want %s", got, want)
	}
	for _, tc := range []struct {
		off  int
		want string
	}{{20, "F.ISI.ARPA."}, {32, "FOO.F.ISI.ARPA."}, {38, "ARPA."}} {
		n, _, err := readName(b, tc.off, len(b))
		if err != nil || n != tc.want {
			t.Errorf("readName(%d) = %q, %v, want %q", tc.off, n, err, tc.want)
		}
	}
}

// TestOracle packs with ours and unpacks with miekg/dns, and the reverse.
func TestOracle(t *testing.T) {
	m := sampleMsg()
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	var o mdns.Msg
	if err := o.Unpack(b); err != nil {
		t.Fatalf("miekg/dns cannot read our message: %v", err)
	}
	if len(o.Answer) != len(m.Answer) || len(o.Ns) != 2 || len(o.Extra) != 3 || o.IsEdns0() == nil || !o.IsEdns0().Do() {
		t.Fatalf("miekg/dns read %v", &o)
	}
	for i, rr := range o.Answer {
		theirs := strings.Replace(strings.Join(strings.Fields(rr.String()), " "), " CLASS1 ", " IN ", 1) // miekg/dns prints RFC 3597 records with CLASS1
		ours := strings.Join(strings.Fields(m.Answer[i].String()), " ")
		if theirs != ours {
			t.Errorf("answer %d: miekg/dns reads %q, we wrote %q", i, theirs, ours)
		}
	}
	// And back: their encoding, compressed their way, read by us.
	o.Compress = true
	b2, err := o.Pack()
	if err != nil {
		t.Fatal(err)
	}
	var back Msg
	if err := back.Unpack(b2); err != nil {
		t.Fatalf("Unpack(miekg/dns output): %v", err)
	}
	if got, want := back.String(), m.String(); got != want {
		t.Errorf("round trip through miekg/dns:\n%s\nwant\n%s", got, want)
	}
}

func TestUnpackBad(t *testing.T) {
	hdr := func(qd, an byte) string {
		return "abcd0100" + "00" + hex.EncodeToString([]byte{qd}) + "00" + hex.EncodeToString([]byte{an}) + "00000000"
	}
	cases := []struct {
		name string
		hex  string
		want error
	}{
		{"short header", "abcd01", ErrShort},
		{"count lies", hdr(1, 0), ErrShort},
		{"pointer loop", hdr(1, 0) + "c00c00010001", ErrPointer},
		{"forward pointer", hdr(1, 0) + "c01000010001", ErrPointer},
		{"label type 01", hdr(1, 0) + "4001000010001", ErrLabelType},
		{"label past end", hdr(1, 0) + "3f6162", ErrShort},
		{"trailing", hdr(0, 0) + "00", ErrTrailing},
		{"A rdata length", hdr(1, 1) + "0000010001" + "00000100010000003c0003010203", ErrRDataLength},
	}
	for _, tc := range cases {
		b, err := hex.DecodeString(tc.hex)
		if err != nil {
			b, _ = hex.DecodeString(tc.hex + "0")
		}
		var m Msg
		if err := m.Unpack(b); !errors.Is(err, tc.want) {
			t.Errorf("Unpack(%s) = %v, want %v", tc.name, err, tc.want)
		}
	}
	// A name of 128 one-byte labels is 257 octets: over the limit.
	long := bytes.Repeat([]byte{1, 'a'}, 128)
	b, _ := hex.DecodeString(hdr(1, 0))
	b = append(append(append(b, long...), 0), 0, 1, 0, 1)
	var m Msg
	if err := m.Unpack(b); !errors.Is(err, errNameLen) {
		t.Errorf("Unpack(257-octet name) = %v, want %v", err, errNameLen)
	}
}

func TestNames(t *testing.T) {
	for _, tc := range []struct {
		in  string
		err error
	}{
		{"example.com.", nil}, {".", nil}, {`a\.b.example.`, nil}, {`\065.`, nil},
		{strings.Repeat("a", 64) + ".", errLabelLen},
		{"a..b.", errEmptyLbl}, {`a\2.`, errEscape}, {`\999.`, errEscape},
		{strings.Repeat("abcdefg.", 32), errNameLen},
	} {
		if err := CheckName(tc.in); !errors.Is(err, tc.err) {
			t.Errorf("CheckName(%q) = %v, want %v", tc.in, err, tc.err)
		}
		var p packer
		if _, err := p.name(nil, tc.in, true); !errors.Is(err, tc.err) {
			t.Errorf("packer.name(%q) = %v, want %v", tc.in, err, tc.err)
		}
	}
	if !IsSubdomain("www.Example.COM.", "example.com") || IsSubdomain("badexample.com.", "example.com.") || !IsSubdomain("x.", ".") {
		t.Error("IsSubdomain is wrong")
	}
	if p, _ := Parent("www.example.com."); p != "example.com." {
		t.Errorf("Parent = %q", p)
	}
}

func TestTruncation(t *testing.T) {
	m := sampleMsg()
	for i := 0; i < 40; i++ {
		m.Answer = append(m.Answer, RR{"example.com.", TypeA, ClassIN, 60, &A{netip.AddrFrom4([4]byte{10, 0, 0, byte(i)})}})
	}
	var pk Packer
	b, err := pk.PackLimit(nil, m, 512)
	if err != nil {
		t.Fatal(err)
	}
	var back Msg
	if err := back.Unpack(b); err != nil {
		t.Fatal(err)
	}
	if len(b) > 512 || !back.Truncated || len(back.Answer) != 0 || back.EDNS == nil {
		t.Errorf("PackLimit(512) = %d bytes, tc=%v, %d answers, edns %v", len(b), back.Truncated, len(back.Answer), back.EDNS)
	}
	// Dropping the additional section alone must not set TC.
	m = sampleMsg()
	full, _ := m.Pack()
	b, _ = pk.PackLimit(nil, m, len(full)-1)
	back.Unpack(b)
	if back.Truncated || len(back.Additional) != 0 || len(back.Answer) != len(m.Answer) {
		t.Errorf("PackLimit(full-1): tc=%v additional=%d", back.Truncated, len(back.Additional))
	}
}

func TestPackAllocs(t *testing.T) {
	m := sampleMsg()
	var pk Packer
	buf := make([]byte, 0, 4096)
	n := testing.AllocsPerRun(100, func() {
		buf, _ = pk.Pack(buf[:0], m)
	})
	if n != 0 {
		t.Errorf("Pack allocates %v times per message, want 0", n)
	}
}

// FuzzUnpack: whatever the bytes, Unpack must not panic; what it accepts
// must pack, and unpacking that must give the same message.
func FuzzUnpack(f *testing.F) {
	b, _ := sampleMsg().Pack()
	f.Add(b)
	q, _ := new(Msg).SetQuestion(1, "www.example.com.", TypeAAAA).Pack()
	f.Add(q)
	f.Add([]byte{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0, 1, 0, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		var m Msg
		if err := m.Unpack(data); err != nil {
			return
		}
		out, err := m.Pack()
		if err != nil {
			t.Fatalf("Pack of an unpacked message: %v\n%s", err, m.String())
		}
		var m2 Msg
		if err := m2.Unpack(out); err != nil {
			t.Fatalf("Unpack(Pack(m)): %v", err)
		}
		// Compression matches names case-insensitively, so a later name
		// may come back in the case of an earlier one (as with BIND).
		if strings.ToLower(m.String()) != strings.ToLower(m2.String()) {
			t.Fatalf("round trip differs:\n%s\n%s", m.String(), m2.String())
		}
	})
}

func TestOverTCPLimit(t *testing.T) {
	m := sampleMsg()
	long := strings.Repeat("x", 255)
	for i := 0; i < 300; i++ {
		m.Answer = append(m.Answer, RR{"example.com.", TypeTXT, ClassIN, 60, &TXT{[]string{long}}})
	}
	if _, err := m.Pack(); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Pack of a 77 KB message = %v, want ErrTooLarge", err)
	}
	var pk Packer
	b, err := pk.PackLimit(nil, m, 0xFFFF)
	var back Msg
	if err != nil || back.Unpack(b) != nil || !back.Truncated {
		t.Errorf("PackLimit(65535) = %d bytes, %v, tc=%v", len(b), err, back.Truncated)
	}
}

// TestClientBigDatagram: an answer larger than the client's receive buffer
// (a server ignoring the advertised size) is asked again over TCP.
func TestClientBigDatagram(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		pc.Close()
		t.Skip("TCP port taken")
	}
	big := HandlerFunc(func(w ResponseWriter, r *Request) {
		var m Msg
		m.SetReply(r.Msg)
		for i := 0; i < 30; i++ {
			m.Answer = append(m.Answer, RR{r.Msg.Question[0].Name, TypeTXT, ClassIN, 60, &TXT{[]string{strings.Repeat("x", 200)}}})
		}
		w.WriteMsg(&m)
	})
	s := &Server{Handler: big, UDPWorkers: 1, MaxUDPSize: 65000}
	go s.ServeBoth(l, pc)
	defer s.Close()
	q := new(Msg).SetQuestion(0, "big.", TypeTXT).SetEDNS(65000)
	r, err := (&Client{}).Exchange(context.Background(), q, pc.LocalAddr().String())
	if err != nil || !r.TCP || len(r.Msg.Answer) != 30 {
		t.Errorf("6 KB answer: %+v, %v; want it whole over TCP", r, err)
	}
}
