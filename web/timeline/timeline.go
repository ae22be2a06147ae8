// Package timeline draws when each object of a page was requested and when
// its bytes arrived, as text for a terminal and as SVG for a page: the
// picture that shows HTTP/1.1's head-of-line blocking (one object's bytes
// after another's on a connection) beside HTTP/2's interleaving (the
// frames of every object sharing the connection at once), section 2.2.6 of
// the textbook.
package timeline

import (
	"fmt"
	"html"
	"io"
	"strings"
	"time"
)

// Row is one object's fetch, in times from a common start.
type Row struct {
	Label string
	// Sent is when the request left, First and Last when the first and
	// last bytes of the body arrived. Head, when known, is when the
	// response head arrived.
	Sent, Head, First, Last time.Duration
	// Marks are when each piece of the body arrived (HTTP/2 DATA frames);
	// nil draws the body as arriving throughout First to Last.
	Marks []time.Duration
}

// End is the latest time in rows.
func End(rows []Row) time.Duration {
	var end time.Duration
	for _, r := range rows {
		end = max(end, r.Last, r.Head, r.First, r.Sent)
	}
	return end
}

// Start is the earliest request in rows.
func Start(rows []Row) time.Duration {
	if len(rows) == 0 {
		return 0
	}
	start := rows[0].Sent
	for _, r := range rows {
		start = min(start, r.Sent)
	}
	return start
}

// Bar draws r over width cells spanning start to end: ' ' before the
// request, '-' while waiting, 'H' at the response head and '#' where body
// bytes arrived.
func Bar(r Row, start, end time.Duration, width int) string {
	span := max(end-start, 1)
	cell := func(d time.Duration) int {
		return max(0, min(width-1, int(int64(d-start)*int64(width)/int64(span+1))))
	}
	row := []byte(strings.Repeat(" ", width))
	for i := cell(r.Sent); i <= cell(max(r.Head, r.Last, r.First)); i++ {
		row[i] = '-'
	}
	if r.Head > 0 {
		row[cell(r.Head)] = 'H'
	}
	if r.Marks != nil {
		for _, m := range r.Marks {
			row[cell(m)] = '#'
		}
	} else if r.Last >= r.First && r.Last > 0 {
		for i := cell(r.First); i <= cell(r.Last); i++ {
			row[i] = '#'
		}
	}
	return string(row)
}

// Chart is one SVG picture: a title and rows drawn on a time axis from 0 to
// End (give two charts the same End to compare them).
type Chart struct {
	Title string
	Rows  []Row
	End   time.Duration
}

// SVG writes c as an SVG image: a bar per row, light while waiting for the
// response, dark where its bytes arrived, with a time axis below.
func (c Chart) SVG(w io.Writer) error {
	const (
		labelW = 150
		plotW  = 460
		rowH   = 16
		top    = 28
	)
	end := c.End
	if end <= 0 {
		end = End(c.Rows)
	}
	end = max(end, time.Millisecond)
	x := func(d time.Duration) float64 { return labelW + float64(plotW)*float64(max(d, 0))/float64(end) }
	h := top + rowH*len(c.Rows) + 34
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n", labelW+plotW+20, h, labelW+plotW+20, h)
	fmt.Fprintf(&b, `<text x="4" y="16" font-size="13" font-weight="bold">%s</text>`+"\n", html.EscapeString(c.Title))
	for i, r := range c.Rows {
		y := top + i*rowH
		fmt.Fprintf(&b, `<text x="4" y="%d">%s</text>`+"\n", y+11, html.EscapeString(r.Label))
		wait := max(r.First, r.Head, r.Sent)
		fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="#cde"/>`+"\n", x(r.Sent), y+2, max(x(wait)-x(r.Sent), 1), rowH-4)
		if r.Marks != nil {
			for _, m := range r.Marks {
				fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="1.5" height="%d" fill="#246"/>`+"\n", x(m), y+2, rowH-4)
			}
		} else if r.Last >= r.First {
			fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="#246"/>`+"\n", x(r.First), y+2, max(x(r.Last)-x(r.First), 1.5), rowH-4)
		}
	}
	axis := top + rowH*len(c.Rows) + 4
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#000"/>`+"\n", labelW, axis, labelW+plotW, axis)
	for i := 0; i <= 4; i++ {
		d := end * time.Duration(i) / 4
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#000"/><text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n",
			x(d), axis, x(d), axis+4, x(d), axis+16, msLabel(d))
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func msLabel(d time.Duration) string {
	return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
}
