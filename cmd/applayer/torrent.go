package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/applayer/applayer/internal/atomicfile"
	"github.com/applayer/applayer/p2p/metainfo"
	"github.com/applayer/applayer/p2p/peer"
	"github.com/applayer/applayer/p2p/tracker"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func newTorrentCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "torrent",
		Short: "BitTorrent: make torrents, run a tracker, seed and download, and the P2P distribution-time bound",
	}
	c.AddCommand(newTorrentCreateCmd(), newTorrentTrackerCmd(g), newTorrentSeedCmd(g), newTorrentGetCmd(g), newTorrentCalcCmd())
	return c
}

func newTorrentCreateCmd() *cobra.Command {
	var (
		trackers []string
		pieceLen string
		output   string
		comment  string
		private  bool
	)
	c := &cobra.Command{
		Use:   "create PATH [--tracker URL]... [--output FILE.torrent]",
		Short: "Make a .torrent of a file or a directory and print its info-hash and magnet link",
		Long: `Make a torrent (BEP 3) of a file, or of a directory's files in path order.
Pieces are 256 KiB unless --piece-length says otherwise. Each --tracker is
a tier of its own (BEP 12); a URL list separated by commas is one tier.`,
		Example: exampleLines(
			"applayer torrent create file.bin --tracker http://127.0.0.1:6969/announce",
			"applayer torrent create album/ --tracker udp://127.0.0.1:6969 --piece-length 1MiB --output album.torrent",
		),
		Args: namedArgs("PATH"),
		RunE: func(c *cobra.Command, args []string) error {
			opts := metainfo.CreateOptions{Comment: comment, Private: private, CreatedBy: "applayer", CreationDate: time.Now()}
			if pieceLen != "" {
				n, err := parseBytes(pieceLen)
				if err != nil {
					return fmt.Errorf("--piece-length: %w", err)
				}
				opts.PieceLength = int64(n)
			}
			for _, t := range trackers {
				opts.Trackers = append(opts.Trackers, strings.Split(t, ","))
			}
			m, err := metainfo.Create(args[0], opts)
			if err != nil {
				return err
			}
			b, err := m.Marshal()
			if err != nil {
				return err
			}
			if output == "" {
				output = m.Info.Name + ".torrent"
			}
			if err := atomicfile.WriteFile(output, b, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "%s: %d bytes in %d pieces of %s\ninfo-hash %s\n%s\n", output, m.Info.TotalLength(),
				m.Info.NumPieces(), formatBytes(float64(m.Info.PieceLength)), m.InfoHash, m.Magnet())
			return nil
		},
	}
	f := c.Flags()
	f.StringArrayVar(&trackers, "tracker", nil, "announce URL (repeat for more tiers; commas separate URLs of one tier)")
	f.StringVar(&pieceLen, "piece-length", "", "piece size, a power of two (default 256KiB)")
	f.StringVarP(&output, "output", "o", "", "file to write (default NAME.torrent)")
	f.StringVar(&comment, "comment", "", "comment stored in the torrent")
	f.BoolVar(&private, "private", false, "mark the torrent private (BEP 27: trackers only)")
	return c
}

func newTorrentTrackerCmd(g *globals) *cobra.Command {
	var (
		srv      tracker.Server
		useUDP   bool
		useTCP   bool
		interval time.Duration
	)
	c := &cobra.Command{
		Use:   "tracker [--listen ADDR]",
		Short: "Run a BitTorrent tracker over HTTP and UDP (announce, scrape, a stats page)",
		Long: `Run a tracker: HTTP announce and scrape (compact peer lists, BEP 23, and
IPv6 peers, BEP 7) and the UDP tracker protocol (BEP 15) on the same port.
Each announce gets a random subset of the torrent's other peers. The stats
page is at http://ADDR/stats.`,
		Example: exampleLines(
			"applayer torrent tracker",
			"applayer torrent tracker --listen 127.0.0.1:16969 --interval 1m --trace",
		),
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			logger, err := g.logger()
			if err != nil {
				return err
			}
			switch {
			case useUDP && !useTCP:
				srv.Network = "udp"
			case useTCP && !useUDP:
				srv.Network = "tcp"
			}
			srv.Interval = interval
			srv.Logger = logger
			srv.Trace = g.recorder(os.Stderr)
			return serveUntilSignal(srv.ListenAndServe, srv.Shutdown, tracker.ErrServerClosed)
		},
	}
	f := c.Flags()
	f.StringVar(&srv.Addr, "listen", tracker.DefaultAddr, "address to listen on (TCP for HTTP and UDP)")
	f.BoolVar(&useUDP, "udp", false, "serve UDP only")
	f.BoolVar(&useTCP, "tcp", false, "serve HTTP only")
	f.DurationVarP(&interval, "interval", "i", tracker.DefaultInterval, "how often peers are told to announce")
	f.IntVar(&srv.NumWant, "numwant", tracker.DefaultNumWant, "peers given to an announce that does not say how many")
	limitFlags(f, &srv.MaxConns, &srv.MaxConnsPerClient, "HTTP connections", "")
	g.addTrace(c)
	return c
}

