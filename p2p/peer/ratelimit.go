package peer

import (
	"context"
	"sync"
	"time"
)

// limiter is a token bucket of rate bytes per second with a burst of
// burst bytes; a nil limiter does not limit.
type limiter struct {
	mu     sync.Mutex
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

// newLimiter returns a limiter of rate bytes per second, or nil for
// rate <= 0. The burst is a tenth of a second's worth and at least a
// block, so that a limited peer's rate is smooth at the scale of a piece.
func newLimiter(rate int64) *limiter {
	if rate <= 0 {
		return nil
	}
	burst := max(float64(rate)/10, 2*BlockSize)
	return &limiter{rate: float64(rate), burst: burst, tokens: burst, last: time.Now()}
}

// wait takes n tokens, sleeping until the bucket has them (the bucket may
// go negative, so that n over the burst is paid for by waiting).
func (l *limiter) wait(ctx context.Context, n int) error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	now := time.Now()
	l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	l.last = now
	l.tokens -= float64(n)
	var d time.Duration
	if l.tokens < 0 {
		d = time.Duration(-l.tokens / l.rate * float64(time.Second))
	}
	l.mu.Unlock()
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
