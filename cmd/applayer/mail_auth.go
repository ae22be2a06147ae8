package main

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"net"
	"net/mail"
	"net/netip"
	"os"
	"regexp"
	"strings"

	"github.com/applayer/applayer/internal/atomicfile"
	"github.com/applayer/applayer/internal/stubresolver"
	"github.com/applayer/applayer/mail/dkim"
	"github.com/applayer/applayer/mail/dmarc"
	"github.com/applayer/applayer/mail/spf"
	"github.com/spf13/cobra"
)

// newMailDKIMCmd groups the DKIM key and signing commands.
func newMailDKIMCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "dkim",
		Short: "DKIM (RFC 6376): make a signing key and its DNS record, sign a message",
	}
	var domain, selector, typ, keyFile string
	keygen := &cobra.Command{
		Use:   "keygen --domain D --selector S --key FILE [--type ed25519|rsa]",
		Short: "Make a signing key and print the TXT record that publishes it",
		Long: `Make a DKIM signing key, write it to --key (PEM, readable by its owner only;
an existing file is not overwritten), and print the TXT record to publish at
SELECTOR._domainkey.DOMAIN, in zone-file form.`,
		Example: exampleLines("applayer mail dkim keygen --domain crepes.fr --selector lab --key /tmp/crepes.fr.dkim.pem"),
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if _, err := os.Stat(keyFile); err == nil {
				return fmt.Errorf("%s exists; not overwriting a key", keyFile)
			}
			k, err := dkim.GenerateKey(typ)
			if err != nil {
				return err
			}
			pem, err := dkim.MarshalKey(k)
			if err != nil {
				return err
			}
			rec, err := dkim.Record(k)
			if err != nil {
				return err
			}
			if err := atomicfile.WriteFile(keyFile, pem, 0o600); err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "%s._domainkey.%s. 3600 IN TXT %s\n", selector, strings.TrimSuffix(domain, "."), txtStrings(rec))
			return nil
		},
	}
	kf := keygen.Flags()
	kf.StringVar(&domain, "domain", "", "the signing domain, d= (required)")
	kf.StringVar(&selector, "selector", "", "the selector, s= (required)")
	kf.StringVar(&keyFile, "key", "", "file to write the private key to (required)")
	kf.StringVar(&typ, "type", "ed25519", "key type: ed25519 (RFC 8463) or rsa (2048 bits; what every verifier takes)")
	for _, f := range []string{"domain", "selector", "key"} {
		keygen.MarkFlagRequired(f)
	}

	var sDomain, sSelector, sKey string
	sign := &cobra.Command{
		Use:   "sign --domain D --selector S --key FILE [MESSAGE]",
		Short: "Sign a message (a file, or standard input) and print it with its DKIM-Signature",
		Example: exampleLines(
			"applayer mail dkim sign --domain crepes.fr --selector lab --key /tmp/crepes.fr.dkim.pem message.eml > signed.eml",
		),
		Args: cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			b, err := os.ReadFile(sKey)
			if err != nil {
				return err
			}
			k, err := dkim.ParsePrivateKey(b)
			if err != nil {
				return err
			}
			msg, err := readMessage(c, args)
			if err != nil {
				return err
			}
			h, err := (&dkim.Signer{Domain: sDomain, Selector: sSelector, Key: k}).Sign(msg)
			if err != nil {
				return err
			}
			w := c.OutOrStdout()
			io.WriteString(w, h)
			_, err = w.Write(msg)
			return err
		},
	}
	sf := sign.Flags()
	sf.StringVar(&sDomain, "domain", "", "the signing domain, d= (required)")
	sf.StringVar(&sSelector, "selector", "", "the selector, s= (required)")
	sf.StringVar(&sKey, "key", "", "the private key file keygen wrote (required)")
	for _, f := range []string{"domain", "selector", "key"} {
		sign.MarkFlagRequired(f)
	}
	c.AddCommand(keygen, sign)
	return c
}

