// Package dmarc evaluates Domain-based Message Authentication, Reporting
// and Conformance (RFC 7489): does a message's From domain vouch for it?
//
// SPF says which hosts may send for the envelope's domain, DKIM which
// domain signed the message; neither is about the From: field a reader
// sees. DMARC ties them to it: a domain publishes at _dmarc.DOMAIN what to
// do with mail that claims its From: domain, and a message passes when
// SPF or DKIM passes for a domain aligned with it (the same domain, or,
// relaxed, the same organizational domain, found with the Public Suffix
// List, §3.2). The record (§6.3), the policy look-up with its fallback to
// the organizational domain (§6.6.3), alignment and the disposition with
// pct= sampling are implemented here; SPF and DKIM verdicts come from
// mail/spf and mail/dkim.
package dmarc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"strconv"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// Policy is a requested disposition (§6.3 p=).
type Policy string

const (
	PolicyNone       Policy = "none"
	PolicyQuarantine Policy = "quarantine"
	PolicyReject     Policy = "reject"
)

// Record is a parsed DMARC record.
type Record struct {
	Policy          Policy // p=, required
	SubdomainPolicy Policy // sp= (default p=)
	StrictDKIM      bool   // adkim=s
	StrictSPF       bool   // aspf=s
	Percent         int    // pct= (default 100)
	ReportURIs      []string
	FailureURIs     []string
}

// maxRecord bounds a record's length.
const maxRecord = 4096

// Parse parses a DMARC record (§6.3, §6.4): "v=DMARC1" first, then p=,
// then other tags in any order; unknown tags are ignored.
func Parse(s string) (*Record, error) {
	if len(s) > maxRecord {
		return nil, errors.New("dmarc: record too long")
	}
	var tags [][2]string
	for spec := range strings.SplitSeq(s, ";") {
		spec = strings.TrimSpace(spec)
		if spec == "" {
			continue
		}
		k, v, ok := strings.Cut(spec, "=")
		if !ok {
			return nil, fmt.Errorf("dmarc: tag %q has no value", spec)
		}
		tags = append(tags, [2]string{strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)})
	}
	if len(tags) == 0 || tags[0][0] != "v" || tags[0][1] != "DMARC1" {
		return nil, errors.New("dmarc: not a DMARC record (v=DMARC1 first)")
	}
	r := &Record{Percent: 100}
	seen := map[string]bool{}
	// p= should come right after v= (§6.4); receivers take it anywhere.
	for _, t := range tags[1:] {
		k, v := t[0], t[1]
		if seen[k] {
			return nil, fmt.Errorf("dmarc: tag %s twice", k)
		}
		seen[k] = true
		switch k {
		case "p", "sp":
			p := Policy(strings.ToLower(v))
			if p != PolicyNone && p != PolicyQuarantine && p != PolicyReject {
				return nil, fmt.Errorf("dmarc: %s=%q is not none, quarantine or reject", k, v)
			}
			if k == "p" {
				r.Policy = p
			} else {
				r.SubdomainPolicy = p
			}
		case "adkim", "aspf":
			switch strings.ToLower(v) {
			case "s":
				if k == "adkim" {
					r.StrictDKIM = true
				} else {
					r.StrictSPF = true
				}
			case "r":
			default:
				return nil, fmt.Errorf("dmarc: %s=%q is not r or s", k, v)
			}
		case "pct":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 100 {
				return nil, fmt.Errorf("dmarc: pct=%q is not 0 to 100", v)
			}
			r.Percent = n
		case "rua", "ruf":
			var uris []string
			for u := range strings.SplitSeq(v, ",") {
				if u = strings.TrimSpace(u); u != "" {
					uris = append(uris, u)
				}
			}
			if k == "rua" {
				r.ReportURIs = uris
			} else {
				r.FailureURIs = uris
			}
		}
	}
	if r.Policy == "" {
		// §6.6.3: a record with a valid rua= but no p= is as p=none.
		if len(r.ReportURIs) == 0 {
			return nil, errors.New("dmarc: no p= tag")
		}
		r.Policy = PolicyNone
	}
	if r.SubdomainPolicy == "" {
		r.SubdomainPolicy = r.Policy
	}
	return r, nil
}

// OrgDomain returns the organizational domain of a name (§3.2): the
// registered domain under its public suffix, or the name itself.
func OrgDomain(name string) string {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	d, err := publicsuffix.EffectiveTLDPlusOne(name)
	if err != nil {
		return name
	}
	return d
}

// Aligned reports whether an authenticated domain is aligned with the
// From: domain (§3.1): equal when strict, the same organizational domain
// when relaxed.
func Aligned(from, authenticated string, strict bool) bool {
	from = strings.ToLower(strings.TrimSuffix(from, "."))
	authenticated = strings.ToLower(strings.TrimSuffix(authenticated, "."))
	if strict {
		return from == authenticated
	}
	return OrgDomain(from) == OrgDomain(authenticated)
}