// peerFlags are the flags seed and get share.
type peerFlags struct {
	srv                          peer.Server
	data                         string
	upRate, downRate, peerUpRate string
	peers                        []string
}

func (pf *peerFlags) add(c *cobra.Command) {
	f := c.Flags()
	f.StringVar(&pf.data, "data", ".", "directory holding the torrent's files")
	f.StringVar(&pf.srv.Addr, "listen", peer.DefaultAddr, "address to listen on for peers")
	f.StringArrayVar(&pf.peers, "peer", nil, "a peer to connect to, HOST:PORT (repeatable), besides the trackers'")
	f.BoolVar(&pf.srv.NoTrackers, "no-trackers", false, "do not announce to the torrent's trackers")
	f.IntVar(&pf.srv.MaxPeers, "max-peers", peer.DefaultMaxPeers, "most peer connections")
	f.IntVar(&pf.srv.UploadSlots, "upload-slots", peer.DefaultUploadSlots, "peers unchoked by rate at each rechoke (plus one optimistic)")
	f.BoolVar(&pf.srv.NoAutoSlots, "fixed-slots", false, "never add upload slots while the upload is under --upload-rate")
	f.BoolVar(&pf.srv.NoUploadTurns, "no-upload-turns", false, "under --upload-rate, let all unchoked peers share it at once instead of taking turns of a piece")
	f.DurationVar(&pf.srv.RechokeInterval, "rechoke", peer.DefaultRechokeInterval, "how often the fastest peers are chosen")
	f.DurationVar(&pf.srv.OptimisticInterval, "optimistic", peer.DefaultOptimisticInterval, "how often the optimistic unchoke moves")
	f.IntVar(&pf.srv.RequestQueue, "request-queue", 0, "block requests outstanding per peer (0: a second of the peer's rate)")
	f.StringVar(&pf.upRate, "upload-rate", "", "upload limit in bytes per second, e.g. 512KiB (default none)")
	f.StringVar(&pf.downRate, "download-rate", "", "download limit in bytes per second (default none)")
	f.StringVar(&pf.peerUpRate, "peer-upload-rate", "", "upload limit to each peer in bytes per second (default none)")
	f.DurationVar(&pf.srv.AnnounceInterval, "announce-interval", 0, "announce this often instead of the tracker's interval")
}

func (pf *peerFlags) server(g *globals, torrent string) (*peer.Server, error) {
	logger, err := g.logger()
	if err != nil {
		return nil, err
	}
	var m *metainfo.MetaInfo
	if strings.HasPrefix(torrent, "magnet:") {
		mg, err := metainfo.ParseMagnet(torrent)
		if err != nil {
			return nil, err
		}
		mg.Peers = append(mg.Peers, pf.peers...)
		ctx, cancel := signalContext()
		defer cancel()
		opts := peer.FetchOptions{}
		if _, p, err := net.SplitHostPort(pf.srv.Addr); err == nil {
			n, _ := strconv.Atoi(p)
			opts.Port = uint16(n)
		}
		logger.Info("torrent: fetching the metadata", "info-hash", mg.InfoHash.String())
		if m, err = peer.FetchMetadata(ctx, mg, opts); err != nil {
			return nil, err
		}
	} else if m, err = metainfo.Load(torrent); err != nil {
		return nil, err
	}
	s := &pf.srv
	s.Torrent, s.Dir, s.Logger, s.Trace, s.Peers = m, pf.data, logger, g.recorder(os.Stderr), pf.peers
	for _, r := range []struct {
		flag, v string
		to      *int64
	}{{"--upload-rate", pf.upRate, &s.UploadRate}, {"--download-rate", pf.downRate, &s.DownloadRate}, {"--peer-upload-rate", pf.peerUpRate, &s.PeerUploadRate}} {
		if r.v == "" {
			continue
		}
		n, err := parseBytes(strings.TrimSuffix(r.v, "/s"))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.flag, err)
		}
		*r.to = int64(n)
	}
	return s, nil
}

