package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pullpush/pullpush/store"
	"github.com/pullpush/pullpush/store/natskv"
)

// lease is a fetcher lease held by this instance.
type lease struct {
	id, key string
	value   []byte

	// fence is cancelled when the lease must no longer be trusted; fenced
	// uploads run under it.
	fence      context.Context
	closeFence context.CancelFunc

	validUntil atomic.Int64 // mono() until which uploads may start
	stopping   atomic.Bool  // being handed off: no status, not counted

	// epoch is cancelled (and replaced) whenever the lease lapses, i.e.
	// validUntil passes before a renewal extends it: uploads in flight
	// are cut at that instant, however long they have been running, and
	// new ones are refused until a renewal makes the lease valid again.
	emu         sync.Mutex
	epoch       context.Context
	cancelEpoch context.CancelFunc

	mu       sync.Mutex // serialises renewals and the release
	rev      uint64
	released bool

	pmu         sync.Mutex // serialises progress saves
	progressRev uint64
	progress    []byte
	// unsaved holds progress whose save failed (NATS unreachable or
	// slow): uploads pause until a retry stores it, so a relay cut off
	// from NATS cannot run ahead of its stored progress.
	unsaved     []byte
	saveFailing atomic.Bool
}

// valid reports whether saves may proceed.
func (l *lease) valid(now int64) bool {
	return l.fence.Err() == nil && now < l.validUntil.Load()
}

// markStopping marks the lease as being handed off; false if it already was.
func (l *lease) markStopping() bool { return l.stopping.CompareAndSwap(false, true) }

func (l *lease) isStopping() bool { return l.stopping.Load() }

// claim tries to take fetcher id: create its lease, fence its progress and
// start it here. It reports whether the fetcher now runs (or is listed as
// failed) here.
func (n *Node) claim(ctx context.Context, id string) bool {
	def, err := n.st.GetFetcher(ctx, id)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			n.log.Warn("claim: cannot read definition", logKeyFetcher, id, logKeyErr, err)
		}
		return false
	}
	val, _ := json.Marshal(leaseValue{Instance: n.cfg.Instance, Since: time.Now().UTC()})
	key := natskv.Key(id)
	sent := n.mono()
	rev, err := n.leases.Create(ctx, key, val)
	if err != nil {
		if !errors.Is(err, jetstream.ErrKeyExists) {
			n.log.Warn("claim failed", logKeyFetcher, id, logKeyErr, err)
		}
		return false
	}
	fence, closeFence := context.WithCancel(n.ctx)
	l := &lease{id: id, key: key, value: val, fence: fence, closeFence: closeFence, rev: rev}
	l.validUntil.Store(sent + int64(n.ttl-n.margin))
	l.epoch, l.cancelEpoch = context.WithCancel(fence)
	n.watchLapse(l)

	// Fence the progress: rewrite the record at its current revision, so
	// that a former owner still running can no longer save.
	fenced := false
	for range 5 {
		prev, err := n.st.ProgressRecord(ctx, id)
		if err != nil {
			n.log.Warn("claim: cannot read progress", logKeyFetcher, id, logKeyErr, err)
			break
		}
		data := prev.Data
		next, err := n.st.SaveProgressAt(ctx, id, n.cfg.Instance, data, prev.Revision)
		if errors.Is(err, natskv.ErrConflict) {
			continue
		}
		if err != nil {
			n.log.Warn("claim: cannot fence progress", logKeyFetcher, id, logKeyErr, err)
			break
		}
		if next == 0 { // definition deleted meanwhile
			break
		}
		l.progressRev, l.progress = next, data
		fenced = true
		break
	}
	if !fenced {
		n.releaseLease(l)
		return false
	}

	n.mu.Lock()
	if n.state != stateRunning {
		n.mu.Unlock()
		n.releaseLease(l)
		return false
	}
	n.held[id] = l
	n.mu.Unlock()
	n.claims.Add(1)
	if l.validUntil.Load()-n.mono() < int64(n.ttl/2) {
		n.renew(l) // the claim was slow: renew before the fetcher starts
	}
	if err := n.runner.StartLocal(ctx, def); err != nil {
		// Listed as failed here, with its error; keeping the lease keeps
		// it from bouncing between instances that fail alike.
		n.log.Error("claimed fetcher did not start", logKeyFetcher, id, logKeyErr, err)
	} else {
		n.log.Info("fetcher claimed", logKeyFetcher, id, logKeyResumed, l.progress != nil)
	}
	n.event(EventClaimed, id, "")
	return true
}

// watchLapse arms a timer at the lease's validUntil: if no renewal moved it
// by then, the current epoch is cancelled (uploads in flight stop) and a new
// one begins for the uploads allowed after the next renewal. It re-arms
// itself until the fence closes.
func (n *Node) watchLapse(l *lease) {
	var check func()
	check = func() {
		if l.fence.Err() != nil {
			return
		}
		if left := l.validUntil.Load() - n.mono(); left > 0 {
			time.AfterFunc(time.Duration(left), check)
			return
		}
		l.emu.Lock()
		l.cancelEpoch()
		l.epoch, l.cancelEpoch = context.WithCancel(l.fence)
		l.emu.Unlock()
		// Checked again one renewal period later.
		time.AfterFunc(n.ttl/3, check)
	}
	time.AfterFunc(time.Duration(max(l.validUntil.Load()-n.mono(), 0)), check)
}

