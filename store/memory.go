package store

import (
	"bytes"
	"context"
	"fmt"
	"sync"
)

// Memory is a Store that keeps everything in memory; nothing survives the
// process. It serves tests and embedders that need no persistence.
type Memory struct {
	mu       sync.Mutex
	fetchers map[string]Fetcher
	progress map[string][]byte
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{fetchers: make(map[string]Fetcher), progress: make(map[string][]byte)}
}

// PutFetcher implements Store.
func (m *Memory) PutFetcher(ctx context.Context, f Fetcher) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := validate(f); err != nil {
		return err
	}
	f.Payload = bytes.Clone(f.Payload)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fetchers[f.ID] = f
	return nil
}

// GetFetcher implements Store.
func (m *Memory) GetFetcher(ctx context.Context, id string) (Fetcher, error) {
	if err := ctx.Err(); err != nil {
		return Fetcher{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.fetchers[id]
	if !ok {
		return Fetcher{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	f.Payload = bytes.Clone(f.Payload)
	return f, nil
}

// DeleteFetcher implements Store.
func (m *Memory) DeleteFetcher(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.fetchers, id)
	delete(m.progress, id)
	return nil
}

// Fetchers implements Store.
func (m *Memory) Fetchers(ctx context.Context) ([]Fetcher, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	list := make([]Fetcher, 0, len(m.fetchers))
	for _, f := range m.fetchers {
		f.Payload = bytes.Clone(f.Payload)
		list = append(list, f)
	}
	m.mu.Unlock()
	sortFetchers(list)
	return list, nil
}

// LoadProgress implements fetch.ProgressStore.
func (m *Memory) LoadProgress(id string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return bytes.Clone(m.progress[id]), nil
}

// SaveProgress implements fetch.ProgressStore. Progress of an id without a
// definition is discarded.
func (m *Memory) SaveProgress(id string, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.fetchers[id]; !ok {
		return nil
	}
	m.progress[id] = bytes.Clone(data)
	return nil
}

// Close implements Store.
func (m *Memory) Close() error { return nil }
