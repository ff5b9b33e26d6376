package spool

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// logRoll is the size at which a spool log file stops taking segments; it
// is deleted once every segment in it is gone.
const logRoll = 64 << 20

// logFile is an append-only spool file holding many segments.
type logFile struct {
	f      *os.File
	path   string
	size   int64 // bytes appended
	live   int   // segments in it not yet released or evicted
	refs   int   // open readers
	sealed bool  // takes no more segments
	// appending is set while a segment is written to it, so that it is not
	// deleted under the writer when its last other segment goes.
	appending bool
}

// newPath returns the path for a new spool file, creating the directory on
// first use.
func (s *Spool[O]) newPath() (string, error) {
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

// appendLog moves a segment held in memory to the current log file.
func (s *Spool[O]) appendLog(sf *File[O]) error {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	s.mu.Lock()
	lf := s.cur
	if lf != nil && lf.size < logRoll {
		lf.appending = true
	} else {
		lf = nil
	}
	s.mu.Unlock()
	if lf == nil {
		path, err := s.newPath()
		if err != nil {
			return err
		}
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
		if err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		lf = &logFile{f: f, path: path, appending: true}
		s.mu.Lock()
		if old := s.cur; old != nil {
			old.sealed = true
			s.maybeRemoveLogLocked(old)
		}
		s.cur = lf
		s.mu.Unlock()
	}
	off := lf.size
	err := writeChunks(lf.f, sf.data, sf.size)
	if err != nil {
		// Later appends start after whatever part of this one was written.
		if end, serr := lf.f.Seek(0, io.SeekEnd); serr == nil {
			lf.size = end
		}
	}
	s.mu.Lock()
	lf.appending = false
	if err != nil {
		s.maybeRemoveLogLocked(lf)
		s.mu.Unlock()
		return fmt.Errorf("spool: %w", err)
	}
	lf.size += sf.size
	lf.live++
	d := sf.data
	sf.data, sf.log, sf.off = nil, lf, off
	s.mu.Unlock()
	s.recycle(d) // nobody reads a segment before it is committed
	return nil
}

// maybeRemoveLogLocked deletes a log file nothing needs any more, the
// current one included (an empty log is not worth its disk space; the next
// append starts a new one); s.mu is held.
func (s *Spool[O]) maybeRemoveLogLocked(lf *logFile) {
	if lf.live > 0 || lf.refs > 0 || lf.appending || lf.f == nil {
		return
	}
	if lf == s.cur {
		s.cur = nil
	}
	lf.f.Close()
	lf.f = nil
	os.Remove(lf.path)
}

// logReader reads a segment from a log file and keeps the file open while
// it does.
type logReader[O any] struct {
	*io.SectionReader
	s    *Spool[O]
	lf   *logFile
	done bool
}

// Close implements io.Closer.
func (r *logReader[O]) Close() error {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if r.done {
		return nil
	}
	r.done = true
	r.lf.refs--
	r.s.maybeRemoveLogLocked(r.lf)
	return nil
}
