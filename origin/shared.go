package origin

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pullpush/pullpush/origin/internal/shared"
)

// Log keys of shared storage.
const (
	logObject   = "object"
	logStorage  = "storage"
	logSnapshot = "snapshot"
	logCount    = "entries"
)

// sharedStore is the runtime of shared storage: the bucket, this
// instance's writer name, the segment cache and the deleter.
type sharedStore struct {
	blob    shared.Store
	cfg     StorageConfig
	writer  string        // unique per instance: last element of its log keys
	n       atomic.Uint64 // makes this writer's keys unique
	cache   *packCache    // segment bytes read from the bucket
	deletes chan string
	log     *slog.Logger
	now     func() time.Time

	mu      sync.Mutex
	replays map[string]*replayState // per channel; used by the replay loop only
}

// deleteQueue bounds the object deletions waiting for the deleter. A full
// queue drops deletions: every instance deletes the same objects, so one
// of them gets it done.
const deleteQueue = 4096

func newSharedStore(blob shared.Store, cfg StorageConfig, log *slog.Logger, now func() time.Time) *sharedStore {
	var b [6]byte
	rand.Read(b[:])
	return &sharedStore{
		blob: blob, cfg: cfg, writer: hex.EncodeToString(b[:]), cache: newPackCache(cfg.CacheBytes),
		deletes: make(chan string, deleteQueue), log: log, now: now, replays: map[string]*replayState{},
	}
}

// forget drops the replay state of a deleted channel.
func (s *sharedStore) forget(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.replays, id)
}

// uniq returns a name unique among this instance's writes.
func (s *sharedStore) uniq() string {
	return fmt.Sprintf("%s-%d", s.writer, s.n.Add(1))
}

// remove queues the deletion of an object released by the index.
func (s *sharedStore) remove(key string) {
	select {
	case s.deletes <- key:
	default:
		s.log.Debug("delete queue full; leaving the object to another instance", logObject, key)
	}
}

// deleter deletes queued objects until ctx ends.
func (s *sharedStore) deleter(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case key := <-s.deletes:
			dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			if err := s.blob.Remove(dctx, key); err != nil {
				s.log.Debug("delete object", logObject, key, logErr, err)
			}
			cancel()
		}
	}
}

// read returns a stored object through the segment cache.
func (s *sharedStore) read(ctx context.Context, key string) ([]byte, error) {
	p, err := s.cache.get(ctx, key, func() (*product, error) {
		data, err := s.blob.Get(ctx, key)
		if err != nil {
			return nil, err
		}
		return &product{data: data}, nil
	})
	if err != nil {
		return nil, err
	}
	return p.data, nil
}

// readStored returns the bytes of a stored file: from the bucket (through
// the cache) on shared storage, else from disk.
func (o *Origin) readStored(ctx context.Context, path string) ([]byte, error) {
	if o.shared != nil {
		return o.shared.read(ctx, path)
	}
	return os.ReadFile(path)
}
