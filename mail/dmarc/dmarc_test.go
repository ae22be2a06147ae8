package dmarc

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // "p sp adkim aspf pct" or "error"
	}{
		{"v=DMARC1; p=reject", "reject reject r r 100"},
		{"v=DMARC1;p=quarantine;sp=none;adkim=s;aspf=s;pct=20;rua=mailto:a@x.example,mailto:b@x.example", "quarantine none s s 20"},
		{"v=DMARC1; rua=mailto:a@x.example", "none none r r 100"},
		{"v=DMARC1; p=reject; foo=bar", "reject reject r r 100"},
		{"v=DMARC1", "error"},
		{"v=DMARC2; p=none", "error"},
		{"p=none; v=DMARC1", "error"},
		{"v=DMARC1; p=discard", "error"},
		{"v=DMARC1; p=none; pct=101", "error"},
		{"v=DMARC1; p=none; p=reject", "error"},
		{"v=DMARC1; p=none; adkim=x", "error"},
	} {
		r, err := Parse(tc.in)
		got := "error"
		if err == nil {
			got = string(r.Policy) + " " + string(r.SubdomainPolicy) + " " + map[bool]string{false: "r", true: "s"}[r.StrictDKIM] + " " + map[bool]string{false: "r", true: "s"}[r.StrictSPF] + " " + strconv.Itoa(r.Percent)
		}
		if got != tc.want {
			t.Errorf("Parse(%q) = %s (%v), want %s", tc.in, got, err, tc.want)
		}
	}
}

func TestAlignment(t *testing.T) {
	for _, tc := range []struct {
		from, auth string
		strict     bool
		want       bool
	}{
		{"crepes.fr", "crepes.fr", true, true},
		{"crepes.fr", "mail.crepes.fr", true, false},
		{"crepes.fr", "mail.crepes.fr", false, true},
		{"news.crepes.fr", "bounces.crepes.fr", false, true},
		{"a.co.uk", "b.co.uk", false, false}, // co.uk is a public suffix
		{"x.a.co.uk", "a.co.uk.", false, true},
		{"crepes.fr", "crepes.fr.evil.example", false, false},
	} {
		if got := Aligned(tc.from, tc.auth, tc.strict); got != tc.want {
			t.Errorf("Aligned(%s, %s, strict=%v) = %v", tc.from, tc.auth, tc.strict, got)
		}
	}
}

func TestEvaluate(t *testing.T) {
	records := map[string][]string{
		"_dmarc.crepes.fr":       {"v=DMARC1; p=reject; sp=quarantine; aspf=s"},
		"_dmarc.hamburger.edu":   {"v=DMARC1; p=quarantine; pct=50"},
		"_dmarc.two.example":     {"v=DMARC1; p=reject", "v=DMARC1; p=none"},
		"_dmarc.spf-txt.example": {"v=spf1 -all", "v=DMARC1; p=reject"},
	}
	lookup := func(_ context.Context, name string) ([]string, error) {
		if name == "_dmarc.broken.example" {
			return nil, errors.New("SERVFAIL")
		}
		if r, ok := records[name]; ok {
			return r, nil
		}
		return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
	}
	for _, tc := range []struct {
		what   string
		from   string
		auth   Auth
		sample int
		want   string // result, disposition, aligned by
	}{
		{"DKIM aligned", "crepes.fr", Auth{DKIMDomains: []string{"evil.example", "crepes.fr"}}, 0, "pass none dkim"},
		{"DKIM of a subdomain, relaxed", "crepes.fr", Auth{DKIMDomains: []string{"mail.crepes.fr"}}, 0, "pass none dkim"},
		{"SPF strict, subdomain", "crepes.fr", Auth{SPFDomain: "bounce.crepes.fr"}, 0, "fail reject "},
		{"SPF strict, same", "crepes.fr", Auth{SPFDomain: "crepes.fr"}, 0, "pass none spf"},
		{"nothing aligned", "crepes.fr", Auth{SPFDomain: "evil.example", DKIMDomains: []string{"evil.example"}}, 0, "fail reject "},
		{"subdomain policy", "news.crepes.fr", Auth{}, 0, "fail quarantine "},
		{"inside pct", "hamburger.edu", Auth{}, 49, "fail quarantine "},
		{"outside pct", "hamburger.edu", Auth{}, 50, "fail none "},
		{"no record", "nodmarc.example", Auth{}, 0, "none  "},
		{"two records", "two.example", Auth{}, 0, "none  "},
		{"other TXT beside", "spf-txt.example", Auth{}, 0, "fail reject "},
		{"DNS failure", "broken.example", Auth{}, 0, "temperror  "},
	} {
		v := Evaluate(context.Background(), lookup, tc.from, tc.auth, tc.sample)
		if got := string(v.Result) + " " + string(v.Disposition) + " " + v.AlignedBy; got != tc.want {
			t.Errorf("%s: %q (%v), want %q", tc.what, got, v.Err, tc.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"v=DMARC1; p=reject", "v=DMARC1;p=quarantine;sp=none;adkim=s;aspf=s;pct=20;rua=mailto:a@x", "v=DMARC1; rua=", ";;="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse(s)
		if err == nil && (r.Policy == "" || r.SubdomainPolicy == "" || r.Percent < 0 || r.Percent > 100 || !strings.HasPrefix(strings.TrimSpace(s), "v")) {
			t.Fatalf("Parse(%q) = %+v", s, r)
		}
	})
}

func TestFromDomain(t *testing.T) {
	for msg, want := range map[string]string{
		"From: Alice <alice@Crepes.FR>\r\nTo: bob@hamburger.edu\r\n\r\nbody\r\n": "crepes.fr",
		"To: bob@hamburger.edu\nFrom: alice@crepes.fr\n\nbody\n":                 "crepes.fr",
		"Subject: no from\r\n\r\n":                                               "",
		"From: not an address\r\n\r\n":                                           "",
	} {
		if got := FromDomain([]byte(msg)); got != want {
			t.Errorf("FromDomain(%q) = %q, want %q", msg, got, want)
		}
	}
}
