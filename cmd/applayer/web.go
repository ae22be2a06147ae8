package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/applayer/applayer/internal/atomicfile"
	"github.com/applayer/applayer/internal/stubresolver"
	"github.com/applayer/applayer/internal/tlsutil"
	"github.com/applayer/applayer/web"
	"github.com/applayer/applayer/web/browser"
	"github.com/applayer/applayer/web/demo"
	"github.com/applayer/applayer/web/http2"
	"github.com/applayer/applayer/web/store"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func newWebCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "web",
		Short: "The Web: an HTTP/1.0 and 1.1 server and client, conditional GET, cookies",
	}
	c.AddCommand(newWebServeCmd(g), newWebGetCmd(g), newWebPasswdCmd(), newWebProxyCmd(g))
	return c
}

func newWebServeCmd(g *globals) *cobra.Command {
	var (
		srv        web.Server
		root       string
		allowWrite bool
		authFile   string
		accessLog  string
		maxBody    int64
		db         string
		noDemo     bool
		cacheMax   int64
		noHTTP2    bool
		push       bool
		certFile   string
		keyFile    string
	)
	c := &cobra.Command{
		Use:   "serve --root DIR [--listen ADDR]",
		Short: "Serve the files under a directory over HTTP/1.0, HTTP/1.1 and HTTP/2",
		Long: `Serve the files under --root: GET and HEAD with Content-Type, Content-Length,
Last-Modified, ETag and Date; index.html for directories; conditional GET
(If-Modified-Since, If-None-Match: 304); Range requests (206, 416).

HTTP/2 on the same port and handlers: h2c by prior knowledge (curl
--http2-prior-knowledge) or by Upgrade (curl --http2), and h2 over TLS by
ALPN on --tls ADDR (a self-signed certificate is made and kept unless
--tls-cert and --tls-key are given). --push adds 103 Early Hints and server
push of the objects a page references.

Connections are persistent (HTTP/1.1 keep-alive, pipelining) with an idle
timeout; a request head must arrive within --header-timeout of its first
byte. No path leaves the root: "..", "%2e%2e" and symbolic links pointing
outside are refused.

With --allow-write, PUT stores a file atomically (temporary file, fsync,
rename) and DELETE removes one; --auth puts both behind HTTP Basic
authentication with bcrypt-hashed passwords (see 'applayer web passwd').

Under /_demo/ runs the cookie demo: a page that sets an identifying cookie
(HttpOnly, SameSite=Lax), counts your visits and keeps the notes you post,
in a database: SQLite by default (a file created on first run), or
PostgreSQL with --db postgres://user:pass@127.0.0.1/db, so that several
servers can share one store.`,
		Example: exampleLines(
			"applayer web serve --root ./site",
			"applayer web serve --root ./site --listen 127.0.0.1:8080 --access-log - --trace",
			"applayer web serve --root ./site --allow-write --auth ./site.passwd",
			"applayer web serve --root ./site --tls 127.0.0.1:8443 --push",
		),
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			logger, err := g.logger()
			if err != nil {
				return err
			}
			fsrv, err := web.NewFileServer(root)
			if err != nil {
				return fmt.Errorf("--root: %w", err)
			}
			defer fsrv.Close()
			fsrv.AllowWrite, fsrv.Logger, fsrv.MaxCached = allowWrite, logger, cacheMax
			if authFile != "" {
				if !allowWrite {
					return fmt.Errorf("--auth protects PUT and DELETE: it needs --allow-write")
				}
				if fsrv.Auth, err = web.LoadCredentials(authFile, "applayer"); err != nil {
					return fmt.Errorf("--auth: %w", err)
				}
			}
			mux := &web.Mux{}
			if push {
				if noHTTP2 {
					return fmt.Errorf("--push needs HTTP/2: drop --no-http2")
				}
				mux.Handle("/", http2.LinkPreloads(fsrv))
			} else {
				mux.Handle("/", fsrv)
			}
			if !noDemo {
				st, where, err := openDemoStore(c.Context(), db)
				if err != nil {
					return err
				}
				defer st.Close()
				logger.Info("web: cookie demo under "+demo.Prefix, "db", where)
				dh := &demo.Handler{Store: st, Logger: logger}
				mux.Handle(demo.Prefix, dh)
				mux.Handle(strings.TrimSuffix(demo.Prefix, "/"), dh)
			}
			srv.Handler = mux
			srv.Logger = logger
			srv.Trace = g.recorder(os.Stderr)
			if !noHTTP2 {
				srv.HTTP2 = &http2.Server{
					Handler: mux, Logger: logger, Trace: srv.Trace, Name: srv.Name,
					IdleTimeout: srv.IdleTimeout, WriteTimeout: srv.WriteTimeout, MaxBodyBytes: maxBody,
					PushPreload: push,
				}
			}
			if srv.TLSAddr != "" {
				cert, err := webCertificate(certFile, keyFile, srv.Addr, srv.TLSAddr)
				if err != nil {
					return err
				}
				srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
			} else if certFile != "" || keyFile != "" {
				return fmt.Errorf("--tls-cert and --tls-key need --tls ADDR")
			}
			srv.Limits.MaxBodyBytes = maxBody
			switch accessLog {
			case "":
			case "-":
				srv.AccessLog = os.Stdout
			default:
				f, err := os.OpenFile(accessLog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
				if err != nil {
					return fmt.Errorf("--access-log: %w", err)
				}
				defer f.Close()
				srv.AccessLog = f
			}
			return serveUntilSignal(srv.ListenAndServe, srv.Shutdown, web.ErrServerClosed)
		},
	}
	f := c.Flags()
	f.StringVar(&root, "root", "", "directory to serve (required)")
	c.MarkFlagRequired("root")
	f.StringVarP(&srv.Addr, "listen", "l", web.DefaultAddr, "address to listen on")
	f.MarkShorthandDeprecated("listen", "use --listen, as every server does")
	f.StringVar(&srv.TLSAddr, "tls", "", "also serve HTTPS on this address (HTTP/1.1, and h2 by ALPN)")
	f.StringVar(&certFile, "tls-cert", "", "PEM certificate chain for --tls (default: self-signed, kept in the user cache directory's applayer/web-tls)")
	f.StringVar(&keyFile, "tls-key", "", "PEM private key for --tls-cert")
	f.BoolVar(&noHTTP2, "no-http2", false, "speak HTTP/1.x only: no h2c (preface or Upgrade) and no h2 over TLS")
	f.BoolVar(&push, "push", false, "HTML pages name the objects they reference in Link preload fields; over HTTP/2 they go first in a 103 Early Hints and are pushed (PUSH_PROMISE) to clients that allow it")
	f.BoolVar(&allowWrite, "allow-write", false, "accept PUT and DELETE")
	f.StringVar(&authFile, "auth", "", "credentials file (user:bcrypt-hash lines) required for PUT and DELETE")
	f.StringVar(&accessLog, "access-log", "", "write a Combined Log Format line per request to this file (- for stdout)")
	f.DurationVar(&srv.IdleTimeout, "idle-timeout", 60*time.Second, "close a kept-alive connection idle this long")
	f.DurationVar(&srv.HeaderTimeout, "header-timeout", 10*time.Second, "time allowed from a request's first byte to the end of its head")
	f.DurationVar(&srv.BodyTimeout, "body-timeout", 30*time.Second, "time allowed for each read of a request body")
	f.DurationVar(&srv.WriteTimeout, "write-timeout", 30*time.Second, "time allowed for each write to the client")
	limitFlags(f, &srv.MaxConns, &srv.MaxConnsPerClient, "connections", "")
	f.IntVar(&srv.Pollers, "pollers", 0, "epoll pollers that keep idle connections and serve their requests in order (0: GOMAXPROCS-1, at least 1; -1: none, a goroutine per connection)")
	f.Int64Var(&maxBody, "max-body", web.DefaultMaxBodyBytes, "largest request body accepted, in bytes")
	f.StringVar(&db, "db", "", "the cookie demo's database: a SQLite file (default: web-demo.sqlite in the user cache directory), a postgres:// URL, or memory")
	f.BoolVar(&noDemo, "no-demo", false, "do not serve the cookie demo under /_demo/")
	f.Int64Var(&cacheMax, "cache-file-max", 256<<10, "keep files up to this size in memory (re-checked on disk each second; -1: none)")
	g.addTrace(c)
	return c
}

