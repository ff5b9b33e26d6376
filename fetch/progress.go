package fetch

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"

	"github.com/pullpush/pullpush/internal/logkey"
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
//
// Saves are numbered: a target pushes a segment only once a save that
// began after its previous segment was done has completed (waitSaved), so
// after a crash the saved Pushed lags the destination by at most the
// upload that was in flight.
type saver struct {
	f       *Fetcher
	mu      sync.Mutex
	dirty   bool
	stopped bool
	wake    chan struct{}

	started   atomic.Int64 // saves begun (snapshot taken after the increment)
	completed atomic.Int64 // number of the last save finished, written or failed
	saved     notifier     // notified after each finished save
}

func newSaver(f *Fetcher) *saver {
	return &saver{f: f, wake: make(chan struct{}, 1)}
}

// nextGen returns the number of the first save that will begin from now
// on; 0 when nothing is persisted.
func (s *saver) nextGen() int64 {
	if s == nil || s.f.cfg.Progress == nil {
		return 0
	}
	return s.started.Load() + 1
}

// waitSaved waits until save gen has finished; false when ctx ended first.
func (s *saver) waitSaved(ctx context.Context, gen int64) bool {
	if s == nil || s.f.cfg.Progress == nil {
		return true
	}
	for {
		ch := s.saved.wait()
		if s.completed.Load() >= gen {
			return true
		}
		s.request()
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		}
	}
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
	gen := s.started.Add(1)
	defer func() {
		s.completed.Store(gen)
		s.saved.notify()
	}()
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
		f.log.Error("save progress", logkey.Err, err)
		f.recordError(err)
	}
}
