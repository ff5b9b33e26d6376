package fetch

import (
	"context"
	"errors"
	"sync"
)

// Fetcher relays one source to one output. Create with New, drive with Run.
type Fetcher struct {
	cfg Config

	mu     sync.Mutex
	status Status
}

// New validates cfg and returns a fetcher.
func New(cfg Config) (*Fetcher, error) {
	if cfg.Output == nil {
		return nil, errors.New("fetch: no output")
	}
	return &Fetcher{cfg: cfg, status: Status{State: StateStarting}}, nil
}

// Run relays until ctx is cancelled (returns nil) or the source ends.
func (f *Fetcher) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// Status returns a snapshot of the fetcher's progress.
func (f *Fetcher) Status() Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status
}
