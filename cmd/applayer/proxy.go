package main

import (
	"io"

	"fmt"
	"github.com/applayer/applayer/web/browser"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/applayer/applayer/internal/netprefix"
	"github.com/applayer/applayer/web/cache"
	"github.com/applayer/applayer/web/proxy"
	"github.com/spf13/cobra"
)

func newWebProxyCmd(g *globals) *cobra.Command {
	var (
		srv                proxy.Server
		maxSize, maxObject string
		cacheDir           string
		allow, purgeFrom   []string
		connectPorts       []int
	)
	c := &cobra.Command{
		Use:   "proxy [--listen ADDR] [--reverse ORIGIN] [--cache-dir DIR] [--max-size SIZE]",
		Short: "A caching HTTP proxy (RFC 9111): forward, or reverse in front of an origin",
		Long: `A Web cache. As a forward proxy (the default) it takes absolute-form requests
(curl -x, a browser's proxy setting) and CONNECT tunnels to the allowed ports;
with --reverse ORIGIN it is an accelerator in front of one origin server.

Responses are stored as RFC 9111 allows (Cache-Control both ways, Expires,
the Last-Modified heuristic, Vary), revalidated with If-None-Match and
If-Modified-Since when stale, and dropped after a successful POST, PUT or
DELETE to the same URI. X-Cache says HIT, MISS, REVALIDATED or STALE.
Concurrent misses for one object reach the origin once.

Only loopback clients are served unless --allow adds networks. PURGE removes
an object, from loopback or --purge-from networks. /_proxy/stats and
/_proxy/metrics (Prometheus) report hits, misses and bytes.

The cache lives in memory, bounded by --max-size (least recently used
first out); with --cache-dir it is also kept on disk, each object written
atomically with a checksum, and loaded back at start.`,
		Example: exampleLines(
			"applayer web proxy",
			"curl -x http://127.0.0.1:3128 -sI http://127.0.80.1:18080/",
			"applayer web proxy --listen 127.0.0.1:8081 --reverse 127.0.80.1:18080 --max-size 256M",
			"applayer web proxy --cache-dir ~/.cache/applayer/proxy",
		),
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			logger, err := g.logger()
			if err != nil {
				return err
			}
			size, err := parseSize(maxSize)
			if err != nil {
				return fmt.Errorf("--max-size: %w", err)
			}
			obj, err := parseSize(maxObject)
			if err != nil {
				return fmt.Errorf("--max-object: %w", err)
			}
			srv.MaxSize, srv.MaxObject = size, obj
			if cacheDir != "" {
				d, err := cache.OpenDisk(cacheDir, size)
				if err != nil {
					return fmt.Errorf("--cache-dir: %w", err)
				}
				srv.Store = d
			}
			nets := func(flag string, in []string) ([]netip.Prefix, error) {
				if len(in) == 0 {
					return nil, nil
				}
				out := netprefix.Loopback()
				for _, a := range in {
					p, err := netprefix.Parse(a)
					if err != nil {
						return nil, fmt.Errorf("--%s: %w", flag, err)
					}
					out = append(out, p)
				}
				return out, nil
			}
			if srv.Allow, err = nets("allow", allow); err != nil {
				return err
			}
			if srv.PurgeFrom, err = nets("purge-from", purgeFrom); err != nil {
				return err
			}
			srv.ConnectPorts = connectPorts
			srv.Logger = logger
			srv.HTTP.Logger = logger
			srv.Trace = g.recorder(os.Stderr)
			srv.HTTP.Trace = srv.Trace
			return serveUntilSignal(srv.ListenAndServe, srv.Shutdown, proxy.ErrServerClosed)
		},
	}
	f := c.Flags()
	f.StringVar(&srv.HTTP.Addr, "listen", proxy.DefaultAddr, "address to listen on")
	f.StringVar(&srv.Origin, "reverse", "", "be a reverse proxy for this origin (host:port or http://host:port)")
	f.StringVar(&maxSize, "max-size", strconv.Itoa(cache.DefaultMaxSize>>20)+"M", "bound of the cache (bytes, or with K, M, G)")
	f.StringVar(&maxObject, "max-object", strconv.Itoa(proxy.DefaultMaxObject>>20)+"M", "largest response stored; larger ones pass through")
	f.StringVar(&cacheDir, "cache-dir", "", "keep the cache in this directory too, across restarts")
	f.StringArrayVar(&allow, "allow", nil, "client network to serve besides loopback, as CIDR (repeatable)")
	f.StringArrayVar(&purgeFrom, "purge-from", nil, "network allowed to PURGE besides loopback, as CIDR (repeatable)")
	f.IntSliceVar(&connectPorts, "connect-ports", proxy.DefaultConnectPorts, "ports CONNECT may tunnel to")
	f.DurationVar(&srv.OriginTimeout, "origin-timeout", proxy.DefaultOriginTimeout, "bound on connecting to an origin and on each read and write")
	f.DurationVar(&srv.HTTP.IdleTimeout, "idle-timeout", 60*time.Second, "close a kept-alive client connection idle this long")
	limitFlags(f, &srv.HTTP.MaxConns, &srv.HTTP.MaxConnsPerClient, "client connections", "")
	g.addTrace(c)
	return c
}

