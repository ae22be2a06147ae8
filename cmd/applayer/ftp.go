package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/applayer/applayer/ftp"
	"github.com/applayer/applayer/internal/atomicfile"
	"github.com/applayer/applayer/internal/tlsutil"
	"github.com/applayer/applayer/mail/maildir"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func newFTPCmd(g *globals) *cobra.Command {
	var cf ftpClientFlags
	c := &cobra.Command{
		Use:   "ftp [URL]",
		Short: "FTP (RFC 959): a jailed server with FTPS, and a client (get, put, ls, mirror, an interactive shell)",
		Long: `FTP: a server and a client. The server jails every session in --root; the
client gets, puts, lists and mirrors ftp:// URLs.

With a URL and no subcommand, "applayer ftp" opens an interactive shell
(ls, cd, get, put, mget, mput, passive, active, binary, ascii, quit).`,
		Example: exampleLines(
			"applayer ftp serve --root /srv/ftp --anonymous",
			"applayer ftp ls ftp://127.0.0.1:2121/",
			"applayer ftp ftp://127.0.0.1:2121/",
		),
		Args: cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return c.Help()
			}
			return ftpShell(c, g, &cf, args[0])
		},
	}
	cf.add(c)
	g.addTrace(c)
	c.AddCommand(newFTPServeCmd(g), newFTPUserCmd(), newFTPGetCmd(g), newFTPPutCmd(g), newFTPLsCmd(g), newFTPMirrorCmd(g))
	return c
}

