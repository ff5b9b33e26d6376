package cluster_test

import (
	"slices"
	"testing"
	"time"
)

// TestPartition cuts an instance off from NATS while it keeps running and
// can still reach the ingest (the case fencing exists for): its progress
// saves fail, which pauses its uploads at once; its leases cannot be
// renewed, so it stops trusting them before they can expire and stops its
// fetchers; the other instance claims them after expiry and continues.
// No upload of the cut-off instance overlaps one of the new owner, and
// each stream stays complete; a segment uploaded between the last stored
// progress and the first failed save is uploaded again by the new owner
// (same name, same bytes): one per fetcher, two at most.
func TestPartition(t *testing.T) {
	const total = 6
	e := newEnv(t, false)
	a, b := e.start("a"), e.start("b")
	e.waitFor(5*time.Second, func() bool { return len(a.node.Members()) == 2 && len(b.node.Members()) == 2 }, "2 members")
	e.create(total, a, b)
	chs := channels(total)
	e.waitFor(30*time.Second, func() bool { return balanced(e.owners(), total) }, "spread: %v", counts(e.owners()))
	e.waitFor(60*time.Second, func() bool { return e.caughtUp(chs, 2) }, "all pushing")
	cut := slices.Clone(a.node.Owned())

	t0 := time.Now()
	a.nc.Close() // a runs on, without NATS
	e.waitFor(4*testTTL, func() bool { return len(b.node.Owned()) == total }, "b takes over: %v", counts(e.owners()))
	took := time.Since(t0)
	e.waitFor(4*testTTL, func() bool { return len(a.node.Owned()) == 0 }, "a stops its fetchers")
	target := len(e.src.Published(e.rends[0])) + 3
	e.waitFor(30*time.Second, func() bool {
		return len(e.src.Published(e.rends[0])) >= target && e.caughtUp(chs, 2)
	}, "streams continue")
	e.pause()
	e.waitFor(30*time.Second, func() bool { return e.caughtUp(chs, 0) }, "caught up")

	var lastA time.Time
	for _, p := range e.putsCopy() {
		if p.inst == "a" && p.end.After(lastA) {
			lastA = p.end
		}
	}
	if d := lastA.Sub(t0); d > testTTL {
		if starved, late := e.starved(); starved {
			t.Logf("cut-off instance uploaded %s after the cut while this process overslept by up to %s: not judged", d, late)
		} else {
			t.Errorf("cut-off instance uploaded %s after the cut, longer than the lease TTL", d)
		}
	}
	rep := e.check(chs)
	conc, detail := concurrentPushes(e.putsCopy())
	t.Logf("partition: %d fetchers moved in %s; cut-off instance's last upload %s after the cut; %d lost leases",
		len(cut), took.Round(time.Millisecond), lastA.Sub(t0).Round(time.Millisecond), a.node.Stats().Lost)
	t.Logf("partition: %d segment uploads, %d repeated (same name, same bytes), %d lost (holes), %d mismatches, %d concurrent uploads",
		rep.segments, rep.duplicates, rep.holes, rep.mismatches, conc)
	if n := a.node.Stats().Lost; n != int64(len(cut)) {
		t.Errorf("cut-off instance lost %d leases, want %d", n, len(cut))
	}
	// The cut-off instance's fetchers may repeat what they uploaded after
	// their last stored progress: one segment, two when the next upload
	// started before the failed save returned.
	allowed := 2 * len(cut)
	if rep.duplicates <= allowed {
		rep.duplicates = 0
	}
	e.judge("partition", rep, conc, detail, b.node.Stats().Lost)
}
