//go:build linux

package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// A holder is how an attack connection behaves once connected: setup runs
// once (a keep-alive request, a partial header), then the connection is
// held, sending trickle every trickleEvery if set, until the server closes
// it or the attack ends.
type holder struct {
	what         string
	setup        func(c net.Conn) error
	trickle      []byte
	trickleEvery time.Duration
	// noRead: the connection is never read (a client that never reads
	// what it asked for); it is held until the attack ends.
	noRead bool
}

var (
	silent = holder{what: "silent"}
	// httpIdle sends one keep-alive request, reads its response, and then
	// says nothing: an idle keep-alive connection.
	httpIdle = holder{what: "idle keep-alive (one request each)", setup: func(c net.Conn) error {
		c.SetDeadline(time.Now().Add(30 * time.Second))
		defer c.SetDeadline(time.Time{})
		if _, err := io.WriteString(c, httpGet); err != nil {
			return err
		}
		_, err := httpResponse(bufio.NewReader(c))
		return err
	}}
	// slowloris sends the start of a request head and then one more
	// header line every 2 s, never the blank line that ends it.
	slowloris = holder{what: "slowloris (a header line every 2 s, never the end)", setup: func(c net.Conn) error {
		_, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: abuse.test\r\n")
		return err
	}, trickle: []byte("X-Slow: loris\r\n"), trickleEvery: 2 * time.Second}
)

// flood holds n connections to addr from srcs (round robin). With renew,
// a connection the server closes after it was held at least renewAfter is
// opened again (an attacker renews what times out or is evicted), within a
// budget of 3n dials in all; one closed sooner counts as refused and is not
// retried. Without renew, each slot dials once.
type flood struct {
	addr string
	srcs []netip.Addr
	n    int
	h    holder

	budget                          int64
	cancel                          context.CancelFunc
	wg                              sync.WaitGroup
	first                           sync.WaitGroup // each slot's first try
	dials, dialErrs, refused, renew atomic.Int64
	setupErrs, live                 atomic.Int64
}

const renewAfter = 500 * time.Millisecond

func startFlood(addr string, srcs []netip.Addr, n int, h holder, renew bool) *flood {
	ctx, cancel := context.WithCancel(context.Background())
	f := &flood{addr: addr, srcs: srcs, n: n, h: h, cancel: cancel}
	sem := make(chan struct{}, 128) // dials in flight at once
	budget := int64(n)
	if renew {
		budget = int64(3 * n)
	}
	f.budget = budget
	for i := range n {
		f.wg.Add(1)
		f.first.Add(1)
		go func() {
			defer f.wg.Done()
			firstDone := sync.OnceFunc(f.first.Done)
			defer firstDone()
			src := srcs[i%len(srcs)]
			for ctx.Err() == nil && f.dials.Add(1) <= budget {
				sem <- struct{}{}
				c, err := dialFrom(ctx, src, addr, 3*time.Second)
				<-sem
				if err != nil {
					f.dialErrs.Add(1)
					firstDone()
					select {
					case <-ctx.Done():
					case <-time.After(time.Second):
					}
					continue
				}
				t0 := time.Now()
				if h.setup != nil {
					if err := h.setup(c); err != nil {
						f.setupErrs.Add(1)
					}
				}
				firstDone()
				f.live.Add(1)
				f.hold(ctx, c)
				f.live.Add(-1)
				if ctx.Err() != nil {
					return
				}
				if time.Since(t0) < renewAfter {
					f.refused.Add(1)
					return
				}
				f.renew.Add(1)
			}
		}()
	}
	return f
}

// hold keeps c until the server closes it or the flood stops.
func (f *flood) hold(ctx context.Context, c net.Conn) {
	defer c.Close()
	closed := make(chan struct{})
	if !f.h.noRead {
		go func() {
			io.Copy(io.Discard, c)
			close(closed)
		}()
	}
	var tick <-chan time.Time
	if f.h.trickle != nil {
		t := time.NewTicker(f.h.trickleEvery)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-closed:
			return
		case <-ctx.Done():
			c.Close()
			if !f.h.noRead {
				<-closed
			}
			return
		case <-tick:
			c.SetWriteDeadline(time.Now().Add(time.Second))
			c.Write(f.h.trickle)
		}
	}
}

// ready waits until every slot has made its first try (bounded).
func (f *flood) ready(limit time.Duration) bool {
	done := make(chan struct{})
	go func() { f.first.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(limit):
		return false
	}
}

func (f *flood) stop() {
	f.cancel()
	f.wg.Wait()
}

func (f *flood) summary() string {
	later := "renewed"
	if f.budget == int64(f.n) {
		later = "closed by the server later (not renewed)"
	}
	return fmt.Sprintf("dials %d (failed %d), closed at once %d, %s %d", min(f.dials.Load(), f.budget), f.dialErrs.Load(), f.refused.Load(), later, f.renew.Load())
}

// probeResult is what the fresh clients saw.
type probeResult struct {
	tries, served int
	lat           []time.Duration // sorted; failures count with their time
	errs          []string
}

func (p probeResult) quantile(q float64) time.Duration {
	if len(p.lat) == 0 {
		return 0
	}
	// nearest rank
	i := int(float64(len(p.lat))*q+0.999999) - 1
	return p.lat[min(max(i, 0), len(p.lat)-1)]
}

// runProbes makes tries fresh clients from src, one after the other,
// spread over span.
func runProbes(p probe, src netip.Addr, addr string, tries int, span time.Duration) probeResult {
	r := probeResult{tries: tries}
	gap := span / time.Duration(max(tries, 1))
	seen := map[string]bool{}
	for i := range tries {
		if i > 0 {
			time.Sleep(gap)
		}
		ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
		t0 := time.Now()
		err := p(ctx, src, addr)
		r.lat = append(r.lat, time.Since(t0))
		cancel()
		if err == nil {
			r.served++
		} else if s := err.Error(); !seen[s] && len(seen) < 3 {
			seen[s] = true
			r.errs = append(r.errs, s)
		}
	}
	slices.Sort(r.lat)
	return r
}
