// Package spf evaluates Sender Policy Framework records (RFC 7208): may
// this IP address send mail for this domain?
//
// A domain publishes, in a TXT record beginning "v=spf1", the hosts it
// sends mail from: its MX hosts, address ranges, other domains' records
// included. A receiving server evaluates the record of the MAIL FROM
// domain (or, for an empty reverse path, of the HELO name) against the
// connecting client's address (check_host(), §4). The record syntax
// (§4.6, §12), its macros (§7) and the limits on the DNS work one
// record may cause (§4.6.4: 10 look-ups, 2 void ones) are implemented
// here; the look-ups go through a Resolver, which *net.Resolver is.
package spf

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
)

// Result is an SPF verdict (RFC 7208 §2.6), as Received-SPF and
// Authentication-Results write it.
type Result string

const (
	None      Result = "none"      // no record, or no usable domain
	Neutral   Result = "neutral"   // the record says nothing about this address
	Pass      Result = "pass"      // authorised
	Fail      Result = "fail"      // not authorised
	SoftFail  Result = "softfail"  // probably not authorised
	TempError Result = "temperror" // a DNS error; try again later
	PermError Result = "permerror" // the record is broken, or asks too much DNS work
)

// Resolver is the DNS the checker asks; *net.Resolver is one. A name
// that does not exist is a *net.DNSError with IsNotFound set.
type Resolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupAddr(ctx context.Context, addr string) ([]string, error)
}

// Limits of RFC 7208 §4.6.4.
const (
	DefaultMaxLookups     = 10 // terms that cause DNS look-ups
	DefaultMaxVoidLookups = 2  // look-ups that find nothing
	maxMXorPTRNames       = 10 // names of one mx or ptr look-up
	// DefaultTimeout bounds one whole check (§4.6.4: at least 20 s).
	DefaultTimeout = 20 * time.Second
)

// Checker evaluates SPF records.
type Checker struct {
	Resolver       Resolver // default net.DefaultResolver
	MaxLookups     int      // default DefaultMaxLookups
	MaxVoidLookups int      // default DefaultMaxVoidLookups
	Timeout        time.Duration
	// Log, when set, is told of every DNS look-up and its outcome, for a
	// command that shows the check as a dialogue.
	Log func(query, outcome string)
}

// Verdict is the outcome of a check.
type Verdict struct {
	Result      Result
	Domain      string // the domain whose policy decided
	Mechanism   string // the term that matched, "" when none did
	Explanation string // for Fail: the domain's exp= text, if any
	Err         error  // for TempError and PermError: why
}