// webCertificate loads --tls-cert and --tls-key, or the self-signed
// certificate kept in the user cache directory (made on first use for
// localhost and the hosts of the listening addresses).
func webCertificate(certFile, keyFile string, addrs ...string) (tls.Certificate, error) {
	if certFile != "" || keyFile != "" {
		return tlsutil.Load(certFile, keyFile)
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	for _, a := range addrs {
		if h, _, err := net.SplitHostPort(a); err == nil && h != "" {
			hosts = append(hosts, h)
		}
	}
	return tlsutil.LoadOrCreate(filepath.Join(dir, "applayer", "web-tls"), hosts)
}

// openDemoStore opens the demo's database as --db says, and reports where.
func openDemoStore(ctx context.Context, db string) (store.Store, string, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	switch {
	case db == "memory":
		return store.NewMemory(), "memory", nil
	case db == "":
		dir, err := os.UserCacheDir()
		if err != nil {
			dir = os.TempDir()
		}
		db = filepath.Join(dir, "applayer", "web-demo.sqlite")
	}
	st, err := store.Open(ctx, db)
	if err != nil {
		return nil, "", fmt.Errorf("--db: %w", err)
	}
	where := db
	if u, err := url.Parse(db); err == nil && u.User != nil {
		where = u.Redacted()
	}
	return st, where, nil
}

func newWebPasswdCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "passwd USER",
		Short: "Print a credentials-file line for USER, reading the password from stdin",
		Example: exampleLines(
			"echo 's3cret' | applayer web passwd alice >> site.passwd",
		),
		Args: namedArgs("USER"),
		RunE: func(c *cobra.Command, args []string) error {
			b, err := io.ReadAll(io.LimitReader(c.InOrStdin(), 1024))
			if err != nil {
				return err
			}
			pw := string(b)
			for len(pw) > 0 && (pw[len(pw)-1] == '\n' || pw[len(pw)-1] == '\r') {
				pw = pw[:len(pw)-1]
			}
			if pw == "" {
				return fmt.Errorf("no password on stdin")
			}
			line, err := web.HashPassword(args[0], pw)
			if err != nil {
				return err
			}
			fmt.Fprintln(c.OutOrStdout(), line)
			return nil
		},
	}
}

