package dash

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/applayer/applayer/web"
)

// DefaultLiveWindow is the live sliding window (timeShiftBufferDepth).
const DefaultLiveWindow = 30 * time.Second

// live is the state of a package served as a live presentation.
type live struct {
	pres  *Presentation
	start time.Time // availabilityStartTime
	segs  int       // segments in the package
	seg   time.Duration
}

// presentationOf rebuilds the Presentation a static MPD of this package
// describes.
func presentationOf(m *MPD) (*Presentation, error) {
	if m.Type == "dynamic" || len(m.Periods) != 1 || len(m.Periods[0].AdaptationSets) != 1 {
		return nil, errors.New("dash: live serving needs a static MPD of one Period and one AdaptationSet")
	}
	as := m.Periods[0].AdaptationSets[0]
	st := as.SegmentTemplate
	if st == nil || st.Media != MediaTemplate || st.Initialization != InitTemplate {
		return nil, errors.New("dash: live serving needs a package made by dash package")
	}
	fps, _ := strconv.Atoi(as.FrameRate)
	p := &Presentation{Duration: time.Duration(m.MediaPresentationDuration), SegmentDuration: st.SegmentDuration(), FrameRate: fps}
	if m.ProgramInformation != nil {
		p.Title = m.ProgramInformation.Title
	}
	for _, r := range as.Representations {
		p.Rungs = append(p.Rungs, Rung{ID: r.ID, Bitrate: r.Bandwidth, Width: r.Width, Height: r.Height, Codecs: r.Codecs})
	}
	return p, nil
}

func (s *Server) initLive() error {
	b, err := os.ReadFile(filepath.Join(s.Dir, ManifestName))
	if err != nil {
		return err
	}
	m, err := ParseBytes(b, Limits{})
	if err != nil {
		return err
	}
	p, err := presentationOf(m)
	if err != nil {
		return err
	}
	n, err := m.SegmentCount(m.Periods[0].AdaptationSets[0].SegmentTemplate, Limits{})
	if err != nil {
		return err
	}
	s.lv = &live{pres: p, start: s.now(), segs: n, seg: p.SegmentDuration}
	return nil
}

// serveLive answers the MPD and media segments of a live presentation;
// it reports false for anything else (init segments, the pages).
//
// The package plays once as a live event that began when the server
// started: segment n (from 1) is available once it has been "recorded",
// at availabilityStartTime + n x SegmentDuration, and until it falls out
// of the window (timeShiftBufferDepth) behind the live edge. Once the
// whole package has been recorded the MPD turns static (the event is over
// and can be watched on demand, ISO/IEC 23009-1 §5.4).
func (s *Server) serveLive(w web.ResponseWriter, r *web.Request) bool {
	lv := s.lv
	now := s.now()
	over := now.Sub(lv.start) >= time.Duration(lv.segs)*lv.seg
	if r.Path == "/"+ManifestName {
		if over {
			return false // the static MPD on disk
		}
		window := s.LiveWindow
		if window <= 0 {
			window = DefaultLiveWindow
		}
		m := lv.pres.LiveMPD(lv.start, now, window)
		b, err := m.Marshal()
		if err != nil {
			web.WriteError(w, web.StatusInternalServerError, err.Error())
			return true
		}
		w.Header().Set("Content-Type", "application/dash+xml")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(b)
		return true
	}
	if over || !strings.HasSuffix(r.Path, ".m4s") {
		return false
	}
	// ".../seg-NNNNN.m4s": the segment's number.
	base := r.Path[strings.LastIndexByte(r.Path, '/')+1:]
	num, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(base, "seg-"), ".m4s"))
	if err != nil || num < 1 {
		return false
	}
	elapsed := now.Sub(lv.start)
	edge := int(elapsed / lv.seg) // the newest complete segment
	window := s.LiveWindow
	if window <= 0 {
		window = DefaultLiveWindow
	}
	oldest := edge - int(window/lv.seg) + 1
	switch {
	case num > edge:
		web.WriteError(w, web.StatusNotFound, "segment "+strconv.Itoa(num)+" is not available yet (live edge: "+strconv.Itoa(edge)+")")
		return true
	case num < oldest:
		web.WriteError(w, web.StatusNotFound, "segment "+strconv.Itoa(num)+" has left the live window (oldest: "+strconv.Itoa(oldest)+")")
		return true
	}
	return false
}
