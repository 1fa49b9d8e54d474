package scan

import (
	"sync"
	"time"
)

// bucket is the scan's rate limit: a token bucket holding at most burst
// tokens, refilled at rate per second. The engine takes a token under its
// lock right before it hands a probe to the method, so no queue sits
// between the limit and the wire: over any window of length w at most
// burst + rate·w probes start.
type bucket struct {
	// mu guards the tokens: discovery and the port scan run side by
	// side and share the limit.
	mu     sync.Mutex
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

// newBucket returns a bucket for rate probes per second, or nil for no
// limit. The burst is a hundredth of a second's worth, at least one and
// at most maxBurst probes.
func newBucket(rate float64) *bucket {
	if rate <= 0 {
		return nil
	}
	burst := min(max(1, rate/100), maxBurst)
	return &bucket{rate: rate, burst: burst, tokens: burst}
}

// maxBurst is the most probes the rate limit lets start at once.
const maxBurst = 4

// take takes a token at now and returns 0, or returns how long to wait
// for the next one.
func (b *bucket) take(now time.Time) time.Duration {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	// Two phases read their clocks apart, so now may lag the last
	// take a little; time never runs backwards for the bucket.
	if b.last.IsZero() {
		b.last = now
	} else if now.After(b.last) {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return 0
	}
	return max(time.Microsecond, time.Duration((1-b.tokens)/b.rate*float64(time.Second)))
}