func newFTPServeCmd(g *globals) *cobra.Command {
	var (
		srv                 ftp.Server
		users               string
		pasvPorts, pasvAddr string
		certFile, keyFile   string
		useTLS              bool
		quota               string
		userLimits          []string
	)
	c := &cobra.Command{
		Use:   "serve --root DIR [--listen ADDR] [--users FILE] [--anonymous] [--pasv-ports A-B] [--pasv-address IP] [--tls]",
		Short: "Run the FTP server on a directory",
		Long: `Run the FTP server. Every session is jailed in --root: "..", absolute paths
and symlinks pointing outside cannot leave it. --anonymous lets "anonymous" and
"ftp" in with any password, read only. Named users come from --users, a file of
name:bcrypt-hash lines (applayer ftp user add; the mail server's users file
works too). Uploads are written to a hidden temporary file and renamed when
complete.

--quota bounds the bytes under each named user's root (ROOT/NAME with
--user-dirs), --max-upload one upload; --user-limit sets both for one user.
An upload that would pass them gets 552 and leaves nothing under the real
name (an APPE or a resumed STOR is cut back to what the file held).

--tls offers AUTH TLS (RFC 4217) with a self-signed certificate made at start,
--tls-cert and --tls-key with yours; --require-tls refuses named users'
logins and data connections in clear. A protected data connection must resume
the control connection's TLS session (as vsftpd's require_ssl_reuse).`,
		Example: exampleLines(
			"applayer ftp serve --root /srv/ftp --anonymous",
			"applayer ftp user add --users /tmp/ftpusers alice",
			"applayer ftp serve --root /tmp/share --users /tmp/ftpusers --tls --require-tls --listen 127.0.0.1:2121 --trace",
		),
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			logger, err := g.logger()
			if err != nil {
				return err
			}
			srv.Logger = logger
			srv.Trace = g.recorder(os.Stderr)
			if users != "" {
				if _, err := os.Stat(users); err != nil {
					return fmt.Errorf("--users: %w", err)
				}
				srv.Users = &maildir.Users{Path: users}
			}
			if pasvPorts != "" {
				lo, hi, ok := strings.Cut(pasvPorts, "-")
				a, err1 := strconv.Atoi(lo)
				b, err2 := strconv.Atoi(hi)
				if !ok || err1 != nil || err2 != nil || a < 1024 || b > 65535 || a > b {
					return fmt.Errorf("--pasv-ports %q: want A-B, 1024 <= A <= B <= 65535", pasvPorts)
				}
				srv.PasvMinPort, srv.PasvMaxPort = a, b
			}
			if pasvAddr != "" {
				a, err := netip.ParseAddr(pasvAddr)
				if err != nil || !a.Unmap().Is4() {
					return fmt.Errorf("--pasv-address %q: want an IPv4 address", pasvAddr)
				}
				srv.PasvAddress = a
			}
			if certFile != "" || keyFile != "" || useTLS {
				var cert tls.Certificate
				if certFile != "" || keyFile != "" {
					cert, err = tlsutil.Load(certFile, keyFile)
				} else {
					host, _, _ := net.SplitHostPort(srv.Addr)
					var certPEM, keyPEM []byte
					certPEM, keyPEM, err = tlsutil.SelfSigned([]string{"localhost", cmpOrString(host, "127.0.0.1")}, 365*24*time.Hour)
					if err == nil {
						cert, err = tls.X509KeyPair(certPEM, keyPEM)
					}
				}
				if err != nil {
					return err
				}
				srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
			}
			if srv.RequireTLS && srv.TLSConfig == nil {
				return errors.New("ftp serve: --require-tls needs --tls or --tls-cert")
			}
			if quota != "" {
				if srv.Quota, err = parseSize(quota); err != nil {
					return fmt.Errorf("--quota: %w", err)
				}
			}
			if srv.UserLimits, err = parseUserLimits(userLimits); err != nil {
				return err
			}
			if st, err := os.Stat(srv.Root); err != nil {
				return fmt.Errorf("--root: %w", err)
			} else if !st.IsDir() {
				return fmt.Errorf("--root %s: not a directory", srv.Root)
			}
			return serveUntilSignal(srv.ListenAndServe, srv.Shutdown, ftp.ErrServerClosed)
		},
	}
	f := c.Flags()
	f.StringVar(&srv.Root, "root", "", "directory every session is jailed in (required)")
	f.StringVar(&srv.Addr, "listen", ftp.DefaultAddr, "address to listen on")
	f.StringVar(&users, "users", "", "users file, name:bcrypt-hash lines (applayer ftp user add)")
	f.BoolVar(&srv.Anonymous, "anonymous", false, "let anonymous and ftp log in, read only")
	f.BoolVar(&srv.ReadOnly, "read-only", false, "refuse every change to the tree, for every user")
	f.BoolVar(&srv.UserDirs, "user-dirs", false, "jail each named user in ROOT/NAME (anonymous users see all of ROOT)")
	f.StringVar(&pasvPorts, "pasv-ports", "", "ports for passive data connections, A-B (default: any)")
	f.StringVar(&pasvAddr, "pasv-address", "", "IPv4 address PASV replies give, for a server behind NAT (default: the one the client reached)")
	f.BoolVar(&useTLS, "tls", false, "offer AUTH TLS with a self-signed certificate made at start")
	f.StringVar(&certFile, "tls-cert", "", "PEM certificate chain for AUTH TLS")
	f.StringVar(&keyFile, "tls-key", "", "PEM private key for --tls-cert")
	f.BoolVar(&srv.RequireTLS, "require-tls", false, "named users must use TLS for login and data")
	f.Int64Var(&srv.MaxUploadBytes, "max-upload", 0, "largest upload, in bytes (0: no limit)")
	f.StringVar(&quota, "quota", "", "most bytes under each named user's root (with K, M, G; default: no quota)")
	f.StringArrayVar(&userLimits, "user-limit", nil, "one user's bounds, NAME:quota=SIZE,max-upload=SIZE (repeatable; -1: no limit)")
	f.DurationVar(&srv.IdleTimeout, "idle-timeout", ftp.DefaultIdleTimeout, "drop a session that sends no command for this long")
	f.DurationVar(&srv.DataTimeout, "data-timeout", ftp.DefaultDataTimeout, "wait this long for a data connection, and for each read or write on one")
	limitFlags(f, &srv.MaxConns, &srv.MaxConnsPerClient, "sessions", "")
	c.MarkFlagRequired("root")
	g.addTrace(c)
	return c
}