func newTorrentSeedCmd(g *globals) *cobra.Command {
	var pf peerFlags
	c := &cobra.Command{
		Use:   "seed FILE.torrent --data DIR",
		Short: "Seed a torrent whose files are in DIR (verified first), until interrupted",
		Example: exampleLines(
			"applayer torrent seed file.bin.torrent --data . --listen 127.0.0.1:6881",
			"applayer torrent seed file.bin.torrent --data . --upload-rate 1MiB",
		),
		Args: namedArgs("FILE.torrent"),
		RunE: func(c *cobra.Command, args []string) error {
			s, err := pf.server(g, args[0])
			if err != nil {
				return err
			}
			if err := s.Open(); err != nil {
				return err
			}
			st := s.Stats()
			if !st.Complete {
				fmt.Fprintf(c.ErrOrStderr(), "%s: %d of %d pieces verified in %s; the rest will be downloaded\n", args[0], st.Have, st.Pieces, pf.data)
			}
			fmt.Fprintf(c.ErrOrStderr(), "seeding %s (%s) on %s\n", s.Torrent.Info.Name, s.Torrent.InfoHash, s.Addr)
			return serveUntilSignal(s.ListenAndServe, s.Shutdown, peer.ErrServerClosed)
		},
	}
	pf.add(c)
	g.addTrace(c)
	return c
}

func newTorrentGetCmd(g *globals) *cobra.Command {
	var (
		pf       peerFlags
		seed     bool
		progress string
	)
	c := &cobra.Command{
		Use:   "get FILE.torrent|MAGNET [--data DIR] [--seed]",
		Short: "Download a torrent or a magnet link into DIR, then exit (or keep seeding with --seed)",
		Long: `Download a torrent into DIR. For a magnet link, the info dictionary is
first fetched from the peers the magnet's trackers (and --peer) name (BEP 9).
Files are written under their name plus
` + peer.PartSuffix + ` and renamed when every piece is verified; what is already on disk is
verified first, so an interrupted download resumes. On a terminal a progress
line shows the pieces, peers, rates and a map of the pieces.`,
		Example: exampleLines(
			"applayer torrent get file.bin.torrent --data dl --listen 127.0.0.1:6882",
			"applayer torrent get file.bin.torrent --data dl --listen 127.0.0.1:6883 --seed --upload-rate 512KiB",
			"applayer torrent get 'magnet:?xt=urn:btih:...&tr=http%3A%2F%2F127.0.0.1%3A6969%2Fannounce' --data dl",
		),
		Args: namedArgs("FILE.torrent|MAGNET"),
		RunE: func(c *cobra.Command, args []string) error {
			s, err := pf.server(g, args[0])
			if err != nil {
				return err
			}
			if err := os.MkdirAll(pf.data, 0o755); err != nil {
				return err
			}
			ctx, cancel := signalContext()
			defer cancel()
			errc := make(chan error, 1)
			go func() { errc <- s.ListenAndServe() }()
			show := progress == "on" || (progress == "auto" && term.IsTerminal(int(os.Stderr.Fd())) && !g.trace)
			start := time.Now()
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			stop := func() error {
				sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer scancel()
				err := s.Shutdown(sctx)
				if serr := <-errc; serr != nil && !errors.Is(serr, peer.ErrServerClosed) {
					return serr
				}
				return err
			}
			done := s.Done()
			for {
				select {
				case err := <-errc:
					return err
				case <-ctx.Done():
					if show {
						fmt.Fprintln(c.ErrOrStderr())
					}
					err := stop()
					st := s.Stats()
					fmt.Fprintf(c.OutOrStdout(), "%s: stopped, %d bytes downloaded, %d bytes uploaded\n", s.Torrent.Info.Name, st.Downloaded, st.Uploaded)
					return err
				case <-tick.C:
					if show {
						fmt.Fprintf(c.ErrOrStderr(), "\r%s", progressLine(s.Stats(), 32))
					}
				case <-done:
					done = nil
					st := s.Stats()
					if show {
						fmt.Fprintf(c.ErrOrStderr(), "\r%s\n", progressLine(st, 32))
					}
					fmt.Fprintf(c.OutOrStdout(), "%s: complete in %s, %s downloaded, %s uploaded\n", s.Torrent.Info.Name,
						time.Since(start).Round(time.Millisecond), formatBytes(float64(st.Downloaded)), formatBytes(float64(st.Uploaded)))
					if !seed {
						return stop()
					}
				}
			}
		},
	}
	pf.add(c)
	c.Flags().BoolVar(&seed, "seed", false, "keep seeding once complete, until interrupted")
	c.Flags().StringVar(&progress, "progress", "auto", "progress line: auto (on a terminal), on or off")
	g.addTrace(c)
	return c
}

