package transcript

import (
	"fmt"
	"io"
	"sync"
)

// TextSink writes each event as one line:
//
//	15:04:05.000000 smtp#3 127.0.0.1:52044 C: HELO crepes.fr
//
// Lines from concurrent sessions never interleave within a line.
type TextSink struct {
	mu sync.Mutex
	w  io.Writer
}

// NewTextSink returns a TextSink writing to w.
func NewTextSink(w io.Writer) *TextSink { return &TextSink{w: w} }

// Record writes e. Write errors are ignored: a transcript must never stop the
// protocol it watches.
func (t *TextSink) Record(e Event) {
	line := Format(e)
	t.mu.Lock()
	io.WriteString(t.w, line)
	t.mu.Unlock()
}

// Format renders e as a TextSink line, newline included.
func Format(e Event) string {
	return fmt.Sprintf("%s %s#%d %s %s: %s\n", e.Time.Format("15:04:05.000000"), e.Proto, e.Session, e.Peer, e.Dir, e.Text)
}

// Hub fans events out to any number of subscribers. A subscriber that does
// not keep up loses events (and is told how many) rather than slowing the
// protocol down. The zero value is ready to use.
type Hub struct {
	mu   sync.Mutex
	subs map[*Subscription]struct{}
}

// Subscription is one subscriber's stream of events.
type Subscription struct {
	C       <-chan Event
	c       chan Event
	hub     *Hub
	dropped uint64 // guarded by hub.mu
}

// Subscribe returns a Subscription buffering up to buf events.
func (h *Hub) Subscribe(buf int) *Subscription {
	if buf < 1 {
		buf = 1
	}
	c := make(chan Event, buf)
	s := &Subscription{C: c, c: c, hub: h}
	h.mu.Lock()
	if h.subs == nil {
		h.subs = make(map[*Subscription]struct{})
	}
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	return s
}

// Dropped reports how many events this subscriber has missed so far.
func (s *Subscription) Dropped() uint64 {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.dropped
}

// Close ends the subscription and closes C.
func (s *Subscription) Close() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	if _, ok := s.hub.subs[s]; ok {
		delete(s.hub.subs, s)
		close(s.c)
	}
}

// Record delivers e to every subscriber that has room.
func (h *Hub) Record(e Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		select {
		case s.c <- e:
		default:
			s.dropped++
		}
	}
}

// Tee returns a Sink that records every event into each of sinks.
func Tee(sinks ...Sink) Sink {
	return SinkFunc(func(e Event) {
		for _, s := range sinks {
			s.Record(e)
		}
	})
}
