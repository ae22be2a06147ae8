package dash

import (
	"strconv"
	"time"
)

// Rung is one encoding of a bit-rate ladder.
type Rung struct {
	ID      string // Representation id, also the segments' file prefix
	Bitrate int64  // target video bit rate, bit/s
	Width   int
	Height  int
	Codecs  string // RFC 6381 codecs string, e.g. "avc1.64001f"
}

// Presentation describes a packaged video: what StaticMPD and LiveMPD
// need to write its manifest.
type Presentation struct {
	Title           string
	Duration        time.Duration // of the whole video
	SegmentDuration time.Duration
	FrameRate       int
	Rungs           []Rung
}

// Segment names shared by the packager, the MPD and the live server.
const (
	InitTemplate  = "$RepresentationID$/init.mp4"
	MediaTemplate = "$RepresentationID$/seg-$Number%05d$.m4s"
)

func (p *Presentation) adaptationSet() AdaptationSet {
	const timescale = 1000
	as := AdaptationSet{
		ID: "0", ContentType: "video", MimeType: "video/mp4",
		SegmentAlignment: true, StartWithSAP: 1,
		FrameRate: strconv.Itoa(p.FrameRate),
		SegmentTemplate: &SegmentTemplate{
			Timescale: timescale, Duration: uint64(p.SegmentDuration / time.Millisecond),
			StartNumber: 1, Media: MediaTemplate, Initialization: InitTemplate,
		},
	}
	for _, r := range p.Rungs {
		as.MaxWidth = max(as.MaxWidth, r.Width)
		as.MaxHeight = max(as.MaxHeight, r.Height)
		as.Representations = append(as.Representations, Representation{
			ID: r.ID, Bandwidth: r.Bitrate, Width: r.Width, Height: r.Height,
			Codecs: r.Codecs, Sar: "1:1",
		})
	}
	return as
}

// StaticMPD is the on-demand manifest of p.
func (p *Presentation) StaticMPD() *MPD {
	m := &MPD{
		Profiles:                  ProfileLive,
		Type:                      "static",
		MediaPresentationDuration: Duration(p.Duration),
		MinBufferTime:             Duration(2 * p.SegmentDuration),
		MaxSegmentDuration:        Duration(p.SegmentDuration),
		Periods:                   []Period{{ID: "0", AdaptationSets: []AdaptationSet{p.adaptationSet()}}},
	}
	if p.Title != "" {
		m.ProgramInformation = &ProgramInformation{Title: p.Title}
	}
	return m
}

// LiveMPD is a live manifest of p (type "dynamic", ISO/IEC 23009-1
// §5.3.1.2 and §5.3.9.5): segment n (from 1) becomes available at
// availabilityStart + n x SegmentDuration, and a client may seek back
// window (timeShiftBufferDepth) from the live edge: the sliding window.
// published is the publishTime; clients re-fetch the MPD every segment.
func (p *Presentation) LiveMPD(availabilityStart, published time.Time, window time.Duration) *MPD {
	ast, pub := availabilityStart.UTC(), published.UTC()
	m := &MPD{
		Profiles:                   ProfileLive,
		Type:                       "dynamic",
		AvailabilityStartTime:      &ast,
		PublishTime:                &pub,
		MinimumUpdatePeriod:        Duration(p.SegmentDuration),
		MinBufferTime:              Duration(2 * p.SegmentDuration),
		TimeShiftBufferDepth:       Duration(window),
		SuggestedPresentationDelay: Duration(3 * p.SegmentDuration),
		MaxSegmentDuration:         Duration(p.SegmentDuration),
		Periods:                    []Period{{ID: "0", Start: new(Duration), AdaptationSets: []AdaptationSet{p.adaptationSet()}}},
		// The server's clock, given in the MPD itself (§5.8.5.7), so a
		// client needs no time server to find the live edge.
		UTCTiming: []Descriptor{{SchemeIDURI: "urn:mpeg:dash:utc:direct:2014", Value: pub.Format("2006-01-02T15:04:05.000Z")}},
	}
	if p.Title != "" {
		m.ProgramInformation = &ProgramInformation{Title: p.Title}
	}
	return m
}