// progressLine is one line of progress with a map of the pieces in width
// characters: '#' all of a cell's pieces, '+' some, '.' none.
func progressLine(st peer.Stats, width int) string {
	var m strings.Builder
	if st.Pieces > 0 {
		for i := range width {
			lo, hi := i*st.Pieces/width, (i+1)*st.Pieces/width
			if hi <= lo {
				hi = lo + 1
			}
			n := 0
			for _, h := range st.Map[lo:min(hi, len(st.Map))] {
				if h {
					n++
				}
			}
			switch {
			case n == hi-lo:
				m.WriteByte('#')
			case n > 0:
				m.WriteByte('+')
			default:
				m.WriteByte('.')
			}
		}
	}
	pct := 0.0
	if st.Pieces > 0 {
		pct = 100 * float64(st.Have) / float64(st.Pieces)
	}
	return fmt.Sprintf("[%s] %5.1f%% %d/%d pieces, %d peers (%d unchoked), down %s/s up %s/s  ", m.String(), pct, st.Have, st.Pieces,
		st.Peers, st.Unchoked, formatBytes(st.DownRate), formatBytes(st.UpRate))
}

func newTorrentCalcCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "calc N F u_s u_i d_min",
		Short: "Print the minimum distribution times D_cs and D_p2p (textbook section 2.5)",
		Long: `Print the lower bounds on the time to distribute a file of F bits to N
peers, from a server that uploads u_s bits/s, peers that upload u_i each and
download at least d_min:

  D_cs  >= max{ N F / u_s, F / d_min }
  D_p2p >= max{ F / u_s, F / d_min, N F / (u_s + N u_i) }

Sizes and rates take k, M, G (powers of 1000) or Ki, Mi, Gi (of 1024), in
bits; a trailing B means bytes (32MiB is 32 mebibytes). d_min may be inf.`,
		Example: exampleLines(
			"applayer torrent calc 8 32MiB 1MiB 512KiB inf",
			"applayer torrent calc 1000 15G 30M 300k 2M",
		),
		Args: namedArgs("N", "F", "u_s", "u_i", "d_min"),
		RunE: func(c *cobra.Command, args []string) error {
			n, err := strconv.Atoi(args[0])
			if err != nil || n < 1 {
				return fmt.Errorf("N: want a positive integer, got %q", args[0])
			}
			var v [4]float64
			for i, name := range []string{"F", "u_s", "u_i", "d_min"} {
				a := strings.TrimSuffix(args[i+1], "/s")
				if name == "d_min" && (a == "inf" || a == "∞") {
					v[i] = math.Inf(1)
					continue
				}
				if v[i], err = parseBits(a); err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
				if v[i] <= 0 && name != "u_i" {
					return fmt.Errorf("%s must be positive", name)
				}
			}
			writeCalc(c.OutOrStdout(), n, v[0], v[1], v[2], v[3])
			return nil
		},
	}
}

