package mta

import (
	"container/heap"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/applayer/applayer/mail/dkim"
	"github.com/applayer/applayer/mail/dmarc"
	"github.com/applayer/applayer/mail/smtp"
)

// pollInterval is how often the worker looks for a flush request and for
// messages deleted behind its back.
const pollInterval = time.Second

// sweepEvery is how many polls pass between deletions of finished messages.
const sweepEvery = 5

// minScan bounds how often the worker scans its schedule.
const minScan = 5 * time.Millisecond

// Run delivers queued mail until ctx ends, then waits for attempts in
// flight to finish (each is bounded by Config.Timeout per command).
func (m *MTA) Run(ctx context.Context) error {
	sem := make(chan struct{}, m.cfg.Concurrency)
	var wg sync.WaitGroup
	defer m.pool.closeAll()
	defer wg.Wait()
	poll := time.NewTicker(pollInterval)
	defer poll.Stop()
	timer := time.NewTimer(0)
	defer timer.Stop()
	var last time.Time
	polls := 0
	defer m.sweep()
	for {
		// Pokes (a new message, a finished attempt) coalesce: at most one
		// scan of the schedule every minScan, however busy the server.
		if d := minScan - time.Since(last); d > 0 {
			time.Sleep(d)
		}
		last = time.Now()
		if m.checkFlush() {
			m.log.Info("mta: flush requested; retrying every queued message")
		}
		next := m.dispatch(ctx, sem, &wg)
		wait := time.Until(next)
		if next.IsZero() || wait > pollInterval {
			wait = pollInterval
		}
		timer.Reset(max(wait, 0))
		select {
		case <-ctx.Done():
			return nil
		case <-m.wake:
		case <-timer.C:
		case <-poll.C:
			m.pool.reap()
			if polls++; polls%sweepEvery == 0 {
				m.sweep()
			}
		}
	}
}

// checkFlush consumes a flush request: every message becomes due now.
func (m *MTA) checkFlush() bool {
	p := filepath.Join(m.qdir, FlushFile)
	if _, err := os.Stat(p); err != nil {
		return false
	}
	os.Remove(p)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ready, m.later = m.ready[:0], m.later[:0]
	for _, e := range m.queue {
		if e.inFlight {
			// Its attempt owns its state, and will record a back-off
			// when it ends: it is made due again then.
			e.flushed = true
			continue
		}
		e.dueNow()
		m.ready = append(m.ready, e)
	}
	return true
}

// dueNow makes every pending recipient of e due at once. The caller holds
// m.mu and e is not in flight.
func (e *entry) dueNow() {
	for _, r := range e.state.Rcpts {
		r.Next = time.Time{}
	}
	e.hold = time.Time{}
	e.flushed = false
}

// schedule puts e where the worker will find it when it is due: the ready
// list, or the heap of later attempts. The caller holds m.mu.
func (m *MTA) schedule(e *entry, now time.Time) {
	e.at = e.due()
	if e.at.After(now) {
		heap.Push(&m.later, e)
	} else {
		m.ready = append(m.ready, e)
	}
}

// dispatch starts attempts for ready messages while slots are free, and
// returns when the next later message falls due (zero: none). Each message
// is in exactly one of ready, later, or in flight, so a dispatch costs
// O(started + log n), however long the queue.
func (m *MTA) dispatch(ctx context.Context, sem chan struct{}, wg *sync.WaitGroup) time.Time {
	now := time.Now()
	m.mu.Lock()
	for len(m.later) > 0 && !m.later[0].at.After(now) {
		m.ready = append(m.ready, heap.Pop(&m.later).(*entry))
	}
	var started []*entry
	for len(m.ready) > 0 {
		e := m.ready[0]
		if _, ok := m.queue[e.id]; !ok { // forgotten meanwhile
			m.ready = m.ready[1:]
			continue
		}
		select {
		case sem <- struct{}{}:
		default:
			goto full // every slot busy; a finished attempt pokes us
		}
		m.ready[0] = nil
		m.ready = m.ready[1:]
		e.inFlight = true
		started = append(started, e)
	}
full:
	var next time.Time
	if len(m.later) > 0 {
		next = m.later[0].at
	}
	m.mu.Unlock()
	for _, e := range started {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Keep the slot while messages are ready: no round trip
			// through the dispatcher between attempts.
			for e != nil && ctx.Err() == nil {
				m.attempt(ctx, e)
				m.mu.Lock()
				e.inFlight = false
				if e.flushed {
					e.dueNow()
				}
				if _, ok := m.queue[e.id]; ok {
					m.schedule(e, time.Now())
				}
				e = m.popReady()
				m.mu.Unlock()
			}
			if e != nil { // cancelled with one taken
				m.mu.Lock()
				e.inFlight = false
				m.ready = append(m.ready, e)
				m.mu.Unlock()
			}
			<-sem
			m.poke()
		}()
	}
	return next
}

