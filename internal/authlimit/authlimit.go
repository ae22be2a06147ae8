// Package authlimit slows password guessing across sessions and servers:
// one Limiter per process (or per lab) is shared by every server that
// checks passwords (SMTP AUTH today; POP3, IMAP, webmail and FTP take the
// same one), so that many parallel connections guess no faster than one.
//
// Failures are counted per client address (IPv6 by its /64, where one
// host usually has all of its addresses) and per account. Both back off
// exponentially, never lock: after Free failures each further attempt
// waits Base, 2 Base, 4 Base... capped, and failures are forgotten Forget
// after the last one. An attempt that would have to wait longer than
// MaxWait is refused at once, so that a guesser does not hold a session
// open waiting. The account's delay applies only to attempts from an
// address that has failed itself and has not logged in to that account
// before: a stranger's guesses slow the stranger, and the real user, from
// an address with no failures or one they logged in from, is served at
// once however many strangers guess.
//
// Every attempt counts as a failure from its start until it is done: so
// that 50 connections opened at once cannot all begin before the first
// answer; a success then takes it back at once.
package authlimit

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Defaults of the Limiter.
const (
	DefaultFree       = 3
	DefaultBase       = time.Second
	DefaultMaxAddress = 5 * time.Minute
	DefaultMaxAccount = time.Minute
	DefaultMaxWait    = 30 * time.Second
	DefaultForget     = time.Hour
	DefaultIPv6Prefix = 64
	DefaultMaxEntries = 100_000
)

// Limiter counts failed logins. Its fields are its configuration, set
// before first use; the zero value works with the defaults above.
type Limiter struct {
	// Free is how many failures are free of delay (default DefaultFree).
	Free int
	// Base is the delay after the first failure past Free; each further
	// one doubles it (default DefaultBase).
	Base time.Duration
	// MaxAddress caps the delay between attempts from one address
	// (default DefaultMaxAddress).
	MaxAddress time.Duration
	// MaxAccount caps the delay between attempts on one account (default
	// DefaultMaxAccount): the most a real user who mistyped can be held
	// back by strangers guessing their password.
	MaxAccount time.Duration
	// MaxWait refuses at once an attempt that would wait longer (default
	// DefaultMaxWait).
	MaxWait time.Duration
	// Forget is how long after its last failure an address or account is
	// forgotten (default DefaultForget).
	Forget time.Duration
	// IPv6Prefix is the prefix length IPv6 clients are counted by
	// (default DefaultIPv6Prefix).
	IPv6Prefix int
	// MaxEntries bounds the addresses and accounts remembered, each
	// (default DefaultMaxEntries).
	MaxEntries int

	mu    sync.Mutex
	addrs map[netip.Prefix]*record
	accts map[string]*record
	good  map[goodKey]time.Time // logged in from that address to that account
}

type record struct {
	failures  int           // confirmed
	inflight  int           // attempts begun and not done, counted as failures until then
	lastStart time.Time     // the last attempt's start
	last      time.Time     // the last activity
	changed   chan struct{} // closed when an attempt is done; nil until waited on
}

// next is when the next attempt may start: the delay for every failure and
// every attempt in progress after the last start.
func (r *record) next(l *Limiter, max time.Duration) time.Time {
	return r.lastStart.Add(l.delay(r.failures+r.inflight, max))
}

func (r *record) wait() <-chan struct{} {
	if r.changed == nil {
		r.changed = make(chan struct{})
	}
	return r.changed
}

func (r *record) signal() {
	if r.changed != nil {
		close(r.changed)
		r.changed = nil
	}
}

type goodKey struct {
	addr netip.Prefix
	acct string
}

// WaitError refuses an attempt that would have to wait more than MaxWait.
type WaitError struct{ RetryAfter time.Duration }

func (e *WaitError) Error() string {
	return fmt.Sprintf("authlimit: too many failed logins; try again in %v", e.RetryAfter.Round(time.Second))
}

// ErrTooMany matches every *WaitError (errors.Is).
var ErrTooMany = errors.New("authlimit: too many failed logins")

func (e *WaitError) Is(target error) bool { return target == ErrTooMany }

// Attempt is one password check in progress; call Done with its result.
type Attempt struct {
	l    *Limiter
	addr netip.Prefix
	acct string
	done bool
}

