package dash

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/applayer/applayer/video/abr"
	"github.com/applayer/applayer/video/trace"
	"github.com/applayer/applayer/web"
)

// Player plays a static presentation the way a DASH client does, without
// decoding: it fetches the MPD, every initialization segment, then each
// media segment in turn at the encoding its rule chooses, keeping a model
// of the buffer (filled by each segment, drained in real time once
// playback has started, stalled when empty) and waiting whenever the
// buffer is full.
type Player struct {
	// Rule chooses each segment's encoding (default abr.Ours).
	Rule abr.Rule
	// MaxBuffer is the most video buffered (default abr.DefaultMaxBuffer
	// seconds).
	MaxBuffer float64
	// Options are the HTTP connection's (timeouts, transcript).
	Options web.Options
	// Progress, when set, receives a line per segment.
	Progress io.Writer

	clock func() time.Time
	sleep func(time.Duration)
}

func (p *Player) now() time.Time {
	if p.clock != nil {
		return p.clock()
	}
	return time.Now()
}

func (p *Player) wait(ctx context.Context, d time.Duration) error {
	if p.sleep != nil {
		p.sleep(d)
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// fetcher GETs URLs of one server over a persistent connection, opening
// a new one when the server closed the last.
type fetcher struct {
	base *url.URL
	opts web.Options
	conn *web.ClientConn
}

func (f *fetcher) get(ctx context.Context, ref string) (int64, []byte, error) {
	return f.do(ctx, "GET", ref)
}

// do sends a GET or HEAD; for HEAD it returns the Content-Length.
func (f *fetcher) do(ctx context.Context, method, ref string) (int64, []byte, error) {
	u, err := f.base.Parse(ref)
	if err != nil {
		return 0, nil, err
	}
	if u.Scheme != "http" || u.Host != f.base.Host {
		return 0, nil, fmt.Errorf("dash: %s: only http:// URLs on the MPD's server", u)
	}
	for attempt := 0; ; attempt++ {
		fresh := false
		if f.conn == nil || !f.conn.Reusable() {
			if f.conn != nil {
				f.conn.Close()
			}
			addr := u.Host
			if u.Port() == "" {
				addr += ":80"
			}
			if f.conn, err = web.Dial(ctx, addr, f.opts); err != nil {
				return 0, nil, err
			}
			fresh = true
		}
		resp, err := f.conn.Do(ctx, &web.OutRequest{Method: method, Target: u.RequestURI(), Host: u.Host})
		if err != nil {
			f.conn.Close()
			if !fresh && attempt == 0 {
				continue // the server may have closed an idle connection
			}
			return 0, nil, err
		}
		var body []byte
		var n int64
		if method == "HEAD" {
			// A HEAD response has no body; its Content-Length is the
			// GET's (RFC 9110 §9.3.2).
			n = -1
			if v, err := strconv.ParseInt(resp.Header.Get("Content-Length"), 10, 64); err == nil && v >= 0 {
				n = v
			}
		} else if strings.HasSuffix(u.Path, ".mpd") {
			body, err = io.ReadAll(io.LimitReader(resp.Body, DefaultMaxBytes+1))
			n = int64(len(body))
		} else {
			n, err = io.Copy(io.Discard, resp.Body)
		}
		if err != nil {
			f.conn.Close()
			return n, nil, err
		}
		if resp.Status != web.StatusOK {
			return n, nil, fmt.Errorf("dash: GET %s: %d %s", u, resp.Status, resp.Reason)
		}
		return n, body, nil
	}
}

func (f *fetcher) close() {
	if f.conn != nil {
		f.conn.Close()
	}
}

// manifest fetches and parses the MPD and returns its ladder.
func (f *fetcher) manifest(ctx context.Context) ([]Track, []float64, error) {
	_, body, err := f.get(ctx, f.base.String())
	if err != nil {
		return nil, nil, err
	}
	if int64(len(body)) > DefaultMaxBytes {
		return nil, nil, ErrTooLarge
	}
	m, err := ParseBytes(body, Limits{})
	if err != nil {
		return nil, nil, err
	}
	if len(m.BaseURL) > 0 {
		if b, err := f.base.Parse(m.BaseURL[0]); err == nil {
			f.base = b
		}
	}
	ladder, err := m.Ladder()
	if err != nil {
		return nil, nil, err
	}
	kbps := make([]float64, len(ladder))
	for i, t := range ladder {
		kbps[i] = float64(t.Bandwidth) / 1000
	}
	if !abr.Sorted(kbps) {
		return nil, nil, errors.New("dash: the ladder's bandwidths are not distinct")
	}
	return ladder, kbps, nil
}

// Simulate plays the presentation at mpdURL over tr in simulated time
// (abr.Simulate): it fetches the MPD and asks the server for every
// segment's size (HEAD), and downloads no segment.
func (p *Player) Simulate(ctx context.Context, mpdURL string, tr *trace.Trace, cfg abr.Config) (*abr.Result, error) {
	base, err := url.Parse(mpdURL)
	if err != nil {
		return nil, err
	}
	if base.Scheme != "http" || base.Host == "" {
		return nil, fmt.Errorf("dash: %q: want an http:// URL", mpdURL)
	}
	f := &fetcher{base: base, opts: p.Options}
	defer f.close()
	ladder, kbps, err := f.manifest(ctx)
	if err != nil {
		return nil, err
	}
	v := abr.Video{Kbps: kbps, SegmentSeconds: ladder[0].SegmentDuration.Seconds()}
	size := func(ref string) (float64, error) {
		n, _, err := f.do(ctx, "HEAD", ref)
		if err == nil && n < 0 {
			err = fmt.Errorf("dash: HEAD %s: no Content-Length", ref)
		}
		return float64(n), err
	}
	for _, t := range ladder {
		if t.Init != "" {
			n, err := size(t.Init)
			if err != nil {
				return nil, err
			}
			v.Init = append(v.Init, n)
		}
	}
	for i := range ladder[0].Segments {
		row := make([]float64, len(ladder))
		for q, t := range ladder {
			if row[q], err = size(t.Media(i)); err != nil {
				return nil, err
			}
		}
		v.Sizes = append(v.Sizes, row)
	}
	rule := p.Rule
	if rule == nil {
		rule = abr.Ours{}
	}
	cfg.MaxBuffer = cmp.Or(cfg.MaxBuffer, p.MaxBuffer)
	res := abr.Simulate(rule, v, tr, cfg)
	res.Trace = tr.Name
	return &res, nil
}

// Play plays the presentation at mpdURL (http://) to its end and returns
// the session's record and QoE.
func (p *Player) Play(ctx context.Context, mpdURL string) (*abr.Result, error) {
	rule := p.Rule
	if rule == nil {
		rule = abr.Ours{}
	}
	base, err := url.Parse(mpdURL)
	if err != nil {
		return nil, err
	}
	if base.Scheme != "http" || base.Host == "" {
		return nil, fmt.Errorf("dash: %q: want an http:// URL", mpdURL)
	}
	f := &fetcher{base: base, opts: p.Options}
	defer f.close()
	ladder, kbps, err := f.manifest(ctx)
	if err != nil {
		return nil, err
	}
	segs := ladder[0].Segments
	segSec := ladder[0].SegmentDuration.Seconds()
	maxBuf := cmp.Or(p.MaxBuffer, abr.DefaultMaxBuffer)
	res := &abr.Result{Rule: rule.Name(), Trace: base.String()}
	st := abr.State{Kbps: kbps, SegmentSeconds: segSec, Segments: segs, MaxBuffer: maxBuf, Last: -1}
	start := p.now()
	since := func() float64 { return p.now().Sub(start).Seconds() }
	for _, t := range ladder {
		if t.Init == "" {
			continue
		}
		if _, _, err := f.get(ctx, t.Init); err != nil {
			return nil, err
		}
	}
	for i := range segs {
		if st.Playing && st.Buffer+segSec > maxBuf {
			w := st.Buffer + segSec - maxBuf
			if err := p.wait(ctx, time.Duration(w*float64(time.Second))); err != nil {
				return nil, err
			}
			st.Buffer -= w
		}
		st.Index = i
		q := min(max(rule.Choose(&st), 0), len(ladder)-1)
		t := ladder[q]
		t0 := since()
		n, _, err := f.get(ctx, t.Media(i))
		if err != nil {
			return nil, err
		}
		t1 := since()
		d := math.Max(t1-t0, 1e-9)
		step := abr.Step{Index: i, Quality: q, Kbps: kbps[q], Bytes: float64(n), Request: t0, End: t1, Throughput: float64(n) * 8 / 1000 / d}
		if st.Playing {
			step.Rebuffer = math.Max(d-st.Buffer, 0)
			st.Buffer = math.Max(st.Buffer-d, 0) + segSec
		} else {
			res.Startup = t1
			st.Buffer = segSec
			st.Playing = true
		}
		step.Buffer = st.Buffer
		st.Throughput = append(st.Throughput, step.Throughput)
		st.Last = q
		st.Qualities = append(st.Qualities, q)
		res.Steps = append(res.Steps, step)
		if p.Progress != nil {
			stall := ""
			if step.Rebuffer > 0 {
				stall = fmt.Sprintf(", stalled %.2f s", step.Rebuffer)
			}
			fmt.Fprintf(p.Progress, "segment %3d/%d  %-6s %5.0f kbit/s  %7.1f kB in %5.2f s (%6.0f kbit/s)  buffer %5.1f s%s\n",
				i+1, segs, t.ID, kbps[q], float64(n)/1000, d, step.Throughput, st.Buffer, stall)
		}
	}
	res.Summarize()
	return res, nil
}
