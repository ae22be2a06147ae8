package dkim

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DefaultHeaders are the fields signed when Signer.Headers is empty: those
// that say who sent what to whom and when, and how to read it (RFC 6376
// §5.4.1). From is signed once more than it appears, so that a From added
// on the way breaks the signature.
var DefaultHeaders = []string{
	"From", "Reply-To", "Subject", "Date", "To", "Cc", "Message-ID",
	"In-Reply-To", "References", "MIME-Version", "Content-Type",
	"Content-Transfer-Encoding", "List-Id", "List-Unsubscribe",
}

// Signer signs messages for one domain with one key.
type Signer struct {
	Domain   string        // d=, required
	Selector string        // s=, required
	Key      crypto.Signer // *rsa.PrivateKey or ed25519.PrivateKey, required
	// Headers are the fields to sign (default DefaultHeaders); a field
	// the message lacks is left out, and From is over-signed.
	Headers []string
	// HeaderCanon and BodyCanon default to Relaxed, which survives the
	// re-folding that relays do.
	HeaderCanon, BodyCanon Canon
	// Expire sets x= this long after the signing time (default 0: none).
	Expire time.Duration
	// Now is the signing time (default time.Now).
	Now func() time.Time
}

// Sign returns the DKIM-Signature header field for msg, folded and
// ending in CRLF, to be prepended to the message.
func (s *Signer) Sign(msg []byte) (string, error) {
	if s.Domain == "" || s.Selector == "" || s.Key == nil {
		return "", errors.New("dkim: Signer needs Domain, Selector and Key")
	}
	alg, err := algorithm(s.Key)
	if err != nil {
		return "", err
	}
	hc, bc := orRelaxed(s.HeaderCanon), orRelaxed(s.BodyCanon)
	fields, body := splitMessage(msg)
	bh := sha256.Sum256(canonBody(bc, body, -1))

	want := s.Headers
	if len(want) == 0 {
		want = DefaultHeaders
	}
	var names []string
	for _, n := range want {
		count := 0
		for _, f := range fields {
			if strings.EqualFold(f.name, n) {
				count++
			}
		}
		if strings.EqualFold(n, "From") {
			count++ // over-signed
		}
		for range count {
			names = append(names, n)
		}
	}
	if !containsFold(names, "From") {
		return "", errors.New("dkim: the From field must be signed (RFC 6376 §5.4)")
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	t := now().Unix()
	tags := []string{
		"v=1", "a=" + alg, "c=" + string(hc) + "/" + string(bc),
		"d=" + s.Domain, "s=" + s.Selector, "t=" + strconv.FormatInt(t, 10),
	}
	if s.Expire > 0 {
		tags = append(tags, "x="+strconv.FormatInt(t+int64(s.Expire/time.Second), 10))
	}
	tags = append(tags, "h="+strings.Join(names, ":"), "bh="+base64.StdEncoding.EncodeToString(bh[:]))
	head := fold("DKIM-Signature: ", tags) + " b="

	h := sha256.New()
	for _, raw := range pickHeaders(fields, names) {
		h.Write([]byte(canonHeader(hc, raw)))
	}
	sig := canonHeader(hc, head+"\r\n")
	h.Write([]byte(strings.TrimSuffix(sig, "\r\n")))
	digest := h.Sum(nil)
	var b []byte
	if alg == Ed25519SHA256 {
		// RFC 8463 §3: Ed25519 signs the SHA-256 hash as its message.
		b, err = s.Key.Sign(rand.Reader, digest, crypto.Hash(0))
	} else {
		b, err = s.Key.Sign(rand.Reader, digest, crypto.SHA256)
	}
	if err != nil {
		return "", fmt.Errorf("dkim: signing: %w", err)
	}
	return head + foldValue(base64.StdEncoding.EncodeToString(b)) + "\r\n", nil
}

func orRelaxed(c Canon) Canon {
	if c == "" {
		return Relaxed
	}
	return c
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// fold writes tags after prefix, "; "-separated, starting a new line
// (CRLF and a tab) before a tag that would pass 78 columns, and ends with
// a ";".
func fold(prefix string, tags []string) string {
	var b strings.Builder
	b.WriteString(prefix)
	col := len(prefix)
	for i, tag := range tags {
		sep := " "
		if i == 0 {
			sep = ""
		}
		// A long h= list is broken at its colons.
		for j, part := range strings.SplitAfter(tag, ":") {
			if j > 0 {
				sep = ""
			}
			if col+len(sep)+len(part) > 78 && col > 1 {
				b.WriteString("\r\n\t")
				col, sep = 1, ""
			}
			b.WriteString(sep + part)
			col += len(sep) + len(part)
		}
		b.WriteByte(';')
		col++
	}
	return b.String()
}

// foldValue breaks a base64 value into lines of 72 characters; verifiers
// strip the folding white space (§3.5, b=).
func foldValue(v string) string {
	var b strings.Builder
	for len(v) > 72 {
		b.WriteString(v[:72] + "\r\n\t")
		v = v[72:]
	}
	b.WriteString(v)
	return b.String()
}
