package natskv

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pullpush/pullpush/store"
)

// Defaults.
const (
	DefaultPrefix  = "pullpush"
	DefaultTimeout = 5 * time.Second
)

// ErrConflict is returned by SaveProgressAt when the progress record is no
// longer at the expected revision: another writer got there first.
var ErrConflict = errors.New("progress record changed by another writer")

// Options configure Open. The zero value works.
type Options struct {
	// Prefix starts every bucket name (default DefaultPrefix). Letters,
	// digits, '-' and '_' only. Several clusters may share one NATS server
	// with different prefixes.
	Prefix string
	// Replicas of each bucket in a clustered JetStream (default 1).
	Replicas int
	// Timeout bounds the calls that take no context (LoadProgress,
	// SaveProgress); default DefaultTimeout.
	Timeout time.Duration
}

// Store is a store.Store on JetStream key-value buckets. It is safe for
// concurrent use and across processes.
type Store struct {
	defs, progress jetstream.KeyValue
	timeout        time.Duration
}

var _ store.Store = (*Store)(nil)

// progressRecord is the value of a progress key.
type progressRecord struct {
	// Owner is the instance that wrote the record (cluster mode), empty
	// for plain SaveProgress.
	Owner string `json:"owner,omitempty"`
	// Data is the fetcher's progress document when it is JSON (always, for
	// the fetch engine), else Raw holds it.
	Data json.RawMessage `json:"data,omitempty"`
	Raw  []byte          `json:"raw,omitempty"`
}

// BucketName returns the name of a bucket of this package or of the
// cluster package: prefix + "_" + what.
func BucketName(prefix, what string) string { return prefix + "_" + what }

// ValidPrefix reports whether p can start bucket names.
func ValidPrefix(p string) bool {
	if p == "" || len(p) > 64 {
		return false
	}
	for _, r := range p {
		if !isKeyRune(r) {
			return false
		}
	}
	return true
}

func isKeyRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_'
}

// Key returns the bucket key of a fetcher id.
func Key(id string) string {
	plain := id != ""
	for _, r := range id {
		if !isKeyRune(r) {
			plain = false
			break
		}
	}
	if plain {
		return id
	}
	return "=" + base64.RawURLEncoding.EncodeToString([]byte(id))
}

// ID returns the fetcher id of a bucket key (the inverse of Key).
func ID(key string) (string, error) {
	if enc, ok := strings.CutPrefix(key, "="); ok {
		b, err := base64.RawURLEncoding.DecodeString(enc)
		if err != nil {
			return "", fmt.Errorf("bad key %q: %w", key, err)
		}
		return string(b), nil
	}
	return key, nil
}

// EnsureBucket creates the bucket of cfg, or opens it when it exists with
// the same TTL. A bucket that exists with another TTL is an error naming
// both values, since the instances of a cluster must agree on it.
func EnsureBucket(ctx context.Context, js jetstream.JetStream, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	kv, err := js.CreateKeyValue(ctx, cfg)
	if err == nil {
		return kv, nil
	}
	if errors.Is(err, jetstream.ErrLimitMarkerTTLNotSupported) {
		// Servers before 2.11: no expiry markers; callers that care
		// notice expiry by other means.
		cfg.LimitMarkerTTL = 0
		return EnsureBucket(ctx, js, cfg)
	}
	if !errors.Is(err, jetstream.ErrBucketExists) && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return nil, fmt.Errorf("bucket %s: %w", cfg.Bucket, err)
	}
	kv, gerr := js.KeyValue(ctx, cfg.Bucket)
	if gerr != nil {
		return nil, fmt.Errorf("bucket %s: %w", cfg.Bucket, err)
	}
	st, serr := kv.Status(ctx)
	if serr != nil {
		return nil, fmt.Errorf("bucket %s: %w", cfg.Bucket, serr)
	}
	if st.TTL() != cfg.TTL {
		return nil, fmt.Errorf("bucket %s exists with TTL %s, this instance wants %s: every instance of a cluster needs the same setting (or delete the bucket)",
			cfg.Bucket, st.TTL(), cfg.TTL)
	}
	return kv, nil
}

