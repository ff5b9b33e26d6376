package fetch

import "github.com/pullpush/pullpush/fetch/internal/spool"

// DefaultSpoolMemoryBytes is the default MemoryBudget of a process.
const DefaultSpoolMemoryBytes = spool.DefaultMemoryBytes

// SpoolMemoryPerFetcher is the most memory one fetcher's spool uses.
const SpoolMemoryPerFetcher = spool.MemoryPerFetcher

// MemoryBudget bounds the memory that the spools of many fetchers use for
// segments in flight. Share one among the fetchers of a process (the
// Service does); a fetcher without one gets a private budget of
// SpoolMemoryPerFetcher.
type MemoryBudget = spool.MemoryBudget

// NewMemoryBudget returns a budget of limit bytes (DefaultSpoolMemoryBytes
// when limit <= 0).
func NewMemoryBudget(limit int64) *MemoryBudget { return spool.NewMemoryBudget(limit) }
