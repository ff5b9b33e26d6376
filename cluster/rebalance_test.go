package cluster_test

import (
	"net/http"
	"slices"
	"testing"
	"time"
)

// TestJoinAndLeave relays 12 four-rendition channels on 2 instances (6/6),
// starts a third (rebalance to 4/4/4 by hand-off), then stops one
// gracefully (hand-off of its 4 to the others, 6/6). Every hand-off stops
// the fetcher with its uploads finished and its progress saved before the
// lease goes, so the streams show no duplicate, no hole, and no two
// instances ever upload for one fetcher at the same time. A fetcher deleted
// through a non-owner's API stops on its owner.
func TestJoinAndLeave(t *testing.T) {
	const total = 12
	e := newEnv(t, true)
	a, b := e.start("a"), e.start("b")
	e.waitFor(5*time.Second, func() bool { return len(a.node.Members()) == 2 && len(b.node.Members()) == 2 }, "2 members")
	ids := e.create(total, a, b)
	chs := channels(total)
	e.waitFor(30*time.Second, func() bool { return balanced(e.owners(), total) }, "spread on 2: %v", counts(e.owners()))
	e.waitFor(60*time.Second, func() bool { return e.caughtUp(chs, 2) }, "all pushing")

	// Join.
	tJoin := time.Now()
	c := e.start("c")
	e.waitFor(6*testTTL, func() bool {
		o := e.owners()
		return balanced(o, total) && len(o["c"]) >= total/3
	}, "rebalance after join: %v", counts(e.owners()))
	joinTook := time.Since(tJoin)
	moved := len(e.owners()["c"])
	target := len(e.src.Published(e.rends[0])) + 3
	e.waitFor(30*time.Second, func() bool {
		return len(e.src.Published(e.rends[0])) >= target && e.caughtUp(chs, 2)
	}, "streams after join")
	gapsJoin := handoffGaps(e.putsCopy(), tJoin)
	latJoin := e.handoffLatency(tJoin)

	// Graceful leave.
	tLeave := time.Now()
	leaving := slices.Clone(e.owners()["a"])
	a.leave()
	leaveTook := time.Since(tLeave)
	e.waitFor(4*testTTL, func() bool { return balanced(e.owners(), total) }, "hand-off on leave: %v", counts(e.owners()))
	takeover := time.Since(tLeave)
	target = len(e.src.Published(e.rends[0])) + 3
	e.waitFor(30*time.Second, func() bool {
		return len(e.src.Published(e.rends[0])) >= target && e.caughtUp(chs, 2)
	}, "streams after leave")
	gapsLeave := handoffGaps(e.putsCopy(), tLeave)
	latLeave := e.handoffLatency(tLeave)
	for _, id := range leaving {
		if _, ok := gapsLeave[id]; !ok {
			t.Errorf("fetcher %s of the leaving instance not continued elsewhere", id)
		}
	}

	// Delete through the API of an instance that does not run it.
	var victim, via string
	for ch, id := range ids {
		if slices.Contains(e.owners()["b"], id) {
			victim, via = ch, id
			break
		}
	}
	if code, body := c.call("DELETE", "/api/v1/fetcher/"+via, ""); code != http.StatusNoContent {
		t.Fatalf("delete via c: %d %s", code, body)
	}
	e.waitFor(3*testTTL, func() bool { return !slices.Contains(b.node.Owned(), via) }, "owner stops a deleted fetcher")
	tDeleted := time.Now()
	if code, _ := b.call("GET", "/api/v1/fetcher/"+via, ""); code != http.StatusNotFound {
		t.Errorf("deleted fetcher still listed on its former owner: %d", code)
	}
	remaining := slices.DeleteFunc(slices.Clone(chs), func(ch string) bool { return ch == victim })
	e.waitFor(4*testTTL, func() bool { return balanced(e.owners(), total-1) }, "balance after delete: %v", counts(e.owners()))

	e.pause()
	e.waitFor(30*time.Second, func() bool { return e.caughtUp(remaining, 0) }, "caught up")
	for _, p := range e.putsCopy() {
		if p.fetcher == via && p.start.After(tDeleted) {
			t.Errorf("deleted fetcher uploaded %s after it was stopped", p.name)
		}
	}

	rep := e.check(remaining)
	conc, detail := concurrentPushes(e.putsCopy())
	t.Logf("join: %d fetchers moved to the new instance in %s; release to claim max %s; old owner's last upload to new owner's first max %s (source publishes every %s)",
		moved, joinTook.Round(time.Millisecond), maxGap(latJoin), maxGap(gapsJoin), sourceInterval)
	t.Logf("leave: %d fetchers handed off, Leave returned after %s, all claimed after %s; release to claim max %s; upload gap max %s",
		len(leaving), leaveTook.Round(time.Millisecond), takeover.Round(time.Millisecond), maxGap(latLeave), maxGap(gapsLeave))
	t.Logf("streams: %d segment uploads, %d duplicates, %d lost (holes), %d mismatches, %d concurrent uploads by two instances",
		rep.segments, rep.duplicates, rep.holes, rep.mismatches, conc)
	e.judge("join and leave", rep, conc, detail, e.lostLeases())
}

func maxGap(gaps map[string]time.Duration) time.Duration {
	var m time.Duration
	for _, g := range gaps {
		m = max(m, g)
	}
	return m.Round(time.Millisecond)
}
