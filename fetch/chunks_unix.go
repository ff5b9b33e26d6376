//go:build unix

package fetch

import "syscall"

// allocChunk maps a chunk of anonymous memory; it falls back to the Go heap
// if the map fails.
func allocChunk() []byte {
	b, err := syscall.Mmap(-1, 0, spoolChunk, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return make([]byte, spoolChunk)
	}
	return b
}

// freeChunk unmaps a chunk from allocChunk. A chunk from the Go heap is
// not a mapping: Munmap fails with EINVAL and the garbage collector frees it.
func freeChunk(b []byte) { _ = syscall.Munmap(b) }