func newWebGetCmd(g *globals) *cobra.Command {
	var (
		f        browser.Fetcher
		output   string
		objects  bool
		jarFile  string
		cacheDir string
		dnsAddr  string
		useH2    bool
		rate     string
		cacert   string
		proxyURL string
	)
	c := &cobra.Command{
		Use:   "get URL [-o FILE] [--objects] [--http1.0] [--non-persistent] [--parallel N] [--cookie-jar FILE] [--cache-dir DIR]",
		Short: "Fetch a page (and with --objects everything it references) and compare with the textbook's RTT model",
		Long: `Fetch URL with applayer's own HTTP/1.x client and write the body to stdout
or -o FILE.

With --objects, also fetch every object the HTML page references (img,
script, link, source...) and print a report: each object's status, size,
connection and time; connections opened; the RTT measured as the TCP
handshake time; bytes; total time; and the textbook's model for the same
page beside the measurement (non-persistent: 2 RTT per object plus
transmission; persistent: 1 RTT per object after the first).

--http1.0 and --non-persistent open one TCP connection per object;
--parallel N uses N connections at once. --cookie-jar keeps cookies in the
Netscape cookies.txt format curl uses (-b/-c), so the two can share a jar.
--cache-dir keeps a local copy of each object and revalidates it with a
conditional GET (If-None-Match / If-Modified-Since; a 304 reuses the copy).`,
		Example: exampleLines(
			"applayer web get http://127.0.80.1:18080/ --objects                 # the lab's www.someschool.edu",
			"applayer web get http://www.someschool.edu:18080/ --objects --dns 127.0.53.53:10053",
			"applayer web get http://127.0.80.1:18080/ --objects --non-persistent --parallel 5",
			"applayer web get http://127.0.80.1:18080/ --objects --rtt 20ms          # then --non-persistent: 2 RTT per object",
			"applayer web get http://127.0.80.1:18080/_demo/ --cookie-jar cookies.txt",
			"applayer web get http://127.0.80.1:18080/files/big.bin -o big.bin --cache-dir ~/.cache/applayer-get",
			"applayer web get http://127.0.80.1:18080/ --http2 --objects --trace     # one connection, interleaved streams",
		),
		Args: namedArgs("URL"),
		RunE: func(c *cobra.Command, args []string) error {
			f.Trace = g.recorder(os.Stderr)
			if rate != "" {
				bits, err := parseBits(rate)
				if err != nil || bits < 8 {
					return fmt.Errorf("--rate: want a rate such as 20Mbit or 2MB, got %q", rate)
				}
				f.Rate = int64(bits / 8)
			}
			if useH2 {
				ctx, cancel := signalContext()
				defer cancel()
				return getHTTP2(ctx, c.OutOrStdout(), args[0], output, objects, cacert, http2.Options{Timeout: f.Timeout, Trace: f.Trace, Rate: f.Rate})
			}
			if f.Parallel < 1 {
				return fmt.Errorf("--parallel must be at least 1")
			}
			if jarFile != "" {
				jar, err := browser.LoadJar(jarFile)
				if err != nil {
					return fmt.Errorf("--cookie-jar: %w", err)
				}
				f.Jar = jar
			}
			if cacheDir != "" {
				f.Cache = &browser.Cache{Dir: cacheDir}
			}
			if dnsAddr != "" {
				if _, _, err := net.SplitHostPort(dnsAddr); err != nil {
					dnsAddr = net.JoinHostPort(dnsAddr, "53")
				}
				f.Resolver = stubresolver.At(dnsAddr)
			}
			if proxyURL != "" {
				p := strings.TrimSuffix(strings.TrimPrefix(proxyURL, "http://"), "/")
				if _, _, err := net.SplitHostPort(p); err != nil {
					return fmt.Errorf("--proxy: want http://HOST:PORT, got %q", proxyURL)
				}
				f.Proxy = p
			}
			if term.IsTerminal(int(os.Stderr.Fd())) && !g.trace {
				f.Progress = newProgressBar(os.Stderr)
			}
			ctx, cancel := signalContext()
			defer cancel()
			var out io.Writer = c.OutOrStdout()
			var file *atomicfile.File // becomes output at the end
			if output != "" && output != "-" {
				if target, err := filepath.EvalSymlinks(output); err == nil {
					// A symbolic link is written through, as curl does,
					// not replaced by the rename.
					output = target
				}
				if fi, err := os.Stat(output); err == nil && !fi.Mode().IsRegular() {
					// A device or a pipe (-o /dev/null): written into,
					// since renaming over it would replace it with a file.
					dev, err := os.OpenFile(output, os.O_WRONLY, 0)
					if err != nil {
						return err
					}
					defer dev.Close()
					out = dev
				} else {
					file, err = atomicfile.Create(output, 0o644)
					if err != nil {
						return err
					}
					defer file.Discard()
					out = file
				}
			} else if objects {
				out = nil
			}
			var err error
			if objects {
				var rep *browser.Report
				rep, err = f.Page(ctx, args[0], out)
				if rep != nil {
					rep.WriteReport(c.OutOrStdout())
					if f.Proxy != "" {
						writeProxyModel(c.OutOrStdout(), rep.Objects)
					}
				}
			} else {
				var obj browser.Object
				obj, err = f.Get(ctx, args[0], out)
				if err == nil && obj.Status >= 400 {
					err = fmt.Errorf("%s: %d %s", obj.URL, obj.Status, web.StatusText(obj.Status))
				}
			}
			if f.Jar != nil {
				if serr := f.Jar.Save(jarFile); serr != nil && err == nil {
					err = fmt.Errorf("--cookie-jar: %w", serr)
				}
			}
			if err != nil {
				return err
			}
			if file != nil {
				return file.Commit()
			}
			return nil
		},
	}
	fl := c.Flags()
	fl.StringVarP(&output, "output", "o", "", "write the body to FILE (atomically) instead of stdout")
	fl.BoolVar(&objects, "objects", false, "also fetch the objects the page references, and print the RTT report")
	fl.BoolVar(&f.HTTP10, "http1.0", false, "send HTTP/1.0 requests (one connection per object)")
	fl.BoolVar(&useH2, "http2", false, "speak HTTP/2 (h2c by prior knowledge for http://, ALPN h2 for https://); with --objects, fetch them all at once on one connection and print a per-stream timeline")
	fl.StringVar(&cacert, "cacert", "", "with --http2 and https://, trust this PEM certificate (e.g. the server's self-signed one)")
	fl.BoolVar(&f.NonPersistent, "non-persistent", false, "open a new TCP connection for every object")
	fl.IntVar(&f.Parallel, "parallel", 1, "connections used at once for the objects")
	fl.StringVar(&jarFile, "cookie-jar", "", "read and write cookies in this Netscape cookies.txt file")
	fl.StringVar(&cacheDir, "cache-dir", "", "keep objects here and revalidate them with conditional GET")
	fl.DurationVar(&f.Timeout, "timeout", 30*time.Second, "time allowed for each request")
	fl.DurationVar(&f.RTT, "rtt", 0, "add this round-trip delay per connection set-up and per request (e.g. 20ms), to see the textbook's RTT model on loopback")
	fl.StringVar(&rate, "rate", "", "read each connection no faster than this (e.g. 20Mbit, 2MB): a slow access link simulated on loopback, where transmission delay shows")
	fl.StringVar(&proxyURL, "proxy", "", "send the requests through this HTTP proxy (http://HOST:PORT), e.g. 'applayer web proxy'; --objects then shows its hit ratio and the textbook's access-link model")
	fl.StringVar(&dnsAddr, "dns", "", "look host names up with this DNS server (HOST[:PORT]), e.g. the lab's resolver")
	g.addTrace(c)
	return c
}

