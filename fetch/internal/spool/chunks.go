package spool

import "sync"

// chunkSize is the size of the buffers segments in flight are held in.
const chunkSize = 32 << 10

// minFreeChunks is how many unused chunks an allocator keeps resident for
// reuse at least; it keeps up to a quarter of the chunks in use when that
// is more. The memory of the others goes back to the operating system at
// once, so a burst (a backfill, a short outage) does not leave the
// process's RSS high.
const minFreeChunks = 16

// chunkAllocator hands out chunkSize-sized buffers. On Linux they are
// carved out of large anonymous memory maps outside the Go heap (see
// chunks_linux.go), so segments in flight neither raise the garbage
// collector's heap goal nor stay resident after they are freed; elsewhere
// they come from the Go heap.
// chunk is one buffer of chunkSize bytes.
type chunk struct {
	b      []byte
	mapped bool // carved from a memory map (else from the Go heap)
}

type chunkAllocator struct {
	mu    sync.Mutex
	inUse int
	free  []*chunk // resident, ready for reuse
	cold  []*chunk // memory released to the OS; touching it maps zero pages
	arena arena
}

func (a *chunkAllocator) get() *chunk {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.inUse++
	if c := pop(&a.free); c != nil {
		return c
	}
	if c := pop(&a.cold); c != nil {
		return c
	}
	return a.arena.carve()
}

func (a *chunkAllocator) put(c *chunk) {
	a.mu.Lock()
	a.inUse--
	keep := max(minFreeChunks, a.inUse/4)
	var release []*chunk
	if len(a.free) < keep {
		a.free = append(a.free, c)
	} else {
		release = append(release, c)
	}
	for len(a.free) > keep { // the burst is over: shrink
		release = append(release, pop(&a.free))
	}
	a.mu.Unlock()
	for _, c := range release {
		if c.mapped && releaseChunk(c.b) {
			a.mu.Lock()
			a.cold = append(a.cold, c)
			a.mu.Unlock()
		}
	}
}

func pop(s *[]*chunk) *chunk {
	n := len(*s)
	if n == 0 {
		return nil
	}
	c := (*s)[n-1]
	(*s)[n-1] = nil
	*s = (*s)[:n-1]
	return c
}
