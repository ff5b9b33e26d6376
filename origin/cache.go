package origin

import (
	"container/list"
	"context"
	"sync"
	"sync/atomic"

	"github.com/pullpush/pullpush/origin/internal/media"
)

// product is a packaged file: repackaged or encrypted segment or init
// section, with the keyframes of a video segment.
type product struct {
	data []byte
	kf   *media.Keyframes
}

// packCache is an LRU of products bounded by their total size, with one
// build per key at a time (concurrent requests for the same key wait for
// the first build).
type packCache struct {
	mu       sync.Mutex
	max      int64
	size     int64
	ll       *list.List // front = most recent; values are *cacheEntry
	items    map[string]*list.Element
	inflight map[string]*flight
	// hits counts gets served from the cache (or from a build in flight),
	// misses the gets that built.
	hits, misses atomic.Uint64
}

type cacheEntry struct {
	key string
	p   *product
}

type flight struct {
	done chan struct{}
	p    *product
	err  error
}

func newPackCache(max int64) *packCache {
	return &packCache{max: max, ll: list.New(), items: map[string]*list.Element{}, inflight: map[string]*flight{}}
}

// get returns the product of key, building it with build when it is not
// cached. Errors are not cached.
func (c *packCache) get(ctx context.Context, key string, build func() (*product, error)) (*product, error) {
	c.mu.Lock()
	if el, ok := c.items[key]; ok {
		c.ll.MoveToFront(el)
		p := el.Value.(*cacheEntry).p
		c.mu.Unlock()
		c.hits.Add(1)
		return p, nil
	}
	if f, ok := c.inflight[key]; ok {
		c.mu.Unlock()
		c.hits.Add(1)
		select {
		case <-f.done:
			return f.p, f.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f := &flight{done: make(chan struct{})}
	c.inflight[key] = f
	c.mu.Unlock()
	c.misses.Add(1)

	f.p, f.err = build()

	c.mu.Lock()
	delete(c.inflight, key)
	if f.err == nil {
		c.add(key, f.p)
	}
	c.mu.Unlock()
	close(f.done)
	return f.p, f.err
}

// add inserts p; caller holds c.mu. Products larger than the whole cache
// are not kept.
func (c *packCache) add(key string, p *product) {
	n := int64(len(p.data))
	if n > c.max {
		return
	}
	c.items[key] = c.ll.PushFront(&cacheEntry{key: key, p: p})
	c.size += n
	for c.size > c.max {
		el := c.ll.Back()
		e := el.Value.(*cacheEntry)
		c.ll.Remove(el)
		delete(c.items, e.key)
		c.size -= int64(len(e.p.data))
	}
}

// len returns the number of cached products and their total size.
func (c *packCache) len() (int, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len(), c.size
}