// popReady takes the next ready message that is still queued, marked in
// flight, or returns nil. The caller holds m.mu.
func (m *MTA) popReady() *entry {
	for len(m.ready) > 0 {
		e := m.ready[0]
		m.ready[0] = nil
		m.ready = m.ready[1:]
		if _, ok := m.queue[e.id]; ok && !e.inFlight {
			e.inFlight = true
			return e
		}
	}
	return nil
}

// entryHeap orders entries by their next attempt (container/heap).
type entryHeap []*entry

func (h entryHeap) Len() int           { return len(h) }
func (h entryHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h entryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *entryHeap) Push(x any)        { *h = append(*h, x.(*entry)) }
func (h *entryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}

// due is the earliest next attempt among pending recipients, or, when a
// bounce could not be sent, the time to try it again.
func (e *entry) due() time.Time {
	t := e.hold
	first := true
	for _, r := range e.env.To {
		st := e.state.Rcpts[r]
		if st != nil && (st.Done || st.Failed) {
			continue
		}
		var n time.Time
		if st != nil {
			n = st.Next
		}
		if first || n.Before(t) {
			t, first = n, false
		}
	}
	if e.hold.After(t) {
		t = e.hold
	}
	return t
}

// outcome is what one recipient's attempt came to.
type outcome struct {
	done   bool
	perm   bool
	answer string
	remote string
}

// attempt tries every due recipient of e once, grouped by domain, then
// records the results and finishes the message when nothing is pending.
func (m *MTA) attempt(ctx context.Context, e *entry) {
	msg, err := openQueued(m.qdir, e.id)
	if errors.Is(err, os.ErrNotExist) {
		m.forget(e.id) // deleted with `applayer mail queue delete`
		return
	}
	if err != nil {
		m.log.Error("mta: queued message unreadable; left in the queue", "id", e.id, "err", err)
		m.forget(e.id)
		return
	}
	defer msg.Close()
	if e.env.Auth != "" && len(m.cfg.DKIM) > 0 {
		m.sign(e, msg)
	}
	now := time.Now()
	byDomain := map[string][]smtp.Address{}
	m.mu.Lock()
	for _, r := range e.env.To {
		st := e.state.Rcpts[r]
		if st != nil && (st.Done || st.Failed || st.Next.After(now)) {
			continue
		}
		a, err := smtp.ParseAddress(r)
		if err != nil {
			continue
		}
		byDomain[a.Domain] = append(byDomain[a.Domain], a)
	}
	m.mu.Unlock()

	results := map[string]outcome{}
	for domain, rcpts := range byDomain {
		for k, v := range m.relay(ctx, e, domain, rcpts, msg) {
			results[k] = v
		}
	}
	m.record(e, results)
}

