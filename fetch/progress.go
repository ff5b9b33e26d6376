package fetch

import (
	"encoding/json"
	"sync"
)

// progressDoc is the persisted progress of a fetcher: per rendition the
// mapping from source to output sequence numbers and how far each target
// got, so a restarted fetcher neither re-pushes nor reuses names.
type progressDoc struct {
	Version    int                           `json:"version"`
	Renditions map[string]*renditionProgress `json:"renditions"`
}

type renditionProgress struct {
	Offset  int64                      `json:"offset"`  // output seq = source msn + offset
	NextSeq int64                      `json:"nextSeq"` // next output seq to assign
	HeadSrc int64                      `json:"headSrc"` // source msn of the newest segment seen
	HeadURI string                     `json:"headUri,omitempty"`
	Targets map[string]*targetProgress `json:"targets"`
}

type targetProgress struct {
	Pushed  int64 `json:"pushed"`  // last output seq pushed (all before it too)
	DiscSeq int64 `json:"discSeq"` // discontinuities up to and including Pushed
}

// saver persists progress with group commit: any number of requests made
// while a save runs are covered by the next one.
type saver struct {
	f       *Fetcher
	mu      sync.Mutex
	dirty   bool
	stopped bool
	wake    chan struct{}
}

func newSaver(f *Fetcher) *saver {
	return &saver{f: f, wake: make(chan struct{}, 1)}
}

func (s *saver) request() {
	if s == nil || s.f.cfg.Progress == nil {
		return
	}
	s.mu.Lock()
	s.dirty = true
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *saver) run() {
	for range s.wake {
		s.mu.Lock()
		dirty, stopped := s.dirty, s.stopped
		s.dirty = false
		s.mu.Unlock()
		if dirty {
			s.saveNow()
		}
		if stopped {
			return
		}
	}
}

func (s *saver) stop() {
	s.mu.Lock()
	s.stopped = true
	s.dirty = s.f.cfg.Progress != nil
	s.mu.Unlock()
	if s.f.cfg.Progress == nil {
		close(s.wake)
		return
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *saver) saveNow() {
	f := s.f
	if f.cfg.Progress == nil {
		return
	}
	doc := progressDoc{Version: 1, Renditions: map[string]*renditionProgress{}}
	f.mu.Lock()
	rs := f.renditions
	f.mu.Unlock()
	for _, r := range rs {
		doc.Renditions[r.name] = r.progress()
	}
	data, err := json.Marshal(&doc)
	if err != nil {
		return
	}
	if err := f.cfg.Progress.SaveProgress(f.cfg.ID, data); err != nil {
		f.log.Error("save progress", "err", err)
		f.recordError(err)
	}
}
