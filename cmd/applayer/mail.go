package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/applayer/applayer/internal/authlimit"
	"github.com/applayer/applayer/internal/tlsutil"
	"github.com/applayer/applayer/mail/dkim"
	"github.com/applayer/applayer/mail/imap"
	"github.com/applayer/applayer/mail/message"
	"github.com/applayer/applayer/mail/mta"
	"github.com/applayer/applayer/mail/pop3"
	"github.com/applayer/applayer/mail/smtp"
	"github.com/applayer/applayer/mail/smtpclient"
	"github.com/applayer/applayer/mail/smtpserver"
	"github.com/spf13/cobra"
)

func newMailCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "mail",
		Short: "E-mail: an SMTP, POP3 and IMAP mail server with a durable queue, its users and queue, and clients to send and read",
	}
	c.AddCommand(newMailServeCmd(g), newMailUserCmd(), newMailQueueCmd(), newMailSendCmd(g), newMailReadCmd(g), newMailDKIMCmd(), newMailCheckCmd())
	return c
}

func newMailServeCmd(g *globals) *cobra.Command {
	var (
		cfg                 mta.Config
		listen, submission  string
		resolver            string
		certFile, keyFile   string
		retry               []time.Duration
		maxSize             int64
		pregreet            time.Duration
		maxConns, perClient int
		dkimKey, dkimSel    string
		pop3Addr, pop3s     string
		imapAddr, imaps     string
		plaintextAuth       bool
		apopFile            string
	)
	c := &cobra.Command{
		Use:   "serve --domain DOMAIN [--domain ...] --data DIR [--listen ADDR] [--submission ADDR] [--pop3 ADDR] [--imap ADDR]",
		Short: "Run a mail server: MX for its domains, submission for its users, and a delivery queue",
		Long: `Run a mail server for one or more domains, in two roles on two ports:

  --listen      the mail exchanger (port 25 in real life): takes mail for its own
                domains from anyone, without authentication; mail for any other
                domain is refused with 550 5.7.1 (never an open relay).
  --submission  the submission server (port 587): users log in (AUTH PLAIN or
                LOGIN, only after STARTTLS) and may send to anyone; mail for other
                domains goes into the queue.
  --pop3        POP3 (port 110; --pop3s for TLS from the first byte, port 995):
                users read and delete the mail of their INBOX (USER/PASS, APOP
                with --apop-secrets, AUTH PLAIN, STLS).
  --imap        IMAP4rev1 (port 143; --imaps for TLS from the first byte, port
                993): folders, flags, search, parts of messages, IDLE.

Local mail is stored in Maildir folders under DIR/mail/DOMAIN/USER (readable by
mutt and Dovecot). Every message is on disk, fsynced, before the server says
250. The queue lives in DIR/queue; the worker finds each domain's exchanger
through DNS (MX, else A/AAAA), retries temporary failures on a back-off
schedule, and bounces permanent failures to the sender. POP3 and IMAP read the
same Maildirs (IMAP folders as Maildir++ subfolders, as Dovecot has them);
passwords sent in clear (POP3 USER/PASS, IMAP LOGIN, AUTH PLAIN) are refused
before STLS/STARTTLS except from loopback clients or with --plaintext-auth.

A self-signed TLS certificate is created in DIR/tls on first run unless
--tls-cert and --tls-key are given. Users: applayer mail user add.`,
		Example: exampleLines(
			"applayer mail user add --data /tmp/hamburger bob@hamburger.edu",
			"applayer mail serve --domain hamburger.edu --data /tmp/hamburger",
			"applayer mail serve --domain crepes.fr --data /tmp/crepes --listen 127.0.25.1:2525 \\\n      --submission 127.0.25.1:5870 --dns 127.0.53.53:10053 --upstream-port 10025",
			"applayer mail serve --domain hamburger.edu --data /tmp/hamburger --pop3 127.0.0.1:1100 --imap 127.0.0.1:1430",
		),
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			logger, err := g.logger()
			if err != nil {
				return err
			}
			cfg.Logger = logger
			cfg.Trace = g.recorder(os.Stderr)
			cfg.Resolver = mta.DNSResolver(resolver)
			cfg.Retry = retry
			if dkimKey != "" {
				b, err := os.ReadFile(dkimKey)
				if err != nil {
					return err
				}
				k, err := dkim.ParsePrivateKey(b)
				if err != nil {
					return fmt.Errorf("--dkim-key %s: %w", dkimKey, err)
				}
				for _, d := range cfg.Domains {
					cfg.DKIM = append(cfg.DKIM, &dkim.Signer{Domain: d, Selector: dkimSel, Key: k})
				}
			}
			// One login limiter for SMTP AUTH, POP3 and IMAP.
			cfg.AuthLimit = &authlimit.Limiter{}
			m, err := mta.Open(cfg)
			if err != nil {
				return err
			}
			var cert tls.Certificate
			if certFile != "" || keyFile != "" {
				cert, err = tlsutil.Load(certFile, keyFile)
			} else {
				hosts := append([]string{m.Hostname()}, cfg.Domains...)
				for _, a := range []string{listen, submission, pop3Addr, pop3s, imapAddr, imaps} {
					if h, _, err := net.SplitHostPort(a); err == nil && h != "" {
						hosts = append(hosts, h)
					}
				}
				cert, err = tlsutil.LoadOrCreate(filepath.Join(cfg.Dir, "tls"), hosts)
			}
			if err != nil {
				return err
			}
			tlsConfig := &tls.Config{Certificates: []tls.Certificate{cert}}
			srv := mta.NewServer(m, tlsConfig)
			srv.MX.MaxMessageBytes = maxSize
			srv.Submission.MaxMessageBytes = maxSize
			srv.MX.PregreetWait = pregreet
			srv.MX.MaxConns, srv.Submission.MaxConns = maxConns, maxConns
			srv.MX.MaxConnsPerClient, srv.Submission.MaxConnsPerClient = perClient, perClient
			var mxl, subl net.Listener
			if listen != "" {
				if mxl, err = net.Listen("tcp", listen); err != nil {
					return err
				}
			}
			if submission != "" {
				if subl, err = net.Listen("tcp", submission); err != nil {
					if mxl != nil {
						mxl.Close()
					}
					return err
				}
			}
			closeAll := func() {
				for _, l := range []net.Listener{mxl, subl} {
					if l != nil {
						l.Close()
					}
				}
			}
			var readers mailReaders
			var apop func(string) (string, bool)
			if apopFile != "" {
				apop = apopSecrets(apopFile)
			}
			for _, p := range []struct {
				addr string
				tls  bool
			}{{pop3Addr, false}, {pop3s, true}} {
				if p.addr == "" {
					continue
				}
				ps := &pop3.Server{
					Hostname: m.Hostname(), Store: m.Store(), TLSConfig: tlsConfig, InsecureAuth: plaintextAuth,
					APOP: apop, Domain: onlyDomain(cfg.Domains), AuthLimit: cfg.AuthLimit, MaxConns: maxConns, MaxConnsPerClient: perClient, Logger: logger, Trace: cfg.Trace,
				}
				if err := readers.listen(p.addr, p.tls, tlsConfig, ps); err != nil {
					closeAll()
					readers.closeAll()
					return err
				}
			}
			for _, p := range []struct {
				addr string
				tls  bool
			}{{imapAddr, false}, {imaps, true}} {
				if p.addr == "" {
					continue
				}
				is := &imap.Server{
					Hostname: m.Hostname(), Store: m.Store(), TLSConfig: tlsConfig, InsecureAuth: plaintextAuth,
					Domain: onlyDomain(cfg.Domains), AuthLimit: cfg.AuthLimit, MaxConns: maxConns, MaxConnsPerClient: perClient, Logger: logger, Trace: cfg.Trace,
				}
				if err := readers.listen(p.addr, p.tls, tlsConfig, is); err != nil {
					closeAll()
					readers.closeAll()
					return err
				}
			}
			if mxl == nil && subl == nil && len(readers) == 0 {
				return errors.New("mail serve: nothing to listen on (--listen and --submission are both empty)")
			}
			serve := func() error { return readers.serveWith(func() error { return srv.Serve(mxl, subl) }, srv.Close) }
			shutdown := func(ctx context.Context) error { return errors.Join(readers.shutdown(ctx), srv.Shutdown(ctx)) }
			return serveUntilSignal(serve, shutdown, smtpserver.ErrServerClosed)
		},
	}
	f := c.Flags()
	f.StringSliceVar(&cfg.Domains, "domain", nil, "a domain this server receives mail for (repeatable)")
	f.StringSliceVar(&cfg.RelayDomains, "relay-domain", nil, "another domain to accept mail for from anyone and relay to its MX: backup MX or gateway (repeatable)")
	f.StringVar(&cfg.Dir, "data", "", "data directory: users file, Maildirs, queue, TLS certificate")
	f.StringVar(&listen, "listen", "127.0.0.1:2525", "mail exchanger address (\"\" to disable)")
	f.StringVar(&submission, "submission", "127.0.0.1:5870", "submission address (\"\" to disable)")
	f.StringVar(&cfg.Hostname, "hostname", "", "this server's name in greetings and trace fields (default mail.FIRST-DOMAIN)")
	f.StringVar(&resolver, "dns", "", "look MX and addresses up with this DNS server, HOST:PORT, e.g. the lab's resolver (default: the system's)")
	f.IntVar(&cfg.MXPort, "upstream-port", 25, "port to reach other domains' exchangers on")
	// The names of an earlier release, kept working.
	f.StringVar(&resolver, "resolver", "", "")
	f.MarkDeprecated("resolver", "use --dns")
	f.IntVar(&cfg.MXPort, "mx-port", 25, "")
	f.MarkDeprecated("mx-port", "use --upstream-port")
	f.DurationVar(&pregreet, "pregreet-wait", smtpserver.DefaultPregreetWait, "on the mail exchanger, how long a client not seen for a day waits between \"220-\" and the greeting's last line; one that talks meanwhile is dropped (negative: none)")
	f.DurationSliceVar(&retry, "retry", mta.DefaultRetry, "back-off schedule, the last repeating")
	f.DurationVar(&cfg.GiveUp, "give-up", mta.DefaultGiveUp, "bounce a message still undeliverable after this long")
	f.Int64Var(&maxSize, "max-size", smtpserver.DefaultMaxMessageBytes, "largest message accepted, in bytes (SIZE)")
	limitFlags(f, &maxConns, &perClient, "sessions", ", on each of --listen, --submission, --pop3 and --imap")
	f.StringVar(&pop3Addr, "pop3", "", "POP3 address, e.g. 127.0.0.1:1100 (default: no POP3)")
	f.StringVar(&pop3s, "pop3s", "", "POP3 over TLS (POP3S) address, e.g. 127.0.0.1:9950 (default: none)")
	f.StringVar(&imapAddr, "imap", "", "IMAP address, e.g. 127.0.0.1:1430 (default: no IMAP)")
	f.StringVar(&imaps, "imaps", "", "IMAP over TLS (IMAPS) address, e.g. 127.0.0.1:9930 (default: none)")
	f.BoolVar(&plaintextAuth, "plaintext-auth", false, "let POP3 and IMAP clients that are not on loopback log in with a password in clear, before STLS")
	f.StringVar(&apopFile, "apop-secrets", "", "file of address:secret lines that enables POP3 APOP for those users (the secret is kept in clear: APOP needs it)")
	f.StringVar(&certFile, "tls-cert", "", "PEM certificate chain for STARTTLS (default: self-signed, kept in DATA/tls)")
	f.StringVar(&keyFile, "tls-key", "", "PEM private key for --tls-cert")
	f.StringVar(&dkimKey, "dkim-key", "", "DKIM-sign what users submit, From: one of --domain, with this key (from applayer mail dkim keygen)")
	f.StringVar(&dkimSel, "dkim-selector", "applayer", "the selector --dkim-key is published under (SELECTOR._domainkey.DOMAIN)")
	f.BoolVar(&cfg.CheckIncoming, "check-incoming", false, "check SPF, DKIM and DMARC of mail that arrives for local users, record them in Authentication-Results, and refuse what DMARC says to reject")
	c.MarkFlagRequired("domain")
	c.MarkFlagRequired("data")
	g.addTrace(c)
	return c
}

func newMailUserCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "user",
		Short: "Manage the mail server's users (passwords are stored bcrypt-hashed)",
		Long: `Manage the users of the mail server that uses DIR. A user is an e-mail address.
Changes take effect in a running server at once.`,
	}
	// --data on every subcommand, required.
	dataFlag := func(c *cobra.Command, dir *string) {
		c.Flags().StringVar(dir, "data", "", "the mail server's data directory (required)")
		c.MarkFlagRequired("data")
	}
	var addDir, passwordFile string
	add := &cobra.Command{
		Use:   "add --data DIR ADDRESS",
		Short: "Add a user, or change a user's password",
		Long: `Add a user (an e-mail address), or change its password. The password is read
from --password-file or, without it, from the first line of standard input.`,
		Example: exampleLines("echo pickles | applayer mail user add --data /tmp/hamburger bob@hamburger.edu"),
		Args:    namedArgs("ADDRESS"),
		RunE: func(c *cobra.Command, args []string) error {
			st, err := mta.OpenUsers(addDir)
			if err != nil {
				return err
			}
			addr, err := smtp.ParseAddress(args[0])
			if err != nil {
				return fmt.Errorf("%q is not an address: %w", args[0], err)
			}
			pw, err := readPassword(passwordFile, c.InOrStdin())
			if err != nil {
				return err
			}
			if err := st.Add(addr.String(), pw, true); err != nil {
				return err
			}
			fmt.Fprintf(c.ErrOrStderr(), "user %s saved\n", addr)
			return nil
		},
	}
	dataFlag(add, &addDir)
	add.Flags().StringVar(&passwordFile, "password-file", "", "read the password from this file (first line)")
	var delDir string
	del := &cobra.Command{
		Use:     "del --data DIR ADDRESS",
		Short:   "Remove a user (the Maildir stays)",
		Example: exampleLines("applayer mail user del --data /tmp/hamburger bob@hamburger.edu"),
		Args:    namedArgs("ADDRESS"),
		RunE: func(c *cobra.Command, args []string) error {
			st, err := mta.OpenUsers(delDir)
			if err != nil {
				return err
			}
			return st.Del(args[0])
		},
	}
	dataFlag(del, &delDir)
	var listDir string
	list := &cobra.Command{
		Use:     "list --data DIR",
		Short:   "List the users",
		Example: exampleLines("applayer mail user list --data /tmp/hamburger"),
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			st, err := mta.OpenUsers(listDir)
			if err != nil {
				return err
			}
			users, err := st.List()
			if err != nil {
				return err
			}
			for _, u := range users {
				fmt.Fprintln(c.OutOrStdout(), u)
			}
			return nil
		},
	}
	dataFlag(list, &listDir)
	c.AddCommand(add, del, list)
	return c
}

