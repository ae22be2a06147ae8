package http2

import (
	"strconv"

	"github.com/applayer/applayer/web"
)

// pendingMax is how much body a response holds before its head goes out:
// a handler whose whole body fits is answered with content-length and one
// event to the loop.
const pendingMax = 16 << 10

// responseWriter is the web.ResponseWriter of one stream. It runs on the
// handler's goroutine and hands heads and data to the loop.
type responseWriter struct {
	st       *stream
	c        *conn
	header   web.Header
	status   int
	sentHead bool
	clen     int64 // from the handler's content-length, or -1 once parsed
	clenSet  bool
	written  int64
	pending  []byte
	err      error
	reset    bool
}

func (w *responseWriter) Header() *web.Header { return &w.header }

func (w *responseWriter) WriteHeader(status int) {
	if w.sentHead || w.status != 0 {
		return
	}
	if status < 100 || status > 999 {
		status = web.StatusInternalServerError
	}
	if status >= 100 && status < 200 && status != 101 {
		// An informational head (103 Early Hints) goes out at once with
		// the fields set so far; the final head comes later.
		w.sendErr(w.c.send(event{st: w.st, kind: evInfo, status: status, header: w.header, wait: true}))
		return
	}
	if status == 101 {
		status = web.StatusInternalServerError
	}
	w.status = status
}

func (w *responseWriter) sendErr(err error) {
	if err != nil && w.err == nil {
		w.err = err
	}
}

func (w *responseWriter) bodyless() bool {
	return w.st.req.Method == "HEAD" || w.status == web.StatusNoContent || w.status == web.StatusNotModified
}

func (w *responseWriter) contentLength() int64 {
	if !w.clenSet {
		w.clenSet = true
		w.clen = -1
		if v := w.header.Get("Content-Length"); v != "" {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
				w.clen = n
			}
		}
	}
	return w.clen
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = web.StatusOK
	}
	if w.err != nil {
		return 0, w.err
	}
	if err := w.st.err(); err != nil {
		w.err = err
		return 0, err
	}
	w.written += int64(len(p))
	if w.bodyless() {
		return len(p), nil
	}
	clen := w.contentLength()
	if clen >= 0 && w.written > clen {
		// More than declared: what fits is sent, the rest dropped.
		over := w.written - clen
		if over >= int64(len(p)) {
			return len(p), nil
		}
		p = p[:int64(len(p))-over]
	}
	if !w.sentHead && len(w.pending)+len(p) <= pendingMax && (clen < 0 || w.written < clen) {
		w.pending = append(w.pending, p...)
		return len(p), nil
	}
	end := clen >= 0 && w.written >= clen
	if !w.sentHead {
		w.sentHead = true
		h := w.finalHeader(-1)
		if len(w.pending) > 0 {
			// The head and what was held go first, then p.
			w.pending = append(w.pending, p...)
			p = w.pending
		}
		err := w.c.send(event{st: w.st, kind: evHead, status: w.status, header: h, data: p, end: end, wait: true})
		w.pending = w.pending[:0]
		w.sendErr(err)
		if err != nil {
			return 0, err
		}
		return len(p), nil
	}
	err := w.c.send(event{st: w.st, kind: evData, data: p, end: end, wait: true})
	w.sendErr(err)
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// finalHeader completes the handler's fields with date, server and,
// when the length is known, content-length.
func (w *responseWriter) finalHeader(known int64) web.Header {
	h := w.header
	if !h.Has("Date") {
		h = append(h, web.Field{Name: "date", Value: w.c.date()})
	}
	if name := w.c.s.Name; name != "-" && !h.Has("Server") {
		h = append(h, web.Field{Name: "server", Value: cmpOr(name, "applayer")})
	}
	if known >= 0 && !h.Has("Content-Length") && w.status != web.StatusNoContent && w.status != web.StatusNotModified {
		h = append(h, web.Field{Name: "content-length", Value: strconv.FormatInt(known, 10)})
	}
	if w.status == web.StatusNoContent {
		h.Del("Content-Length")
	}
	return h
}

func cmpOr(a, b string) string {
	if a == "" {
		return b
	}
	return a
}

// finishEvent is the event that ends the response once the handler has
// returned.
func (w *responseWriter) finishEvent() event {
	if w.reset {
		return event{st: w.st, kind: evReset}
	}
	if w.status == 0 {
		w.status = web.StatusOK
	}
	if !w.sentHead {
		w.sentHead = true
		n := int64(len(w.pending))
		if w.st.req.Method == "HEAD" {
			n = w.written
		}
		h := w.finalHeader(n)
		return event{st: w.st, kind: evHead, status: w.status, header: h, data: w.pending, end: true}
	}
	// The head is out: END_STREAM on an empty DATA frame, unless the
	// last write carried it already.
	clen := w.contentLength()
	if clen >= 0 && w.written >= clen {
		return event{st: w.st, kind: evFinish}
	}
	return event{st: w.st, kind: evFinish, end: true}
}

func (w *responseWriter) finish() {
	ev := w.finishEvent()
	if w.err != nil && ev.kind != evFinish {
		ev = event{st: w.st, kind: evFinish}
	}
	fin := ev.kind == evFinish
	w.c.send(ev)
	if !fin {
		w.c.send(event{st: w.st, kind: evFinish})
	}
}
