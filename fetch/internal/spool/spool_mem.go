package spool

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// memData is a segment's bytes in chunks. Readers hold references so that
// the chunks go back to the allocator only when nobody reads them any more.
type memData struct {
	chunks  []*chunk
	refs    int  // open readers
	dropped bool // the spool no longer needs it
}

// recycle returns d's chunks to the allocator.
func (s *Spool[O]) recycle(d *memData) {
	for _, c := range d.chunks {
		s.budget.chunks.put(c)
	}
	d.chunks = nil
}

// Writer receives a segment being downloaded: into memory, moving to a
// file of its own when the segment outgrows what the spool keeps in memory.
type Writer[O any] struct {
	s    *Spool[O]
	sf   *File[O]
	size int64
	file *os.File // set once the segment went to its own file
}

// ReadFrom reads the whole segment from r.
func (w *Writer[O]) ReadFrom(r io.Reader) (int64, error) {
	var total int64
	for {
		if w.size > w.s.limit {
			return total, fmt.Errorf("segment larger than the spool (%d bytes)", w.s.limit)
		}
		if w.file == nil && w.size >= w.s.memCap {
			if err := w.toFile(); err != nil {
				return total, err
			}
		}
		var n int
		var err error
		if w.file != nil {
			var n64 int64
			n64, err = io.Copy(w.file, io.LimitReader(r, w.s.limit+1-w.size))
			n = int(n64)
			if err == nil && w.size+n64 <= w.s.limit {
				err = io.EOF
			}
		} else {
			d := w.sf.data
			off := int(w.size % chunkSize)
			if off == 0 {
				d.chunks = append(d.chunks, w.s.budget.chunks.get())
			}
			n, err = r.Read(d.chunks[len(d.chunks)-1].b[off:])
		}
		w.size += int64(n)
		total += int64(n)
		if errors.Is(err, io.EOF) {
			if w.size > w.s.limit {
				return total, fmt.Errorf("segment larger than the spool (%d bytes)", w.s.limit)
			}
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// toFile moves what was received so far to a file of the segment's own and
// frees the memory.
func (w *Writer[O]) toFile() error {
	path, err := w.s.newPath()
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	if err := writeChunks(f, w.sf.data, w.size); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("spool: %w", err)
	}
	w.s.mu.Lock()
	d := w.sf.data
	w.sf.data = nil
	w.sf.path = path
	w.s.mu.Unlock()
	w.s.recycle(d) // nobody reads a segment still downloading
	w.file = f
	return nil
}

// writeChunks writes the first size bytes held in d to f.
func writeChunks(f *os.File, d *memData, size int64) error {
	for _, c := range d.chunks {
		if size == 0 {
			break
		}
		n := min(size, chunkSize)
		if _, err := f.Write(c.b[:n]); err != nil {
			return err
		}
		size -= n
	}
	return nil
}

// finish closes the file of a segment that went to its own file.
func (w *Writer[O]) finish() error {
	if w.file == nil {
		return nil
	}
	err := w.file.Close()
	w.file = nil
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}

// memReader reads a segment held in memory. An HTTP transport may close a
// request body from another goroutine while it is still being written, so
// the reader's reference to the chunks is dropped only when neither Read nor
// WriteTo is using them: chunks are never recycled under a reader.
type memReader[O any] struct {
	mu      sync.Mutex
	s       *Spool[O]
	d       *memData
	size    int64
	off     int64
	done    bool // closed
	writing bool // a WriteTo is in progress
}

// Read implements io.Reader. It fills p across chunks, so a copy through a
// 32 KiB buffer writes 32 KiB at a time whatever the chunk size.
func (r *memReader[O]) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done || r.writing {
		return 0, os.ErrClosed
	}
	if r.off >= r.size {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && r.off < r.size {
		c := r.d.chunks[r.off/chunkSize].b[r.off%chunkSize:]
		m := copy(p[n:], c[:min(int64(len(c)), r.size-r.off)])
		n += m
		r.off += int64(m)
	}
	return n, nil
}

// WriteTo implements io.WriterTo: io.Copy hands the chunks to w without an
// intermediate buffer.
func (r *memReader[O]) WriteTo(w io.Writer) (int64, error) {
	r.mu.Lock()
	if r.done || r.writing {
		r.mu.Unlock()
		return 0, os.ErrClosed
	}
	r.writing = true
	r.mu.Unlock()
	var total int64
	var err error
	for r.off < r.size {
		c := r.d.chunks[r.off/chunkSize].b[r.off%chunkSize:]
		var n int
		n, err = w.Write(c[:min(int64(len(c)), r.size-r.off)])
		r.off += int64(n)
		total += int64(n)
		if err != nil {
			break
		}
	}
	r.mu.Lock()
	r.writing = false
	if r.done { // closed while writing: drop the reference now
		r.unref()
	}
	r.mu.Unlock()
	return total, err
}

// Close implements io.Closer.
func (r *memReader[O]) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		return nil
	}
	r.done = true
	if !r.writing {
		r.unref()
	}
	return nil
}

// unref drops the reader's reference to its chunks; r.mu is held.
func (r *memReader[O]) unref() {
	r.s.mu.Lock()
	r.d.refs--
	free := r.d.refs == 0 && r.d.dropped
	r.s.mu.Unlock()
	if free {
		r.s.recycle(r.d)
	}
}
