package authlimit

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

var (
	guesser = netip.MustParseAddr("192.0.2.66")
	owner   = netip.MustParseAddr("198.51.100.7")
)

// fail makes one failed attempt and returns how long Begin waited.
func fail(t *testing.T, l *Limiter, a netip.Addr, acct string) (time.Duration, error) {
	t.Helper()
	t0 := time.Now()
	at, err := l.Begin(context.Background(), a, acct)
	if err != nil {
		return 0, err
	}
	at.Done(false)
	return time.Since(t0), nil
}

// TestBackoff: after Free failures each attempt waits twice as long as the
// one before, up to the cap; then it is refused rather than held.
func TestBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &Limiter{Free: 3, Base: time.Second, MaxAddress: 8 * time.Second, MaxAccount: 8 * time.Second, MaxWait: 10 * time.Second}
		want := []time.Duration{0, 0, 0, 0, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second}
		for i, w := range want {
			got, err := fail(t, l, guesser, "alice")
			if err != nil || got != w {
				t.Fatalf("attempt %d waited %v, %v; want %v", i+1, got, err, w)
			}
		}
		l.MaxWait = 5 * time.Second
		if _, err := fail(t, l, guesser, "alice"); !errors.Is(err, ErrTooMany) {
			t.Fatalf("attempt past MaxWait: %v, want ErrTooMany", err)
		}
		// Forgotten an hour after the last failure.
		time.Sleep(DefaultForget + 9*time.Second)
		if got, err := fail(t, l, guesser, "alice"); err != nil || got != 0 {
			t.Fatalf("after Forget: waited %v, %v; want 0", got, err)
		}
	})
}

// TestParallelGuessesSlowed: 50 connections that guess at once make a
// handful of guesses in 5 s, not 50.
func TestParallelGuessesSlowed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &Limiter{}
		t0 := time.Now()
		var mu sync.Mutex
		var within5s, began, refused int
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				at, err := l.Begin(context.Background(), guesser, "alice")
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					refused++
					return
				}
				began++
				if time.Since(t0) <= 5*time.Second {
					within5s++
				}
				at.Done(false)
			})
		}
		wg.Wait()
		// 0, 0, 0, 0, 1 s, 3 s with the defaults; then 7 s, 15 s, 31 s,
		// and a refusal for the rest (the next 32 s away).
		if within5s != 6 || began != 9 || refused != 41 {
			t.Errorf("50 parallel guesses: %d began within 5 s, %d in all, %d refused; want 6, 9 and 41", within5s, began, refused)
		}
	})
}

// TestOwnerNotLockedOut: however long a stranger guesses alice's password,
// alice from an address with no failures is served at once, and so is
// alice from an address she logged in from, even after a typo there.
func TestOwnerNotLockedOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &Limiter{}
		home := netip.MustParseAddr("203.0.113.5")
		at, _ := l.Begin(context.Background(), home, "alice")
		at.Done(true)
		for i := 0; i < 200; i++ {
			// Many guessers, each of which has failed before.
			g := netip.AddrFrom4([4]byte{192, 0, 2, byte(i)})
			fail(t, l, g, "alice")
			fail(t, l, g, "alice")
		}
		t0 := time.Now()
		at, err := l.Begin(context.Background(), owner, "Alice")
		if err != nil || time.Since(t0) != 0 {
			t.Fatalf("owner from a clean address: %v after %v; want at once", err, time.Since(t0))
		}
		at.Done(true)
		fail(t, l, home, "alice") // a typo at home
		t0 = time.Now()
		if at, err = l.Begin(context.Background(), home, "alice"); err != nil || time.Since(t0) != 0 {
			t.Fatalf("owner from home after a typo: %v after %v; want at once", err, time.Since(t0))
		}
		at.Done(true)
	})
}

