package dash

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// Namespace is the MPD schema's namespace (ISO/IEC 23009-1 §5.3.1).
const Namespace = "urn:mpeg:dash:schema:mpd:2011"

// Profile identifiers (ISO/IEC 23009-1 §8): the live profile suits
// SegmentTemplate with one file per segment, static or dynamic.
const (
	ProfileLive = "urn:mpeg:dash:profile:isoff-live:2011"
)

// Limits bound what Parse accepts: an MPD comes from a stranger.
type Limits struct {
	// MaxBytes is the largest document (default 1 MiB).
	MaxBytes int64
	// MaxPeriods, MaxAdaptationSets (per Period) and MaxRepresentations
	// (per AdaptationSet) bound the tree (defaults 16, 16, 64).
	MaxPeriods, MaxAdaptationSets, MaxRepresentations int
	// MaxSegments bounds the segments of one Representation that a static
	// presentation implies (default 1 000 000).
	MaxSegments int
}

// Default limits.
const (
	DefaultMaxBytes           = 1 << 20
	DefaultMaxPeriods         = 16
	DefaultMaxAdaptationSets  = 16
	DefaultMaxRepresentations = 64
	DefaultMaxSegments        = 1_000_000
)

func (l Limits) withDefaults() Limits {
	pos := func(v, d int) int {
		if v <= 0 {
			return d
		}
		return v
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	l.MaxPeriods = pos(l.MaxPeriods, DefaultMaxPeriods)
	l.MaxAdaptationSets = pos(l.MaxAdaptationSets, DefaultMaxAdaptationSets)
	l.MaxRepresentations = pos(l.MaxRepresentations, DefaultMaxRepresentations)
	l.MaxSegments = pos(l.MaxSegments, DefaultMaxSegments)
	return l
}

// MPD is a Media Presentation Description (ISO/IEC 23009-1 §5.3.1.2): the
// subset this package writes and reads, a presentation of Periods whose
// Representations are addressed by SegmentTemplate.
type MPD struct {
	XMLName  xml.Name `xml:"urn:mpeg:dash:schema:mpd:2011 MPD"`
	ID       string   `xml:"id,attr,omitempty"`
	Profiles string   `xml:"profiles,attr"`
	// Type is "static" (on demand) or "dynamic" (live).
	Type                       string     `xml:"type,attr,omitempty"`
	AvailabilityStartTime      *time.Time `xml:"availabilityStartTime,attr,omitempty"`
	PublishTime                *time.Time `xml:"publishTime,attr,omitempty"`
	MediaPresentationDuration  Duration   `xml:"mediaPresentationDuration,attr,omitempty"`
	MinimumUpdatePeriod        Duration   `xml:"minimumUpdatePeriod,attr,omitempty"`
	MinBufferTime              Duration   `xml:"minBufferTime,attr"`
	TimeShiftBufferDepth       Duration   `xml:"timeShiftBufferDepth,attr,omitempty"`
	SuggestedPresentationDelay Duration   `xml:"suggestedPresentationDelay,attr,omitempty"`
	MaxSegmentDuration         Duration   `xml:"maxSegmentDuration,attr,omitempty"`

	ProgramInformation *ProgramInformation `xml:"ProgramInformation,omitempty"`
	BaseURL            []string            `xml:"BaseURL,omitempty"`
	Periods            []Period            `xml:"Period"`
	UTCTiming          []Descriptor        `xml:"UTCTiming,omitempty"`
}

// ProgramInformation carries a title (§5.7).
type ProgramInformation struct {
	Title string `xml:"Title,omitempty"`
}

// Descriptor is a scheme and a value (§5.8.2), used here for UTCTiming.
type Descriptor struct {
	SchemeIDURI string `xml:"schemeIdUri,attr"`
	Value       string `xml:"value,attr,omitempty"`
}

// Period is one interval of the presentation (§5.3.2).
type Period struct {
	ID string `xml:"id,attr,omitempty"`
	// Start is the Period's start; nil is absent (a static MPD's first
	// Period then starts at 0; a dynamic MPD's first Period needs it,
	// §5.3.2.1, or it is an early-available Period nobody may play yet).
	Start          *Duration       `xml:"start,attr,omitempty"`
	Duration       Duration        `xml:"duration,attr,omitempty"`
	AdaptationSets []AdaptationSet `xml:"AdaptationSet"`
}

// AdaptationSet groups interchangeable encodings of one content (§5.3.3).
type AdaptationSet struct {
	ID               string `xml:"id,attr,omitempty"`
	ContentType      string `xml:"contentType,attr,omitempty"`
	MimeType         string `xml:"mimeType,attr,omitempty"`
	Codecs           string `xml:"codecs,attr,omitempty"`
	MaxWidth         int    `xml:"maxWidth,attr,omitempty"`
	MaxHeight        int    `xml:"maxHeight,attr,omitempty"`
	FrameRate        string `xml:"frameRate,attr,omitempty"`
	Par              string `xml:"par,attr,omitempty"`
	SegmentAlignment bool   `xml:"segmentAlignment,attr,omitempty"`
	StartWithSAP     int    `xml:"startWithSAP,attr,omitempty"`

	SegmentTemplate *SegmentTemplate `xml:"SegmentTemplate,omitempty"`
	Representations []Representation `xml:"Representation"`
}

// Representation is one encoding: a bit rate of the ladder (§5.3.5).
type Representation struct {
	ID string `xml:"id,attr"`
	// Bandwidth is in bit/s (§5.3.5.2).
	Bandwidth int64  `xml:"bandwidth,attr"`
	Width     int    `xml:"width,attr,omitempty"`
	Height    int    `xml:"height,attr,omitempty"`
	FrameRate string `xml:"frameRate,attr,omitempty"`
	Sar       string `xml:"sar,attr,omitempty"`
	MimeType  string `xml:"mimeType,attr,omitempty"`
	Codecs    string `xml:"codecs,attr,omitempty"`

	SegmentTemplate *SegmentTemplate `xml:"SegmentTemplate,omitempty"`
}

// SegmentTemplate names segments by a template (§5.3.9.4). This package
// uses the number-based form: @duration with $Number$.
type SegmentTemplate struct {
	Timescale              uint64 `xml:"timescale,attr,omitempty"`
	Duration               uint64 `xml:"duration,attr,omitempty"`
	StartNumber            uint64 `xml:"startNumber,attr,omitempty"`
	PresentationTimeOffset uint64 `xml:"presentationTimeOffset,attr,omitempty"`
	Media                  string `xml:"media,attr,omitempty"`
	Initialization         string `xml:"initialization,attr,omitempty"`
}

// Duration is an xs:duration as the MPD writes it: "PT4S", "PT1M0.5S".
type Duration time.Duration

// String formats d as an xs:duration (days, hours, minutes, seconds).
func (d Duration) String() string {
	v := time.Duration(d)
	var b strings.Builder
	if v < 0 {
		b.WriteByte('-')
		v = -v
	}
	b.WriteString("P")
	if days := v / (24 * time.Hour); days > 0 {
		b.WriteString(strconv.FormatInt(int64(days), 10))
		b.WriteByte('D')
		v -= days * 24 * time.Hour
	}
	if v == 0 && b.Len() > 1 {
		return b.String() // whole days
	}
	b.WriteByte('T')
	if h := v / time.Hour; h > 0 {
		b.WriteString(strconv.FormatInt(int64(h), 10))
		b.WriteByte('H')
		v -= h * time.Hour
	}
	if m := v / time.Minute; m > 0 {
		b.WriteString(strconv.FormatInt(int64(m), 10))
		b.WriteByte('M')
		v -= m * time.Minute
	}
	if v > 0 || strings.HasSuffix(b.String(), "PT") {
		b.WriteString(strconv.FormatFloat(v.Seconds(), 'f', -1, 64))
		b.WriteByte('S')
	}
	return b.String()
}

// Seconds is d in seconds.
func (d Duration) Seconds() float64 { return time.Duration(d).Seconds() }

// MarshalXMLAttr writes d as an xs:duration.
func (d Duration) MarshalXMLAttr(name xml.Name) (xml.Attr, error) {
	return xml.Attr{Name: name, Value: d.String()}, nil
}

// UnmarshalXMLAttr parses an xs:duration.
func (d *Duration) UnmarshalXMLAttr(a xml.Attr) error {
	v, err := ParseDuration(a.Value)
	if err != nil {
		return fmt.Errorf("%s: %w", a.Name.Local, err)
	}
	*d = v
	return nil
}

// ParseDuration parses an xs:duration of days, hours, minutes and
// (fractional) seconds: "PT4S", "P1DT2H", "PT0.5S". Years and months have
// no fixed length and are refused, as is anything beyond 100 years.
func ParseDuration(s string) (Duration, error) {
	bad := func(why string) (Duration, error) {
		return 0, fmt.Errorf("bad duration %q: %s", s, why)
	}
	neg := false
	rest := s
	if strings.HasPrefix(rest, "-") {
		neg, rest = true, rest[1:]
	}
	if !strings.HasPrefix(rest, "P") {
		return bad("no leading P")
	}
	rest = rest[1:]
	if rest == "" || rest == "T" {
		return bad("no components")
	}
	var total float64
	inTime := false
	order := "D" // components allowed next, in order
	seen := false
	for rest != "" {
		if rest[0] == 'T' {
			if inTime {
				return bad("T twice")
			}
			inTime, order, rest = true, "HMS", rest[1:]
			if rest == "" {
				return bad("T with no time components")
			}
			continue
		}
		i := 0
		dot := false
		for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9' || rest[i] == '.' && !dot) {
			if rest[i] == '.' {
				dot = true
			}
			i++
		}
		if i == 0 || i == len(rest) || i > 20 {
			return bad("expected a number and a unit")
		}
		num, unit := rest[:i], rest[i]
		if num[0] == '.' || num[len(num)-1] == '.' {
			return bad("malformed number")
		}
		k := strings.IndexByte(order, unit)
		if k < 0 {
			if unit == 'Y' || unit == 'M' && !inTime {
				return bad("years and months are not supported")
			}
			return bad("unexpected " + string(unit))
		}
		if dot && unit != 'S' {
			return bad("fraction allowed only in seconds")
		}
		order = order[k+1:]
		v, err := strconv.ParseFloat(num, 64)
		if err != nil {
			return bad("malformed number")
		}
		switch unit {
		case 'D':
			v *= 86400
		case 'H':
			v *= 3600
		case 'M':
			v *= 60
		}
		total += v
		seen = true
		rest = rest[i+1:]
	}
	if !seen {
		return bad("no components")
	}
	if total > 100*365*86400 {
		return bad("too long")
	}
	d := Duration(math.Round(total * 1e9))
	if neg {
		d = -d
	}
	return d, nil
}

