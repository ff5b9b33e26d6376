package fetch

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// spool holds downloaded segments until every target has pushed them.
//
// Segments live in memory, in chunks from the budget's allocator, as long as the fetcher's share
// of the process-wide MemoryBudget allows: in the normal case a segment is
// pushed to every target within a fraction of its duration and never touches
// the disk. Segments that do not fit in memory (a target is down or lagging)
// are written to files under dir. The whole spool is bounded by limit: when a
// new segment does not fit, the oldest spooled segments are evicted (never
// the newest) and the evict callback lets the fetcher account them as gaps on
// the targets that had not pushed them.
type spool struct {
	dir    string
	limit  int64
	budget *MemoryBudget
	memCap int64 // most bytes this spool keeps in memory

	mu     sync.Mutex
	used   int64        // memory and disk
	mem    int64        // memory only
	files  []*spoolFile // in arrival order
	seq    int64
	hasDir bool
}

// spoolFile is one spooled segment: in memory (data != nil) or on disk.
type spoolFile struct {
	size    int64
	owner   *entry
	removed bool
	data    *memData // in memory; nil once on disk or removed
	held    int64    // memory accounted against the budget
	path    string   // on disk
}

// memData is a segment's bytes in pooled chunks. Readers hold references so
// that the chunks go back to the pool only when nobody reads them any more.
type memData struct {
	chunks  []*chunk
	refs    int  // open readers
	dropped bool // the spool no longer needs it
}

// DefaultSpoolMemoryBytes is the default MemoryBudget of a process.
const DefaultSpoolMemoryBytes = 256 << 20

// SpoolMemoryPerFetcher is the most memory one fetcher's spool uses.
const SpoolMemoryPerFetcher = 2 << 20

// MemoryBudget bounds the memory that the spools of many fetchers use for
// segments in flight. Share one among the fetchers of a process (the
// Service does); a fetcher without one gets a private budget of
// SpoolMemoryPerFetcher.
type MemoryBudget struct {
	mu     sync.Mutex
	limit  int64
	used   int64
	chunks chunkAllocator
}

