package spool

import "sync"

// DefaultMemoryBytes is the default MemoryBudget of a process.
const DefaultMemoryBytes = 256 << 20

// MemoryPerFetcher is the most memory one fetcher's spool uses.
const MemoryPerFetcher = 1 << 20

// MemoryBudget bounds the memory that the spools of many fetchers use for
// segments in flight. Share one among the fetchers of a process (the
// Service does); a fetcher without one gets a private budget of
// MemoryPerFetcher.
type MemoryBudget struct {
	mu     sync.Mutex
	limit  int64
	used   int64
	chunks chunkAllocator
}

// NewMemoryBudget returns a budget of limit bytes (DefaultMemoryBytes
// when limit <= 0).
func NewMemoryBudget(limit int64) *MemoryBudget {
	if limit <= 0 {
		limit = DefaultMemoryBytes
	}
	return &MemoryBudget{limit: limit}
}

func (b *MemoryBudget) reserve(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.limit {
		return false
	}
	b.used += n
	return true
}

func (b *MemoryBudget) release(n int64) {
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
}

// Used reports the bytes currently held in memory under the budget.
func (b *MemoryBudget) Used() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}
