package fetch

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// spool holds downloaded segments until every target has pushed them.
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
// newest) and the evict callback lets the fetcher account them as gaps on
// the targets that had not pushed them.
type spool struct {
	dir    string
	limit  int64
	budget *MemoryBudget
	memCap int64 // most bytes this spool keeps in memory

	logMu sync.Mutex // serialises appends to the current log file

	mu     sync.Mutex
	used   int64        // memory and disk
	mem    int64        // memory only
	files  []*spoolFile // in arrival order
	seq    int64        // names of files
	hasDir bool
	cur    *logFile // log file being appended to
}

// spoolFile is one spooled segment, in memory (data), in a log file (log)
// or in a file of its own (path).
type spoolFile struct {
	size    int64
	owner   *entry
	removed bool
	data    *memData // in memory; nil otherwise
	held    int64    // memory accounted against the budget
	log     *logFile // in a log file at off
	off     int64
	path    string // in a file of its own
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

// create returns a writer for a new segment of e.
func (s *spool) create(e *entry) (*segmentWriter, *spoolFile) {
	sf := &spoolFile{owner: e, data: &memData{}}
	return &segmentWriter{s: s, sf: sf}, sf
}

// commit accounts a completely written segment and returns the entries
// whose segments were evicted to make room (oldest first). A segment that
// does not fit in memory goes to a log file; if that fails it is evicted
// itself.
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
			err = s.appendLog(sf)
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		sf.removed = true
		s.dropStorageLocked(sf)
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

// removeLocked deletes a spooled segment; s.mu is held.
func (s *spool) removeLocked(sf *spoolFile) {
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
func (s *spool) dropStorageLocked(sf *spoolFile) {
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
	s.mu.Lock()
	s.dropStorageLocked(w.sf)
	s.mu.Unlock()
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
	if lf := sf.log; lf != nil {
		lf.refs++
		s.mu.Unlock()
		return &logReader{SectionReader: io.NewSectionReader(lf.f, sf.off, sf.size), s: s, lf: lf}, nil
	}
	path := sf.path
	s.mu.Unlock()
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	return f, nil
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
	if lf := s.cur; lf != nil {
		s.cur = nil
		lf.sealed = true
		s.maybeRemoveLogLocked(lf)
	}
	s.mu.Unlock()
	os.RemoveAll(s.dir)
}
