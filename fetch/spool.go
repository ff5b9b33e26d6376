package fetch

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// spool holds downloaded segments on disk until every target has pushed
// them. It is bounded: when a new segment does not fit, the oldest spooled
// segments are evicted (never the newest) and the evict callback lets the
// fetcher account them as gaps on the targets that had not pushed them.
type spool struct {
	dir   string
	limit int64

	mu    sync.Mutex
	used  int64
	files []*spoolFile // in arrival order
	seq   int64
}

type spoolFile struct {
	path    string
	size    int64
	owner   *entry
	removed bool
}

func newSpool(dir string, limit int64) (*spool, error) {
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("spool: clean %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	return &spool{dir: dir, limit: limit}, nil
}

// create returns a new empty spool file for e.
func (s *spool) create(e *entry) (*os.File, *spoolFile, error) {
	s.mu.Lock()
	s.seq++
	name := filepath.Join(s.dir, fmt.Sprintf("%d.seg", s.seq))
	s.mu.Unlock()
	f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("spool: %w", err)
	}
	return f, &spoolFile{path: name, owner: e}, nil
}

// commit accounts a completely written file and returns the entries whose
// files were evicted to make room (oldest first).
func (s *spool) commit(sf *spoolFile, size int64) []*entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	sf.size = size
	s.used += size
	s.files = append(s.files, sf)
	var evicted []*entry
	for s.used > s.limit && len(s.files) > 1 {
		old := s.files[0]
		s.files = s.files[1:]
		if old.removed {
			continue
		}
		old.removed = true
		s.used -= old.size
		os.Remove(old.path)
		evicted = append(evicted, old.owner)
	}
	s.compact()
	return evicted
}

// release deletes a file once no target needs it any more.
func (s *spool) release(sf *spoolFile) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sf.removed {
		return
	}
	sf.removed = true
	s.used -= sf.size
	os.Remove(sf.path)
	s.compact()
}

// discard removes a file that was never committed.
func (s *spool) discard(sf *spoolFile) { os.Remove(sf.path) }

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

// open opens a spooled file for reading.
func (sf *spoolFile) open() (io.ReadCloser, error) {
	f, err := os.Open(sf.path)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	return f, nil
}

func (s *spool) close() { os.RemoveAll(s.dir) }