// getHTTP2 is web get --http2: the page, and with objects everything it
// references on its origin, on one HTTP/2 connection, all at once.
func getHTTP2(ctx context.Context, stdout io.Writer, raw, output string, objects bool, cacert string, opt http2.Options) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q is not an http:// or https:// URL", raw)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), map[string]string{"http": "80", "https": "443"}[u.Scheme])
	}
	if u.Scheme == "https" {
		opt.TLS = &tls.Config{ServerName: u.Hostname()}
		if cacert != "" {
			if opt.TLS.RootCAs, err = tlsutil.CertPool(cacert); err != nil {
				return fmt.Errorf("--cacert: %w", err)
			}
		}
	}
	cc, err := http2.Dial(ctx, addr, opt)
	if err != nil {
		return err
	}
	defer cc.Close()
	const maxPage = 16 << 20
	if !objects {
		page, err := cc.Get(ctx, u.Scheme, u.Host, []string{u.RequestURI()}, maxPage)
		if err != nil {
			return err
		}
		if page[0].Err != nil {
			return page[0].Err
		}
		if output != "" && output != "-" {
			return atomicfile.WriteFile(output, page[0].Body, 0o644)
		}
		_, err = stdout.Write(page[0].Body)
		return err
	}
	all, err := cc.Page(ctx, u, maxPage)
	if len(all) == 0 || all[0].Err != nil || all[0].Status == 0 {
		return err
	}
	page, fetches := all[0], all[1:]
	fmt.Fprintf(stdout, "%s: %d %s, %d bytes; then %d objects on the same HTTP/2 connection, requested at once ('H' response head, '#' DATA frames):\n\n", raw, page.Status, web.StatusText(page.Status), len(page.Body), len(fetches))
	http2.Timeline(stdout, fetches, 50)
	return err
}

