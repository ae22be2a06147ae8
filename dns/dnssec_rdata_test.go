package dns

import (
	"strings"
	"testing"
)

func TestDNSSECRDataRoundTrip(t *testing.T) {
	name := func(s string) (string, error) { return Fqdn(s), nil }
	for _, c := range []struct {
		t    Type
		text string
	}{
		{TypeDNSKEY, "257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ=="},
		{TypeCDNSKEY, "256 3 15 l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4="},
		{TypeDS, "2371 13 2 1F987CC6583E92DF0890718C42A8A4C6AE1BCE6A5E8C4A6ED1A0C8A5B6C7D8E9"},
		{TypeCDS, "0 0 0 00"},
		{TypeRRSIG, "A 13 3 300 20261231000000 20261201000000 2371 example.com. c29tZXNpZw=="},
		{TypeNSEC, "b.example.com. A NS SOA MX RRSIG NSEC DNSKEY TYPE1234"},
		{TypeNSEC3, "1 1 0 - 2T7B4G4VSA5SMI47K61MV5BV1A22BOJR A RRSIG"},
		{TypeNSEC3PARAM, "1 0 0 AABB"},
	} {
		d, ok, err := ParseDNSSECRData(c.t, strings.Fields(c.text), name)
		if !ok || err != nil {
			t.Fatalf("%v %q: %v %v", c.t, c.text, ok, err)
		}
		if got := d.String(); got != c.text {
			t.Errorf("%v: String() = %q, want %q", c.t, got, c.text)
		}
		w, err := d.appendWire(nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		back, err := UnpackRData(c.t, w)
		if err != nil {
			t.Fatalf("%v: unpack: %v", c.t, err)
		}
		if back.String() != c.text {
			t.Errorf("%v: wire round trip %q, want %q", c.t, back.String(), c.text)
		}
	}
}

func TestTypeBitmap(t *testing.T) {
	ts := []Type{TypeA, TypeMX, TypeRRSIG, TypeNSEC, 1234}
	b := AppendTypeBitmap(nil, ts)
	// RFC 4034 §4.3's example bitmap starts with window 0, 6 octets.
	if b[0] != 0 || b[1] != 6 || b[2] != 0x40 {
		t.Fatalf("bitmap % x", b)
	}
	got, err := ParseTypeBitmap(b)
	if err != nil || len(got) != len(ts) {
		t.Fatalf("%v %v", got, err)
	}
	for _, bad := range [][]byte{{0}, {0, 0}, {0, 33}, {1, 1, 1, 0, 1, 1}, {0, 2, 1}} {
		if _, err := ParseTypeBitmap(bad); err == nil {
			t.Errorf("% x accepted", bad)
		}
	}
}

func TestCompareNames(t *testing.T) {
	// RFC 4034 §6.1's example, in order.
	order := []string{"example.", "a.example.", "yljkjljk.a.example.", "Z.a.example.", "zABC.a.EXAMPLE.", "z.example.", `\001.z.example.`, "*.z.example.", `\200.z.example.`}
	for i := 0; i+1 < len(order); i++ {
		if CompareNames(order[i], order[i+1]) >= 0 {
			t.Errorf("%s should sort before %s", order[i], order[i+1])
		}
	}
}

func FuzzDNSSECRData(f *testing.F) {
	f.Add(uint16(TypeRRSIG), []byte("\x00\x01\x0d\x02\x00\x00\x01\x2c\x00\x00\x00\x01\x00\x00\x00\x00\x09\x43\x07example\x03com\x00sig"))
	f.Add(uint16(TypeNSEC), []byte("\x01b\x00\x00\x06\x40\x01\x00\x00\x00\x03"))
	f.Add(uint16(TypeNSEC3), []byte("\x01\x01\x00\x00\x00\x02ab\x00\x01\x40"))
	f.Add(uint16(TypeDNSKEY), []byte("\x01\x01\x03\x0dkey"))
	f.Add(uint16(TypeNSEC3PARAM), []byte("\x01\x00\x00\x00\x01\xaa"))
	f.Fuzz(func(t *testing.T, typ uint16, b []byte) {
		d, err := UnpackRData(Type(typ), b)
		if err != nil {
			return
		}
		w, err := d.appendWire(nil, nil)
		if err != nil {
			return
		}
		if _, err := UnpackRData(Type(typ), w); err != nil {
			t.Fatalf("re-encoded %T does not decode: %v", d, err)
		}
		_ = d.String()
	})
}
