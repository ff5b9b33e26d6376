// Package spool holds downloaded segments until every target of a fetcher
// has pushed them: in memory chunks under a process-wide MemoryBudget
// (outside the Go heap on Linux), spilling to a few large log files on
// disk, within a bound past which the oldest segments are evicted.
//
// A Spool is generic over the owner of its segments (the fetcher's entry),
// which Commit hands back for the segments it evicted.
package spool

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// Spool holds downloaded segments until every target has pushed them.
//
// Segments live in memory, in chunks from the budget's allocator, as long
// as the fetcher's share of the process-wide MemoryBudget allows: in the
// normal case a segment is pushed to every target within a fraction of its
// duration and never touches the disk. Segments that do not fit in memory
// (a target is down or lagging, the initial window is being backfilled) are
// appended to log files under dir, a few large files rather than one per
// segment; a segment larger than the memory cap streams to a file of its
// own while it downloads. The whole spool is bounded by limit: when a new
// segment does not fit, the oldest spooled segments are evicted (never the
// newest) and Commit returns their owners, so that the fetcher accounts
// them as gaps on the targets that had not pushed them.
type Spool[O any] struct {
	dir    string
	limit  int64
	budget *MemoryBudget
	memCap int64 // most bytes this spool keeps in memory

	logMu sync.Mutex // serialises appends to the current log file

	mu     sync.Mutex
	used   int64      // memory and disk
	mem    int64      // memory only
	files  []*File[O] // in arrival order
	seq    int64      // names of files
	hasDir bool
	cur    *logFile // log file being appended to
}

// File is one spooled segment, in memory (data), in a log file (log) or
// in a file of its own (path).
type File[O any] struct {
	size    int64
	owner   O
	removed bool
	data    *memData // in memory; nil otherwise
	held    int64    // memory accounted against the budget
	log     *logFile // in a log file at off
	off     int64
	path    string // in a file of its own
}

// Size is the segment's length in bytes, known once it is committed.
func (f *File[O]) Size() int64 { return f.size }

// New returns an empty spool of at most limit bytes whose files go under
// dir (removed first, created on first use), holding memory from budget (a
// private budget of MemoryPerFetcher when nil).
func New[O any](dir string, limit int64, budget *MemoryBudget) (*Spool[O], error) {
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("spool: clean %s: %w", dir, err)
	}
	if budget == nil {
		budget = NewMemoryBudget(MemoryPerFetcher)
	}
	// In the steady state a fetcher holds about one segment per rendition
	// in flight; more means a target is lagging or the initial window is
	// being backfilled, and those segments can wait on disk. The cap also
	// keeps one fetcher with a dead target from taking the memory the
	// others need.
	memCap := min(budget.limit, MemoryPerFetcher)
	return &Spool[O]{dir: dir, limit: limit, budget: budget, memCap: memCap}, nil
}

// Create returns a writer for a new segment of owner, and its file.
func (s *Spool[O]) Create(owner O) (*Writer[O], *File[O]) {
	sf := &File[O]{owner: owner, data: &memData{}}
	return &Writer[O]{s: s, sf: sf}, sf
}

// Commit accounts a completely written segment and returns the entries
// whose segments were evicted to make room (oldest first). A segment that
// does not fit in memory goes to a log file; if that fails it is evicted
// itself.
func (s *Spool[O]) Commit(sf *File[O], w *Writer[O]) []O {
	sf.size = w.size
	err := w.finish()
	if err == nil && sf.path == "" {
		s.mu.Lock()
		// Account the memory the chunks take, not the segment's size.
		held := int64(len(sf.data.chunks)) * chunkSize
		inMemory := s.mem+held <= s.memCap && s.budget.reserve(held)
		if inMemory {
			s.mem += held
			sf.held = held
		}
		s.mu.Unlock()
		if !inMemory {
			err = s.appendLog(sf)
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		sf.removed = true
		s.dropStorageLocked(sf)
		return []O{sf.owner}
	}
	s.used += sf.size
	s.files = append(s.files, sf)
	var evicted []O
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

// removeLocked deletes a spooled segment; s.mu is held.
func (s *Spool[O]) removeLocked(sf *File[O]) {
	sf.removed = true
	s.used -= sf.size
	if sf.held > 0 {
		s.mem -= sf.held
		s.budget.release(sf.held)
		sf.held = 0
	}
	s.dropStorageLocked(sf)
}

// dropStorageLocked frees whatever holds sf's bytes; s.mu is held.
func (s *Spool[O]) dropStorageLocked(sf *File[O]) {
	if d := sf.data; d != nil {
		sf.data = nil
		d.dropped = true
		if d.refs == 0 {
			s.recycle(d)
		}
	}
	if lf := sf.log; lf != nil {
		sf.log = nil
		lf.live--
		s.maybeRemoveLogLocked(lf)
	}
	if sf.path != "" {
		os.Remove(sf.path)
		sf.path = ""
	}
}

// Release deletes a segment once no target needs it any more.
func (s *Spool[O]) Release(sf *File[O]) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sf.removed {
		return
	}
	s.removeLocked(sf)
	s.compact()
}

// Discard drops a segment that was never committed.
func (s *Spool[O]) Discard(w *Writer[O]) {
	w.finish()
	s.mu.Lock()
	s.dropStorageLocked(w.sf)
	s.mu.Unlock()
}

func (s *Spool[O]) compact() {
	i := 0
	for i < len(s.files) && s.files[i].removed {
		i++
	}
	if i > 0 {
		s.files = append(s.files[:0], s.files[i:]...)
	}
}

// Used reports the bytes spooled, in memory and on disk.
func (s *Spool[O]) Used() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.used
}

// Open opens a spooled segment for reading. It fails once the segment was
// evicted; a reader keeps its bytes readable until it is closed.
func (s *Spool[O]) Open(sf *File[O]) (io.ReadCloser, error) {
	s.mu.Lock()
	if sf.removed {
		s.mu.Unlock()
		return nil, errors.New("spool: segment was evicted")
	}
	if d := sf.data; d != nil {
		d.refs++
		s.mu.Unlock()
		return &memReader[O]{s: s, d: d, size: sf.size}, nil
	}
	if lf := sf.log; lf != nil {
		lf.refs++
		s.mu.Unlock()
		return &logReader[O]{SectionReader: io.NewSectionReader(lf.f, sf.off, sf.size), s: s, lf: lf}, nil
	}
	path := sf.path
	s.mu.Unlock()
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	return f, nil
}

// Close drops everything still spooled and removes the spool directory.
func (s *Spool[O]) Close() {
	s.mu.Lock()
	for _, sf := range s.files {
		if !sf.removed {
			s.removeLocked(sf)
		}
	}
	s.files = nil
	if lf := s.cur; lf != nil {
		s.cur = nil
		lf.sealed = true
		s.maybeRemoveLogLocked(lf)
	}
	s.mu.Unlock()
	os.RemoveAll(s.dir)
}
