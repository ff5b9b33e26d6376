package store

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func def(id string, created time.Time) Fetcher {
	return Fetcher{
		ID: id, Name: "name-" + id, URL: "http://127.0.0.1/master.m3u8", Output: "void",
		Payload:    json.RawMessage(`{"ingestUrls":[{"url":"http://127.0.0.1/in/channel","password":"s3cret"}]}`),
		WindowSize: 30, Concurrency: 2, Created: created.UTC(),
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