// Write writes m as an XML document with a declaration.
func (m *MPD) Write(w io.Writer) error {
	b, err := m.Marshal()
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// Marshal returns m as an XML document with a declaration and a final
// newline.
func (m *MPD) Marshal() ([]byte, error) {
	if err := m.Validate(Limits{}); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	enc.Indent("", "  ")
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// ErrTooLarge is returned for a document over Limits.MaxBytes.
var ErrTooLarge = errors.New("dash: MPD too large")

// Parse reads an MPD strictly: the document must be one MPD element in the
// DASH namespace, within the limits, and pass Validate.
func Parse(r io.Reader, lim Limits) (*MPD, error) {
	lim = lim.withDefaults()
	data, err := io.ReadAll(io.LimitReader(r, lim.MaxBytes+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > lim.MaxBytes {
		return nil, ErrTooLarge
	}
	return ParseBytes(data, lim)
}

// ParseBytes is Parse on a document in memory.
func ParseBytes(data []byte, lim Limits) (*MPD, error) {
	lim = lim.withDefaults()
	if int64(len(data)) > lim.MaxBytes {
		return nil, ErrTooLarge
	}
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	// No DTDs, no entities beyond XML's five: an MPD needs none.
	dec.Entity = nil
	var m MPD
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("dash: MPD: %w", err)
	}
	// Nothing but white space, comments and processing instructions after
	// the root element.
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("dash: MPD: after the root element: %w", err)
		}
		switch t := tok.(type) {
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return nil, errors.New("dash: MPD: text after the root element")
			}
		case xml.Comment, xml.ProcInst:
		default:
			return nil, errors.New("dash: MPD: content after the root element")
		}
	}
	if err := m.Validate(lim); err != nil {
		return nil, err
	}
	return &m, nil
}

