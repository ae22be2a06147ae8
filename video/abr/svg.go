package abr

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// WriteSVG draws a session as three stacked charts over time: the bit
// rate of each segment (with the throughput the player measured and, when
// known, the link's rate when each request left), and the buffer level.
func WriteSVG(w io.Writer, r *Result) error {
	const (
		width, left, right = 900.0, 70.0, 20.0
		panelH, gap, top   = 170.0, 40.0, 56.0
	)
	plotW := width - left - right
	tEnd := 1.0
	maxKbps, maxBuf := 1.0, 1.0
	for _, s := range r.Steps {
		tEnd = math.Max(tEnd, s.End)
		maxKbps = math.Max(maxKbps, math.Max(s.Kbps, math.Max(s.Throughput, s.LinkKbps)))
		maxBuf = math.Max(maxBuf, s.Buffer)
	}
	maxKbps *= 1.1
	maxBuf *= 1.1
	x := func(t float64) float64 { return left + plotW*t/tEnd }
	var b strings.Builder
	height := top + 2*panelH + gap + 40
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="10" y="16" font-size="13">%s on %s</text>`+"\n", esc(r.Rule), esc(r.Trace))
	fmt.Fprintf(&b, `<text x="10" y="32" font-size="13">QoE_lin %.2f, %.0f kbit/s average, %d switches, %.2f s rebuffering, %.2f s start-up</text>`+"\n",
		r.QoE, r.AvgKbps, r.Switches, r.Rebuffer, r.Startup)
	panel := func(y0 float64, label string, vmax float64, unit string) func(float64) float64 {
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#999"/>`+"\n", left, y0, plotW, panelH)
		fmt.Fprintf(&b, `<text x="10" y="%.1f">%s</text>`+"\n", y0-6, esc(label))
		for _, f := range []float64{0, 0.5, 1} {
			yy := y0 + panelH*(1-f)
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end">%.0f%s</text>`+"\n", left-4, yy+4, vmax*f, unit)
		}
		return func(v float64) float64 { return y0 + panelH*(1-v/vmax) }
	}
	y1 := panel(top+10, "kbit/s: chosen bit rate (blue), measured throughput (orange), link (grey)", maxKbps, "")
	var link, chosen, tput strings.Builder
	for i, s := range r.Steps {
		if s.LinkKbps > 0 {
			fmt.Fprintf(&link, "%.1f,%.1f ", x(s.Request), y1(s.LinkKbps))
		}
		if i == 0 {
			fmt.Fprintf(&chosen, "M%.1f,%.1f", x(s.Request), y1(s.Kbps))
		} else {
			fmt.Fprintf(&chosen, " H%.1f V%.1f", x(s.Request), y1(s.Kbps))
		}
		fmt.Fprintf(&tput, "%.1f,%.1f ", x(s.End), y1(s.Throughput))
	}
	if n := len(r.Steps); n > 0 {
		fmt.Fprintf(&chosen, " H%.1f", x(r.Steps[n-1].End))
	}
	if link.Len() > 0 {
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="#bbb" stroke-width="2"/>`+"\n", link.String())
	}
	fmt.Fprintf(&b, `<path d="%s" fill="none" stroke="#1f77b4" stroke-width="2"/>`+"\n", chosen.String())
	fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="#ff7f0e" stroke-width="1.5"/>`+"\n", tput.String())
	y2 := panel(top+10+panelH+gap, "buffer, seconds (red: rebuffering)", maxBuf, " s")
	var buf strings.Builder
	prevT, prevB := 0.0, 0.0
	for _, s := range r.Steps {
		// The buffer drains from the request to the last byte, then
		// gains a segment.
		drained := math.Max(prevB-(s.End-prevT), 0)
		if s.Rebuffer > 0 {
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#d62728" opacity="0.4"/>`+"\n", x(s.End-s.Rebuffer), y2(maxBuf), x(s.End)-x(s.End-s.Rebuffer), panelH)
		}
		fmt.Fprintf(&buf, "%.1f,%.1f %.1f,%.1f %.1f,%.1f ", x(prevT), y2(prevB), x(s.End), y2(drained), x(s.End), y2(s.Buffer))
		prevT, prevB = s.End, s.Buffer
	}
	fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="#2ca02c" stroke-width="2"/>`+"\n", buf.String())
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end">%.0f s</text>`+"\n", left+plotW, height-10, tEnd)
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f">0 s</text>`+"\n", left, height-10)
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}
