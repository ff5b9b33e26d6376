package store

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// backends runs the same contract against every Store implementation.
func backends(t *testing.T) map[string]func(t *testing.T) Store {
	return map[string]func(t *testing.T) Store{
		"memory": func(t *testing.T) Store { return NewMemory() },
		"bolt": func(t *testing.T) Store {
			b, err := OpenBolt(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { b.Close() })
			return b
		},
	}
}

func def(id string, created time.Time) Fetcher {
	return Fetcher{
		ID: id, Name: "name-" + id, URL: "http://127.0.0.1/master.m3u8", Output: "void",
		Payload:    json.RawMessage(`{"ingestUrls":[{"url":"http://127.0.0.1/in/channel","password":"s3cret"}]}`),
		WindowSize: 30, Concurrency: 2, Created: created.UTC(),
	}
}

func TestStoreContract(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := open(t)
			t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

			list, err := s.Fetchers(ctx)
			if err != nil || len(list) != 0 {
				t.Fatalf("empty store: %v %v", list, err)
			}
			if _, err := s.GetFetcher(ctx, "x"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("GetFetcher missing: %v, want ErrNotFound", err)
			}
			// Inserted out of order; listed oldest first, ties by id.
			for _, f := range []Fetcher{def("c", t0.Add(time.Second)), def("b", t0), def("a", t0)} {
				if err := s.PutFetcher(ctx, f); err != nil {
					t.Fatal(err)
				}
			}
			list, err = s.Fetchers(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, f := range list {
				ids = append(ids, f.ID)
			}
			if got := strings.Join(ids, ","); got != "a,b,c" {
				t.Fatalf("order = %s, want a,b,c", got)
			}
			got, err := s.GetFetcher(ctx, "b")
			if err != nil {
				t.Fatal(err)
			}
			want := def("b", t0)
			if got.Name != want.Name || got.URL != want.URL || got.Output != want.Output ||
				string(got.Payload) != string(want.Payload) || got.WindowSize != 30 ||
				got.Concurrency != 2 || !got.Created.Equal(t0) {
				t.Fatalf("round trip: got %+v, want %+v", got, want)
			}

			// Progress: none, saved, replaced, discarded without definition.
			if p, err := s.LoadProgress("a"); err != nil || p != nil {
				t.Fatalf("no progress: %q %v", p, err)
			}
			if err := s.SaveProgress("a", []byte(`{"seq":1}`)); err != nil {
				t.Fatal(err)
			}
			if err := s.SaveProgress("a", []byte(`{"seq":2}`)); err != nil {
				t.Fatal(err)
			}
			if p, _ := s.LoadProgress("a"); string(p) != `{"seq":2}` {
				t.Fatalf("progress = %q", p)
			}
			if err := s.SaveProgress("ghost", []byte(`{}`)); err != nil {
				t.Fatal(err)
			}
			if p, _ := s.LoadProgress("ghost"); p != nil {
				t.Fatalf("progress without definition kept: %q", p)
			}

			// Delete removes definition and progress; deleting twice is fine.
			for range 2 {
				if err := s.DeleteFetcher(ctx, "a"); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := s.GetFetcher(ctx, "a"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("deleted: %v", err)
			}
			if p, _ := s.LoadProgress("a"); p != nil {
				t.Fatalf("progress survived delete: %q", p)
			}
			// A late save after delete does not resurrect progress.
			if err := s.SaveProgress("a", []byte(`{"seq":3}`)); err != nil {
				t.Fatal(err)
			}
			if p, _ := s.LoadProgress("a"); p != nil {
				t.Fatalf("late save resurrected progress: %q", p)
			}

			if err := s.PutFetcher(ctx, Fetcher{}); err == nil {
				t.Fatal("definition without id accepted")
			}
			if err := s.PutFetcher(ctx, Fetcher{ID: "bad", Payload: json.RawMessage(`{`)}); err == nil {
				t.Fatal("invalid payload JSON accepted")
			}
			cancelled, cancel := context.WithCancel(ctx)
			cancel()
			if err := s.PutFetcher(cancelled, def("d", t0)); !errors.Is(err, context.Canceled) {
				t.Fatalf("cancelled ctx: %v", err)
			}
		})
	}
}

func TestBoltPersistsAndIsOwnerOnly(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data", "nested")
	b, err := OpenBolt(dir)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	if err := b.PutFetcher(ctx, def("a", t0)); err != nil {
		t.Fatal(err)
	}
	if err := b.SaveProgress("a", []byte(`{"seq":42}`)); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, FileName): 0o600} {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Mode().Perm(); got != want {
			t.Errorf("%s mode = %o, want %o", path, got, want)
		}
	}

	// A file loosened by hand is tightened on open.
	if err := os.Chmod(filepath.Join(dir, FileName), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err = OpenBolt(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if st, _ := os.Stat(b.Path()); st.Mode().Perm() != 0o600 {
		t.Errorf("mode after reopen = %o, want 600", st.Mode().Perm())
	}
	f, err := b.GetFetcher(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if !f.Created.Equal(t0) || !strings.Contains(string(f.Payload), "s3cret") {
		t.Fatalf("reopened definition = %+v", f)
	}
	if p, _ := b.LoadProgress("a"); string(p) != `{"seq":42}` {
		t.Fatalf("reopened progress = %q", p)
	}
}

func TestBoltLockedByAnotherOpen(t *testing.T) {
	dir := t.TempDir()
	b, err := OpenBolt(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	_, err = OpenBolt(dir)
	if err == nil || !strings.Contains(err.Error(), "in use by another process") {
		t.Fatalf("second open: %v, want 'in use by another process'", err)
	}
}

func TestBoltRefusesNewerSchema(t *testing.T) {
	dir := t.TempDir()
	db, err := bolt.Open(filepath.Join(dir, FileName), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		m, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		return m.Put(keyVersion, []byte("99"))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	_, err = OpenBolt(dir)
	if err == nil || !strings.Contains(err.Error(), "schema version 99 is newer") {
		t.Fatalf("open newer schema: %v", err)
	}
}

func TestBoltConcurrentProgress(t *testing.T) {
	ctx := context.Background()
	b, err := OpenBolt(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const n = 8
	for i := range n {
		if err := b.PutFetcher(ctx, def(string(rune('a'+i)), time.Now())); err != nil {
			t.Fatal(err)
		}
	}
	errs := make(chan error, n)
	for i := range n {
		go func() {
			id := string(rune('a' + i))
			var err error
			for j := range 20 {
				if e := b.SaveProgress(id, []byte{byte('0' + j%10)}); e != nil {
					err = e
				}
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		if p, _ := b.LoadProgress(string(rune('a' + i))); string(p) != "9" {
			t.Fatalf("fetcher %d progress = %q, want last write 9", i, p)
		}
	}
}