// writeCalc prints the two bounds and which term sets each.
func writeCalc(w io.Writer, n int, f, us, ui, dmin float64) {
	N := float64(n)
	cs := []float64{N * f / us, f / dmin}
	p2p := []float64{f / us, f / dmin, N * f / (us + N*ui)}
	fmt.Fprintf(w, "N = %d, F = %s bits, u_s = %s bit/s, u_i = %s bit/s, d_min = %s bit/s\n", n, si(f), si(us), si(ui), si(dmin))
	fmt.Fprintf(w, "D_cs  >= max{N F/u_s = %s, F/d_min = %s} = %s\n", secs(cs[0]), secs(cs[1]), secs(max(cs[0], cs[1])))
	fmt.Fprintf(w, "D_p2p >= max{F/u_s = %s, F/d_min = %s, N F/(u_s + N u_i) = %s} = %s\n", secs(p2p[0]), secs(p2p[1]), secs(p2p[2]), secs(max(p2p[0], p2p[1], p2p[2])))
	fmt.Fprintf(w, "D_cs / D_p2p = %.2f\n", max(cs[0], cs[1])/max(p2p[0], p2p[1], p2p[2]))
}

func secs(x float64) string {
	if math.IsInf(x, 0) {
		return "inf"
	}
	if x == 0 {
		return "0 s"
	}
	if x < 1 {
		return strconv.FormatFloat(x*1000, 'f', 3, 64) + " ms"
	}
	return strconv.FormatFloat(x, 'f', 1, 64) + " s"
}

func si(x float64) string {
	if math.IsInf(x, 0) {
		return "inf"
	}
	return strconv.FormatFloat(x, 'g', 6, 64)
}

// parseQuantity reads a number with an optional k, M, G, T (powers of
// 1000) or Ki, Mi, Gi, Ti (of 1024) multiplier, then an optional unit
// suffix ("B" or "b"), and returns the number and the unit.
func parseQuantity(s string) (float64, string, error) {
	orig := s
	unit := ""
	if strings.HasSuffix(s, "B") || strings.HasSuffix(s, "b") {
		unit = s[len(s)-1:]
		s = s[:len(s)-1]
		s = strings.TrimSuffix(s, "it") // "bit"
	} else if strings.HasSuffix(s, "bit") {
		unit, s = "b", strings.TrimSuffix(s, "bit")
	} else if strings.HasSuffix(s, "bps") {
		unit, s = "b", strings.TrimSuffix(s, "bps")
	}
	mult := 1.0
	for _, m := range []struct {
		suffix string
		f      float64
	}{{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40}, {"k", 1e3}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}} {
		if strings.HasSuffix(s, m.suffix) {
			s, mult = strings.TrimSuffix(s, m.suffix), m.f
			break
		}
	}
	x, err := strconv.ParseFloat(s, 64)
	if err != nil || x < 0 || math.IsInf(x, 0) || math.IsNaN(x) {
		return 0, "", fmt.Errorf("%q is not a quantity (e.g. 32MiB, 1.5M, 300k)", orig)
	}
	return x * mult, unit, nil
}

// parseBits reads a size or rate in bits; "B" means bytes.
func parseBits(s string) (float64, error) {
	x, unit, err := parseQuantity(s)
	if unit == "B" {
		x *= 8
	}
	return x, err
}

// parseBytes reads a size or rate in bytes ("512KiB", "1MB", "65536").
func parseBytes(s string) (float64, error) {
	x, unit, err := parseQuantity(s)
	if err != nil {
		return 0, err
	}
	if unit == "b" {
		return 0, fmt.Errorf("%q is in bits; give bytes (B)", s)
	}
	return math.Round(x), nil
}

// formatBytes prints a byte count with a binary multiple.
func formatBytes(x float64) string {
	switch {
	case x >= 1<<30:
		return fmt.Sprintf("%.2f GiB", x/(1<<30))
	case x >= 1<<20:
		return fmt.Sprintf("%.2f MiB", x/(1<<20))
	case x >= 1<<10:
		return fmt.Sprintf("%.1f KiB", x/(1<<10))
	}
	return fmt.Sprintf("%.0f B", x)
}