// NewMemoryBudget returns a budget of limit bytes (DefaultSpoolMemoryBytes
// when limit <= 0).
func NewMemoryBudget(limit int64) *MemoryBudget {
	if limit <= 0 {
		limit = DefaultSpoolMemoryBytes
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

func newSpool(dir string, limit int64, budget *MemoryBudget) (*spool, error) {
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("spool: clean %s: %w", dir, err)
	}
	if budget == nil {
		budget = NewMemoryBudget(SpoolMemoryPerFetcher)
	}
	// In the steady state a fetcher holds about one segment per rendition
	// in flight; more means a target is lagging or the initial window is
	// being backfilled, and those segments can wait on disk. The cap also
	// keeps one fetcher with a dead target from taking the memory the
	// others need.
	memCap := min(budget.limit, SpoolMemoryPerFetcher)
	return &spool{dir: dir, limit: limit, budget: budget, memCap: memCap}, nil
}

// segmentWriter receives a segment being downloaded: into memory, moving
// to a file when the segment outgrows what the spool keeps in memory.
type segmentWriter struct {
	s    *spool
	sf   *spoolFile
	size int64
	file *os.File // set once the segment went to disk
}

// create returns a writer for a new segment of e.
func (s *spool) create(e *entry) (*segmentWriter, *spoolFile) {
	sf := &spoolFile{owner: e, data: &memData{}}
	return &segmentWriter{s: s, sf: sf}, sf
}

// ReadFrom reads the whole segment from r.
func (w *segmentWriter) ReadFrom(r io.Reader) (int64, error) {
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
			off := int(w.size % spoolChunk)
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

// toFile moves what was received so far to a new spool file and frees the
// memory.
func (w *segmentWriter) toFile() error {
	path, err := w.s.newPath()
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	size := w.size
	for _, c := range w.sf.data.chunks {
		if size == 0 {
			break
		}
		n := min(size, spoolChunk)
		if _, err := f.Write(c.b[:n]); err != nil {
			f.Close()
			os.Remove(path)
			return fmt.Errorf("spool: %w", err)
		}
		size -= n
	}
	w.s.freeData(w.sf)
	w.file, w.sf.path = f, path
	return nil
}

// finish closes the file of a segment that went to disk.
func (w *segmentWriter) finish() error {
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

// newPath returns the path for a new spool file, creating the directory on
// first use.
func (s *spool) newPath() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.hasDir {
		if err := os.MkdirAll(s.dir, 0o700); err != nil {
			return "", fmt.Errorf("spool: %w", err)
		}
		s.hasDir = true
	}
	s.seq++
	return filepath.Join(s.dir, fmt.Sprintf("%d.seg", s.seq)), nil
}

// commit accounts a completely written segment and returns the entries
// whose segments were evicted to make room (oldest first). A segment that
// does not fit in memory goes to disk; if that fails it is evicted itself.
func (s *spool) commit(sf *spoolFile, w *segmentWriter) []*entry {
	sf.size = w.size
	err := w.finish()
	if err == nil && sf.path == "" {
		s.mu.Lock()
		// Account the memory the chunks take, not the segment's size.
		held := int64(len(sf.data.chunks)) * spoolChunk
		inMemory := s.mem+held <= s.memCap && s.budget.reserve(held)
		if inMemory {
			s.mem += held
			sf.held = held
		}
		s.mu.Unlock()
		if !inMemory {
			err = w.toFile()
			if err == nil {
				err = w.finish()
			}
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		if sf.path != "" {
			os.Remove(sf.path)
		}
		sf.removed = true
		if d := sf.data; d != nil {
			sf.data = nil
			s.recycle(d)
		}
		return []*entry{sf.owner}
	}
	s.used += sf.size
	s.files = append(s.files, sf)
	var evicted []*entry
	for s.used > s.limit && len(s.files) > 1 {
		old := s.files[0]
		s.files = s.files[1:]
		if old.removed {
			continue
		}
		s.removeLocked(old)
		evicted = append(evicted, old.owner)
	}
	s.compact()
	return evicted
}

// freeData drops the memory copy of a segment that was never accounted
// against the budget (it went to disk or was discarded).
func (s *spool) freeData(sf *spoolFile) {
	s.mu.Lock()
	d := sf.data
	sf.data = nil
	s.mu.Unlock()
	if d != nil {
		s.drop(d)
	}
}

// drop marks d unneeded and recycles its chunks once no reader holds it.
func (s *spool) drop(d *memData) {
	s.mu.Lock()
	d.dropped = true
	free := d.refs == 0
	s.mu.Unlock()
	if free {
		s.recycle(d)
	}
}

// recycle returns d's chunks to the allocator.
func (s *spool) recycle(d *memData) {
	for _, c := range d.chunks {
		s.budget.chunks.put(c)
	}
	d.chunks = nil
}

// removeLocked deletes a spooled segment; s.mu is held.
func (s *spool) removeLocked(sf *spoolFile) {
	sf.removed = true
	s.used -= sf.size
	if d := sf.data; d != nil {
		sf.data = nil
		s.mem -= sf.held
		s.budget.release(sf.held)
		d.dropped = true
		if d.refs == 0 {
			s.recycle(d)
		}
	}
	if sf.path != "" {
		os.Remove(sf.path)
	}
}

// release deletes a segment once no target needs it any more.
func (s *spool) release(sf *spoolFile) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sf.removed {
		return
	}
	s.removeLocked(sf)
	s.compact()
}

// discard drops a segment that was never committed.
func (s *spool) discard(w *segmentWriter) {
	w.finish()
	if w.sf.path != "" {
		os.Remove(w.sf.path)
	}
	s.freeData(w.sf)
}

func (s *spool) compact() {
	i := 0
	for i < len(s.files) && s.files[i].removed {
		i++
	}
	if i > 0 {
		s.files = append(s.files[:0], s.files[i:]...)
	}
}

func (s *spool) usedBytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.used
}

// open opens a spooled segment for reading.
func (s *spool) open(sf *spoolFile) (io.ReadCloser, error) {
	s.mu.Lock()
	if sf.removed {
		s.mu.Unlock()
		return nil, errors.New("spool: segment was evicted")
	}
	if d := sf.data; d != nil {
		d.refs++
		s.mu.Unlock()
		return &memReader{s: s, d: d, size: sf.size}, nil
	}
	path := sf.path
	s.mu.Unlock()
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	return f, nil
}

// memReader reads a segment held in memory. An HTTP transport may close a
// request body from another goroutine while it is still being written, so
// the reader's reference to the chunks is dropped only when neither Read nor
// WriteTo is using them: chunks are never recycled under a reader.
type memReader struct {
	mu      sync.Mutex
	s       *spool
	d       *memData
	size    int64
	off     int64
	done    bool // closed
	writing bool // a WriteTo is in progress
}

// Read implements io.Reader.
func (r *memReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done || r.writing {
		return 0, os.ErrClosed
	}
	if r.off >= r.size {
		return 0, io.EOF
	}
	c := r.d.chunks[r.off/spoolChunk].b[r.off%spoolChunk:]
	n := copy(p, c[:min(int64(len(c)), r.size-r.off)])
	r.off += int64(n)
	return n, nil
}

// WriteTo implements io.WriterTo: io.Copy hands the chunks to w without
// the 32 KiB buffer it would otherwise allocate per upload.
func (r *memReader) WriteTo(w io.Writer) (int64, error) {
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
		c := r.d.chunks[r.off/spoolChunk].b[r.off%spoolChunk:]
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
func (r *memReader) Close() error {
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
func (r *memReader) unref() {
	r.s.mu.Lock()
	r.d.refs--
	free := r.d.refs == 0 && r.d.dropped
	r.s.mu.Unlock()
	if free {
		r.s.recycle(r.d)
	}
}

// close drops everything still spooled.
func (s *spool) close() {
	s.mu.Lock()
	for _, sf := range s.files {
		if !sf.removed {
			s.removeLocked(sf)
		}
	}
	s.files = nil
	s.mu.Unlock()
	os.RemoveAll(s.dir)
}