// readPassword reads the first line of the file, or of in.
func readPassword(file string, in io.Reader) (string, error) {
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return "", err
		}
		defer f.Close()
		in = f
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("empty password (give it on standard input or with --password-file)")
	}
	return line, nil
}

func newMailQueueCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "queue",
		Short: "Show and manage the outgoing queue, also while the server runs",
	}
	var listDir, flushDir, deleteDir string
	list := &cobra.Command{
		Use:   "list --data DIR",
		Short: "Show every queued message",
		Long: `Show every queued message of the mail server that uses DIR: ID, size, age,
sender, pending recipients, attempts, next attempt and last answer.`,
		Example: exampleLines("applayer mail queue list --data /tmp/crepes"),
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			items, err := mta.ListQueue(listDir)
			if err != nil {
				return err
			}
			return printQueue(c.OutOrStdout(), items)
		},
	}
	flush := &cobra.Command{
		Use:     "flush --data DIR",
		Short:   "Ask the running server to retry every queued message now",
		Example: exampleLines("applayer mail queue flush --data /tmp/crepes"),
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := mta.RequestFlush(flushDir); err != nil {
				return err
			}
			fmt.Fprintln(c.ErrOrStderr(), "flush requested; a running server retries every queued message within a second")
			return nil
		},
	}
	del := &cobra.Command{
		Use:     "delete --data DIR ID",
		Short:   "Remove a message from the queue (no bounce is sent)",
		Example: exampleLines("applayer mail queue delete --data /tmp/crepes ID"),
		Args:    namedArgs("ID"),
		RunE: func(c *cobra.Command, args []string) error {
			return mta.DeleteQueued(deleteDir, args[0])
		},
	}
	for _, sc := range []struct {
		c   *cobra.Command
		dir *string
	}{{list, &listDir}, {flush, &flushDir}, {del, &deleteDir}} {
		sc.c.Flags().StringVar(sc.dir, "data", "", "the mail server's data directory (required)")
		sc.c.MarkFlagRequired("data")
		c.AddCommand(sc.c)
	}
	return c
}

