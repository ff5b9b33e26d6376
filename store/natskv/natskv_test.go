package natskv_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pullpush/pullpush/internal/natstest"
	"github.com/pullpush/pullpush/store"
	"github.com/pullpush/pullpush/store/natskv"
	"github.com/pullpush/pullpush/store/storetest"
)

func TestContract(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.Connect(t)
	n := 0
	storetest.Contract(t, func(t *testing.T) store.Store {
		n++
		s, err := natskv.Open(t.Context(), js, natskv.Options{Prefix: fmt.Sprintf("contract%d", n)})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestKeys(t *testing.T) {
	for _, id := range []string{"0123abcd", "a-b_C", "with space", "dots.are.subjects", "ünï", "=x", "a/b", ""} {
		k := natskv.Key(id)
		if !natskv.ValidPrefix(strings.TrimPrefix(k, "=")) && id != "" {
			t.Errorf("Key(%q) = %q has characters outside [A-Za-z0-9_-]", id, k)
		}
		back, err := natskv.ID(k)
		if err != nil || back != id {
			t.Errorf("ID(Key(%q)) = %q, %v", id, back, err)
		}
	}
	if natskv.Key("abc") != "abc" {
		t.Error("plain id not used as the key")
	}
}

// TestSharedAndFenced: what one connection writes, another
// (another instance) reads, including progress with its revision.
func TestSharedAndFenced(t *testing.T) {
	srv := natstest.Start(t)
	_, js1 := srv.Connect(t)
	_, js2 := srv.Connect(t)
	ctx := t.Context()
	a, err := natskv.Open(ctx, js1, natskv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := natskv.Open(ctx, js2, natskv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	def := storetest.Def("f1", time.Now())
	if err := a.PutFetcher(ctx, def); err != nil {
		t.Fatal(err)
	}
	got, err := b.GetFetcher(ctx, "f1")
	if err != nil || !strings.Contains(string(got.Payload), "s3cret") {
		t.Fatalf("second instance reads %+v, %v", got, err)
	}

	// Compare-and-set progress: instance a creates, b fences, a's stale
	// write is refused, b continues.
	p, err := a.ProgressRecord(ctx, "f1")
	if err != nil || p.Data != nil || p.Revision != 0 {
		t.Fatalf("no progress yet: %+v %v", p, err)
	}
	revA, err := a.SaveProgressAt(ctx, "f1", "a", []byte(`{"n":1}`), 0)
	if err != nil || revA == 0 {
		t.Fatalf("create progress: %d %v", revA, err)
	}
	if _, err := b.SaveProgressAt(ctx, "f1", "b", nil, 0); !errors.Is(err, natskv.ErrConflict) {
		t.Fatalf("second create: %v, want ErrConflict", err)
	}
	p, _ = b.ProgressRecord(ctx, "f1")
	if string(p.Data) != `{"n":1}` || p.Revision != revA || p.Owner != "a" {
		t.Fatalf("b reads %+v, want a's record at %d", p, revA)
	}
	revB, err := b.SaveProgressAt(ctx, "f1", "b", p.Data, p.Revision)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.SaveProgressAt(ctx, "f1", "a", []byte(`{"n":2}`), revA); !errors.Is(err, natskv.ErrConflict) {
		t.Fatalf("stale write after the fence: %v, want ErrConflict", err)
	}
	if _, err := b.SaveProgressAt(ctx, "f1", "b", []byte(`{"n":3}`), revB); err != nil {
		t.Fatal(err)
	}
	if p, _ := a.LoadProgress("f1"); string(p) != `{"n":3}` {
		t.Fatalf("progress = %q", p)
	}
	// Not JSON: kept as is.
	if err := a.SaveProgress("f1", []byte{0, 1, 2}); err != nil {
		t.Fatal(err)
	}
	if p, _ := b.LoadProgress("f1"); string(p) != "\x00\x01\x02" {
		t.Fatalf("binary progress = %q", p)
	}

	// After a delete, a conditional write is discarded, not an error.
	p, _ = a.ProgressRecord(ctx, "f1")
	if err := b.DeleteFetcher(ctx, "f1"); err != nil {
		t.Fatal(err)
	}
	if n, err := a.SaveProgressAt(ctx, "f1", "a", []byte(`{"n":4}`), p.Revision); err != nil || n != 0 {
		t.Fatalf("write after delete: %d %v, want 0, nil", n, err)
	}
	if p, _ := a.LoadProgress("f1"); p != nil {
		t.Fatalf("write after delete resurrected progress: %q", p)
	}
}

func TestWatch(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.Connect(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	s, err := natskv.Open(ctx, js, natskv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"x", "y"} {
		if err := s.PutFetcher(ctx, storetest.Def(id, time.Now())); err != nil {
			t.Fatal(err)
		}
	}
	s.DeleteFetcher(ctx, "y")
	ch, err := s.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	next := func() natskv.Change {
		t.Helper()
		select {
		case c := <-ch:
			return c
		case <-time.After(5 * time.Second):
			t.Fatal("no change within 5 s")
		}
		return natskv.Change{}
	}
	if c := next(); c.ID != "x" || c.Deleted {
		t.Fatalf("first = %+v, want x", c)
	}
	if c := next(); c.ID != "" {
		t.Fatalf("end of snapshot = %+v", c)
	}
	s.PutFetcher(ctx, storetest.Def("z", time.Now()))
	if c := next(); c.ID != "z" || c.Deleted {
		t.Fatalf("put = %+v", c)
	}
	s.DeleteFetcher(ctx, "x")
	if c := next(); c.ID != "x" || !c.Deleted {
		t.Fatalf("delete = %+v", c)
	}
	cancel()
	for range ch {
	}
}

func TestBucketTTLMismatch(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.Connect(t)
	ctx := t.Context()
	cfg := jetstream.KeyValueConfig{Bucket: "p_leases", TTL: 2 * time.Second, LimitMarkerTTL: time.Second}
	if _, err := natskv.EnsureBucket(ctx, js, cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := natskv.EnsureBucket(ctx, js, cfg); err != nil {
		t.Fatalf("same config again: %v", err)
	}
	cfg.TTL = 3 * time.Second
	_, err := natskv.EnsureBucket(ctx, js, cfg)
	if err == nil || !strings.Contains(err.Error(), "bucket p_leases exists with TTL 2s, this instance wants 3s") {
		t.Fatalf("mismatch: %v", err)
	}
	if _, err := natskv.Open(ctx, js, natskv.Options{Prefix: "bad.prefix"}); err == nil {
		t.Fatal("prefix with a dot accepted")
	}
}
