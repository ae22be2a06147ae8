package web

import (
	"sync/atomic"
	"time"
)

// clock keeps the formatted Date field (RFC 9110 §6.6.1) and the access
// log's timestamp, formatted once per second instead of once per response.
type clock struct {
	cur atomic.Pointer[clockTick]
}

type clockTick struct {
	sec  int64
	date []byte // "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
	clf  []byte // "[06/Nov/1994:08:49:37 +0000]"
}

func (c *clock) tick() *clockTick {
	now := time.Now()
	t := c.cur.Load()
	if t != nil && t.sec == now.Unix() {
		return t
	}
	utc := now.UTC()
	t = &clockTick{sec: now.Unix()}
	t.date = append([]byte("Date: "), utc.Format(TimeFormat)...)
	t.date = append(t.date, "\r\n"...)
	t.clf = append([]byte("["), now.Format("02/Jan/2006:15:04:05 -0700")...)
	t.clf = append(t.clf, ']')
	c.cur.Store(t)
	return t
}

// TimeFormat is the IMF-fixdate format of HTTP dates (RFC 9110 §5.6.7).
const TimeFormat = "Mon, 02 Jan 2006 15:04:05 GMT"

// ParseTime parses an HTTP date in the preferred IMF-fixdate format or one
// of the two obsolete formats a recipient must accept (RFC 9110 §5.6.7).
func ParseTime(s string) (time.Time, bool) {
	for _, layout := range []string{TimeFormat, "Monday, 02-Jan-06 15:04:05 GMT", "Mon Jan _2 15:04:05 2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}