func printQueue(w io.Writer, items []mta.QueueItem) error {
	if len(items) == 0 {
		fmt.Fprintln(w, "queue is empty")
		return nil
	}
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSIZE\tAGE\tFROM\tTO\tTRIES\tNEXT\tLAST ANSWER")
	for _, it := range items {
		from := it.Env.From
		if from == "" {
			from = "<>"
		}
		for _, r := range it.Pending() {
			st := it.State.Rcpts[r]
			tries, next, last := 0, "now", ""
			if st != nil {
				tries, last = st.Attempts, st.Last
				if d := time.Until(st.Next); d > 0 {
					next = "in " + d.Round(time.Second).String()
				}
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%d\t%s\t%s\n", it.ID, it.Size, time.Since(it.Env.Arrived).Round(time.Second), from, r, tries, next, last)
		}
	}
	return tw.Flush()
}

func newMailSendCmd(g *globals) *cobra.Command {
	var (
		from, subject, body, bodyFile string
		to, cc, attach                []string
		server, user, passwordFile    string
		starttls, insecure            bool
		cacert                        string
		timeout                       time.Duration
	)
	c := &cobra.Command{
		Use:   "send --from ADDR --to ADDR [--to ...] --subject S [--body TEXT|--body-file F] [--attach FILE...]",
		Short: "Compose a message (RFC 5322, MIME) and submit it to a mail server",
		Long: `Compose a message with proper RFC 5322 header fields (From, To, Cc, Subject,
Date, Message-ID, MIME-Version), attachments in base64 or quoted-printable,
and submit it over SMTP. Without --body or --body-file the body is read from
standard input.

With --trace the dialogue prints like the textbook's (S: 220 ..., C: HELO ...).`,
		Example: exampleLines(
			"applayer mail send --server 127.0.25.2:10025 --from alice@crepes.fr --to bob@hamburger.edu \\\n      --subject ketchup --body 'Do you like ketchup?' --trace     # the lab's hamburger.edu exchanger",
			"applayer mail send --server 127.0.25.1:10587 --starttls --cacert ~/.cache/applayer/lab/crepes.fr/tls/cert.pem \\\n      --user alice@crepes.fr --password-file ~/.cache/applayer/lab/crepes.fr/alice.pass --from alice@crepes.fr \\\n      --to bob@hamburger.edu --subject photo --body-file note.txt --attach photo.png",
		),
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			fromAddr, err := mail.ParseAddress(from)
			if err != nil {
				return fmt.Errorf("mail send: --from %q: %w", from, err)
			}
			m := &message.Message{From: *fromAddr, Subject: subject}
			var rcpts []smtp.Address
			for _, group := range []struct {
				list []string
				dst  *[]mail.Address
			}{{to, &m.To}, {cc, &m.Cc}} {
				for _, a := range group.list {
					pa, err := mail.ParseAddress(a)
					if err != nil {
						return fmt.Errorf("mail send: %q: %w", a, err)
					}
					sa, err := smtp.ParseAddress(pa.Address)
					if err != nil {
						return fmt.Errorf("mail send: %q: %w", a, err)
					}
					*group.dst = append(*group.dst, *pa)
					rcpts = append(rcpts, sa)
				}
			}
			if len(rcpts) == 0 {
				return errors.New("mail send: at least one --to is required")
			}
			switch {
			case body != "" && bodyFile != "":
				return errors.New("mail send: give --body or --body-file, not both")
			case bodyFile != "":
				b, err := os.ReadFile(bodyFile)
				if err != nil {
					return err
				}
				m.Body = string(b)
			case c.Flags().Changed("body"):
				m.Body = body
			default:
				if isTerminal(c.InOrStdin()) {
					fmt.Fprintln(c.ErrOrStderr(), "mail send: no --body or --body-file: reading the body from standard input; end it with Ctrl-D")
				}
				b, err := io.ReadAll(io.LimitReader(c.InOrStdin(), smtpserver.DefaultMaxMessageBytes))
				if err != nil {
					return err
				}
				m.Body = string(b)
			}
			for _, f := range attach {
				b, err := os.ReadFile(f)
				if err != nil {
					return err
				}
				m.Attachments = append(m.Attachments, message.Attachment{Name: f, Data: b})
			}
			raw, err := m.Bytes()
			if err != nil {
				return err
			}
			sender, err := smtp.ParseAddress(fromAddr.Address)
			if err != nil {
				return fmt.Errorf("mail send: --from: %w", err)
			}
			sub := smtpclient.Submission{Addr: server, StartTLS: starttls, Options: smtpclient.Options{
				LocalName: localName(), Timeout: timeout, Trace: g.recorder(c.ErrOrStderr()),
				NoPipelining: true, // one message: the textbook's dialogue, one command at a time
			}}
			if starttls {
				cfg := &tls.Config{InsecureSkipVerify: insecure}
				if cacert != "" {
					if cfg.RootCAs, err = tlsutil.CertPool(cacert); err != nil {
						return err
					}
				}
				sub.TLSConfig = cfg
			}
			if user != "" {
				if passwordFile == "" {
					return errors.New("mail send: --user needs --password-file")
				}
				if !starttls {
					return errors.New("mail send: --user needs --starttls (servers offer AUTH only over TLS)")
				}
				pw, err := readPassword(passwordFile, nil)
				if err != nil {
					return err
				}
				sub.User, sub.Password = user, pw
			}
			ctx, cancel := signalContext()
			defer cancel()
			ctx, cancel2 := context.WithTimeout(ctx, 2*timeout)
			defer cancel2()
			r, err := smtpclient.Send(ctx, sub, smtp.Path{Mailbox: sender}, rcpts, raw)
			var re *smtpclient.RcptError
			var unknownCA x509.UnknownAuthorityError
			switch {
			case errors.As(err, &unknownCA) && cacert == "":
				return fmt.Errorf("mail send: %w (trust the server's certificate with --cacert DATA/tls/cert.pem, or use --insecure in a lab)", err)
			case err != nil && !errors.As(err, &re):
				var r *smtp.Reply
				if errors.As(err, &r) && r.Code == 530 && user == "" {
					return fmt.Errorf("mail send: %w (a submission server wants a login: --starttls --user ADDRESS --password-file FILE)", err)
				}
				return fmt.Errorf("mail send: %w", err)
			}
			fmt.Fprintf(c.OutOrStdout(), "sent: %s\n", r.Error())
			if re != nil {
				return re
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&from, "from", "", "sender address (From: and MAIL FROM)")
	f.StringSliceVar(&to, "to", nil, "recipient (repeatable)")
	f.StringSliceVar(&cc, "cc", nil, "carbon-copy recipient (repeatable)")
	f.StringVar(&subject, "subject", "", "subject")
	f.StringVar(&body, "body", "", "body text")
	f.StringVar(&bodyFile, "body-file", "", "read the body from this file")
	f.StringSliceVar(&attach, "attach", nil, "attach this file (repeatable)")
	f.StringVar(&server, "server", "127.0.0.1:5870", "mail server HOST:PORT")
	f.StringVar(&user, "user", "", "log in as this user (needs --starttls)")
	f.StringVar(&passwordFile, "password-file", "", "file whose first line is the password")
	f.BoolVar(&starttls, "starttls", false, "encrypt with STARTTLS before anything else")
	f.StringVar(&cacert, "cacert", "", "trust this PEM certificate (e.g. the server's DATA/tls/cert.pem)")
	f.BoolVar(&insecure, "insecure", false, "accept any server certificate (lab use only)")
	f.DurationVar(&timeout, "timeout", 30*time.Second, "bound on each SMTP command")
	c.MarkFlagRequired("from")
	c.MarkFlagRequired("to")
	g.addTrace(c)
	return c
}

func localName() string {
	h, err := os.Hostname()
	if err != nil || !smtp.ValidDomain(h) {
		return "localhost"
	}
	return h
}

// onlyDomain is the server's domain when it has one only: users may then
// log in to POP3 and IMAP without it ("bob" for bob@hamburger.edu).
func onlyDomain(domains []string) string {
	if len(domains) == 1 {
		return domains[0]
	}
	return ""
}
