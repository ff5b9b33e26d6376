package shared

import (
	"context"
	"errors"
)

// ErrNoObject is returned by Store.Get for a missing key.
var ErrNoObject = errors.New("no such object")

// Store is the object store behind shared storage. Keys are relative to
// the configured prefix; List returns keys in lexicographic order.
type Store interface {
	Put(ctx context.Context, key string, data []byte) error
	Get(ctx context.Context, key string) ([]byte, error)
	// List returns up to max keys under prefix that sort after startAfter.
	List(ctx context.Context, prefix, startAfter string, max int) ([]string, error)
	Remove(ctx context.Context, key string) error
	Exists(ctx context.Context, key string) (bool, error)
	// String names the store for logs, without credentials.
	String() string
}