// newProgressBar returns a Fetcher.Progress that draws a bar on w for
// bodies over a megabyte, at most ten times a second.
func newProgressBar(w io.Writer) func(*url.URL, int64, int64) {
	var last time.Time
	var start time.Time
	var cur *url.URL
	return func(u *url.URL, done, total int64) {
		if u != cur {
			cur, start = u, time.Now()
		}
		if total >= 0 && total < 1<<20 || done < 1<<20 && total < 0 {
			return
		}
		finished := total >= 0 && done >= total
		if !finished && time.Since(last) < 100*time.Millisecond {
			return
		}
		last = time.Now()
		rate := float64(done) / max(time.Since(start).Seconds(), 1e-3) / (1 << 20)
		if total > 0 {
			const width = 30
			n := int(float64(width) * float64(done) / float64(total))
			bar := strings.Repeat("=", n) + strings.Repeat(" ", width-n)
			fmt.Fprintf(w, "\r[%s] %3d%% %7.1f/%.1f MiB %6.1f MiB/s", bar, 100*done/total, float64(done)/(1<<20), float64(total)/(1<<20), rate)
		} else {
			fmt.Fprintf(w, "\r%7.1f MiB %6.1f MiB/s", float64(done)/(1<<20), rate)
		}
		if finished {
			fmt.Fprintln(w)
		}
	}
}