// Validate checks what the schema and ISO/IEC 23009-1 require of the
// subset this package models, and the limits.
func (m *MPD) Validate(lim Limits) error {
	lim = lim.withDefaults()
	bad := func(format string, args ...any) error {
		return fmt.Errorf("dash: MPD: "+format, args...)
	}
	if m.XMLName.Space != "" && m.XMLName.Space != Namespace {
		return bad("namespace %q, want %q", m.XMLName.Space, Namespace)
	}
	if strings.TrimSpace(m.Profiles) == "" {
		return bad("no profiles")
	}
	if m.MinBufferTime <= 0 {
		return bad("minBufferTime missing or not positive")
	}
	switch m.Type {
	case "", "static":
		if m.MediaPresentationDuration <= 0 {
			return bad("a static MPD needs a positive mediaPresentationDuration")
		}
	case "dynamic":
		if m.AvailabilityStartTime == nil {
			return bad("a dynamic MPD needs availabilityStartTime")
		}
	default:
		return bad("type %q is neither static nor dynamic", m.Type)
	}
	for _, d := range []Duration{m.MinimumUpdatePeriod, m.TimeShiftBufferDepth, m.SuggestedPresentationDelay, m.MaxSegmentDuration, m.MediaPresentationDuration} {
		if d < 0 {
			return bad("negative duration %s", d)
		}
	}
	if len(m.Periods) == 0 {
		return bad("no Period")
	}
	if len(m.Periods) > lim.MaxPeriods {
		return bad("%d Periods, at most %d", len(m.Periods), lim.MaxPeriods)
	}
	for pi := range m.Periods {
		p := &m.Periods[pi]
		if p.Start != nil && *p.Start < 0 || p.Duration < 0 {
			return bad("Period %d: negative start or duration", pi)
		}
		if len(p.AdaptationSets) > lim.MaxAdaptationSets {
			return bad("Period %d: %d AdaptationSets, at most %d", pi, len(p.AdaptationSets), lim.MaxAdaptationSets)
		}
		for ai := range p.AdaptationSets {
			as := &p.AdaptationSets[ai]
			if len(as.Representations) == 0 {
				return bad("Period %d AdaptationSet %d: no Representation", pi, ai)
			}
			if len(as.Representations) > lim.MaxRepresentations {
				return bad("Period %d AdaptationSet %d: %d Representations, at most %d", pi, ai, len(as.Representations), lim.MaxRepresentations)
			}
			if as.StartWithSAP < 0 || as.StartWithSAP > 6 {
				return bad("startWithSAP %d", as.StartWithSAP)
			}
			if err := as.SegmentTemplate.check(); err != nil {
				return bad("Period %d AdaptationSet %d: %v", pi, ai, err)
			}
			ids := map[string]bool{}
			for ri := range as.Representations {
				r := &as.Representations[ri]
				if r.ID == "" || strings.ContainsAny(r.ID, " \t\r\n") {
					return bad("Representation %d: id %q is empty or has white space", ri, r.ID)
				}
				if ids[r.ID] {
					return bad("Representation id %q twice", r.ID)
				}
				ids[r.ID] = true
				if r.Bandwidth <= 0 {
					return bad("Representation %q: bandwidth %d", r.ID, r.Bandwidth)
				}
				if r.Width < 0 || r.Height < 0 {
					return bad("Representation %q: negative size", r.ID)
				}
				if err := r.SegmentTemplate.check(); err != nil {
					return bad("Representation %q: %v", r.ID, err)
				}
				st := as.Template(r)
				if st == nil {
					return bad("Representation %q: no SegmentTemplate", r.ID)
				}
				if m.Type != "dynamic" {
					if _, err := m.SegmentCount(st, lim); err != nil {
						return bad("Representation %q: %v", r.ID, err)
					}
				}
			}
		}
	}
	return nil
}