// Begin waits until an attempt from addr on account may be made, and
// returns it; or a *WaitError as soon as that is more than MaxWait away;
// or ctx's error if ctx ends first. An attempt waits for the delay that
// the failures and the attempts in progress call for, and goes as soon as
// attempts in progress succeed: honest parallel logins wait only for each
// other's checks.
func (l *Limiter) Begin(ctx context.Context, addr netip.Addr, account string) (*Attempt, error) {
	key := l.prefix(addr)
	acct := strings.ToLower(account)
	for {
		l.mu.Lock()
		if l.addrs == nil {
			l.addrs, l.accts, l.good = map[netip.Prefix]*record{}, map[string]*record{}, map[goodKey]time.Time{}
		}
		now := time.Now()
		ar := entry(l, l.addrs, key, now)
		rr := entry(l, l.accts, acct, now)
		start := ar.next(l, orDefault(l.MaxAddress, DefaultMaxAddress))
		if ar.failures+ar.inflight > 0 && !l.isGood(goodKey{key, acct}, now) {
			start = later(start, rr.next(l, orDefault(l.MaxAccount, DefaultMaxAccount)))
		}
		wait := start.Sub(now)
		if wait <= 0 {
			for _, r := range []*record{ar, rr} {
				r.inflight++
				r.lastStart, r.last = now, now
			}
			l.mu.Unlock()
			return &Attempt{l: l, addr: key, acct: acct}, nil
		}
		if wait > l.maxWait() {
			l.mu.Unlock()
			return nil, &WaitError{RetryAfter: wait}
		}
		c1, c2 := ar.wait(), rr.wait()
		l.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-c1:
		case <-c2:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
		t.Stop()
	}
}

// Done records the attempt's result. A success counts as no failure and
// remembers the address as one the account's owner uses.
func (a *Attempt) Done(ok bool) {
	if a == nil || a.done {
		return
	}
	a.done = true
	l := a.l
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	for _, r := range []*record{l.addrs[a.addr], l.accts[a.acct]} {
		if r == nil || r.inflight == 0 {
			continue // forgotten meanwhile
		}
		r.inflight--
		if !ok {
			r.failures++
		}
		r.last = now
		r.signal()
	}
	if !ok {
		return
	}
	k := goodKey{a.addr, a.acct}
	if _, known := l.good[k]; !known && len(l.good) >= l.maxEntries() {
		for old := range l.good { // forget one, any
			delete(l.good, old)
			break
		}
	}
	l.good[k] = now
}

// Failures returns the failures counted for addr and for account now.
func (l *Limiter) Failures(addr netip.Addr, account string) (byAddr, byAccount int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if r := l.addrs[l.prefix(addr)]; r != nil && now.Sub(r.last) <= l.forget() {
		byAddr = r.failures
	}
	if r := l.accts[strings.ToLower(account)]; r != nil && now.Sub(r.last) <= l.forget() {
		byAccount = r.failures
	}
	return byAddr, byAccount
}

// entry returns m's record for k, a fresh one when it is unknown or its
// failures are forgotten. A full table drops forgotten records first,
// then any one.
func entry[K comparable](l *Limiter, m map[K]*record, k K, now time.Time) *record {
	r := m[k]
	if r != nil && r.inflight == 0 && now.Sub(r.last) > l.forget() {
		r.failures = 0
	}
	if r != nil {
		return r
	}
	if len(m) >= l.maxEntries() {
		for k2, r2 := range m {
			if r2.inflight == 0 && now.Sub(r2.last) > l.forget() {
				delete(m, k2)
			}
		}
		for k2, r2 := range m {
			if len(m) < l.maxEntries() {
				break
			}
			if r2.inflight == 0 {
				delete(m, k2)
			}
		}
	}
	r = &record{}
	m[k] = r
	return r
}

func (l *Limiter) isGood(k goodKey, now time.Time) bool {
	t, ok := l.good[k]
	if ok && now.Sub(t) > 30*24*time.Hour {
		delete(l.good, k)
		return false
	}
	return ok
}

// delay is the wait after the failures-th failure: none while Free, then
// Base doubling up to max.
func (l *Limiter) delay(failures int, max time.Duration) time.Duration {
	free := l.Free
	if free <= 0 {
		free = DefaultFree
	}
	n := failures - free
	if n <= 0 {
		return 0
	}
	d := orDefault(l.Base, DefaultBase)
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}

func (l *Limiter) prefix(a netip.Addr) netip.Prefix {
	a = a.Unmap().WithZone("")
	bits := a.BitLen()
	if a.Is6() {
		bits = l.IPv6Prefix
		if bits <= 0 || bits > 128 {
			bits = DefaultIPv6Prefix
		}
	}
	p, _ := a.Prefix(bits)
	return p
}

func (l *Limiter) maxWait() time.Duration { return orDefault(l.MaxWait, DefaultMaxWait) }
func (l *Limiter) forget() time.Duration  { return orDefault(l.Forget, DefaultForget) }
func (l *Limiter) maxEntries() int {
	if l.MaxEntries <= 0 {
		return DefaultMaxEntries
	}
	return l.MaxEntries
}

func orDefault(v, def time.Duration) time.Duration {
	if v <= 0 {
		return def
	}
	return v
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
