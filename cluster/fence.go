package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/pullpush/pullpush/fetch"
	"github.com/pullpush/pullpush/output"
	"github.com/pullpush/pullpush/store/natskv"
)

// WrapOutput fences out to the lease this instance holds for fetcher id
// when the fetcher starts (give it to pullpush.Options.WrapOutput): an
// upload or delete starts only while that lease is trusted and is cancelled
// when the lease ends. A fetcher started without a lease here can push
// nothing.
func (n *Node) WrapOutput(id string, out output.Output) output.Output {
	n.mu.Lock()
	l := n.held[id]
	n.mu.Unlock()
	inner := out.Targets()
	ts := make([]output.Target, len(inner))
	for i, t := range inner {
		ts[i] = &fencedTarget{Target: t, n: n, l: l}
	}
	fo := &fencedOutput{Output: out, targets: ts}
	if d, ok := out.(interface{ DeletesExpired() bool }); ok {
		return &fencedDeleter{fencedOutput: fo, d: d}
	}
	return fo
}

type fencedOutput struct {
	output.Output
	targets []output.Target
}

func (o *fencedOutput) Targets() []output.Target { return o.targets }

// fencedDeleter keeps the optional DeletesExpired of the wrapped output.
type fencedDeleter struct {
	*fencedOutput
	d interface{ DeletesExpired() bool }
}

func (o *fencedDeleter) DeletesExpired() bool { return o.d.DeletesExpired() }

type fencedTarget struct {
	output.Target
	n *Node
	l *lease
}

// errUnsaved refuses uploads while the last progress save failed.
var errUnsaved = errors.New("cluster: waiting until the fetcher's progress is stored in NATS")

// guard returns a context that ends when the lease lapses or is lost, or
// ErrNotOwner when it is not valid now.
func (n *Node) guard(ctx context.Context, l *lease) (context.Context, func(), error) {
	if l == nil {
		n.refused.Add(1)
		return nil, nil, ErrNotOwner
	}
	// The epoch first: if the lease lapses after the check below, this
	// epoch is the one cancelled.
	epoch := l.currentEpoch()
	if !l.valid(n.mono()) {
		n.refused.Add(1)
		return nil, nil, ErrNotOwner
	}
	if l.saveFailing.Load() {
		n.refused.Add(1)
		return nil, nil, errUnsaved
	}
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(epoch, cancel)
	return ctx, func() { stop(); cancel() }, nil
}

func (t *fencedTarget) Put(ctx context.Context, f output.File) error {
	ctx, done, err := t.n.guard(ctx, t.l)
	if err != nil {
		return err
	}
	defer done()
	return t.Target.Put(ctx, f)
}

func (t *fencedTarget) Delete(ctx context.Context, name string) error {
	ctx, done, err := t.n.guard(ctx, t.l)
	if err != nil {
		return err
	}
	defer done()
	return t.Target.Delete(ctx, name)
}

// Progress returns the fenced progress store to give to
// pullpush.Options.Progress: a fetcher loads the progress read when its
// lease was claimed, and saves only while this instance holds the lease and
// only at the revision it last wrote.
func (n *Node) Progress() fetch.ProgressStore { return fencedProgress{n} }

type fencedProgress struct{ n *Node }

func (p fencedProgress) LoadProgress(id string) ([]byte, error) {
	p.n.mu.Lock()
	l := p.n.held[id]
	p.n.mu.Unlock()
	if l == nil {
		return nil, fmt.Errorf("load progress %s: %w", id, ErrNotOwner)
	}
	l.pmu.Lock()
	defer l.pmu.Unlock()
	return cloneBytes(l.progress), nil
}

func (p fencedProgress) SaveProgress(id string, data []byte) error {
	n := p.n
	n.mu.Lock()
	l := n.held[id]
	n.mu.Unlock()
	if l == nil || l.fence.Err() != nil {
		n.refused.Add(1)
		return fmt.Errorf("save progress %s: %w", id, ErrNotOwner)
	}
	l.pmu.Lock()
	defer l.pmu.Unlock()
	if !l.valid(n.mono()) {
		// Still held but the renewal is late: keep the progress for
		// retryUnsaved, which stores it once the lease is renewed (or
		// drops it when the lease is lost).
		l.unsaved = cloneBytes(data)
		l.saveFailing.Store(true)
		return fmt.Errorf("save progress %s: lease renewal late, kept for retry", id)
	}
	return n.saveLocked(l, data)
}

// saveLocked writes progress at the lease's revision; call with l.pmu held.
// A failed write pauses the fetcher's uploads until retryUnsaved stores it.
func (n *Node) saveLocked(l *lease, data []byte) error {
	ctx, cancel := context.WithTimeout(l.fence, n.ttl/3)
	defer cancel()
	rev, err := n.st.SaveProgressAt(ctx, l.id, n.cfg.Instance, data, l.progressRev)
	if errors.Is(err, natskv.ErrConflict) {
		// Our own earlier write whose answer was lost counts as done.
		if cur, rerr := n.st.ProgressRecord(ctx, l.id); rerr == nil && cur.Owner == n.cfg.Instance &&
			cur.Revision > l.progressRev && bytes.Equal(cur.Data, l.unsaved) {
			l.progressRev, l.progress = cur.Revision, cur.Data
			rev, err = n.st.SaveProgressAt(ctx, l.id, n.cfg.Instance, data, l.progressRev)
		}
	}
	if errors.Is(err, natskv.ErrConflict) {
		n.lose(l, "progress written by another instance")
		return fmt.Errorf("save progress %s: %w", l.id, ErrNotOwner)
	}
	if err != nil {
		l.unsaved = cloneBytes(data)
		l.saveFailing.Store(true)
		return fmt.Errorf("save progress %s: %w", l.id, err)
	}
	if rev != 0 {
		l.progressRev, l.progress = rev, cloneBytes(data)
	}
	l.unsaved = nil
	l.saveFailing.Store(false)
	return nil
}

// retryUnsaved retries the failed progress save of a lease, if any.
func (n *Node) retryUnsaved(l *lease) {
	if !l.saveFailing.Load() || !l.valid(n.mono()) {
		return
	}
	l.pmu.Lock()
	defer l.pmu.Unlock()
	if l.unsaved == nil {
		return
	}
	if err := n.saveLocked(l, l.unsaved); err != nil && !errors.Is(err, ErrNotOwner) {
		n.log.Warn("progress still not stored; uploads paused", logKeyFetcher, l.id, logKeyErr, err)
	}
}
