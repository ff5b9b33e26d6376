//go:build !linux

package spool

// arena allocates chunks on the Go heap where anonymous memory maps are
// not used.
type arena struct{}

func (*arena) carve() *chunk { return &chunk{b: make([]byte, chunkSize)} }

// releaseChunk drops a chunk: the garbage collector frees it.
func releaseChunk([]byte) bool { return false }
