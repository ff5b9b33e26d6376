package origin

import (
	"context"
	"errors"
)

// errNoObject is returned by blobStore.get for a missing key.
var errNoObject = errors.New("no such object")

// blobStore is the object store behind shared storage. Keys are relative to
// the configured prefix; list returns keys in lexicographic order.
type blobStore interface {
	put(ctx context.Context, key string, data []byte) error
	get(ctx context.Context, key string) ([]byte, error)
	// list returns up to max keys under prefix that sort after startAfter.
	list(ctx context.Context, prefix, startAfter string, max int) ([]string, error)
	remove(ctx context.Context, key string) error
	exists(ctx context.Context, key string) (bool, error)
	// String names the store for logs, without credentials.
	String() string
}
