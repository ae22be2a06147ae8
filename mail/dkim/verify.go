package dkim

import (
	"bytes"
	"cmp"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Status is a verification result, as Authentication-Results writes it
// (RFC 8601 §2.7.1).
type Status string

const (
	Pass      Status = "pass"
	Fail      Status = "fail"      // the signature or body hash does not match
	PermError Status = "permerror" // cannot be verified: bad signature field, no key, bad key
	TempError Status = "temperror" // the key could not be looked up now
)

// Result is what verifying one signature found.
type Result struct {
	Status    Status
	Domain    string // d=
	Selector  string // s=
	Identity  string // i= (default "@" + d=)
	Algorithm string // a=
	Testing   bool   // the key record says t=y
	Err       error  // why, when Status is not Pass
}

// ErrNoKey is what a Verifier's Lookup returns when the name has no TXT
// record (NXDOMAIN or NODATA): a permanent error, where any other lookup
// error is a temporary one.
var ErrNoKey = errors.New("dkim: no key record")

// DefaultMaxSignatures bounds the signatures one message may ask a
// verifier to check (each may cost a DNS lookup and an RSA verification).
const DefaultMaxSignatures = 5

// Verifier checks the DKIM signatures of messages.
type Verifier struct {
	// Lookup returns the TXT strings of each record at name (each
	// record's strings joined), or ErrNoKey. Default: the system
	// resolver.
	Lookup func(ctx context.Context, name string) ([]string, error)
	// Now is the time signatures are checked at (default time.Now).
	Now func() time.Time
	// MaxSignatures bounds the signatures checked per message (default
	// DefaultMaxSignatures); later ones are ignored.
	MaxSignatures int
}

// TXTResolver is what LookupWith asks; *net.Resolver is one.
type TXTResolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
}

// LookupWith returns a Lookup that asks r, mapping "not found" to ErrNoKey.
func LookupWith(r TXTResolver) func(context.Context, string) ([]string, error) {
	return func(ctx context.Context, name string) ([]string, error) {
		txt, err := r.LookupTXT(ctx, name)
		var de *net.DNSError
		if errors.As(err, &de) && de.IsNotFound {
			return nil, ErrNoKey
		}
		return txt, err
	}
}

// Verify checks every DKIM-Signature of msg, up to MaxSignatures, in the
// order they appear; a message with none gives no results.
func (v *Verifier) Verify(ctx context.Context, msg []byte) []Result {
	fields, body := splitMessage(msg)
	var out []Result
	limit := v.MaxSignatures
	if limit <= 0 {
		limit = DefaultMaxSignatures
	}
	for _, f := range fields {
		if !strings.EqualFold(f.name, "DKIM-Signature") {
			continue
		}
		if len(out) == limit {
			break
		}
		out = append(out, v.verifyOne(ctx, fields, f, body))
	}
	return out
}