func cmpOrString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func newFTPUserCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "user",
		Short: "Manage the FTP server's users file (passwords are stored bcrypt-hashed)",
	}
	var addFile, passwordFile string
	add := &cobra.Command{
		Use:   "add --users FILE NAME",
		Short: "Add a user, or change a user's password",
		Long: `Add a user, or change its password. The password is read from --password-file
or, without it, from the first line of standard input. A running server sees
the change at once.`,
		Example: exampleLines("echo secret | applayer ftp user add --users /tmp/ftpusers alice"),
		Args:    namedArgs("NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			if strings.ContainsAny(args[0], ": \t\r\n") {
				return fmt.Errorf("user name %q: no colons or spaces", args[0])
			}
			pw, err := readPassword(passwordFile, c.InOrStdin())
			if err != nil {
				return err
			}
			u := &maildir.Users{Path: addFile}
			return u.Add(args[0], pw, true)
		},
	}
	add.Flags().StringVar(&addFile, "users", "", "the users file (required; created if missing)")
	add.Flags().StringVar(&passwordFile, "password-file", "", "read the password from this file (first line)")
	add.MarkFlagRequired("users")
	var delFile string
	del := &cobra.Command{
		Use:     "del --users FILE NAME",
		Short:   "Remove a user",
		Example: exampleLines("applayer ftp user del --users /tmp/ftpusers alice"),
		Args:    namedArgs("NAME"),
		RunE: func(c *cobra.Command, args []string) error {
			return (&maildir.Users{Path: delFile}).Del(args[0])
		},
	}
	del.Flags().StringVar(&delFile, "users", "", "the users file (required)")
	del.MarkFlagRequired("users")
	c.AddCommand(add, del)
	return c
}

// ftpClientFlags are the flags every client command shares.
type ftpClientFlags struct {
	useTLS, insecure, active bool
	cacert, passwordFile     string
	timeout                  time.Duration
}

func (cf *ftpClientFlags) add(c *cobra.Command) {
	f := c.Flags()
	f.BoolVar(&cf.useTLS, "tls", false, "explicit FTPS: AUTH TLS, then protected data connections (PROT P)")
	f.StringVar(&cf.cacert, "cacert", "", "trust the server certificate(s) in this PEM file")
	f.BoolVar(&cf.insecure, "insecure", false, "accept any server certificate (lab use only)")
	f.BoolVar(&cf.active, "active", false, "active mode: the server connects back (EPRT/PORT) instead of passive (EPSV/PASV)")
	f.StringVar(&cf.passwordFile, "password-file", "", "file whose first line is the password (instead of the URL's)")
	f.DurationVar(&cf.timeout, "timeout", ftp.DefaultClientTimeout, "time allowed for each read and write")
}

// ftpURL is a parsed ftp:// URL.
type ftpURL struct {
	addr, user, pass, path string
	dir                    bool // the path ends with "/"
}

// parseFTPURL reads ftp://[user[:password]@]host[:port]/path (RFC 1738
// section 3.2). The path is relative to the login directory, except that
// an encoded leading slash (%2F) makes it absolute.
func parseFTPURL(raw string) (ftpURL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return ftpURL{}, err
	}
	if u.Scheme != "ftp" {
		return ftpURL{}, fmt.Errorf("%q: want an ftp:// URL", raw)
	}
	if u.Host == "" {
		return ftpURL{}, fmt.Errorf("%q: no host", raw)
	}
	out := ftpURL{addr: u.Host}
	if u.Port() == "" {
		out.addr = net.JoinHostPort(u.Hostname(), "21")
	}
	if u.User != nil {
		out.user = u.User.Username()
		out.pass, _ = u.User.Password()
	}
	p := u.Path
	out.dir = p == "" || strings.HasSuffix(p, "/")
	p = strings.TrimPrefix(p, "/")
	out.path = p
	return out, nil
}