// Open creates or opens the buckets of a store.
func Open(ctx context.Context, js jetstream.JetStream, opts Options) (*Store, error) {
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if !ValidPrefix(opts.Prefix) {
		return nil, fmt.Errorf("open store: bucket prefix %q: use letters, digits, '-' and '_' (at most 64)", opts.Prefix)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	defs, err := EnsureBucket(ctx, js, jetstream.KeyValueConfig{
		Bucket: BucketName(opts.Prefix, "fetchers"), Description: "pullpush fetcher definitions (hold output secrets)",
		History: 1, Replicas: opts.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	progress, err := EnsureBucket(ctx, js, jetstream.KeyValueConfig{
		Bucket: BucketName(opts.Prefix, "progress"), Description: "pullpush fetcher progress",
		History: 1, Replicas: opts.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return &Store{defs: defs, progress: progress, timeout: opts.Timeout}, nil
}

func validate(f store.Fetcher) error {
	if f.ID == "" {
		return errors.New("fetcher definition has no id")
	}
	if f.Payload != nil && !json.Valid(f.Payload) {
		return errors.New("fetcher definition payload is not valid JSON")
	}
	return nil
}

// PutFetcher implements store.Store.
func (s *Store) PutFetcher(ctx context.Context, f store.Fetcher) error {
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
	if _, err := s.defs.Put(ctx, Key(f.ID), data); err != nil {
		return fmt.Errorf("put fetcher %s: %w", f.ID, err)
	}
	return nil
}

// GetFetcher implements store.Store.
func (s *Store) GetFetcher(ctx context.Context, id string) (store.Fetcher, error) {
	if err := ctx.Err(); err != nil {
		return store.Fetcher{}, err
	}
	e, err := s.defs.Get(ctx, Key(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return store.Fetcher{}, fmt.Errorf("get fetcher %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Fetcher{}, fmt.Errorf("get fetcher %s: %w", id, err)
	}
	var f store.Fetcher
	if err := json.Unmarshal(e.Value(), &f); err != nil {
		return store.Fetcher{}, fmt.Errorf("get fetcher %s: %w", id, err)
	}
	return f, nil
}

// DeleteFetcher implements store.Store: the definition first, then the
// progress, so that a save racing with the delete is discarded.
func (s *Store) DeleteFetcher(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.defs.Delete(ctx, Key(id)); err != nil {
		return fmt.Errorf("delete fetcher %s: %w", id, err)
	}
	if err := s.progress.Delete(ctx, Key(id)); err != nil {
		return fmt.Errorf("delete fetcher %s progress: %w", id, err)
	}
	return nil
}

// Fetchers implements store.Store. It reads the bucket with one watcher
// (a snapshot of the latest values), not one request per key.
func (s *Store) Fetchers(ctx context.Context) ([]store.Fetcher, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	w, err := s.defs.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("list fetchers: %w", err)
	}
	defer w.Stop()
	var list []store.Fetcher
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("list fetchers: %w", ctx.Err())
		case e, ok := <-w.Updates():
			if !ok {
				return nil, errors.New("list fetchers: watcher closed")
			}
			if e == nil {
				sortFetchers(list)
				return list, nil
			}
			var f store.Fetcher
			if err := json.Unmarshal(e.Value(), &f); err != nil {
				return nil, fmt.Errorf("list fetchers: key %s: %w", e.Key(), err)
			}
			list = append(list, f)
		}
	}
}

func sortFetchers(list []store.Fetcher) {
	// Same order as the other backends: oldest first, ties by id.
	slices.SortFunc(list, func(a, b store.Fetcher) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// Change is one event of Watch.
type Change struct {
	// ID is the fetcher id; empty for the marker that ends the initial
	// snapshot.
	ID string
	// Deleted reports that the definition was removed.
	Deleted bool
	// Revision is the bucket revision of the change.
	Revision uint64
}

// Watch streams definition changes: first every existing definition, then
// a Change with an empty ID, then every later put or delete. The channel is
// closed when ctx ends or the NATS connection closes.
func (s *Store) Watch(ctx context.Context) (<-chan Change, error) {
	w, err := s.defs.WatchAll(ctx, jetstream.MetaOnly())
	if err != nil {
		return nil, fmt.Errorf("watch fetchers: %w", err)
	}
	out := make(chan Change, 64)
	go func() {
		defer close(out)
		defer w.Stop()
		initial := true
		for {
			var e jetstream.KeyValueEntry
			var ok bool
			select {
			case <-ctx.Done():
				return
			case e, ok = <-w.Updates():
			}
			if !ok {
				return
			}
			var c Change
			if e == nil {
				if !initial {
					continue
				}
				initial = false
			} else {
				id, err := ID(e.Key())
				if err != nil {
					continue
				}
				c = Change{ID: id, Revision: e.Revision(),
					Deleted: e.Operation() == jetstream.KeyValueDelete || e.Operation() == jetstream.KeyValuePurge}
				if initial && c.Deleted {
					continue
				}
			}
			select {
			case out <- c:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

func (s *Store) opCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.timeout)
}

// LoadProgress implements fetch.ProgressStore.
func (s *Store) LoadProgress(id string) ([]byte, error) {
	ctx, cancel := s.opCtx()
	defer cancel()
	p, err := s.ProgressRecord(ctx, id)
	return p.Data, err
}

// Progress is a progress record as stored.
type Progress struct {
	// Data is the fetcher's progress document, nil when none was saved.
	Data []byte
	// Owner is the instance that wrote the record ("" for SaveProgress).
	Owner string
	// Revision is the record's revision, 0 when there is no record.
	Revision uint64
}

// ProgressRecord returns a fetcher's progress record (the zero Progress
// when there is none).
func (s *Store) ProgressRecord(ctx context.Context, id string) (Progress, error) {
	e, err := s.progress.Get(ctx, Key(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Progress{}, nil
	}
	if err != nil {
		return Progress{}, fmt.Errorf("load progress %s: %w", id, err)
	}
	var rec progressRecord
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return Progress{}, fmt.Errorf("load progress %s: %w", id, err)
	}
	p := Progress{Owner: rec.Owner, Revision: e.Revision()}
	switch {
	case rec.Raw != nil:
		p.Data = rec.Raw
	case len(rec.Data) > 0 && string(rec.Data) != "null":
		p.Data = []byte(rec.Data)
	}
	return p, nil
}

func encodeRecord(owner string, data []byte) ([]byte, error) {
	rec := progressRecord{Owner: owner}
	switch {
	case data == nil:
	case json.Valid(data):
		rec.Data = data
	default:
		rec.Raw = data
	}
	return json.Marshal(rec)
}

// SaveProgress implements fetch.ProgressStore with an unconditional write.
// Progress of an id without a definition is discarded.
func (s *Store) SaveProgress(id string, data []byte) error {
	ctx, cancel := s.opCtx()
	defer cancel()
	if ok, err := s.defined(ctx, id); err != nil || !ok {
		return err
	}
	val, err := encodeRecord("", data)
	if err != nil {
		return fmt.Errorf("save progress %s: %w", id, err)
	}
	if _, err := s.progress.Put(ctx, Key(id), val); err != nil {
		return fmt.Errorf("save progress %s: %w", id, err)
	}
	return s.dropOrphan(ctx, id)
}

// SaveProgressAt writes a fetcher's progress only if its record is still at
// revision rev (0: there must be none), and returns the new revision. data
// nil writes a record without progress (a fence: later writes at the old
// revision fail). It returns an error wrapping ErrConflict when the record
// changed, and (0, nil) without writing when the definition no longer
// exists.
//
// A write at a revision costs one request: DeleteFetcher deletes the
// progress record after the definition, which moves its revision, so a
// save racing with a delete fails the compare-and-set and is then found to
// be for a deleted fetcher. Only the first write (no record yet) checks the
// definition before and after.
func (s *Store) SaveProgressAt(ctx context.Context, id, owner string, data []byte, rev uint64) (uint64, error) {
	val, err := encodeRecord(owner, data)
	if err != nil {
		return 0, fmt.Errorf("save progress %s: %w", id, err)
	}
	var next uint64
	if rev == 0 {
		if ok, err := s.defined(ctx, id); err != nil || !ok {
			return 0, err
		}
		next, err = s.progress.Create(ctx, Key(id), val)
	} else {
		next, err = s.progress.Update(ctx, Key(id), val, rev)
	}
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		if ok, derr := s.defined(ctx, id); derr == nil && !ok {
			return 0, nil // deleted meanwhile: the delete moved the revision
		}
		return 0, fmt.Errorf("save progress %s at revision %d: %w", id, rev, ErrConflict)
	}
	if err != nil {
		return 0, fmt.Errorf("save progress %s: %w", id, err)
	}
	if rev == 0 {
		if err := s.dropOrphan(ctx, id); err != nil {
			return 0, err
		}
	}
	return next, nil
}

// defined reports whether the definition id exists.
func (s *Store) defined(ctx context.Context, id string) (bool, error) {
	_, err := s.defs.Get(ctx, Key(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("save progress %s: %w", id, err)
	}
	return true, nil
}

// dropOrphan removes progress written while the definition was being
// deleted (the delete ran between the check and the write).
func (s *Store) dropOrphan(ctx context.Context, id string) error {
	ok, err := s.defined(ctx, id)
	if err != nil || ok {
		return err
	}
	if err := s.progress.Delete(ctx, Key(id)); err != nil {
		return fmt.Errorf("save progress %s: drop orphan: %w", id, err)
	}
	return nil
}

// Close implements store.Store. The NATS connection belongs to the caller
// and stays open.
func (s *Store) Close() error { return nil }