func (st *SegmentTemplate) check() error {
	if st == nil {
		return nil
	}
	if st.Duration == 0 {
		return errors.New("SegmentTemplate without duration (SegmentTimeline is not supported)")
	}
	if st.Media == "" {
		return errors.New("SegmentTemplate without media")
	}
	if !strings.Contains(st.Media, "$Number") {
		return errors.New("SegmentTemplate media without $Number$")
	}
	for _, s := range []string{st.Media, st.Initialization} {
		if s == "" {
			continue
		}
		if _, err := expand(s, "r", 1, 1, 0); err != nil {
			return err
		}
	}
	if strings.Contains(st.Initialization, "$Number") || strings.Contains(st.Initialization, "$Time") {
		return errors.New("initialization template with $Number$ or $Time$")
	}
	return nil
}

// Template is the SegmentTemplate that applies to r: its own, else the
// AdaptationSet's (§5.3.9.1: the lower level overrides).
func (as *AdaptationSet) Template(r *Representation) *SegmentTemplate {
	if r.SegmentTemplate != nil {
		return r.SegmentTemplate
	}
	return as.SegmentTemplate
}

// SegmentDuration is the length of one segment of st.
func (st *SegmentTemplate) SegmentDuration() time.Duration {
	ts := max(st.Timescale, 1)
	return time.Duration(float64(st.Duration) / float64(ts) * float64(time.Second))
}

