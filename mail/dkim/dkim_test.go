package dkim

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

const testMsg = "From: Alice <alice@crepes.fr>\r\n" +
	"To: bob@hamburger.edu\r\n" +
	"Subject: Ketchup\r\n" +
	"Date: Fri, 02 Jan 2026 03:04:05 +0000\r\n" +
	"Message-ID: <1@crepes.fr>\r\n" +
	"\r\n" +
	"Do you like ketchup?\r\n" +
	"How about pickles?\r\n"

// The example of RFC 6376 §3.4.5.
func TestCanonicalizationExample(t *testing.T) {
	fields, body := splitMessage([]byte("A: X\r\nB : Y\t\r\n\tZ  \r\n\r\n C \r\nD \t E\r\n\r\n\r\n"))
	if len(fields) != 2 {
		t.Fatalf("%d fields, want 2: %q", len(fields), fields)
	}
	var relaxed, simple string
	for _, f := range fields {
		relaxed += canonHeader(Relaxed, f.raw)
		simple += canonHeader(Simple, f.raw)
	}
	for _, tc := range []struct{ what, got, want string }{
		{"relaxed header", relaxed, "a:X\r\nb:Y Z\r\n"},
		{"relaxed body", string(canonBody(Relaxed, body, -1)), " C\r\nD E\r\n"},
		{"simple header", simple, "A: X\r\nB : Y\t\r\n\tZ  \r\n"},
		{"simple body", string(canonBody(Simple, body, -1)), " C \r\nD \t E\r\n"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %q, want %q", tc.what, tc.got, tc.want)
		}
	}
}

func TestCanonBodyEdges(t *testing.T) {
	for _, tc := range []struct {
		c          Canon
		body, want string
	}{
		{Simple, "", "\r\n"}, // §3.4.3: an empty body is one CRLF
		{Relaxed, "", ""},    // §3.4.4 (erratum 1384): empty stays empty
		{Simple, "\r\n\r\n", "\r\n"},
		{Relaxed, "\r\n \r\n", ""},
		{Simple, "no newline", "no newline\r\n"},
		{Relaxed, "no newline  ", "no newline\r\n"},
		{Relaxed, "a\r\n\r\nb\r\n", "a\r\n\r\nb\r\n"}, // empty lines inside stay
	} {
		if got := string(canonBody(tc.c, []byte(tc.body), -1)); got != tc.want {
			t.Errorf("%s body %q: %q, want %q", tc.c, tc.body, got, tc.want)
		}
	}
}

