package zone

import (
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/applayer/applayer/dns"
)

// packWriter packs the response as a server would, into a reused buffer.
type packWriter struct {
	pk  dns.Packer
	out []byte
}

func (w *packWriter) WriteMsg(m *dns.Msg) error {
	var err error
	w.out, err = w.pk.PackLimit(w.out[:0], m, 1232)
	return err
}

// BenchmarkAnswer measures decoding a query, answering it and encoding the
// answer: the authoritative server's work per query, less the syscalls.
func BenchmarkAnswer(b *testing.B) {
	a := loadAuthority(b, "testdata/example.com.zone")
	for _, name := range []string{"ns1.example.com.", "example.com.", "nope.example.com."} {
		q := new(dns.Msg).SetQuestion(1, name, dns.TypeMX)
		if name == "ns1.example.com." {
			q.Question[0].Type = dns.TypeA
		}
		raw, _ := q.Pack()
		b.Run(name, func(b *testing.B) {
			w := &packWriter{}
			var req dns.Msg
			r := &dns.Request{Msg: &req}
			b.ReportAllocs()
			for b.Loop() {
				req.Unpack(raw)
				r.Raw = raw
				a.ServeDNS(w, r)
			}
		})
	}
}

// FuzzAuthority: whatever query arrives, the authoritative handler answers
// with a message that encodes, or not at all; it never panics. The same
// bytes also go to a server that takes updates and gives transfers (TSIG
// checks, UPDATE, AXFR), over UDP and TCP, from inside and outside the
// networks allowed to transfer.
func FuzzAuthority(f *testing.F) {
	a := loadAuthority(f, "testdata/example.com.zone")
	pa := loadAuthority(f, "testdata/example.com.zone")
	key, err := dns.ParseTSIGKey("update-key:" + testSecret)
	if err != nil {
		f.Fatal(err)
	}
	(&Primary{Keys: []*dns.TSIGKey{key}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}).Attach(pa)
	for _, q := range []struct {
		name string
		t    dns.Type
	}{{"www.example.com.", dns.TypeA}, {"x.y.wild.example.com.", dns.TypeMX}, {"host.sub.example.com.", dns.TypeA}, {`a\.b.example.com.`, dns.TypeANY}, {"example.com.", dns.TypeAXFR}} {
		b, _ := new(dns.Msg).SetQuestion(1, q.name, q.t).SetEDNS(512).Pack()
		f.Add(b)
	}
	up := &dns.Msg{Header: dns.Header{ID: 7, Opcode: dns.OpcodeUpdate}, Question: []dns.Question{{Name: "example.com.", Type: dns.TypeSOA, Class: dns.ClassIN}}}
	up.Authority = []dns.RR{{Name: "fuzz.example.com.", Type: dns.TypeA, Class: dns.ClassIN, TTL: 60, Data: &dns.A{Addr: mustAddr("192.0.2.9")}}}
	for _, m := range []*dns.Msg{up, new(dns.Msg).SetQuestion(2, "example.com.", dns.TypeAXFR)} {
		b, _ := m.Pack()
		signed, _, err := dns.SignTSIG(b, key, nil, time.Now(), 0, false)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(signed)
	}
	inside, outside := netip.MustParseAddrPort("127.0.0.1:5300"), netip.MustParseAddrPort("192.0.2.1:5300")
	f.Fuzz(func(t *testing.T, raw []byte) {
		var req dns.Msg
		if req.Unpack(raw) != nil {
			return
		}
		w := &packWriter{}
		a.ServeDNS(w, &dns.Request{Msg: &req, Raw: raw})
		if len(w.out) > 1232 {
			t.Fatalf("answer of %d bytes over the limit", len(w.out))
		}
		for _, from := range []netip.AddrPort{inside, outside} {
			for _, tcp := range []bool{false, true} {
				pa.ServeDNS(&packWriter{}, &dns.Request{Msg: &req, Raw: raw, Remote: from, TCP: tcp})
			}
		}
	})
}
