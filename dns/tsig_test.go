package dns

import (
	"encoding/base64"
	"errors"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

func TestTSIGAgainstMiekg(t *testing.T) {
	secret := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	key, err := ParseTSIGKey("hmac-sha256:update-key:" + secret)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	// Ours signs, miekg/dns verifies.
	q := new(Msg).SetQuestion(4711, "example.com.", TypeSOA)
	wire, _ := q.Pack()
	signed, mac, err := SignTSIG(wire, key, nil, now, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := mdns.TsigVerify(append([]byte(nil), signed...), secret, "", false); err != nil {
		t.Errorf("miekg/dns rejects our signature: %v", err)
	}
	if _, _, err := VerifyTSIG(signed, []*TSIGKey{key}, nil, now); err != nil {
		t.Errorf("we reject our own signature: %v", err)
	}
	// A response signed with the request's MAC, as a server does.
	resp := new(Msg).SetReply(q)
	rw, _ := resp.Pack()
	rsigned, _, err := SignTSIG(rw, key, mac, now, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := mdns.TsigVerify(append([]byte(nil), rsigned...), secret, base64HexOf(mac), false); err != nil {
		t.Errorf("miekg/dns rejects our response signature: %v", err)
	}
	// miekg/dns signs, ours verifies.
	m := new(mdns.Msg)
	m.SetQuestion("example.com.", mdns.TypeSOA)
	m.SetTsig("update-key.", mdns.HmacSHA256, 300, now.Unix())
	theirs, _, err := mdns.TsigGenerate(m, secret, "", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := VerifyTSIG(theirs, []*TSIGKey{key}, nil, now); err != nil {
		t.Errorf("we reject miekg/dns's signature: %v", err)
	}
	// Tampering, a wrong key and a stale time are caught.
	bad := append([]byte(nil), signed...)
	bad[13] ^= 1
	if _, _, err := VerifyTSIG(bad, []*TSIGKey{key}, nil, now); !errors.Is(err, ErrBadSig) && err == nil {
		t.Errorf("tampered message: %v", err)
	}
	other := &TSIGKey{Name: "other.", Secret: key.Secret}
	if _, _, err := VerifyTSIG(signed, []*TSIGKey{other}, nil, now); !errors.Is(err, ErrBadKey) {
		t.Errorf("unknown key: %v", err)
	}
	if _, _, err := VerifyTSIG(signed, []*TSIGKey{key}, nil, now.Add(time.Hour)); !errors.Is(err, ErrBadTime) {
		t.Errorf("an hour late: %v", err)
	}
	if _, _, err := VerifyTSIG(wire, []*TSIGKey{key}, nil, now); !errors.Is(err, ErrNoTSIG) {
		t.Errorf("unsigned: %v", err)
	}
}

func base64HexOf(b []byte) string {
	const hexd = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, hexd[c>>4], hexd[c&15])
	}
	return string(out)
}
