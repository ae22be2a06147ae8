package mta

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/applayer/applayer/mail/dkim"
	"github.com/applayer/applayer/mail/dmarc"
	"github.com/applayer/applayer/mail/smtp"
	"github.com/applayer/applayer/mail/spf"
)

// checkTimeout bounds the DNS work of checking one incoming message: the
// SPF check's own bound, and the DKIM and DMARC look-ups after it.
const checkTimeout = spf.DefaultTimeout + 10*time.Second

// authResults checks a message that arrived unauthenticated (SPF of the
// client for MAIL FROM, DKIM, DMARC) and returns its
// Authentication-Results field (RFC 8601) and the DMARC verdict.
func (m *MTA) authResults(path string, skip int64, client netip.Addr, helo, mailFrom string) (string, dmarc.Verdict) {
	res, ok := m.cfg.Resolver.(spf.Resolver)
	if !ok {
		// A resolver of MX and addresses only (a StaticResolver): the
		// checks cannot run, and the system's DNS is not what was asked.
		m.log.Warn("mta: incoming mail not checked: the resolver has no TXT look-ups")
		return "", dmarc.Verdict{Result: dmarc.None}
	}
	ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
	defer cancel()
	var auth dmarc.Auth
	var b strings.Builder
	fmt.Fprintf(&b, "Authentication-Results: %s", m.cfg.Hostname)

	sv := (&spf.Checker{Resolver: res}).Check(ctx, client, mailFrom, helo)
	spfDomain := helo
	if _, d, ok := strings.Cut(mailFrom, "@"); ok {
		spfDomain = d
	}
	fmt.Fprintf(&b, ";\r\n\tspf=%s smtp.mailfrom=%s", sv.Result, orNull(mailFrom))
	if sv.Result == spf.Pass {
		auth.SPFDomain = spfDomain
	}

	raw, err := readFrom(path, skip, maxCheckBytes)
	if err != nil {
		m.log.Warn("mta: message not checked", "err", err)
		return "", dmarc.Verdict{Result: dmarc.TempError}
	}
	lookup := dkim.LookupWith(res)
	results := (&dkim.Verifier{Lookup: lookup}).Verify(ctx, raw)
	if len(results) == 0 {
		b.WriteString(";\r\n\tdkim=none")
	}
	for _, r := range results {
		fmt.Fprintf(&b, ";\r\n\tdkim=%s header.d=%s header.s=%s", r.Status, r.Domain, r.Selector)
		if r.Status == dkim.Pass {
			auth.DKIMDomains = append(auth.DKIMDomains, r.Domain)
		}
	}
	from := dmarc.FromDomain(raw)
	dv := dmarc.Evaluate(ctx, res.LookupTXT, from, auth, rand.IntN(100))
	if from != "" {
		fmt.Fprintf(&b, ";\r\n\tdmarc=%s header.from=%s", dv.Result, from)
	}
	b.WriteString("\r\n")
	return b.String(), dv
}

func orNull(s string) string {
	if s == "" {
		return "<>"
	}
	return s
}

// readFrom reads a spool file after its first skip bytes, at most limit.
func readFrom(path string, skip, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.Seek(skip, io.SeekStart); err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(f, limit))
}

// maxCheckBytes bounds what is read of a message to check it (the SIZE
// limit is below it).
const maxCheckBytes = 64 << 20

// dmarcRefusal is the reply to a message its From: domain asks to reject.
func dmarcRefusal(v dmarc.Verdict) *smtp.Reply {
	return smtp.R(550, smtp.EnhancedCode{5, 7, 1}, fmt.Sprintf("Message refused: %s's DMARC policy rejects mail that neither SPF nor DKIM authenticates for it", v.From))
}