// TestAccountBackoffAcrossAddresses: guessers that have failed before, on
// many addresses, are held to the account's pace.
func TestAccountBackoffAcrossAddresses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &Limiter{MaxAccount: 10 * time.Second}
		var gs []netip.Addr
		for i := range 20 {
			g := netip.AddrFrom4([4]byte{192, 0, 2, byte(i)})
			gs = append(gs, g)
			fail(t, l, g, "other") // each address has failed once
		}
		t0 := time.Now()
		began := 0
		for round := 0; round < 3; round++ {
			for _, g := range gs {
				if _, err := fail(t, l, g, "alice"); err == nil && time.Since(t0) <= 30*time.Second {
					began++
				}
			}
		}
		// Free (3) at once, then 1, 2, 4, 8 s apart, then every 10 s:
		// 3 + 4 + 1 within 30 s, never 60.
		if began > 10 {
			t.Errorf("%d guesses on one account from 20 addresses within 30 s, want at most 10", began)
		}
	})
}

// TestParallelLoginsNotHeld: eight right passwords at once from one
// address wait only for each other's checks, not for back-off.
func TestParallelLoginsNotHeld(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &Limiter{}
		t0 := time.Now()
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				at, err := l.Begin(context.Background(), owner, "alice")
				if err != nil {
					t.Error(err)
					return
				}
				time.Sleep(50 * time.Millisecond) // the bcrypt check
				at.Done(true)
			})
		}
		wg.Wait()
		if d := time.Since(t0); d > 150*time.Millisecond {
			t.Errorf("8 parallel logins took %v, want two checks' time (100 ms)", d)
		}
	})
}

// TestIPv6ByPrefix: the addresses of one /64 share a count; another /64
// does not.
func TestIPv6ByPrefix(t *testing.T) {
	l := &Limiter{}
	for i := range 3 {
		a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i + 1)})
		at, err := l.Begin(context.Background(), a, "alice")
		if err != nil {
			t.Fatal(err)
		}
		at.Done(false)
	}
	if n, _ := l.Failures(netip.MustParseAddr("2001:db8::ffff"), "x"); n != 3 {
		t.Errorf("failures of 2001:db8::/64 = %d, want 3", n)
	}
	if n, _ := l.Failures(netip.MustParseAddr("2001:db8:0:1::1"), "x"); n != 0 {
		t.Errorf("failures of 2001:db8:0:1::/64 = %d, want 0", n)
	}
	if n, _ := l.Failures(netip.MustParseAddr("::ffff:192.0.2.1"), "x"); n != 0 {
		t.Errorf("failures of an IPv4 address = %d, want 0", n)
	}
}

// TestSuccessTakesBackItsFailure: a right password leaves no failure.
func TestSuccessTakesBackItsFailure(t *testing.T) {
	l := &Limiter{}
	for range 10 {
		at, err := l.Begin(context.Background(), owner, "alice")
		if err != nil {
			t.Fatal(err)
		}
		at.Done(true)
	}
	if a, b := l.Failures(owner, "alice"); a != 0 || b != 0 {
		t.Errorf("after 10 logins: %d, %d failures; want 0, 0", a, b)
	}
}

// TestBounded: the tables never hold more than MaxEntries.
func TestBounded(t *testing.T) {
	l := &Limiter{MaxEntries: 100}
	for i := range 1000 {
		a := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		at, err := l.Begin(context.Background(), a, a.String())
		if err != nil {
			t.Fatal(err)
		}
		at.Done(i%2 == 0)
	}
	if len(l.addrs) > 100 || len(l.accts) > 100 || len(l.good) > 100 {
		t.Errorf("tables hold %d, %d, %d entries; want at most 100", len(l.addrs), len(l.accts), len(l.good))
	}
}

// TestBeginCancelled: a wait ends with its context.
func TestBeginCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &Limiter{}
		for range 4 {
			fail(t, l, guesser, "alice")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		if _, err := l.Begin(ctx, guesser, "alice"); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Begin = %v, want the context's deadline", err)
		}
	})
}