func (v *Verifier) verifyOne(ctx context.Context, fields []field, sigField field, body []byte) Result {
	_, value, _ := strings.Cut(sigField.raw, ":")
	tags, err := parseTags(value)
	if err != nil {
		return Result{Status: PermError, Err: fmt.Errorf("dkim: signature: %w", err)}
	}
	get := func(n string) string { s, _ := tags.get(n); return s }
	r := Result{Domain: strings.ToLower(get("d")), Selector: get("s"), Algorithm: strings.ToLower(get("a")), Identity: get("i")}
	perm := func(format string, a ...any) Result {
		r.Status, r.Err = PermError, fmt.Errorf("dkim: "+format, a...)
		return r
	}
	for _, n := range []string{"v", "a", "b", "bh", "d", "h", "s"} {
		if _, ok := tags.get(n); !ok {
			return perm("signature lacks the %s= tag", n)
		}
	}
	if get("v") != "1" {
		return perm("signature version %q, want 1", get("v"))
	}
	if r.Algorithm != RSASHA256 && r.Algorithm != Ed25519SHA256 {
		return perm("algorithm %q not supported (rsa-sha1 is obsolete, RFC 8301)", r.Algorithm)
	}
	hc, bc := Simple, Simple
	if c, ok := tags.get("c"); ok {
		h, b, hasB := strings.Cut(strings.ToLower(c), "/")
		hc = Canon(h)
		if hasB {
			bc = Canon(b)
		}
		if (hc != Simple && hc != Relaxed) || (bc != Simple && bc != Relaxed) {
			return perm("canonicalization %q unknown", c)
		}
	}
	var names []string
	for n := range strings.SplitSeq(get("h"), ":") {
		names = append(names, trimFWS(n))
	}
	if !containsFold(names, "From") {
		return perm("the From field is not signed")
	}
	if r.Identity == "" {
		r.Identity = "@" + r.Domain
	}
	_, idDomain, _ := strings.Cut(r.Identity, "@")
	idDomain = strings.ToLower(idDomain)
	if idDomain != r.Domain && !strings.HasSuffix(idDomain, "."+r.Domain) {
		return perm("i= %s is not in d= %s", r.Identity, r.Domain)
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	if x, ok := tags.get("x"); ok {
		exp, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			return perm("bad x= %q", x)
		}
		if now().Unix() > exp {
			return perm("signature expired at %s", time.Unix(exp, 0).UTC().Format(time.RFC3339))
		}
	}
	bodyLimit := int64(-1)
	if l, ok := tags.get("l"); ok {
		n, err := strconv.ParseInt(l, 10, 64)
		if err != nil || n < 0 {
			return perm("bad l= %q", l)
		}
		bodyLimit = n
	}
	if q, ok := tags.get("q"); ok && !strings.Contains(strings.ToLower(q), "dns/txt") {
		return perm("query method %q not supported", q)
	}
	wantBH, err := base64.StdEncoding.DecodeString(stripFWS(get("bh")))
	if err != nil {
		return perm("bh=: %v", err)
	}
	sig, err := base64.StdEncoding.DecodeString(stripFWS(get("b")))
	if err != nil {
		return perm("b=: %v", err)
	}

	key, status, err := v.key(ctx, r.Selector, r.Domain)
	if err != nil {
		r.Status, r.Err = status, err
		return r
	}
	r.Testing = key.Testing
	switch {
	case key.Revoked:
		return perm("key %s._domainkey.%s revoked", r.Selector, r.Domain)
	case (key.Type == "rsa") != (r.Algorithm == RSASHA256):
		return perm("a=%s but the key is %s", r.Algorithm, key.Type)
	case key.Strict && idDomain != r.Domain:
		return perm("the key is for %s only (t=s), i= is %s", r.Domain, r.Identity)
	}
	if !containsFold(key.Services, "*") && !containsFold(key.Services, "email") {
		return perm("the key is not for e-mail (s=%s)", strings.Join(key.Services, ":"))
	}

	cb := canonBody(bc, body, -1)
	if bodyLimit >= 0 {
		if bodyLimit > int64(len(cb)) {
			return perm("l=%d is longer than the body (%d bytes)", bodyLimit, len(cb))
		}
		cb = cb[:bodyLimit]
	}
	if bh := sha256.Sum256(cb); !bytes.Equal(bh[:], wantBH) {
		r.Status, r.Err = Fail, errors.New("dkim: body hash does not match (the body changed)")
		return r
	}
	h := sha256.New()
	for _, raw := range pickHeaders(fields, names) {
		h.Write([]byte(canonHeader(hc, raw)))
	}
	h.Write([]byte(strings.TrimSuffix(canonHeader(hc, withoutB(sigField.raw)), "\r\n")))
	digest := h.Sum(nil)
	ok := false
	switch pub := key.Public.(type) {
	case *rsa.PublicKey:
		ok = rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest, sig) == nil
	case ed25519.PublicKey:
		ok = ed25519.Verify(pub, digest, sig)
	}
	if !ok {
		r.Status, r.Err = Fail, errors.New("dkim: signature does not verify (a signed header changed, or the key is not the signer's)")
		return r
	}
	r.Status = Pass
	return r
}

// key looks up and parses the key at selector._domainkey.domain.
func (v *Verifier) key(ctx context.Context, selector, domain string) (*Key, Status, error) {
	if selector == "" || domain == "" || strings.ContainsAny(selector+domain, " \t\r\n;") {
		return nil, PermError, errors.New("dkim: bad selector or domain")
	}
	name := selector + "._domainkey." + domain
	lookup := v.Lookup
	if lookup == nil {
		lookup = LookupWith(net.DefaultResolver)
	}
	txts, err := lookup(ctx, name)
	switch {
	case errors.Is(err, ErrNoKey) || (err == nil && len(txts) == 0):
		return nil, PermError, fmt.Errorf("dkim: no key record at %s", name)
	case err != nil:
		return nil, TempError, fmt.Errorf("dkim: looking up %s: %w", name, err)
	}
	var first error
	for _, txt := range txts {
		k, err := ParseKey(txt)
		if err == nil {
			return k, Pass, nil
		}
		first = cmp.Or(first, err)
	}
	return nil, PermError, fmt.Errorf("%w (at %s)", first, name)
}

// withoutB returns a DKIM-Signature field with the value of its b= tag,
// and the white space around it, removed (RFC 6376 §3.7), keeping the
// final CRLF.
func withoutB(raw string) string {
	body, crlf := strings.CutSuffix(raw, "\r\n")
	colon := strings.IndexByte(body, ':')
	var b strings.Builder
	b.WriteString(body[:colon+1])
	rest := body[colon+1:]
	for i := 0; ; i++ {
		spec, after, more := strings.Cut(rest, ";")
		if i > 0 {
			b.WriteByte(';')
		}
		name, _, hasEq := strings.Cut(spec, "=")
		if hasEq && trimFWS(name) == "b" {
			b.WriteString(spec[:len(name)+1])
		} else {
			b.WriteString(spec)
		}
		if !more {
			break
		}
		rest = after
	}
	if crlf {
		b.WriteString("\r\n")
	}
	return b.String()
}
