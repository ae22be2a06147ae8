package cache

import (
	"strconv"
	"strings"
	"time"

	"github.com/applayer/applayer/web"
)

// Entry is one stored response: the primary key it answers, the request
// fields it was selected by (Vary), and the response with the times the
// age calculation needs (RFC 9111 §4.2.3).
type Entry struct {
	Key string // the primary cache key (see Key)
	// Vary is the response's Vary names; VaryKey the request's values for
	// them (SecondaryKey).
	Vary    []string
	VaryKey string
	Status  int
	Header  web.Header
	Body    []byte
	// RequestTime is when the request that fetched (or last validated)
	// the response was sent; ResponseTime when its answer came.
	RequestTime, ResponseTime time.Time
	// Targets are the targeted cache-control fields of the policy that
	// stored it (Policy.Targets).
	Targets []string

	targeted bool     // cc came from a targeted field: Expires is ignored
	file     string   // the Disk store's file, if any
	cc       *Control // Header's Cache-Control, parsed once (see Control)
}

// Size is what the entry counts against a store's bound.
func (e *Entry) Size() int64 {
	n := int64(len(e.Key) + len(e.VaryKey) + len(e.Body) + 128)
	for _, f := range e.Header {
		n += int64(len(f.Name) + len(f.Value) + 32)
	}
	return n
}

// Control is the entry's Cache-Control. An entry made by NewEntry,
// Freshened or a Disk store keeps it parsed; one built by hand parses it
// on each call.
func (e *Entry) Control() Control {
	if e.cc != nil {
		return *e.cc
	}
	return ParseControl(e.Header.Values("Cache-Control"))
}

// parsed returns e with its Cache-Control parsed once, for entries that
// go into a store.
func (e *Entry) parsed() *Entry {
	cc, targeted := Policy{Targets: e.Targets}.ResponseControl(e.Header)
	e.cc, e.targeted = &cc, targeted
	return e
}

// date is the Date the response carried, or, when it carried none that
// can be read, the time it was received (RFC 9110 §6.6.1).
func (e *Entry) date() time.Time {
	if t, ok := web.ParseTime(e.Header.Get("Date")); ok {
		return t
	}
	return e.ResponseTime
}

// AgeValue reads the Age field (RFC 9111 §5.1): the first member of a
// list, a non-negative integer. ok is false without one; invalid is true
// for a value that cannot be read or for several Age lines, which this
// cache takes as a response of unknown age, so stale (the cache-tests
// suite asks the same of every cache; RFC 9111 lets a cache be more
// careful than "ignore it").
func AgeValue(h web.Header) (age time.Duration, ok, invalid bool) {
	vs := h.Values("Age")
	if len(vs) == 0 {
		return 0, false, false
	}
	v, _, _ := strings.Cut(vs[0], ",")
	n, good := parseDelta(strings.Trim(v, " \t"))
	if !good || len(vs) > 1 {
		return 0, false, true
	}
	return time.Duration(n) * time.Second, true, false
}

// Age is the entry's current_age at now (RFC 9111 §4.2.3); an Age field
// that cannot be read makes it the largest age there is.
func (e *Entry) Age(now time.Time) time.Duration {
	ageValue, _, invalid := AgeValue(e.Header)
	if invalid {
		return time.Duration(maxDelta) * time.Second
	}
	apparent := max(0, e.ResponseTime.Sub(e.date()))
	delay := max(0, e.ResponseTime.Sub(e.RequestTime))
	initial := max(apparent, ageValue+delay)
	return initial + max(0, now.Sub(e.ResponseTime))
}

// Lifetime is the entry's freshness_lifetime (RFC 9111 §4.2.1): s-maxage
// for a shared cache, else max-age, else Expires minus Date, else a
// heuristic (§4.2.2) when the status allows one. heuristic reports the
// last case.
func (e *Entry) Lifetime(cc Control, p Policy) (life time.Duration, heuristic bool) {
	if p.Shared && cc.SMaxAge >= 0 {
		return time.Duration(cc.SMaxAge) * time.Second, false
	}
	if cc.MaxAge >= 0 {
		return time.Duration(cc.MaxAge) * time.Second, false
	}
	if vs := e.Header.Values("Expires"); len(vs) > 0 && !e.targeted {
		exp, ok := web.ParseTime(vs[0])
		if !ok || len(vs) > 1 && vs[1] != vs[0] {
			return 0, false // an invalid Expires is a time in the past (§5.3)
		}
		return max(0, exp.Sub(e.date())), false
	}
	if !HeuristicStatus(e.Status) && !cc.Public {
		return 0, false
	}
	lm, ok := web.ParseTime(e.Header.Get("Last-Modified"))
	if !ok {
		return 0, true
	}
	since := e.date().Sub(lm)
	if since <= 0 {
		return 0, true
	}
	return min(time.Duration(float64(since)*p.heuristic()), p.maxHeuristic()), true
}

// HeuristicStatus reports the status codes "heuristically cacheable by
// default" (RFC 9110 §15.1).
func HeuristicStatus(code int) bool {
	switch code {
	case 200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501:
		return true
	}
	return false
}

// AgeField formats an age for the Age field: whole seconds.
func AgeField(d time.Duration) string { return strconv.FormatInt(int64(d/time.Second), 10) }