// SegmentCount is how many segments a static presentation of st has: the
// presentation's duration over the segment duration, rounded up.
func (m *MPD) SegmentCount(st *SegmentTemplate, lim Limits) (int, error) {
	lim = lim.withDefaults()
	total := m.MediaPresentationDuration
	if len(m.Periods) == 1 && m.Periods[0].Duration > 0 {
		total = m.Periods[0].Duration
	}
	ts := max(st.Timescale, 1)
	// segments = ceil(total * ts / duration), in exact integer steps
	// where the numbers allow it.
	n := math.Ceil(total.Seconds()*float64(ts)/float64(st.Duration) - 1e-9)
	if n < 1 {
		return 0, errors.New("no segments")
	}
	if n > float64(lim.MaxSegments) {
		return 0, fmt.Errorf("%.0f segments, at most %d", n, lim.MaxSegments)
	}
	return int(n), nil
}

// Expand fills a template's identifiers (§5.3.9.4.4): $RepresentationID$,
// $Number$, $Bandwidth$ and $Time$, each with an optional %0Nd width
// (except the first), and $$ for a dollar.
func Expand(tmpl, repID string, number uint64, bandwidth int64, t uint64) (string, error) {
	return expand(tmpl, repID, number, bandwidth, t)
}

func expand(tmpl, repID string, number uint64, bandwidth int64, t uint64) (string, error) {
	var b strings.Builder
	for {
		i := strings.IndexByte(tmpl, '$')
		if i < 0 {
			b.WriteString(tmpl)
			return b.String(), nil
		}
		b.WriteString(tmpl[:i])
		tmpl = tmpl[i+1:]
		j := strings.IndexByte(tmpl, '$')
		if j < 0 {
			return "", errors.New("template: unterminated $")
		}
		ident := tmpl[:j]
		tmpl = tmpl[j+1:]
		if ident == "" {
			b.WriteByte('$')
			continue
		}
		name, format, hasFormat := strings.Cut(ident, "%")
		width := 1
		if hasFormat {
			// %0[width]d, width 1 to 32 (§5.3.9.4.4, Table 16).
			if len(format) < 3 || format[0] != '0' || format[len(format)-1] != 'd' {
				return "", fmt.Errorf("template: bad format %q", "%"+format)
			}
			w, err := strconv.Atoi(format[1 : len(format)-1])
			if err != nil || w < 1 || w > 32 {
				return "", fmt.Errorf("template: bad width in %q", "%"+format)
			}
			width = w
		}
		var v string
		switch name {
		case "RepresentationID":
			if hasFormat {
				return "", errors.New("template: $RepresentationID$ takes no format")
			}
			b.WriteString(repID)
			continue
		case "Number":
			v = strconv.FormatUint(number, 10)
		case "Bandwidth":
			v = strconv.FormatInt(bandwidth, 10)
		case "Time":
			v = strconv.FormatUint(t, 10)
		default:
			return "", fmt.Errorf("template: unknown identifier $%s$", name)
		}
		for k := len(v); k < width; k++ {
			b.WriteByte('0')
		}
		b.WriteString(v)
	}
}
