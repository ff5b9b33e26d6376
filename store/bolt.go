package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// FileName is the database file created under the data directory.
const FileName = "pullpush.db"

// schemaVersion is written to the meta bucket; a database written by a newer
// version is refused rather than misread.
const schemaVersion = 1

var (
	bucketMeta     = []byte("meta")
	bucketFetchers = []byte("fetchers")
	bucketProgress = []byte("progress")
	keyVersion     = []byte("schemaVersion")
)

// Bolt is the default Store: a bbolt database file under the data
// directory. The file is created with mode 0600 (a definition holds the
// output's secrets) and a directory it creates gets mode 0700.
type Bolt struct {
	db   *bolt.DB
	path string
}

var _ Store = (*Bolt)(nil)

// progressBatchDelay is how long a progress save may wait for others to
// share its transaction.
const progressBatchDelay = 40 * time.Millisecond

// OpenBolt opens or creates the database dir/pullpush.db. It fails after a
// second when another process holds the database.

func OpenBolt(dir string) (*Bolt, error) {
	if dir == "" {
		return nil, errors.New("open store: no data directory")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	path := filepath.Join(dir, FileName)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("open store %s: database is in use by another process: %w", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	// Progress saves of all fetchers are grouped into one transaction (two
	// fsyncs) per window: 40 ms rather than bbolt's 10 ms cuts the commits
	// of a thousand fetchers fivefold, and a fetcher's saves are off the
	// upload path except when it catches up on a backlog.
	db.MaxBatchDelay = progressBatchDelay
	// bbolt applies the mode only when it creates the file: tighten a file
	// that was created or copied with a looser one.
	if err := os.Chmod(path, 0o600); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		if v := meta.Get(keyVersion); v != nil {
			var n int
			if err := json.Unmarshal(v, &n); err != nil {
				return fmt.Errorf("bad schema version %q: %w", v, err)
			}
			if n > schemaVersion {
				return fmt.Errorf("database schema version %d is newer than this program's %d", n, schemaVersion)
			}
		} else if err := meta.Put(keyVersion, []byte(fmt.Sprint(schemaVersion))); err != nil {
			return err
		}
		for _, b := range [][]byte{bucketFetchers, bucketProgress} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return &Bolt{db: db, path: path}, nil
}

// Path returns the database file's path.
func (b *Bolt) Path() string { return b.path }

// PutFetcher implements Store.
func (b *Bolt) PutFetcher(ctx context.Context, f Fetcher) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := validate(f); err != nil {
		return err
	}
	data, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("put fetcher %s: %w", f.ID, err)
	}
	err = b.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketFetchers).Put([]byte(f.ID), data)
	})
	if err != nil {
		return fmt.Errorf("put fetcher %s: %w", f.ID, err)
	}
	return nil
}

// GetFetcher implements Store.
func (b *Bolt) GetFetcher(ctx context.Context, id string) (Fetcher, error) {
	if err := ctx.Err(); err != nil {
		return Fetcher{}, err
	}
	var f Fetcher
	err := b.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketFetchers).Get([]byte(id))
		if v == nil {
			return fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		return json.Unmarshal(v, &f)
	})
	if err != nil {
		return Fetcher{}, fmt.Errorf("get fetcher %s: %w", id, err)
	}
	return f, nil
}

// DeleteFetcher implements Store.
func (b *Bolt) DeleteFetcher(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := b.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketFetchers).Delete([]byte(id)); err != nil {
			return err
		}
		return tx.Bucket(bucketProgress).Delete([]byte(id))
	})
	if err != nil {
		return fmt.Errorf("delete fetcher %s: %w", id, err)
	}
	return nil
}

// Fetchers implements Store.
func (b *Bolt) Fetchers(ctx context.Context) ([]Fetcher, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var list []Fetcher
	err := b.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketFetchers).ForEach(func(k, v []byte) error {
			var f Fetcher
			if err := json.Unmarshal(v, &f); err != nil {
				return fmt.Errorf("fetcher %s: %w", k, err)
			}
			list = append(list, f)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list fetchers: %w", err)
	}
	sortFetchers(list)
	return list, nil
}

// LoadProgress implements fetch.ProgressStore.
func (b *Bolt) LoadProgress(id string) ([]byte, error) {
	var data []byte
	err := b.db.View(func(tx *bolt.Tx) error {
		data = bytes.Clone(tx.Bucket(bucketProgress).Get([]byte(id)))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load progress %s: %w", id, err)
	}
	return data, nil
}

// SaveProgress implements fetch.ProgressStore. Concurrent saves are
// batched into one transaction. Progress of an id without a definition is
// discarded.
func (b *Bolt) SaveProgress(id string, data []byte) error {
	data = bytes.Clone(data)
	err := b.db.Batch(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketFetchers).Get([]byte(id)) == nil {
			return nil
		}
		return tx.Bucket(bucketProgress).Put([]byte(id), data)
	})
	if err != nil {
		return fmt.Errorf("save progress %s: %w", id, err)
	}
	return nil
}

// Close implements Store.
func (b *Bolt) Close() error {
	if err := b.db.Close(); err != nil {
		return fmt.Errorf("close store %s: %w", b.path, err)
	}
	return nil
}