// dial connects and logs in as the URL says.
func (cf *ftpClientFlags) dial(ctx context.Context, g *globals, u ftpURL) (*ftp.Conn, error) {
	opts := ftp.Options{Timeout: cf.timeout, Trace: g.recorder(os.Stderr), Active: cf.active}
	if cf.useTLS {
		cfg := &tls.Config{InsecureSkipVerify: cf.insecure}
		if cf.cacert != "" {
			pool, err := tlsutil.CertPool(cf.cacert)
			if err != nil {
				return nil, err
			}
			cfg.RootCAs = pool
		}
		opts.TLS = cfg
	}
	c, err := ftp.Dial(ctx, u.addr, opts)
	if err != nil {
		if cf.useTLS && strings.Contains(err.Error(), "certificate") {
			return nil, fmt.Errorf("%w (trust the server's certificate with --cacert FILE, or use --insecure in a lab)", err)
		}
		return nil, err
	}
	pass := u.pass
	if cf.passwordFile != "" {
		if pass, err = readPassword(cf.passwordFile, nil); err != nil {
			c.Close()
			return nil, err
		}
	}
	if err := c.Login(ctx, u.user, pass); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func newFTPGetCmd(g *globals) *cobra.Command {
	var (
		cf     ftpClientFlags
		output string
		resume bool
	)
	c := &cobra.Command{
		Use:   "get URL [-o FILE] [--continue]",
		Short: "Download a file",
		Long: `Download the file an ftp:// URL names, to standard output or to -o FILE
(written to a temporary file and renamed when complete). --continue resumes a
partial FILE with REST.`,
		Example: exampleLines(
			"applayer ftp get ftp://127.0.0.1:2121/hello.txt",
			"applayer ftp get ftp://alice:secret@127.0.0.1:2121/big.iso -o big.iso --continue",
		),
		Args: namedArgs("URL"),
		RunE: func(c *cobra.Command, args []string) error {
			u, err := parseFTPURL(args[0])
			if err != nil {
				return err
			}
			if u.dir {
				return fmt.Errorf("%s names a directory: use applayer ftp ls or mirror", args[0])
			}
			ctx, cancel := signalContext()
			defer cancel()
			conn, err := cf.dial(ctx, g, u)
			if err != nil {
				return err
			}
			defer conn.Close()
			if output == "" || output == "-" {
				_, err = conn.Retr(ctx, u.path, 0, c.OutOrStdout())
				if err == nil {
					conn.Quit()
				}
				return err
			}
			return getFile(ctx, c, conn, u.path, output, resume)
		},
	}
	cf.add(c)
	c.Flags().StringVarP(&output, "output", "o", "", "write to FILE instead of standard output")
	c.Flags().BoolVar(&resume, "continue", false, "with -o: resume a partial FILE (REST)")
	g.addTrace(c)
	return c
}

// getFile downloads name to local; resume appends to what local already
// holds (REST), otherwise the file is replaced atomically.
func getFile(ctx context.Context, c *cobra.Command, conn *ftp.Conn, name, local string, resume bool) error {
	size, _ := conn.Size(ctx, name)
	if resume {
		f, err := os.OpenFile(local, os.O_WRONLY|os.O_CREATE, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		off, err := f.Seek(0, io.SeekEnd)
		if err != nil {
			return err
		}
		if size > 0 && off >= size {
			fmt.Fprintf(c.ErrOrStderr(), "%s: already complete (%d bytes)\n", local, off)
			return nil
		}
		w, done := progressWriter(c, f, local, off, size)
		_, err = conn.Retr(ctx, name, off, w)
		done()
		if err != nil {
			return err
		}
		return f.Close()
	}
	f, err := atomicfile.Create(local, 0o644)
	if err != nil {
		return err
	}
	defer f.Discard()
	w, done := progressWriter(c, f.File, local, 0, size)
	_, err = conn.Retr(ctx, name, 0, w)
	done()
	if err != nil {
		return err
	}
	return f.Commit()
}

func newFTPPutCmd(g *globals) *cobra.Command {
	var (
		cf       ftpClientFlags
		resume   bool
		appendTo bool
	)
	c := &cobra.Command{
		Use:   "put FILE URL [--continue]",
		Short: "Upload a file",
		Long: `Upload FILE to the ftp:// URL; a URL ending in "/" names a directory, and the
file keeps its name there. --continue resumes a partial upload (SIZE, then
REST and STOR from there).`,
		Example: exampleLines(
			"applayer ftp put notes.txt ftp://alice:secret@127.0.0.1:2121/",
			"applayer ftp put big.iso ftp://alice:secret@127.0.0.1:2121/isos/big.iso --continue",
		),
		Args: namedArgs("FILE", "URL"),
		RunE: func(c *cobra.Command, args []string) error {
			u, err := parseFTPURL(args[1])
			if err != nil {
				return err
			}
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			st, err := f.Stat()
			if err != nil {
				return err
			}
			if u.dir {
				u.path += filepath.Base(args[0])
			}
			ctx, cancel := signalContext()
			defer cancel()
			conn, err := cf.dial(ctx, g, u)
			if err != nil {
				return err
			}
			defer conn.Close()
			var off int64
			if resume {
				if n, err := conn.Size(ctx, u.path); err == nil {
					off = n
				}
				if off >= st.Size() && off > 0 {
					fmt.Fprintf(c.ErrOrStderr(), "%s: already complete (%d bytes)\n", u.path, off)
					return conn.Quit()
				}
				if _, err := f.Seek(off, io.SeekStart); err != nil {
					return err
				}
			}
			var r io.Reader = f
			if term.IsTerminal(int(os.Stderr.Fd())) {
				r = &progressReader{r: f, p: newProgress(c, args[0], off, st.Size())}
			}
			_, err = conn.Stor(ctx, u.path, r, off, appendTo)
			if pr, ok := r.(*progressReader); ok {
				pr.p.done()
			}
			if err != nil {
				return err
			}
			return conn.Quit()
		},
	}
	cf.add(c)
	c.Flags().BoolVar(&resume, "continue", false, "resume a partial upload (REST)")
	c.Flags().BoolVar(&appendTo, "append", false, "append to the remote file (APPE)")
	g.addTrace(c)
	return c
}

func newFTPLsCmd(g *globals) *cobra.Command {
	var (
		cf    ftpClientFlags
		names bool
		long  bool
	)
	c := &cobra.Command{
		Use:   "ls URL [--long] [--names]",
		Short: "List a directory",
		Long: `List the directory an ftp:// URL names. By default the entries as the client
understood them (MLSD when the server offers it, else LIST): type, size, time
and name. --long prints the server's LIST as it sent it, --names its NLST.`,
		Example: exampleLines(
			"applayer ftp ls ftp://127.0.0.1:2121/",
			"applayer ftp ls --long ftp://127.0.0.1:2121/pub/",
		),
		Args: namedArgs("URL"),
		RunE: func(c *cobra.Command, args []string) error {
			u, err := parseFTPURL(args[0])
			if err != nil {
				return err
			}
			ctx, cancel := signalContext()
			defer cancel()
			conn, err := cf.dial(ctx, g, u)
			if err != nil {
				return err
			}
			defer conn.Close()
			out := c.OutOrStdout()
			if long || names {
				text, err := conn.ListRaw(ctx, u.path, names)
				if err != nil {
					return err
				}
				io.WriteString(out, strings.ReplaceAll(text, "\r\n", "\n"))
				return conn.Quit()
			}
			entries, err := conn.List(ctx, u.path)
			if err != nil {
				return err
			}
			printEntries(out, entries)
			return conn.Quit()
		},
	}
	cf.add(c)
	c.Flags().BoolVar(&long, "long", false, "print the server's LIST as sent")
	c.Flags().BoolVar(&names, "names", false, "print the server's NLST (names only)")
	g.addTrace(c)
	return c
}

func printEntries(w io.Writer, entries []ftp.Entry) {
	for _, e := range entries {
		size := "-"
		if e.Size >= 0 && e.Type != "dir" {
			size = strconv.FormatInt(e.Size, 10)
		}
		when := "-"
		if !e.Time.IsZero() {
			when = e.Time.UTC().Format("2006-01-02 15:04")
		}
		name := e.Name
		if e.Type == "dir" {
			name += "/"
		}
		fmt.Fprintf(w, "%-4s %12s  %16s  %s\n", e.Type, size, when, name)
	}
}

func newFTPMirrorCmd(g *globals) *cobra.Command {
	var cf ftpClientFlags
	c := &cobra.Command{
		Use:   "mirror URL DIR",
		Short: "Download a directory tree",
		Long: `Download the directory an ftp:// URL names, and everything below it, into DIR.
Files already there with the same size are skipped; each file is written to
a temporary file and renamed when complete. Names that would leave DIR are
refused.`,
		Example: exampleLines("applayer ftp mirror ftp://127.0.0.1:2121/pub/ /tmp/pub"),
		Args:    namedArgs("URL", "DIR"),
		RunE: func(c *cobra.Command, args []string) error {
			u, err := parseFTPURL(args[0])
			if err != nil {
				return err
			}
			ctx, cancel := signalContext()
			defer cancel()
			conn, err := cf.dial(ctx, g, u)
			if err != nil {
				return err
			}
			defer conn.Close()
			n, err := mirror(ctx, c, conn, strings.TrimSuffix(u.path, "/"), args[1], 0)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.ErrOrStderr(), "%d files\n", n)
			return conn.Quit()
		},
	}
	cf.add(c)
	g.addTrace(c)
	return c
}

// mirror copies the remote directory dir into local, depth first.
func mirror(ctx context.Context, c *cobra.Command, conn *ftp.Conn, dir, local string, depth int) (int, error) {
	if depth > 64 {
		return 0, fmt.Errorf("%s: deeper than 64 levels", dir)
	}
	if err := os.MkdirAll(local, 0o755); err != nil {
		return 0, err
	}
	entries, err := conn.List(ctx, dir)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		if e.Name == "." || e.Name == ".." || e.Name == "" || strings.ContainsAny(e.Name, "/\\\x00") {
			continue // a name that would leave the directory
		}
		remote := path.Join(dir, e.Name)
		if dir == "" {
			remote = e.Name
		}
		dst := filepath.Join(local, e.Name)
		switch e.Type {
		case "dir":
			m, err := mirror(ctx, c, conn, remote, dst, depth+1)
			n += m
			if err != nil {
				return n, err
			}
		case "file":
			if st, err := os.Stat(dst); err == nil && st.Size() == e.Size {
				continue
			}
			if err := getFile(ctx, c, conn, remote, dst, false); err != nil {
				return n, fmt.Errorf("%s: %w", remote, err)
			}
			n++
		}
	}
	return n, nil
}

