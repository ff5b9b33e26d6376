// Package storetest is the contract every store.Store backend must pass:
// each backend's tests call Contract with a constructor.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/store"
)

// Def returns a definition for tests, created at created, whose payload
// holds a password.
func Def(id string, created time.Time) store.Fetcher {
	return store.Fetcher{
		ID: id, Name: "name-" + id, URL: "http://127.0.0.1/master.m3u8", Output: "void",
		Payload:    json.RawMessage(`{"ingestUrls":[{"url":"http://127.0.0.1/in/channel","password":"s3cret"}]}`),
		WindowSize: 30, Concurrency: 2, Created: created.UTC(),
	}
}

// Contract runs the Store contract against a fresh store from open.
func Contract(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := context.Background()
	s := open(t)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

	list, err := s.Fetchers(ctx)
	if err != nil || len(list) != 0 {
		t.Fatalf("empty store: %v %v", list, err)
	}
	if _, err := s.GetFetcher(ctx, "x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetFetcher missing: %v, want ErrNotFound", err)
	}
	// Inserted out of order; listed oldest first, ties by id.
	for _, f := range []store.Fetcher{Def("c", t0.Add(time.Second)), Def("b", t0), Def("a", t0)} {
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
	want := Def("b", t0)
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
	if _, err := s.GetFetcher(ctx, "a"); !errors.Is(err, store.ErrNotFound) {
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
	// Created again, it starts without progress.
	if err := s.PutFetcher(ctx, Def("a", t0)); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.LoadProgress("a"); p != nil {
		t.Fatalf("re-created definition inherited progress: %q", p)
	}

	if err := s.PutFetcher(ctx, store.Fetcher{}); err == nil {
		t.Fatal("definition without id accepted")
	}
	if err := s.PutFetcher(ctx, store.Fetcher{ID: "bad", Payload: json.RawMessage(`{`)}); err == nil {
		t.Fatal("invalid payload JSON accepted")
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.PutFetcher(cancelled, Def("d", t0)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled ctx: %v", err)
	}
}
