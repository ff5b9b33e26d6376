package fetch

import (
	"context"
	"math/rand/v2"
	"time"
)

// backoff is an exponential backoff with jitter.
type backoff struct {
	min, max, cur time.Duration
}

func newBackoff(min, max time.Duration) *backoff {
	return &backoff{min: min, max: max}
}

func (b *backoff) next() time.Duration {
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

func (b *backoff) reset() { b.cur = 0 }

// wait sleeps for the next backoff interval; false when ctx ended.
func (b *backoff) wait(ctx context.Context) bool {
	return sleep(ctx, b.next())
}

// sleep waits d or until ctx ends; false when ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
