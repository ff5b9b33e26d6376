package fetch

import "sync"

// spoolChunk is the size of the buffers segments in flight are held in.
const spoolChunk = 64 << 10

// minFreeChunks is how many unused chunks an allocator keeps for reuse at
// least; it keeps up to a quarter of the chunks in use when that is more.
// The rest go back to the operating system at once, so a burst (a backfill,
// a short outage) does not leave the process's RSS high.
const minFreeChunks = 16

// chunkAllocator hands out spoolChunk-sized buffers. Where the platform
// allows they live outside the Go heap (anonymous memory maps), so segments
// in flight neither raise the garbage collector's heap goal nor stay
// resident after they are freed.
type chunkAllocator struct {
	mu    sync.Mutex
	free  []*[]byte
	inUse int
}

func (a *chunkAllocator) get() *[]byte {
	a.mu.Lock()
	a.inUse++
	if n := len(a.free); n > 0 {
		c := a.free[n-1]
		a.free[n-1] = nil
		a.free = a.free[:n-1]
		a.mu.Unlock()
		return c
	}
	a.mu.Unlock()
	b := allocChunk()
	return &b
}

func (a *chunkAllocator) put(c *[]byte) {
	a.mu.Lock()
	a.inUse--
	keep := max(minFreeChunks, a.inUse/4)
	var unmap []*[]byte
	if len(a.free) < keep {
		a.free = append(a.free, c)
	} else {
		unmap = append(unmap, c)
	}
	for len(a.free) > keep { // the burst is over: shrink
		n := len(a.free) - 1
		unmap = append(unmap, a.free[n])
		a.free[n] = nil
		a.free = a.free[:n]
	}
	a.mu.Unlock()
	for _, c := range unmap {
		freeChunk(*c)
	}
}
