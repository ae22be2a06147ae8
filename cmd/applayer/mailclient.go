package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/applayer/applayer/internal/tlsutil"
	"github.com/applayer/applayer/mail/imap"
	"github.com/applayer/applayer/mail/pop3"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// newMailReadCmd is `applayer mail read`, the small POP3 and IMAP client.
func newMailReadCmd(g *globals) *cobra.Command {
	var (
		passwordFile, cacert string
		starttls, insecure   bool
		timeout              time.Duration
	)
	c := &cobra.Command{
		Use:   "read URL [folders | list [FOLDER] | fetch [FOLDER] ID | headers [FOLDER] ID]",
		Short: "Read a mailbox with IMAP or POP3: folders, message lists, one message or its header",
		Long: `Read mail from an IMAP or POP3 server, as a user agent does.

URL is imap://USER@HOST:PORT or pop3://USER@HOST:PORT (imaps:// and pop3s://
for TLS from the first byte; --starttls upgrades a plain connection first).
The password comes from --password-file, else the APPLAYER_PASSWORD
environment variable, else a prompt on the terminal (never from the URL).

Actions:
  folders                  IMAP: every folder with its message and unseen counts (the default)
  list [FOLDER]            IMAP: the messages of FOLDER (INBOX by default), by UID;
                           POP3: the messages of the maildrop, by number
  fetch [FOLDER] ID        the whole message (IMAP: UID in FOLDER; POP3: number, RETR)
  headers [FOLDER] ID      the header only (IMAP: BODY.PEEK[HEADER]; POP3: TOP ID 0)

Nothing is changed on the server: IMAP opens folders read-only (EXAMINE) and
POP3 deletes nothing. With --trace the dialogue prints like the textbook's.`,
		Example: exampleLines(
			"APPLAYER_PASSWORD=... applayer mail read imap://bob@127.0.25.2:10143 --trace",
			"applayer mail read imap://bob@127.0.25.2:10143 list INBOX --password-file bob.pass",
			"applayer mail read imap://bob@127.0.25.2:10143 fetch INBOX 1 --password-file bob.pass",
			"applayer mail read pop3://bob@127.0.25.2:10110 headers 1 --password-file bob.pass --trace",
		),
		Args: cobra.RangeArgs(1, 4),
		RunE: func(c *cobra.Command, args []string) error {
			u, err := url.Parse(args[0])
			if err != nil {
				return fmt.Errorf("mail read: %w", err)
			}
			scheme := strings.ToLower(u.Scheme)
			if u.User == nil || u.User.Username() == "" || u.Host == "" {
				return fmt.Errorf("mail read: %q: want imap://USER@HOST:PORT or pop3://USER@HOST:PORT", args[0])
			}
			if _, has := u.User.Password(); has {
				return errors.New("mail read: a password in the URL would show in the process list: use --password-file or APPLAYER_PASSWORD")
			}
			host := u.Host
			if u.Port() == "" {
				host = net.JoinHostPort(u.Hostname(), map[string]string{"imap": "143", "imaps": "993", "pop3": "110", "pop3s": "995"}[scheme])
			}
			cfg := &tls.Config{InsecureSkipVerify: insecure, ServerName: u.Hostname()}
			if cacert != "" {
				if cfg.RootCAs, err = tlsutil.CertPool(cacert); err != nil {
					return err
				}
			}
			action, rest := "", args[1:]
			if len(rest) > 0 {
				action, rest = rest[0], rest[1:]
			}
			pw, err := mailReadPassword(passwordFile, c.InOrStdin(), c.ErrOrStderr(), u.User.Username())
			if err != nil {
				return fmt.Errorf("mail read: %w", err)
			}
			ctx, cancel := signalContext()
			defer cancel()
			r := &mailboxReader{out: c.OutOrStdout(), user: u.User.Username(), pass: pw, addr: host, tls: cfg, starttls: starttls,
				timeout: timeout}
			switch scheme {
			case "imap", "imaps":
				err = r.imap(ctx, g, c.ErrOrStderr(), scheme == "imaps", action, rest)
			case "pop3", "pop3s", "pop":
				err = r.pop3(ctx, g, c.ErrOrStderr(), scheme == "pop3s", action, rest)
			default:
				return fmt.Errorf("mail read: scheme %q: want imap, imaps, pop3 or pop3s", u.Scheme)
			}
			if err != nil {
				return fmt.Errorf("mail read: %w", err)
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&passwordFile, "password-file", "", "file whose first line is the password")
	f.BoolVar(&starttls, "starttls", false, "encrypt with STARTTLS (IMAP) or STLS (POP3) before logging in")
	f.StringVar(&cacert, "cacert", "", "trust this PEM certificate (e.g. the server's DATA/tls/cert.pem)")
	f.BoolVar(&insecure, "insecure", false, "accept any server certificate (lab use only)")
	f.DurationVar(&timeout, "timeout", 30*time.Second, "bound on each command")
	g.addTrace(c)
	return c
}

// mailReadPassword takes the password from the file, the environment or a
// prompt, in that order.
func mailReadPassword(file string, in io.Reader, prompt io.Writer, user string) (string, error) {
	if file != "" {
		return readPassword(file, nil)
	}
	if p := os.Getenv("APPLAYER_PASSWORD"); p != "" {
		return p, nil
	}
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(prompt, "password for %s: ", user)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(prompt)
		if err != nil {
			return "", err
		}
		if len(b) == 0 {
			return "", errors.New("empty password")
		}
		return string(b), nil
	}
	return readPassword("", in)
}

type mailboxReader struct {
	out        io.Writer
	user, pass string
	addr       string
	tls        *tls.Config
	starttls   bool
	timeout    time.Duration
}

var wordDecoder = &mime.WordDecoder{CharsetReader: func(charset string, r io.Reader) (io.Reader, error) {
	return nil, fmt.Errorf("charset %s", charset)
}}

func decodeWords(s string) string {
	if d, err := wordDecoder.DecodeHeader(s); err == nil {
		return d
	}
	return s
}

func (r *mailboxReader) imap(ctx context.Context, g *globals, traceTo io.Writer, implicitTLS bool, action string, args []string) error {
	opts := imap.ClientOptions{Timeout: r.timeout, Trace: g.recorder(traceTo), TLSConfig: r.tls}
	dial := imap.Dial
	if implicitTLS {
		dial = imap.DialTLS
	}
	c, err := dial(ctx, r.addr, opts)
	if err != nil {
		return err
	}
	defer c.Close()
	if r.starttls {
		if err := c.StartTLS(ctx, r.tls); err != nil {
			return err
		}
	}
	if err := c.LoginAny(ctx, r.user, r.pass); err != nil {
		return err
	}
	defer c.Logout(ctx)
	folder := "INBOX"
	idArg := func() (uint32, error) {
		switch len(args) {
		case 1:
		case 2:
			folder, args = args[0], args[1:]
		default:
			return 0, fmt.Errorf("%s wants [FOLDER] UID", action)
		}
		n, err := strconv.ParseUint(args[0], 10, 32)
		if err != nil || n == 0 {
			return 0, fmt.Errorf("%s: %q is not a UID", action, args[0])
		}
		return uint32(n), nil
	}
	switch action {
	case "", "folders":
		if len(args) > 0 {
			return errors.New("folders takes no argument")
		}
		l, err := c.ListStatus(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(r.out, 2, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "FOLDER\tMESSAGES\tUNSEEN")
		for _, m := range l {
			if m.Status == nil {
				fmt.Fprintf(tw, "%s\t-\t-\n", m.Name)
				continue
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\n", m.Name, m.Status.Messages, m.Status.Unseen)
		}
		return tw.Flush()
	case "list":
		if len(args) > 1 {
			return errors.New("list wants at most a FOLDER")
		}
		if len(args) == 1 {
			folder = args[0]
		}
		st, err := c.Select(ctx, folder, true)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(r.out, 2, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "UID\tFLAGS\tSIZE\tFROM\tSUBJECT")
		if st.Messages > 0 {
			ms, err := c.UIDFetch(ctx, "1:*", "(UID FLAGS RFC822.SIZE ENVELOPE)")
			if err != nil {
				return err
			}
			for _, m := range ms {
				from, subj := "", ""
				if m.Envelope != nil {
					subj = decodeWords(m.Envelope.Subject)
					if len(m.Envelope.From) > 0 {
						from = decodeWords(m.Envelope.From[0].String())
					}
				}
				flags := strings.Join(m.Flags, " ")
				if flags == "" {
					flags = "-"
				}
				fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\n", m.UID, flags, m.Size, from, subj)
			}
		}
		return tw.Flush()
	case "fetch", "headers":
		uid, err := idArg()
		if err != nil {
			return err
		}
		if _, err := c.Select(ctx, folder, true); err != nil {
			return err
		}
		sec, item := "", "BODY.PEEK[]"
		if action == "headers" {
			sec, item = "HEADER", "BODY.PEEK[HEADER]"
		}
		m, err := c.FetchOne(ctx, uid, "(UID "+item+")")
		if err != nil {
			return err
		}
		_, err = r.out.Write(m.Sections[sec])
		return err
	}
	return fmt.Errorf("unknown action %q: want folders, list, fetch or headers", action)
}

func (r *mailboxReader) pop3(ctx context.Context, g *globals, traceTo io.Writer, implicitTLS bool, action string, args []string) error {
	opts := pop3.ClientOptions{Timeout: r.timeout, Trace: g.recorder(traceTo), TLSConfig: r.tls}
	dial := pop3.Dial
	if implicitTLS {
		dial = pop3.DialTLS
	}
	c, err := dial(ctx, r.addr, opts)
	if err != nil {
		return err
	}
	defer c.Close()
	if r.starttls {
		if err := c.StartTLS(ctx, r.tls); err != nil {
			return err
		}
	}
	if err := c.Login(ctx, r.user, r.pass); err != nil {
		return err
	}
	defer c.Quit(ctx)
	num := func() (int, error) {
		if len(args) != 1 {
			return 0, fmt.Errorf("%s wants a message NUMBER (POP3 has no folders)", action)
		}
		n, err := strconv.Atoi(args[0])
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("%s: %q is not a message number", action, args[0])
		}
		return n, nil
	}
	switch action {
	case "", "list":
		if len(args) > 0 {
			return errors.New("POP3 has one maildrop and no folders: list takes no argument")
		}
		l, err := c.List(ctx)
		if err != nil {
			return err
		}
		u, err := c.UIDL(ctx)
		if err != nil {
			var re *pop3.ReplyError
			if !errors.As(err, &re) {
				return err
			}
		}
		uids := map[int]string{}
		for _, e := range u {
			uids[e.Num] = e.UID
		}
		tw := tabwriter.NewWriter(r.out, 2, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "NUMBER\tSIZE\tUIDL")
		for _, e := range l {
			fmt.Fprintf(tw, "%d\t%d\t%s\n", e.Num, e.Size, uids[e.Num])
		}
		return tw.Flush()
	case "fetch", "headers":
		n, err := num()
		if err != nil {
			return err
		}
		var b []byte
		if action == "fetch" {
			b, err = c.Retr(ctx, n)
		} else {
			b, err = c.Top(ctx, n, 0)
		}
		if err != nil {
			return err
		}
		_, err = r.out.Write(b)
		return err
	case "folders":
		return errors.New("POP3 has one maildrop and no folders: use list")
	}
	return fmt.Errorf("unknown action %q: want list, fetch or headers", action)
}
