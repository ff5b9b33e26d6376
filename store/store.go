package store

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/pullpush/pullpush/fetch"
)

// ErrNotFound is returned when a fetcher definition does not exist.
var ErrNotFound = errors.New("fetcher definition not found")

// Fetcher is a stored fetcher definition: everything needed to start it
// again after a restart.
type Fetcher struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	URL    string `json:"url"`
	Output string `json:"output"` // registry name of the output
	// Payload is the output's JSON payload, secrets included.
	Payload     json.RawMessage `json:"payload,omitempty"`
	WindowSize  float64         `json:"windowSize,omitempty"`  // seconds; 0 means the default
	Concurrency int             `json:"concurrency,omitempty"` // 0 means the default
	Created     time.Time       `json:"created"`
}

// Store keeps fetcher definitions and, as a fetch.ProgressStore, each
// fetcher's progress. Implementations are safe for concurrent use.
//
// Progress saved for an id that has no definition is discarded, so a
// fetcher that is still draining after its definition was deleted cannot
// leave orphaned progress behind. DeleteFetcher removes the progress too.
type Store interface {
	fetch.ProgressStore
	// PutFetcher creates or replaces the definition f.ID.
	PutFetcher(ctx context.Context, f Fetcher) error
	// GetFetcher returns one definition, or an error wrapping ErrNotFound.
	GetFetcher(ctx context.Context, id string) (Fetcher, error)
	// DeleteFetcher removes a definition and its progress. Deleting a
	// missing definition is not an error.
	DeleteFetcher(ctx context.Context, id string) error
	// Fetchers returns every definition, oldest first (ties by id).
	Fetchers(ctx context.Context) ([]Fetcher, error)
	// Close releases the backend. The store must not be used afterwards.
	Close() error
}

func validate(f Fetcher) error {
	if f.ID == "" {
		return errors.New("fetcher definition has no id")
	}
	if f.Payload != nil && !json.Valid(f.Payload) {
		return errors.New("fetcher definition payload is not valid JSON")
	}
	return nil
}

func sortFetchers(list []Fetcher) {
	slices.SortFunc(list, func(a, b Fetcher) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}
