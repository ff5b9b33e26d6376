package cluster_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pullpush/pullpush/cluster"
	"github.com/pullpush/pullpush/fetch"
	"github.com/pullpush/pullpush/internal/natstest"
	"github.com/pullpush/pullpush/store"
	"github.com/pullpush/pullpush/store/natskv"
	"github.com/pullpush/pullpush/store/storetest"
)

// fakeRunner runs nothing; it records what the node starts.
type fakeRunner struct {
	mu      sync.Mutex
	running map[string]bool
}

func (r *fakeRunner) StartLocal(ctx context.Context, def store.Fetcher) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running == nil {
		r.running = map[string]bool{}
	}
	r.running[def.ID] = true
	return nil
}

func (r *fakeRunner) StopLocal(ctx context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.running, id)
	return nil
}

func (r *fakeRunner) LocalStatus(id string) (fetch.Status, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return fetch.Status{State: fetch.StateRunning}, r.running[id]
}

func (r *fakeRunner) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.running)
}

func newNode(t *testing.T, srv *natstest.Server, cfg cluster.Config) (*cluster.Node, *natskv.Store) {
	t.Helper()
	_, js := srv.Connect(t)
	st, err := natskv.Open(t.Context(), js, natskv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.JS, cfg.Store = js, st
	n, err := cluster.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n, st
}

func TestConfigErrors(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.Connect(t)
	ctx := t.Context()
	st, err := natskv.Open(ctx, js, natskv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		cfg  cluster.Config
		want string
	}{
		{cluster.Config{Store: st, Instance: "x"}, "Config.JS and Config.Store are required"},
		{cluster.Config{JS: js, Store: st, Instance: "has space"}, `instance id "has space": use letters, digits, '-' and '_'`},
		{cluster.Config{JS: js, Store: st, Instance: "x", LeaseTTL: 500 * time.Millisecond}, "lease TTL 500ms is below the minimum 1s"},
	} {
		if _, err := cluster.New(ctx, c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%+v) = %v, want %q", c.cfg, err, c.want)
		}
	}
	if _, err := cluster.New(ctx, cluster.Config{JS: js, Store: st, Instance: "x", LeaseTTL: 2 * time.Second}); err != nil {
		t.Fatal(err)
	}
	_, err = cluster.New(ctx, cluster.Config{JS: js, Store: st, Instance: "y", LeaseTTL: 3 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "exists with TTL 2s, this instance wants 3s") {
		t.Fatalf("different lease TTL in one cluster: %v", err)
	}
}

// TestInstanceIDInUse: a second instance with the id of a live one waits
// for one TTL, then refuses to start.
func TestInstanceIDInUse(t *testing.T) {
	srv := natstest.Start(t)
	ttl := time.Second
	n1, _ := newNode(t, srv, cluster.Config{Instance: "same", LeaseTTL: ttl})
	if err := n1.Start(t.Context(), &fakeRunner{}); err != nil {
		t.Fatal(err)
	}
	n2, _ := newNode(t, srv, cluster.Config{Instance: "same", LeaseTTL: ttl})
	err := n2.Start(t.Context(), &fakeRunner{})
	if !errors.Is(err, cluster.ErrInstanceInUse) || !strings.Contains(err.Error(), "give each instance its own instance id") {
		t.Fatalf("second instance with the same id: %v", err)
	}
	// After a crash the id is free again once its membership expired.
	n1.Abort()
	n3, _ := newNode(t, srv, cluster.Config{Instance: "same", LeaseTTL: ttl})
	if err := n3.Start(t.Context(), &fakeRunner{}); err != nil {
		t.Fatalf("restart with the id of a crashed instance: %v", err)
	}
}

// TestMaxFetchers: an instance never claims more than its cap; the others
// take the rest.
func TestMaxFetchers(t *testing.T) {
	srv := natstest.Start(t)
	ttl := time.Second
	capped, st := newNode(t, srv, cluster.Config{Instance: "capped", LeaseTTL: ttl, MaxFetchers: 2})
	free, _ := newNode(t, srv, cluster.Config{Instance: "free", LeaseTTL: ttl})
	rc, rf := &fakeRunner{}, &fakeRunner{}
	if err := capped.Start(t.Context(), rc); err != nil {
		t.Fatal(err)
	}
	if err := free.Start(t.Context(), rf); err != nil {
		t.Fatal(err)
	}
	for k := range 10 {
		if err := st.PutFetcher(t.Context(), storetest.Def(string(rune('a'+k)), time.Now())); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for rc.count()+rf.count() != 10 || rc.count() != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("capped runs %d, free runs %d; want 2 and 8", rc.count(), rf.count())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := len(capped.Owned()); got != 2 {
		t.Fatalf("capped owns %d", got)
	}
	// Placement seen from the other instance.
	for _, id := range capped.Owned() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			inst, st := free.Placement(id)
			if inst == "capped" && st != nil && st.State == fetch.StateRunning {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("placement of %s seen from free: %q %+v", id, inst, st)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}