// --- progress on a terminal ---

type progress struct {
	w        io.Writer
	name     string
	done0    int64
	n, total int64
	last     time.Time
	start    time.Time
	active   bool
}

func newProgress(c *cobra.Command, name string, done, total int64) *progress {
	return &progress{w: c.ErrOrStderr(), name: name, done0: done, n: done, total: total, start: time.Now(),
		active: term.IsTerminal(int(os.Stderr.Fd()))}
}

func (p *progress) add(n int) {
	p.n += int64(n)
	if !p.active || time.Since(p.last) < 200*time.Millisecond {
		return
	}
	p.last = time.Now()
	p.print()
}

func (p *progress) print() {
	const width = 30
	bar := strings.Repeat("?", width)
	pct := ""
	if p.total > 0 {
		f := min(float64(p.n)/float64(p.total), 1)
		k := int(f * width)
		bar = strings.Repeat("#", k) + strings.Repeat(".", width-k)
		pct = fmt.Sprintf("%3.0f%%", 100*f)
	}
	rate := float64(p.n-p.done0) / max(time.Since(p.start).Seconds(), 1e-3) / (1 << 20)
	fmt.Fprintf(p.w, "\r%s [%s] %s %d bytes %.1f MiB/s ", p.name, bar, pct, p.n, rate)
}

