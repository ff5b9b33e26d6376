package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff is an exponential backoff with jitter.
type Backoff struct {
	min, max, cur time.Duration
}

// New returns a Backoff whose first wait is min and that doubles up to max.
func New(min, max time.Duration) *Backoff {
	return &Backoff{min: min, max: max}
}

// Next returns the next wait: double the last (min first, at most max), with
// jitter of -1/8 to +1/8.
func (b *Backoff) Next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur *= 2
		if b.cur > b.max {
			b.cur = b.max
		}
	}
	j := time.Duration(rand.Int64N(int64(b.cur)/4 + 1))
	return b.cur - b.cur/8 + j
}

// Reset makes the next wait min again.
func (b *Backoff) Reset() { b.cur = 0 }

// Wait sleeps for the next backoff interval; false when ctx ended.
func (b *Backoff) Wait(ctx context.Context) bool {
	return Sleep(ctx, b.Next())
}

// Sleep waits d or until ctx ends; false when ctx ended.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