// record applies the results to e's state, schedules retries, gives up
// on expired recipients, bounces, and removes the message when done.
func (m *MTA) record(e *entry, results map[string]outcome) {
	now := time.Now()
	m.mu.Lock()
	expired := now.Sub(e.env.Arrived) > m.cfg.GiveUp
	var deferred []string
	for r, o := range results {
		st := e.state.Rcpts[r]
		if st == nil {
			st = &RcptState{}
			e.state.Rcpts[r] = st
		}
		st.Attempts++
		st.Last, st.Remote = o.answer, o.remote
		switch {
		case o.done:
			st.Done = true
		case o.perm:
			st.Failed = true
		case expired:
			st.Failed = true
			st.Last = "4.4.7 gave up after " + m.cfg.GiveUp.String() + "; last answer: " + o.answer
		default:
			st.Next = now.Add(m.backoff(st.Attempts))
			deferred = append(deferred, r)
		}
	}
	pending, failed := 0, 0
	var fresh []string // failed, not yet reported to the sender
	for _, r := range e.env.To {
		st := e.state.Rcpts[r]
		switch {
		case st == nil || !st.Done && !st.Failed:
			pending++
		case st.Failed:
			failed++
			if !st.Reported {
				fresh = append(fresh, r)
			}
		}
	}
	state := cloneState(&e.state)
	m.mu.Unlock()
	for _, r := range deferred {
		// As Postfix's status=deferred: why, and when again.
		st := state.Rcpts[r]
		m.log.Info("mta: deferred", "id", e.id, "rcpt", r, "attempts", st.Attempts, "answer", st.Last, "next", st.Next.Format(time.RFC3339))
	}

	// A failure is reported at once, not when the last recipient is done.
	if len(fresh) > 0 {
		if err := m.bounce(e, state, fresh); err != nil {
			m.log.Error("mta: bounce not sent; will retry in a minute", "id", e.id, "err", err)
			m.mu.Lock()
			e.hold = now.Add(time.Minute)
			m.mu.Unlock()
			writeState(m.qdir, e.id, state)
			return
		}
		m.mu.Lock()
		for _, r := range fresh {
			e.state.Rcpts[r].Reported = true
			state.Rcpts[r].Reported = true
		}
		m.mu.Unlock()
	}
	if pending == 0 {
		m.remove(e.id)
		m.log.Info("mta: message finished", "id", e.id, "failed", failed)
		return
	}
	if err := writeState(m.qdir, e.id, state); err != nil && !errors.Is(err, os.ErrNotExist) {
		m.log.Warn("mta: state not saved", "id", e.id, "err", err)
	}
}

func cloneState(s *State) *State {
	c := &State{Rcpts: map[string]*RcptState{}}
	for k, v := range s.Rcpts {
		x := *v
		c.Rcpts[k] = &x
	}
	return c
}

// backoff returns the wait before the next attempt after n attempts,
// with up to 10% jitter so that retries do not come in waves. The
// arithmetic stays in Durations (no integer truncation of factors).
func (m *MTA) backoff(n int) time.Duration {
	s := m.cfg.Retry
	d := s[min(n-1, len(s)-1)]
	if j := int64(d / 10); j > 0 {
		d += time.Duration(rand.Int64N(j))
	}
	return d
}

func (m *MTA) forget(id string) {
	m.mu.Lock()
	delete(m.queue, id)
	m.mu.Unlock()
}

// remove retires a finished message: it leaves the queue at once by a
// rename into done/, and sweep deletes it later with the others. Deleting
// files right away, between the directory fsyncs of sessions accepting
// new mail, made those fsyncs several times slower on ext4.
func (m *MTA) remove(id string) {
	m.forget(id)
	if err := os.Rename(filepath.Join(m.qdir, id+queueSuffix), filepath.Join(m.qdir, doneDir, id+queueSuffix)); err != nil {
		os.Remove(filepath.Join(m.qdir, id+queueSuffix))
	}
	os.Remove(filepath.Join(m.qdir, id+stateSuffix))
}

// sweep deletes the retired messages in done/.
func (m *MTA) sweep() {
	d := filepath.Join(m.qdir, doneDir)
	ents, err := os.ReadDir(d)
	if err != nil {
		return
	}
	for _, e := range ents {
		os.Remove(filepath.Join(d, e.Name()))
	}
}

// sign gives msg the DKIM-Signature of the signer for its From: domain,
// if there is one. A message that cannot be signed goes unsigned, logged:
// its receiver then judges it as mail from an unsigned domain.
func (m *MTA) sign(e *entry, msg *queuedMessage) {
	raw, err := io.ReadAll(msg.Reader())
	if err != nil {
		m.log.Warn("mta: message not DKIM-signed", "id", e.id, "err", err)
		return
	}
	s := m.signerFor(dmarc.FromDomain(raw))
	if s == nil {
		return
	}
	h, err := s.Sign(raw)
	if err != nil {
		m.log.Warn("mta: message not DKIM-signed", "id", e.id, "domain", s.Domain, "err", err)
		return
	}
	msg.prefix = []byte(h)
}

// signerFor returns the signer for domain or its nearest parent, or nil.
func (m *MTA) signerFor(domain string) *dkim.Signer {
	for d := strings.ToLower(domain); d != ""; {
		for _, s := range m.cfg.DKIM {
			if strings.EqualFold(s.Domain, d) {
				return s
			}
		}
		_, d, _ = strings.Cut(d, ".")
	}
	return nil
}