// newMailCheckCmd checks the signatures of a message.
func newMailCheckCmd() *cobra.Command {
	var dnsAddr, ipFlag, mailFrom, helo string
	c := &cobra.Command{
		Use:   "check [--dns HOST:PORT] [MESSAGE]",
		Short: "Check a message's SPF, DKIM and DMARC, printing each verdict and DNS look-up",
		Long: `Check a message (a file, or standard input) as a receiving server would, and
print each verdict as an Authentication-Results header does (RFC 8601):

  SPF (RFC 7208): may the client's address send for the MAIL FROM domain? The
  address, MAIL FROM and HELO come from --ip, --mail-from and --helo, or else
  from the newest Received field ("from HELO ([IP])") and Return-Path.
  DKIM (RFC 6376): every DKIM-Signature, with its key looked up at
  SELECTOR._domainkey.DOMAIN.

  DMARC (RFC 7489): the policy at _dmarc.FROM-DOMAIN (or its organizational
  domain's), and whether SPF or DKIM passed for a domain aligned with From:.

Exits 1 unless SPF (when checked), every signature and DMARC pass.`,
		Example: exampleLines(
			"applayer mail check --dns 127.0.53.53:10053 signed.eml     # with the lab's resolver",
			"applayer mail check --ip 127.0.25.1 --mail-from alice@crepes.fr --helo mail.crepes.fr message.eml",
		),
		Args: cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			msg, err := readMessage(c, args)
			if err != nil {
				return err
			}
			res := net.DefaultResolver
			if dnsAddr != "" {
				res = stubresolver.At(dnsAddr)
			}
			w := c.OutOrStdout()
			bad := 0
			var auth dmarc.Auth
			spfIP, spfFrom, spfHelo := envelopeOf(msg)
			spfIP, spfFrom, spfHelo = cmp.Or(ipFlag, spfIP), cmp.Or(mailFrom, spfFrom), cmp.Or(helo, spfHelo)
			if spfIP != "" {
				ip, err := netip.ParseAddr(spfIP)
				if err != nil {
					return fmt.Errorf("--ip %q: %w", spfIP, err)
				}
				chk := &spf.Checker{Resolver: res, Log: func(q, outcome string) { fmt.Fprintf(w, "  DNS %s: %s\n", q, outcome) }}
				v := chk.Check(c.Context(), ip, spfFrom, spfHelo)
				line := fmt.Sprintf("spf=%s smtp.mailfrom=%s (client %s, helo %s)", v.Result, cmp.Or(spfFrom, "<>"), ip, spfHelo)
				if v.Mechanism != "" {
					line += " matched " + v.Mechanism + " of " + v.Domain
				}
				if v.Err != nil {
					line += " (" + strings.TrimPrefix(v.Err.Error(), "spf: ") + ")"
				}
				if v.Explanation != "" {
					line += ": " + v.Explanation
				}
				fmt.Fprintln(w, line)
				if v.Result != spf.Pass {
					bad++
				} else {
					_, auth.SPFDomain, _ = strings.Cut(cmp.Or(spfFrom, "postmaster@"+spfHelo), "@")
				}
			} else {
				fmt.Fprintln(w, "spf: not checked (no --ip, and no Received field names the client)")
			}
			// Every TXT look-up is shown, for DKIM keys and DMARC policies.
			txt := txtFunc(func(ctx context.Context, name string) ([]string, error) {
				txt, err := res.LookupTXT(ctx, name)
				switch {
				case err != nil:
					fmt.Fprintf(w, "  DNS %s TXT: %v\n", name, err)
				default:
					fmt.Fprintf(w, "  DNS %s TXT: %d record(s)\n", name, len(txt))
				}
				return txt, err
			})
			v := &dkim.Verifier{Lookup: dkim.LookupWith(txt)}
			results := v.Verify(c.Context(), msg)
			if len(results) == 0 {
				fmt.Fprintln(w, "dkim=none (no DKIM-Signature)")
				bad++
			}
			for _, r := range results {
				line := fmt.Sprintf("dkim=%s header.d=%s header.s=%s header.a=%s", r.Status, r.Domain, r.Selector, r.Algorithm)
				if r.Testing {
					line += " (the key says t=y: testing)"
				}
				if r.Err != nil {
					line += " (" + strings.TrimPrefix(r.Err.Error(), "dkim: ") + ")"
				}
				fmt.Fprintln(w, line)
				if r.Status != dkim.Pass {
					bad++
				} else {
					auth.DKIMDomains = append(auth.DKIMDomains, r.Domain)
				}
			}
			if from := dmarc.FromDomain(msg); from == "" {
				fmt.Fprintln(w, "dmarc: not checked (no From: address)")
				bad++
			} else {
				d := dmarc.Evaluate(c.Context(), txt.LookupTXT, from, auth, 0)
				line := fmt.Sprintf("dmarc=%s header.from=%s", d.Result, from)
				switch {
				case d.Record != nil && d.Result == dmarc.Pass:
					line += fmt.Sprintf(" (aligned by %s; the policy at %s is p=%s)", d.AlignedBy, d.PolicyFrom, d.Record.Policy)
				case d.Record != nil:
					line += fmt.Sprintf(" (nothing aligned: the policy at %s asks to %s it)", d.PolicyFrom, d.Disposition)
				case d.Err != nil:
					line += " (" + strings.TrimPrefix(d.Err.Error(), "dmarc: ") + ")"
				}
				fmt.Fprintln(w, line)
				if d.Result != dmarc.Pass {
					bad++
				}
			}
			if bad > 0 {
				return fmt.Errorf("%d check(s) do not pass", bad)
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&dnsAddr, "dns", "", "look records up with this DNS server, HOST:PORT, e.g. the lab's resolver (default: the system's)")
	f.StringVar(&ipFlag, "ip", "", "SPF: the sending client's address (default: from the newest Received field)")
	f.StringVar(&mailFrom, "mail-from", "", "SPF: the envelope sender (default: the Return-Path field)")
	f.StringVar(&helo, "helo", "", "SPF: the name the client greeted with (default: from the newest Received field)")
	return c
}

// receivedFrom matches the "from HELO (... [IP])" clause of a Received
// field, as applayer, Postfix and most servers write it.
var receivedFrom = regexp.MustCompile(`(?is)^\s*from\s+(\S+)\s+\([^)]*?\[(?:IPv6:)?([0-9a-f.:]+)\]`)

// envelopeOf guesses a received message's SPF inputs: the client address
// and HELO name from its newest Received field, the MAIL FROM from its
// Return-Path.
func envelopeOf(msg []byte) (ip, mailFrom, helo string) {
	m, err := mail.ReadMessage(bytes.NewReader(msg))
	if err != nil {
		return "", "", ""
	}
	if rp := strings.Trim(strings.TrimSpace(m.Header.Get("Return-Path")), "<>"); rp != "" {
		mailFrom = rp
	}
	if recv := m.Header["Received"]; len(recv) > 0 {
		if sm := receivedFrom.FindStringSubmatch(recv[0]); sm != nil {
			helo, ip = sm[1], sm[2]
		}
	}
	return ip, mailFrom, helo
}

// readMessage reads the message named by args[0], or standard input.
func readMessage(c *cobra.Command, args []string) ([]byte, error) {
	if len(args) == 1 {
		return os.ReadFile(args[0])
	}
	return io.ReadAll(io.LimitReader(c.InOrStdin(), 64<<20))
}

// txtStrings writes a TXT value as zone-file strings of at most 255
// bytes each (RFC 1035 §3.3.14), as an RSA key needs.
func txtStrings(v string) string {
	var parts []string
	for len(v) > 255 {
		parts = append(parts, `"`+v[:255]+`"`)
		v = v[255:]
	}
	return strings.Join(append(parts, `"`+v+`"`), " ")
}

// txtFunc is a TXT look-up as a dkim.TXTResolver.
type txtFunc func(ctx context.Context, name string) ([]string, error)

func (f txtFunc) LookupTXT(ctx context.Context, name string) ([]string, error) { return f(ctx, name) }