// Result is a DMARC verdict.
type Result string

const (
	Pass      Result = "pass"
	Fail      Result = "fail"
	None      Result = "none" // no policy published
	TempError Result = "temperror"
	PermError Result = "permerror"
)

// Auth is what SPF and DKIM found: the domains that passed.
type Auth struct {
	SPFDomain   string   // the MAIL FROM (or HELO) domain, when SPF passed
	DKIMDomains []string // the d= of every DKIM signature that passed
}

// Verdict is the outcome of an evaluation.
type Verdict struct {
	Result      Result
	From        string  // the From: domain
	PolicyFrom  string  // where the record was found
	Record      *Record // nil when none
	Disposition Policy  // what the domain asks for this message: none on pass
	AlignedBy   string  // "spf", "dkim" or "" when nothing aligned
	Err         error
}

// Lookup returns the TXT strings of each record at name; a name with no
// TXT is a *net.DNSError with IsNotFound, as from *net.Resolver.
type Lookup func(ctx context.Context, name string) ([]string, error)

// Evaluate finds the policy for fromDomain and checks the message's
// authentication results against it (§6.6.2). sample is a number in
// [0, 100) chosen at random by the caller for pct= (§6.6.4): a failing
// message outside the sample gets the next lesser policy.
func Evaluate(ctx context.Context, lookup Lookup, fromDomain string, auth Auth, sample int) Verdict {
	v := Verdict{From: strings.ToLower(strings.TrimSuffix(fromDomain, "."))}
	rec, at, err := findRecord(ctx, lookup, v.From)
	v.Record, v.PolicyFrom = rec, at
	switch {
	case err != nil:
		v.Result, v.Err = TempError, err
		return v
	case rec == nil:
		v.Result = None
		return v
	}
	switch {
	case auth.SPFDomain != "" && Aligned(v.From, auth.SPFDomain, rec.StrictSPF):
		v.AlignedBy = "spf"
	default:
		for _, d := range auth.DKIMDomains {
			if Aligned(v.From, d, rec.StrictDKIM) {
				v.AlignedBy = "dkim"
				break
			}
		}
	}
	if v.AlignedBy != "" {
		v.Result, v.Disposition = Pass, PolicyNone
		return v
	}
	v.Result = Fail
	p := rec.Policy
	if at != v.From {
		p = rec.SubdomainPolicy
	}
	if sample >= rec.Percent {
		switch p { // §6.6.4: outside the sample, one step milder
		case PolicyReject:
			p = PolicyQuarantine
		case PolicyQuarantine:
			p = PolicyNone
		}
	}
	v.Disposition = p
	return v
}

// findRecord looks for the record at _dmarc.DOMAIN, then at the
// organizational domain's (§6.6.3). Several DMARC records at one name
// count as none.
func findRecord(ctx context.Context, lookup Lookup, domain string) (*Record, string, error) {
	tries := []string{domain}
	if org := OrgDomain(domain); org != domain {
		tries = append(tries, org)
	}
	for _, d := range tries {
		txts, err := lookup(ctx, "_dmarc."+d)
		var de *net.DNSError
		if err != nil {
			if errors.As(err, &de) && de.IsNotFound {
				continue
			}
			return nil, d, fmt.Errorf("dmarc: _dmarc.%s TXT: %w", d, err)
		}
		var recs []*Record
		for _, t := range txts {
			if !strings.HasPrefix(strings.TrimSpace(t), "v=DMARC1") {
				continue
			}
			if r, err := Parse(t); err == nil {
				recs = append(recs, r)
			}
		}
		if len(recs) == 1 {
			return recs[0], d, nil
		}
	}
	return nil, "", nil
}

// FromDomain returns the domain of a message's From: address (RFC 5322),
// the domain DMARC is about (§3.1: the RFC5322.From domain); "" when the
// message has no From: address that parses. Only the header is read.
func FromDomain(msg []byte) string {
	hdr, _, _ := bytes.Cut(msg, []byte("\r\n\r\n"))
	if len(hdr) == len(msg) {
		hdr, _, _ = bytes.Cut(msg, []byte("\n\n"))
	}
	m, err := mail.ReadMessage(bytes.NewReader(append(hdr[:len(hdr):len(hdr)], "\r\n\r\n"...)))
	if err != nil {
		return ""
	}
	a, err := mail.ParseAddress(m.Header.Get("From"))
	if err != nil {
		return ""
	}
	_, d, _ := strings.Cut(a.Address, "@")
	return strings.ToLower(d)
}
