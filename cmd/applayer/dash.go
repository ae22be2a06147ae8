package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/applayer/applayer/internal/atomicfile"
	"github.com/applayer/applayer/video/abr"
	"github.com/applayer/applayer/video/dash"
	"github.com/applayer/applayer/video/trace"
	"github.com/applayer/applayer/web"
	"github.com/spf13/cobra"
)

func newDashCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "dash",
		Short: "Video streaming with MPEG-DASH: package a bit-rate ladder, serve it, play it with rate adaptation",
	}
	c.AddCommand(newDashPackageCmd(g), newDashServeCmd(g), newDashPlayCmd(g))
	return c
}

// ladderFlag formats and parses --ladder: KBPS:HEIGHT pairs.
func ladderString(l []dash.Rung) string {
	var parts []string
	for _, r := range l {
		parts = append(parts, strconv.FormatInt(r.Bitrate/1000, 10)+":"+strconv.Itoa(r.Height))
	}
	return strings.Join(parts, ",")
}

func parseLadder(s string) ([]dash.Rung, error) {
	var out []dash.Rung
	for _, part := range strings.Split(s, ",") {
		k, h, ok := strings.Cut(strings.TrimSpace(part), ":")
		kbps, err1 := strconv.ParseInt(k, 10, 64)
		height, err2 := strconv.Atoi(h)
		if !ok || err1 != nil || err2 != nil || kbps <= 0 || height <= 0 {
			return nil, fmt.Errorf("--ladder %q: want KBPS:HEIGHT pairs such as 300:180,750:360", s)
		}
		out = append(out, dash.Rung{ID: "v" + k, Bitrate: kbps * 1000, Height: height})
	}
	return out, nil
}

