//go:build linux

package spool

import "syscall"

// arenaBytes is the size of one anonymous memory map chunks are carved
// from. Maps are reserved, not committed (MAP_NORESERVE): only the chunks
// in use are resident, and the process holds few maps, so allocating and
// freeing chunks never splits one.
const arenaBytes = 64 << 20

// arena carves chunks out of anonymous memory maps. Its caller holds the
// allocator's lock.
type arena struct {
	cur []byte // unused rest of the newest map
}

func (a *arena) carve() *chunk {
	if len(a.cur) < chunkSize {
		m, err := syscall.Mmap(-1, 0, arenaBytes, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE|syscall.MAP_NORESERVE)
		if err != nil {
			return &chunk{b: make([]byte, chunkSize)}
		}
		a.cur = m
	}
	c := &chunk{b: a.cur[:chunkSize:chunkSize], mapped: true}
	a.cur = a.cur[chunkSize:]
	return c
}

// releaseChunk gives a chunk's memory back to the operating system; the
// chunk stays usable (it reads as zeros). It reports false for a chunk from
// the Go heap, which the garbage collector frees instead.
func releaseChunk(b []byte) bool {
	return syscall.Madvise(b, syscall.MADV_DONTNEED) == nil
}
