//go:build !unix

package fetch

func allocChunk() []byte { return make([]byte, spoolChunk) }

func freeChunk([]byte) {}