// currentEpoch returns the context of the lease's current validity period.
func (l *lease) currentEpoch() context.Context {
	l.emu.Lock()
	defer l.emu.Unlock()
	return l.epoch
}

// renew extends a held lease, or loses it when it can no longer be trusted.
func (n *Node) renew(l *lease) {
	l.mu.Lock()
	if l.released || l.fence.Err() != nil {
		l.mu.Unlock()
		return
	}
	ctx, cancel := context.WithTimeout(n.ctx, n.ttl/3)
	sent := n.mono()
	rev, err := n.leases.Update(ctx, l.key, l.value, l.rev)
	cancel()
	if err == nil {
		l.rev = rev
		l.validUntil.Store(sent + int64(n.ttl-n.margin))
		l.mu.Unlock()
		return
	}
	l.mu.Unlock()
	switch {
	case errors.Is(err, jetstream.ErrKeyRevisionMismatch), errors.Is(err, jetstream.ErrKeyNotFound):
		n.lose(l, "lease expired or taken by another instance")
	case n.mono() >= l.validUntil.Load():
		n.lose(l, "lease not renewed in time: "+err.Error())
	default:
		if n.ctx.Err() == nil {
			n.log.Warn("lease renewal failed, retrying", logKeyFetcher, l.id, logKeyErr, err)
		}
	}
}

// lose handles a lease that can no longer be trusted: the fence closes at
// once (no upload starts, those in flight are cancelled, no progress is
// saved), then the fetcher is stopped in the background.
func (n *Node) lose(l *lease, reason string) {
	n.mu.Lock()
	if n.held[l.id] != l {
		n.mu.Unlock()
		l.closeFence()
		return
	}
	delete(n.held, l.id)
	n.draining[l.id] = true
	// Tracked by wg only while the node runs: Close waits after the state
	// became stopped, so no Add can race with its Wait.
	tracked := n.state != stateStopped
	if tracked {
		n.wg.Add(1)
	}
	n.mu.Unlock()
	l.closeFence()
	n.lost.Add(1)
	n.log.Warn("lease lost: fetcher stopped", logKeyFetcher, l.id, logKeyReason, reason)
	n.event(EventLost, l.id, reason)
	go func() {
		if tracked {
			defer n.wg.Done()
		}
		ctx, cancel := context.WithTimeout(context.Background(), n.cfg.HandoffTimeout)
		if err := n.runner.StopLocal(ctx, l.id); err != nil {
			n.log.Warn("stop after lost lease", logKeyFetcher, l.id, logKeyErr, err)
		}
		cancel()
		n.releaseLease(l) // in case it is still ours (cut off, not taken)
		n.mu.Lock()
		delete(n.draining, l.id)
		n.mu.Unlock()
		n.pokeReconcile()
	}()
}

// handOff stops a fetcher gracefully (in-flight uploads finish, progress
// is saved under the still valid lease), closes its fence and deletes its
// lease so another instance claims it.
func (n *Node) handOff(ctx context.Context, l *lease, reason string) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), n.cfg.HandoffTimeout)
	err := n.runner.StopLocal(sctx, l.id)
	cancel()
	if err != nil {
		n.log.Warn("hand-off: fetcher did not stop in time; fencing it", logKeyFetcher, l.id, logKeyErr, err)
	}
	// The last progress must be stored before the lease goes, or the next
	// owner would push its last segments again.
	for attempt := 0; l.saveFailing.Load() && attempt < 3 && l.fence.Err() == nil; attempt++ {
		n.renew(l)
		n.retryUnsaved(l)
	}
	if l.saveFailing.Load() {
		n.log.Warn("hand-off: last progress not stored; the next owner repeats the segments since the last save", logKeyFetcher, l.id)
	}
	l.closeFence()
	dctx, dcancel := context.WithTimeout(context.Background(), n.ttl)
	if err := n.status.Delete(dctx, l.key); err != nil {
		n.log.Debug("hand-off: delete status", logKeyFetcher, l.id, logKeyErr, err)
	}
	dcancel()
	n.releaseLease(l)
	n.mu.Lock()
	if n.held[l.id] == l {
		delete(n.held, l.id)
	}
	n.mu.Unlock()
	n.handoffs.Add(1)
	n.log.Info("fetcher handed off", logKeyFetcher, l.id, logKeyReason, reason)
	n.event(EventReleased, l.id, reason)
	n.pokeReconcile()
}

// releaseLease deletes the lease key if it is still at our revision.
func (n *Node) releaseLease(l *lease) {
	l.closeFence()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.released {
		return
	}
	l.released = true
	ctx, cancel := context.WithTimeout(context.Background(), n.ttl)
	defer cancel()
	err := n.leases.Delete(ctx, l.key, jetstream.LastRevision(l.rev))
	if err != nil && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		n.log.Debug("release lease", logKeyFetcher, l.id, logKeyErr, err)
	}
}

// cloneBytes returns a copy of b (nil stays nil).
func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return bytes.Clone(b)
}