func newDashPackageCmd(g *globals) *cobra.Command {
	var (
		p      dash.Packager
		out    string
		ladder string
	)
	c := &cobra.Command{
		Use:   "package [INPUT] [--data DIR]",
		Short: "Encode a video into a bit-rate ladder of DASH segments with ffmpeg and write its MPD",
		Long: `Encode INPUT (any file ffmpeg reads) into the --ladder of H.264 encodings,
cut each into fragmented-MP4 segments of --segment seconds that start with a
key frame at the same instant on every rung, and write the presentation's
MPD (static, SegmentTemplate, the live profile) as DIR/manifest.mpd:

  DIR/manifest.mpd
  DIR/v300/init.mp4  DIR/v300/seg-00001.m4s ...
  DIR/v750/...

Without INPUT, a test clip is made (ffmpeg's testsrc2 pattern with noise,
--duration long), so that there is something to stream out of the box.
ffmpeg (Debian package ffmpeg) must be on the PATH.`,
		Example: exampleLines(
			"applayer dash package --data ./dash",
			"applayer dash package movie.mp4 --data ./dash --ladder 400:240,1200:480,2500:720 --segment 2s",
		),
		Args: cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 1 {
				p.Input = args[0]
				if _, err := os.Stat(p.Input); err != nil {
					return err
				}
			}
			var err error
			if p.Rungs, err = parseLadder(ladder); err != nil {
				return err
			}
			start := time.Now()
			pres, err := p.Package(c.Context(), out)
			if err != nil {
				return err
			}
			w := c.OutOrStdout()
			fmt.Fprintf(w, "wrote %s: %v of video in %v segments, %d rungs (in %v)\n",
				filepath.Join(out, dash.ManifestName), pres.Duration, pres.SegmentDuration, len(pres.Rungs), time.Since(start).Round(time.Millisecond))
			for _, r := range pres.Rungs {
				fmt.Fprintf(w, "  %-6s %5d kbit/s %4dx%-4d %s\n", r.ID, r.Bitrate/1000, r.Width, r.Height, r.Codecs)
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&out, "data", "dash", "directory to write the presentation into")
	f.StringVar(&ladder, "ladder", ladderString(dash.DefaultLadder), "the encodings, as KBPS:HEIGHT pairs")
	f.DurationVar(&p.SegmentDuration, "segment", dash.DefaultSegmentDuration, "length of each segment")
	f.DurationVar(&p.TestDuration, "duration", dash.DefaultTestDuration, "length of the test clip made without INPUT")
	f.IntVar(&p.FrameRate, "fps", dash.DefaultFrameRate, "frames per second of the encodings")
	f.StringVar(&p.Preset, "preset", dash.DefaultPreset, "x264 speed preset (ultrafast ... veryslow)")
	f.StringVar(&p.Title, "title", "", "title written into the MPD")
	return c
}

func loadTrace(path string) (*trace.Trace, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return trace.Parse(f, filepath.Base(path))
}

func newDashServeCmd(g *globals) *cobra.Command {
	var (
		s          dash.Server
		throughput string
		accessLog  bool
	)
	c := &cobra.Command{
		Use:   "serve DIR [--listen ADDR] [--throughput FILE]",
		Short: "Stream a DASH package over HTTP/1.1, optionally shaped by a throughput trace",
		Long: `Serve the presentation in DIR (made by 'applayer dash package') over
applayer's HTTP/1.1 server: range requests, validators, and CORS headers
(Access-Control-Allow-Origin: *, preflights answered) so that a browser
player on another origin can fetch it.

--throughput FILE shapes what each client receives to a trace of
"seconds,kbps" lines (the rate holds until the next line's time; the trace
repeats): bytes leave in small pieces, each when the trace says it has
crossed the link, so that an experiment repeats exactly. The trace clock of
a client starts at its first request (plus --offset) and again after 30 s
of silence. GET ` + dash.SentPath + ` returns, as JSON, what this client's
link carried.`,
		Example: exampleLines(
			"applayer dash serve ./dash",
			"applayer dash serve ./dash --listen 127.0.0.1:8088 --throughput steps.csv --rtt 80ms",
			"applayer dash serve ./dash --dashjs node_modules/dashjs/dist/dash.all.min.js",
		),
		Args: namedArgs("DIR"),
		RunE: func(c *cobra.Command, args []string) error {
			logger, err := g.logger()
			if err != nil {
				return err
			}
			if _, err := os.Stat(filepath.Join(args[0], dash.ManifestName)); err != nil {
				return fmt.Errorf("%s is not a package (%v): make one with 'applayer dash package --data %s'", args[0], err, args[0])
			}
			s.Dir, s.Logger, s.Trace = args[0], logger, g.recorder(os.Stderr)
			if s.Throughput, err = loadTrace(throughput); err != nil {
				return fmt.Errorf("--throughput: %w", err)
			}
			if accessLog {
				s.AccessLog = c.OutOrStdout()
			}
			l, err := net.Listen("tcp", s.Addr)
			if err != nil {
				return err
			}
			shaped := "unshaped"
			if s.Throughput != nil {
				shaped = fmt.Sprintf("shaped by %s (%.0f kbit/s mean, %.0f s period)", throughput, s.Throughput.MeanKbps(), s.Throughput.Period())
			}
			fmt.Fprintf(c.OutOrStdout(), "serving %s on http://%s/%s, %s\n", args[0], l.Addr(), dash.ManifestName, shaped)
			if s.DashJS != "" {
				if _, err := os.Stat(s.DashJS); err != nil {
					return fmt.Errorf("--dashjs: %w", err)
				}
				fmt.Fprintf(c.OutOrStdout(), "dash.js player: http://%s%s?abr=abrDynamic\n", l.Addr(), dash.PlayerPath)
			}
			return serveUntilSignal(func() error { return s.Serve(l) }, s.Shutdown, dash.ErrServerClosed)
		},
	}
	f := c.Flags()
	f.StringVar(&s.Addr, "listen", dash.DefaultAddr, "address to listen on")
	f.StringVar(&throughput, "throughput", "", `trace of "seconds,kbps" lines that shapes each client's link`)
	f.DurationVar(&s.Offset, "offset", 0, "start each link this far into the trace")
	f.DurationVar(&s.RTT, "rtt", 0, "delay before each shaped response's first byte")
	limitFlags(f, &s.MaxConns, &s.MaxConnsPerClient, "connections", "")
	f.BoolVar(&accessLog, "access-log", false, "print a Combined Log Format line per request")
	f.BoolVar(&s.Live, "live", false, "serve the package as a live event starting now: a dynamic MPD with a sliding window")
	f.DurationVar(&s.LiveWindow, "live-window", dash.DefaultLiveWindow, "with --live: how far behind the live edge segments stay available")
	f.StringVar(&s.DashJS, "dashjs", "", "dash.js's dash.all.min.js (npm package dashjs): serves a player page at "+dash.PlayerPath)
	g.addTrace(c)
	return c
}

func newDashPlayCmd(g *globals) *cobra.Command {
	var (
		p          dash.Player
		rule       string
		throughput string
		offset     time.Duration
		rtt        time.Duration
		maxBuffer  time.Duration
		report     string
		plot       string
		quiet      bool
	)
	c := &cobra.Command{
		Use:   "play URL [--abr RULE] [--throughput FILE]",
		Short: "Play a DASH presentation with a rate-adaptation rule (no decoding) and report its quality of experience",
		Long: `Fetch the MPD at URL, then every segment in turn at the encoding the --abr
rule chooses, with a model of the player's buffer: each segment adds its
length, playback (once the first segment is in) drains it in real time, an
empty buffer stalls, and a full one (--max-buffer) makes the player wait.
Nothing is decoded. Prints a line per segment and a QoE report: average bit
rate, switches, rebuffering, start-up delay and Pensieve's
QoE_lin = sum R - 4.3 x rebuffer seconds - sum |R(n+1) - R(n)| (R in Mbit/s).

Rules: rate (throughput), bba (BBA-0), bola (BOLA-BASIC as dash.js sets it
up), ours (buffer-based with throughput-driven climbing and a stall guard;
see video/abr).

With --throughput FILE nothing is downloaded: the segment sizes are asked
with HEAD and the session runs in the simulator over that trace, in no real
time, with --offset and --rtt.`,
		Example: exampleLines(
			"applayer dash play http://127.0.0.1:8088/manifest.mpd",
			"applayer dash play http://127.0.0.1:8088/manifest.mpd --abr bola --report bola.json --plot bola.svg",
			"applayer dash play http://127.0.0.1:8088/manifest.mpd --abr ours --throughput steps.csv --offset 13s",
		),
		Args: namedArgs("URL"),
		RunE: func(c *cobra.Command, args []string) error {
			r, err := abr.ByName(rule)
			if err != nil {
				return fmt.Errorf("--abr: %w", err)
			}
			p.Rule = r
			p.MaxBuffer = maxBuffer.Seconds()
			p.Options.Trace = g.recorder(os.Stderr)
			out := c.OutOrStdout()
			if !quiet {
				p.Progress = out
			}
			var res *abr.Result
			if throughput != "" {
				tr, err := loadTrace(throughput)
				if err != nil {
					return fmt.Errorf("--throughput: %w", err)
				}
				cfg := abr.Config{Offset: offset.Seconds(), RTT: rtt.Seconds()}
				if rtt == 0 {
					cfg.RTT = -1
				}
				if res, err = p.Simulate(c.Context(), args[0], tr, cfg); err != nil {
					return err
				}
				if !quiet {
					for _, s := range res.Steps {
						fmt.Fprintf(out, "segment %3d/%d  %5.0f kbit/s  %7.1f kB  at %6.2f s, in %5.2f s (%6.0f kbit/s)  buffer %5.1f s\n",
							s.Index+1, len(res.Steps), s.Kbps, s.Bytes/1000, s.Request, s.End-s.Request, s.Throughput, s.Buffer)
					}
				}
			} else if res, err = p.Play(c.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(out, "%s: %d segments, average %.0f kbit/s, %d switches, rebuffering %.2f s, start-up %.2f s, QoE_lin %.2f\n",
				res.Rule, len(res.Steps), res.AvgKbps, res.Switches, res.Rebuffer, res.Startup, res.QoE)
			if report != "" {
				b, err := json.MarshalIndent(res, "", "  ")
				if err != nil {
					return err
				}
				if err := atomicfile.WriteFile(report, append(b, '\n'), 0o644); err != nil {
					return fmt.Errorf("--report: %w", err)
				}
			}
			if plot != "" {
				var b strings.Builder
				abr.WriteSVG(&b, res)
				if err := atomicfile.WriteFile(plot, []byte(b.String()), 0o644); err != nil {
					return fmt.Errorf("--plot: %w", err)
				}
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&rule, "abr", "ours", "rate-adaptation rule: "+abr.Names())
	f.StringVar(&throughput, "throughput", "", `simulate over this trace of "seconds,kbps" lines instead of downloading`)
	f.DurationVar(&offset, "offset", 0, "with --throughput: start this far into the trace")
	f.DurationVar(&rtt, "rtt", 0, "with --throughput: time from request to first byte")
	f.DurationVar(&maxBuffer, "max-buffer", time.Duration(abr.DefaultMaxBuffer*float64(time.Second)), "most video the player buffers")
	f.StringVar(&report, "report", "", "write the session and its QoE as JSON to this file")
	f.StringVar(&plot, "plot", "", "draw bit rate, throughput and buffer over time as SVG into this file")
	f.BoolVar(&quiet, "quiet", false, "print only the QoE report")
	f.DurationVar(&p.Options.Timeout, "timeout", web.DefaultClientTimeout, "time allowed for each read and write")
	g.addTrace(c)
	return c
}