// parseSize reads 1024, 64K, 256M, 2G (powers of 1024).
func parseSize(s string) (int64, error) {
	mult := int64(1)
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "I")
	if t != "" {
		switch t[len(t)-1] {
		case 'K':
			mult, t = 1<<10, t[:len(t)-1]
		case 'M':
			mult, t = 1<<20, t[:len(t)-1]
		case 'G':
			mult, t = 1<<30, t[:len(t)-1]
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size (say 65536, 64K, 256M or 2G)", s)
	}
	return n * mult, nil
}

// The textbook's institutional network (section 2.2.5): a 15 Mbps access
// link, 1 Mbit objects requested at 15 a second by the browsers, 2 s from
// the access router to the origins and back, 10 ms on the LAN.
const (
	modelLink     = 15e6 // bits/s
	modelObject   = 1e6  // bits
	modelRate     = 15.0 // requests/s
	modelInternet = 2.0  // s
	modelLAN      = 0.01 // s
)

// writeProxyModel prints the hit ratio the proxy reported (X-Cache) for a
// page's objects, and the textbook's average response time for that hit
// ratio with and without the cache: the misses alone load the access
// link, whose queueing delay is modelled as L/R / (1 - intensity).
func writeProxyModel(w io.Writer, objs []browser.Object) {
	hits := 0
	for _, o := range objs {
		if o.XCache == "HIT" || o.XCache == "STALE" {
			hits++
		}
	}
	if len(objs) == 0 {
		return
	}
	h := float64(hits) / float64(len(objs))
	fmt.Fprintf(w, "\nproxy: %d of %d objects were hits (hit ratio %.2f)\n", hits, len(objs), h)
	fmt.Fprintf(w, "textbook model (15 Mbps access link, 1 Mbit objects, 15 requests/s, 2 s Internet delay, 10 ms LAN):\n")
	delay := func(miss float64) string {
		intensity := modelRate * modelObject * miss / modelLink
		if intensity >= 1 {
			return fmt.Sprintf("access link at intensity %.2f: the queue grows without bound (minutes, then losses)", intensity)
		}
		access := modelObject / modelLink / (1 - intensity)
		avg := (1-miss)*modelLAN + miss*(modelInternet+access+modelLAN)
		return fmt.Sprintf("access link at intensity %.2f, average response time %.2f s", intensity, avg)
	}
	fmt.Fprintf(w, "  without the cache: %s\n", delay(1))
	fmt.Fprintf(w, "  with it (hit ratio %.2f): %s\n", h, delay(1-h))
}
