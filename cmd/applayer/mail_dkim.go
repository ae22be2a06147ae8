package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"

	"github.com/applayer/applayer/internal/atomicfile"
	"github.com/applayer/applayer/internal/stubresolver"
	"github.com/applayer/applayer/mail/dkim"
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
	var dnsAddr string
	c := &cobra.Command{
		Use:   "check [--dns HOST:PORT] [MESSAGE]",
		Short: "Verify a message's DKIM signatures, printing each verdict and key look-up",
		Long: `Verify every DKIM-Signature of a message (a file, or standard input): look each
signer's key up in the DNS at SELECTOR._domainkey.DOMAIN and print one verdict
per signature, as an Authentication-Results header would (RFC 8601): pass,
fail, permerror or temperror, with the reason. Exits 1 unless every signature
passes. SPF and DMARC are not checked yet.`,
		Example: exampleLines("applayer mail check --dns 127.0.53.53:10053 signed.eml     # with the lab's resolver"),
		Args:    cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			msg, err := readMessage(c, args)
			if err != nil {
				return err
			}
			v := &dkim.Verifier{}
			lookup := dkim.LookupWith(net.DefaultResolver)
			if dnsAddr != "" {
				lookup = dkim.LookupWith(stubresolver.At(dnsAddr))
			}
			w := c.OutOrStdout()
			v.Lookup = func(ctx context.Context, name string) ([]string, error) {
				txt, err := lookup(ctx, name)
				switch {
				case err != nil:
					fmt.Fprintf(w, "  DNS %s TXT: %v\n", name, err)
				default:
					fmt.Fprintf(w, "  DNS %s TXT: %d record(s)\n", name, len(txt))
				}
				return txt, err
			}
			results := v.Verify(c.Context(), msg)
			if len(results) == 0 {
				fmt.Fprintln(w, "dkim=none (no DKIM-Signature)")
				return errors.New("no DKIM signature")
			}
			bad := 0
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
				}
			}
			if bad > 0 {
				return fmt.Errorf("%d of %d signatures do not pass", bad, len(results))
			}
			return nil
		},
	}
	c.Flags().StringVar(&dnsAddr, "dns", "", "look keys up with this DNS server, HOST:PORT, e.g. the lab's resolver (default: the system's)")
	return c
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