func (p *progress) done() {
	if p.active {
		p.print()
		fmt.Fprintln(p.w)
	}
}

type progressReader struct {
	r io.Reader
	p *progress
}

func (pr *progressReader) Read(b []byte) (int, error) {
	n, err := pr.r.Read(b)
	pr.p.add(n)
	return n, err
}

// progressWriter shows progress on a terminal; without one it returns the
// file itself, so that downloads keep the splice path.
func progressWriter(c *cobra.Command, f *os.File, name string, done, total int64) (io.Writer, func()) {
	if !term.IsTerminal(int(os.Stderr.Fd())) {
		return f, func() {}
	}
	p := newProgress(c, name, done, total)
	return &progressWriterTo{w: f, p: p}, p.done
}

type progressWriterTo struct {
	w io.Writer
	p *progress
}

func (pw *progressWriterTo) Write(b []byte) (int, error) {
	n, err := pw.w.Write(b)
	pw.p.add(n)
	return n, err
}

// parseUserLimits reads --user-limit NAME:quota=SIZE,max-upload=SIZE values.
func parseUserLimits(in []string) (map[string]ftp.Limits, error) {
	if len(in) == 0 {
		return nil, nil
	}
	out := map[string]ftp.Limits{}
	for _, v := range in {
		name, spec, ok := strings.Cut(v, ":")
		if !ok || name == "" {
			return nil, fmt.Errorf("--user-limit %q: want NAME:quota=SIZE,max-upload=SIZE", v)
		}
		l := out[name]
		for _, kv := range strings.Split(spec, ",") {
			k, val, _ := strings.Cut(strings.TrimSpace(kv), "=")
			n, err := parseSize(val)
			if strings.TrimSpace(val) == "-1" {
				n, err = -1, nil
			}
			if err != nil {
				return nil, fmt.Errorf("--user-limit %q: %w", v, err)
			}
			switch k {
			case "quota":
				l.Quota = n
			case "max-upload":
				l.MaxUpload = n
			default:
				return nil, fmt.Errorf("--user-limit %q: unknown bound %q (quota, max-upload)", v, k)
			}
		}
		out[name] = l
	}
	return out, nil
}