// Check evaluates the SPF policy for a message from sender (the MAIL
// FROM address, "" for the null reverse path) sent by ip, which greeted
// with helo (RFC 7208 §2.3, §2.4: an empty sender is checked as
// postmaster@helo).
func (c *Checker) Check(ctx context.Context, ip netip.Addr, sender, helo string) Verdict {
	ip = ip.Unmap()
	if sender == "" {
		sender = "postmaster@" + helo
	}
	local, domain, ok := strings.Cut(sender, "@")
	if !ok {
		local, domain = "postmaster", sender
	}
	if local == "" {
		local = "postmaster"
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	e := &eval{c: c, ip: ip, sender: local + "@" + domain, local: local, senderDomain: domain, helo: helo}
	return e.checkHost(ctx, strings.TrimSuffix(domain, "."), 0)
}

// eval is one check: its inputs and the DNS work done so far.
type eval struct {
	c                   *Checker
	ip                  netip.Addr
	sender, local, helo string
	senderDomain        string
	lookups, voids      int
}

// errLimit is a permerror for too much DNS work.
var errLimit = errors.New("spf: more than the allowed DNS look-ups (RFC 7208 §4.6.4)")

func (e *eval) resolver() Resolver {
	if e.c.Resolver != nil {
		return e.c.Resolver
	}
	return net.DefaultResolver
}

func (e *eval) log(q, outcome string) {
	if e.c.Log != nil {
		e.c.Log(q, outcome)
	}
}

// countLookup charges one term that causes DNS look-ups.
func (e *eval) countLookup() error {
	e.lookups++
	max := e.c.MaxLookups
	if max <= 0 {
		max = DefaultMaxLookups
	}
	if e.lookups > max {
		return errLimit
	}
	return nil
}

// dnsErr classifies a look-up error: nil and void for a name or type
// with no data (which counts toward the void limit), a temporary error
// otherwise.
func (e *eval) dnsErr(err error, n int) (void bool, _ error) {
	var de *net.DNSError
	if err != nil && !(errors.As(err, &de) && de.IsNotFound) {
		return false, err
	}
	if err == nil && n > 0 {
		return false, nil
	}
	e.voids++
	max := e.c.MaxVoidLookups
	if max <= 0 {
		max = DefaultMaxVoidLookups
	}
	if e.voids > max {
		return true, errors.New("spf: more than the allowed void DNS look-ups (RFC 7208 §4.6.4)")
	}
	return true, nil
}

type tempError struct{ err error }

func (t tempError) Error() string { return t.err.Error() }
func (t tempError) Unwrap() error { return t.err }

// checkHost is check_host() (§4).
func (e *eval) checkHost(ctx context.Context, domain string, depth int) Verdict {
	v := Verdict{Domain: domain}
	if !validDomain(domain) {
		v.Result = None
		return v
	}
	txts, err := e.resolver().LookupTXT(ctx, domain)
	var de *net.DNSError
	switch {
	case err != nil && errors.As(err, &de) && de.IsNotFound:
		e.log(domain+" TXT", "no such name")
		v.Result = None
		return v
	case err != nil:
		e.log(domain+" TXT", err.Error())
		v.Result, v.Err = TempError, fmt.Errorf("spf: %s TXT: %w", domain, err)
		return v
	}
	var records []string
	for _, t := range txts {
		if l := strings.ToLower(t); l == "v=spf1" || strings.HasPrefix(l, "v=spf1 ") {
			records = append(records, t)
		}
	}
	e.log(domain+" TXT", fmt.Sprintf("%d SPF record(s) of %d TXT", len(records), len(txts)))
	switch len(records) {
	case 0:
		v.Result = None
		return v
	case 1:
	default:
		v.Result, v.Err = PermError, fmt.Errorf("spf: %s has %d SPF records (RFC 7208 §4.5)", domain, len(records))
		return v
	}
	rec, err := Parse(records[0])
	if err != nil {
		v.Result, v.Err = PermError, fmt.Errorf("spf: %s: %w", domain, err)
		return v
	}
	for _, m := range rec.Mechanisms {
		match, err := e.match(ctx, m, domain, depth)
		if err != nil {
			return errVerdict(v, err)
		}
		if match {
			v.Result, v.Mechanism = m.Qualifier.result(), m.String()
			if v.Result == Fail && rec.Exp != "" {
				v.Explanation = e.explain(ctx, rec.Exp, domain)
			}
			return v
		}
	}
	if rec.Redirect != "" {
		if err := e.countLookup(); err != nil {
			return errVerdict(v, err)
		}
		target, err := e.expand(rec.Redirect, domain, false)
		if err != nil {
			return errVerdict(v, err)
		}
		r := e.checkHost(ctx, target, depth+1)
		if r.Result == None {
			r.Result, r.Err = PermError, fmt.Errorf("spf: redirect to %s, which has no SPF record", target)
		}
		return r
	}
	v.Result = Neutral
	return v
}

func errVerdict(v Verdict, err error) Verdict {
	var te tempError
	if errors.As(err, &te) {
		v.Result, v.Err = TempError, err
	} else {
		v.Result, v.Err = PermError, err
	}
	return v
}

// match reports whether mechanism m matches (§5).
func (e *eval) match(ctx context.Context, m Mechanism, domain string, depth int) (bool, error) {
	target := domain
	if m.Domain != "" {
		t, err := e.expand(m.Domain, domain, false)
		if err != nil {
			return false, err
		}
		target = t
	}
	switch m.Kind {
	case "all":
		return true, nil
	case "ip4", "ip6":
		return m.Prefix.Contains(e.ip), nil
	}
	if err := e.countLookup(); err != nil {
		return false, err
	}
	switch m.Kind {
	case "include":
		if depth >= 20 {
			return false, errors.New("spf: includes nested too deep")
		}
		r := e.checkHost(ctx, target, depth+1)
		switch r.Result {
		case Pass:
			return true, nil
		case Fail, SoftFail, Neutral:
			return false, nil
		case TempError:
			return false, tempError{r.Err}
		case None:
			return false, fmt.Errorf("spf: include:%s, which has no SPF record", target)
		default:
			return false, r.Err
		}
	case "a":
		return e.addrsMatch(ctx, target, m)
	case "mx":
		mxs, err := e.resolver().LookupMX(ctx, target)
		e.log(target+" MX", outcome(len(mxs), err))
		if void, err := e.dnsErr(err, len(mxs)); err != nil || void {
			return false, wrapTemp(err)
		}
		if len(mxs) > maxMXorPTRNames {
			return false, fmt.Errorf("spf: %s has %d MX records, more than %d (RFC 7208 §4.6.4)", target, len(mxs), maxMXorPTRNames)
		}
		for _, mx := range mxs {
			if ok, err := e.addrsMatch(ctx, strings.TrimSuffix(mx.Host, "."), m); ok || err != nil {
				return ok, err
			}
		}
		return false, nil
	case "ptr":
		names, err := e.resolver().LookupAddr(ctx, e.ip.String())
		e.log(e.ip.String()+" PTR", outcome(len(names), err))
		if void, err := e.dnsErr(err, len(names)); err != nil || void {
			// A PTR failure is no match, never an error (§5.5).
			return false, nil
		}
		for i, n := range names {
			if i == maxMXorPTRNames {
				break
			}
			n = strings.TrimSuffix(n, ".")
			if !strings.EqualFold(n, target) && !hasSuffixFold(n, "."+target) {
				continue
			}
			if addrs, err := e.resolver().LookupNetIP(ctx, e.family(), n); err == nil {
				for _, a := range addrs {
					if a.Unmap() == e.ip {
						return true, nil
					}
				}
			}
		}
		return false, nil
	case "exists":
		addrs, err := e.resolver().LookupNetIP(ctx, "ip4", target)
		e.log(target+" A", outcome(len(addrs), err))
		if void, err := e.dnsErr(err, len(addrs)); err != nil || void {
			return false, wrapTemp(err)
		}
		return true, nil
	}
	return false, fmt.Errorf("spf: unknown mechanism %q", m.Kind)
}

// family is the address family the checked IP belongs to.
func (e *eval) family() string {
	if e.ip.Is4() {
		return "ip4"
	}
	return "ip6"
}

// addrsMatch looks up target's addresses of the IP's family and reports
// whether one, with m's prefix length, holds the IP (§5.3).
func (e *eval) addrsMatch(ctx context.Context, target string, m Mechanism) (bool, error) {
	if !validDomain(target) {
		return false, nil
	}
	addrs, err := e.resolver().LookupNetIP(ctx, e.family(), target)
	e.log(target+" "+map[bool]string{true: "A", false: "AAAA"}[e.ip.Is4()], outcome(len(addrs), err))
	if void, err := e.dnsErr(err, len(addrs)); err != nil || void {
		return false, wrapTemp(err)
	}
	bits := m.Bits4
	if !e.ip.Is4() {
		bits = m.Bits6
	}
	for _, a := range addrs {
		a = a.Unmap()
		if a.Is4() != e.ip.Is4() {
			continue
		}
		if p, err := a.Prefix(bits); err == nil && p.Contains(e.ip) {
			return true, nil
		}
	}
	return false, nil
}

func wrapTemp(err error) error {
	if err == nil || errors.Is(err, errLimit) || strings.HasPrefix(err.Error(), "spf: ") {
		return err
	}
	return tempError{err}
}

func outcome(n int, err error) string {
	if err != nil {
		var de *net.DNSError
		if errors.As(err, &de) && de.IsNotFound {
			return "no such name or no data"
		}
		return err.Error()
	}
	return fmt.Sprintf("%d answer(s)", n)
}

// explain fetches and expands the exp= explanation (§6.2); any failure
// gives no explanation.
func (e *eval) explain(ctx context.Context, spec, domain string) string {
	name, err := e.expand(spec, domain, false)
	if err != nil {
		return ""
	}
	txts, err := e.resolver().LookupTXT(ctx, name)
	if err != nil || len(txts) != 1 {
		return ""
	}
	s, err := e.expand(txts[0], domain, true)
	if err != nil {
		return ""
	}
	return s
}

func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix)
}

// validDomain: a multi-label name whose labels are 1 to 63 bytes, at
// most 253 in all (§4.3).
func validDomain(d string) bool {
	d = strings.TrimSuffix(d, ".")
	if len(d) == 0 || len(d) > 253 || !strings.Contains(d, ".") {
		return false
	}
	for l := range strings.SplitSeq(d, ".") {
		if len(l) == 0 || len(l) > 63 {
			return false
		}
	}
	return true
}
