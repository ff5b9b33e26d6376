package cluster_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/pullpush/pullpush/cluster"
	"github.com/pullpush/pullpush/fetch"
	"github.com/pullpush/pullpush/internal/natstest"
	"github.com/pullpush/pullpush/output"
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
	n, st, _ := newNodeConn(t, srv, cfg)
	return n, st
}

func newNodeConn(t *testing.T, srv *natstest.Server, cfg cluster.Config) (*cluster.Node, *natskv.Store, *nats.Conn) {
	t.Helper()
	nc, js := srv.Connect(t)
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
	return n, st, nc
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

// slowTarget holds every upload for hold, or until its context ends.
type slowTarget struct{ hold time.Duration }

func (s slowTarget) Name() string { return "slow" }
func (s slowTarget) Put(ctx context.Context, f output.File) error {
	select {
	case <-time.After(s.hold):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
func (s slowTarget) Delete(ctx context.Context, name string) error { return nil }

type slowOutput struct{ t output.Target }

func (o slowOutput) Stem() string             { return "channel" }
func (o slowOutput) Targets() []output.Target { return []output.Target{o.t} }
func (o slowOutput) Close() error             { return nil }

// TestFenceLapse: an upload longer than the lease TTL runs to its end while
// renewals succeed; when the instance loses NATS, the upload in flight is
// cut when the lease lapses (before the server can expire it) and no
// upload starts any more.
func TestFenceLapse(t *testing.T) {
	srv := natstest.Start(t)
	ttl := 2 * time.Second
	n, st, nc := newNodeConn(t, srv, cluster.Config{Instance: "x", LeaseTTL: ttl})
	if err := n.Start(t.Context(), &fakeRunner{}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutFetcher(t.Context(), storetest.Def("f", time.Now())); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(n.Owned()) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("fetcher not claimed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	long := n.WrapOutput("f", slowOutput{slowTarget{hold: 2*ttl + ttl/2}}).Targets()[0]
	if err := long.Put(t.Context(), output.File{Name: "seg_1.ts"}); err != nil {
		t.Fatalf("upload longer than the TTL under a renewed lease: %v", err)
	}
	if err := (n.WrapOutput("other", slowOutput{slowTarget{}})).Targets()[0].Put(t.Context(), output.File{Name: "x"}); !errors.Is(err, cluster.ErrNotOwner) {
		t.Fatalf("upload for a fetcher not held here: %v", err)
	}

	endless := n.WrapOutput("f", slowOutput{slowTarget{hold: time.Hour}}).Targets()[0]
	if err := n.WrapOutput("f", slowOutput{slowTarget{}}).Targets()[0].Put(t.Context(), output.File{Name: "seg_2.ts"}); err != nil {
		t.Fatalf("upload under a valid lease: %v", err)
	}
	nc.Close()
	cut := time.Now()
	err := endless.Put(t.Context(), output.File{Name: "seg_3.ts"})
	took := time.Since(cut)
	if !errors.Is(err, context.Canceled) || took > ttl {
		t.Fatalf("upload in flight when NATS went away: %v after %s, want cancelled within the TTL (%s)", err, took, ttl)
	}
	if err := endless.Put(t.Context(), output.File{Name: "seg_4.ts"}); !errors.Is(err, cluster.ErrNotOwner) {
		t.Fatalf("upload after the lapse: %v, want ErrNotOwner", err)
	}
	if s := n.Stats(); s.Refused < 2 {
		t.Errorf("stats %+v: refused uploads not counted", s)
	}
}