// The last instance of a field is signed first, each instance once, a
// name with no instance left adds nothing (§5.4.2).
func TestPickHeaders(t *testing.T) {
	fields, _ := splitMessage([]byte("Received: 1\r\nFrom: a\r\nReceived: 2\r\n\r\n"))
	got := pickHeaders(fields, []string{"received", "From", "Received", "Received", "From"})
	want := []string{"Received: 2\r\n", "From: a\r\n", "Received: 1\r\n"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestParseTags(t *testing.T) {
	tl, err := parseTags(" v=1;\r\n\ta = rsa-sha256 ; h=from : to;")
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := tl.get("a"); a != "rsa-sha256" {
		t.Errorf("a = %q", a)
	}
	if h, _ := tl.get("h"); h != "from : to" {
		t.Errorf("h = %q", h)
	}
	for _, bad := range []string{"v=1; v=1", "novalue", "1x=3", "=3"} {
		if _, err := parseTags(bad); err == nil {
			t.Errorf("parseTags(%q) accepted", bad)
		}
	}
}

func TestWithoutB(t *testing.T) {
	for in, want := range map[string]string{
		"DKIM-Signature: v=1; bh=abc; b=xyz\r\n\t123\r\n": "DKIM-Signature: v=1; bh=abc; b=\r\n",
		"DKIM-Signature: b = xyz ; d=x\r\n":               "DKIM-Signature: b =; d=x\r\n",
	} {
		if got := withoutB(in); got != want {
			t.Errorf("withoutB(%q) = %q, want %q", in, got, want)
		}
	}
}

// testKeys are made once for the package's tests: an RSA key takes a
// while under the race detector.
var testKeys = sync.OnceValues(func() (map[string]crypto.Signer, error) {
	signers := map[string]crypto.Signer{}
	for _, typ := range []string{"rsa", "ed25519"} {
		k, err := GenerateKey(typ)
		if err != nil {
			return nil, err
		}
		signers[typ] = k
	}
	return signers, nil
})

// keys returns one signer of each algorithm and the lookup that publishes
// their records.
func keys(t testing.TB) (map[string]crypto.Signer, func(context.Context, string) ([]string, error)) {
	t.Helper()
	signers, err := testKeys()
	if err != nil {
		t.Fatal(err)
	}
	records := map[string]string{}
	for typ, k := range signers {
		rec, err := Record(k)
		if err != nil {
			t.Fatal(err)
		}
		records[typ+"._domainkey.crepes.fr"] = rec
	}
	return signers, func(_ context.Context, name string) ([]string, error) {
		if r, ok := records[strings.TrimSuffix(name, ".")]; ok {
			return []string{r}, nil
		}
		return nil, ErrNoKey
	}
}

func sign(t *testing.T, s *Signer, msg string) string {
	t.Helper()
	h, err := s.Sign([]byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	return h + msg
}

func TestSignVerify(t *testing.T) {
	signers, lookup := keys(t)
	v := &Verifier{Lookup: lookup}
	for typ, key := range signers {
		for _, c := range [][2]Canon{{Relaxed, Relaxed}, {Simple, Simple}, {Relaxed, Simple}, {Simple, Relaxed}} {
			s := &Signer{Domain: "crepes.fr", Selector: typ, Key: key, HeaderCanon: c[0], BodyCanon: c[1]}
			signed := sign(t, s, testMsg)
			name := typ + " " + string(c[0]) + "/" + string(c[1])
			if r := v.Verify(context.Background(), []byte(signed)); len(r) != 1 || r[0].Status != Pass {
				t.Fatalf("%s: %+v\n%s", name, r, signed)
			}
			// LF line ends, as a message saved to a Unix file has them.
			if r := v.Verify(context.Background(), []byte(strings.ReplaceAll(signed, "\r\n", "\n"))); r[0].Status != Pass {
				t.Errorf("%s with LF line ends: %+v", name, r[0])
			}
			for what, changed := range map[string]string{
				"body":                             strings.Replace(signed, "pickles", "mustard", 1),
				"subject":                          strings.Replace(signed, "Subject: Ketchup", "Subject: Mustard", 1),
				"a second From":                    "From: mallory@evil.example\r\n" + signed,
				"a From added after the signature": strings.Replace(signed, "\r\n\r\n", "\r\nFrom: mallory@evil.example\r\n\r\n", 1),
			} {
				if r := v.Verify(context.Background(), []byte(changed)); r[0].Status != Fail {
					t.Errorf("%s, %s changed: %s (%v), want fail", name, what, r[0].Status, r[0].Err)
				}
			}
			refolded := strings.Replace(signed, "Subject: Ketchup", "Subject:   Ketchup\r\n ", 1)
			if want := map[Canon]Status{Relaxed: Pass, Simple: Fail}[c[0]]; v.Verify(context.Background(), []byte(refolded))[0].Status != want {
				t.Errorf("%s: a re-folded Subject does not give %s", name, want)
			}
		}
	}
}

func TestVerifyErrors(t *testing.T) {
	signers, lookup := keys(t)
	now := time.Unix(1_800_000_000, 0)
	s := &Signer{Domain: "crepes.fr", Selector: "ed25519", Key: signers["ed25519"], Expire: time.Hour, Now: func() time.Time { return now }}
	signed := sign(t, s, testMsg)
	temp := errors.New("SERVFAIL")
	for _, tc := range []struct {
		what   string
		msg    string
		lookup func(context.Context, string) ([]string, error)
		at     time.Time
		want   Status
	}{
		{"within x=", signed, lookup, now.Add(time.Minute), Pass},
		{"after x=", signed, lookup, now.Add(2 * time.Hour), PermError},
		{"no key", strings.Replace(signed, "s=ed25519", "s=none", 1), lookup, now, PermError},
		{"lookup fails", signed, func(context.Context, string) ([]string, error) { return nil, temp }, now, TempError},
		{"revoked key", signed, func(context.Context, string) ([]string, error) { return []string{"v=DKIM1; k=ed25519; p="}, nil }, now, PermError},
		{"key of another type", signed, func(ctx context.Context, n string) ([]string, error) { return lookup(ctx, "rsa._domainkey.crepes.fr") }, now, PermError},
		{"i= outside d=", strings.Replace(signed, "d=crepes.fr;", "d=crepes.fr; i=@evil.example;", 1), lookup, now, PermError},
		{"rsa-sha1", strings.Replace(signed, "a=ed25519-sha256", "a=rsa-sha1", 1), lookup, now, PermError},
		{"no From signed", strings.Replace(signed, "h=From:From:", "h=", 1), lookup, now, PermError},
	} {
		v := &Verifier{Lookup: tc.lookup, Now: func() time.Time { return tc.at }}
		r := v.Verify(context.Background(), []byte(tc.msg))
		if len(r) != 1 || r[0].Status != tc.want {
			t.Errorf("%s: %+v, want %s", tc.what, r, tc.want)
		}
	}
}

func TestVerifyBoundsSignatures(t *testing.T) {
	signers, lookup := keys(t)
	msg := testMsg
	for range 10 {
		msg = sign(t, &Signer{Domain: "crepes.fr", Selector: "ed25519", Key: signers["ed25519"]}, msg)
	}
	if r := (&Verifier{Lookup: lookup}).Verify(context.Background(), []byte(msg)); len(r) != DefaultMaxSignatures {
		t.Errorf("%d signatures checked, want %d", len(r), DefaultMaxSignatures)
	}
}

func TestKeyFiles(t *testing.T) {
	signers, _ := keys(t)
	for typ, k := range signers {
		pemBytes, err := MarshalKey(k)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParsePrivateKey(pemBytes)
		if err != nil {
			t.Fatal(err)
		}
		switch k := k.(type) {
		case ed25519.PrivateKey:
			if !k.Equal(back) {
				t.Errorf("%s key changed in PEM", typ)
			}
		case *rsa.PrivateKey:
			if !k.Equal(back) {
				t.Errorf("%s key changed in PEM", typ)
			}
		}
	}
	if _, err := ParseKey("v=DKIM1; k=rsa; p=" + strings.Repeat("A", 100)); err == nil {
		t.Error("a garbage RSA key accepted")
	}
}
