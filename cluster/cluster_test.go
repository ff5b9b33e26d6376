package cluster_test

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func channels(n int) []string {
	out := make([]string, n)
	for k := range out {
		out[k] = channel(k)
	}
	return out
}

// TestFailover: 3 instances, 30 fetchers created through the APIs of all
// three, spread 10/10/10; the API of every instance lists all 30 with their
// instance. One instance is killed (no hand-off, its leases expire): the
// other two take its 10 fetchers over within 2 × TTL and continue each
// stream: every segment the source published reaches the ingest exactly
// once per fetcher, byte-identical, with consecutive numbers. The killed
// instance then restarts under its id and gets its share back by hand-off,
// again without a duplicate or a hole.
func TestFailover(t *testing.T) {
	const total = 30
	e := newEnv(t, false)
	a, b, c := e.start("a"), e.start("b"), e.start("c")
	for _, i := range []*inst{a, b, c} {
		e.waitFor(5*time.Second, func() bool { return len(i.node.Members()) == 3 }, "%s sees 3 members", i.name)
	}
	ids := e.create(total, a, b, c)
	chs := channels(total)
	e.waitFor(30*time.Second, func() bool { return balanced(e.owners(), total) }, "spread of %d fetchers: %v", total, counts(e.owners()))
	for name, n := range counts(e.owners()) {
		if n < 9 || n > 11 {
			t.Errorf("%s runs %d fetchers, want 10 ± 1", name, n)
		}
	}
	t.Logf("spread: %v", counts(e.owners()))
	e.waitFor(60*time.Second, func() bool { return e.caughtUp(chs, 2) }, "all %d fetchers pushing", total)

	// Scenario 4: the API of every instance lists every fetcher with the
	// instance that runs it.
	owned := map[string]string{}
	for inst, list := range e.owners() {
		for _, id := range list {
			owned[id] = inst
		}
	}
	for _, i := range []*inst{a, b, c} {
		e.waitFor(10*time.Second, func() bool {
			l := i.list()
			if len(l) != total {
				return false
			}
			for _, f := range l {
				if f.Instance != owned[f.ID] || f.State != "running" || f.SegmentsPushed == 0 {
					return false
				}
			}
			return true
		}, "API of %s lists %d running fetchers with their instance and counters: %v", i.name, total, i.list())
	}

	// Kill b while everything it pushed is in its stored progress (a kill
	// in the millisecond between an upload and its progress save would
	// re-push that one segment: at-least-once, same name, same bytes).
	victim := b
	victimIDs := slices.Clone(e.owners()[victim.name])
	e.pause()
	e.waitFor(30*time.Second, func() bool {
		if !e.caughtUp(chs, 0) {
			return false
		}
		for ch, id := range ids {
			if slices.Contains(victimIDs, id) && !e.progressCaughtUp(victim.st, id, ch) {
				return false
			}
		}
		return true
	}, "quiescent before the kill")
	t0 := time.Now()
	victim.kill()
	e.resume()
	killedAt := time.Now()
	putsAtKill := 0
	for _, p := range e.putsCopy() {
		if p.inst == victim.name {
			putsAtKill++
		}
	}

	e.waitFor(4*testTTL, func() bool { return balanced(e.owners(), total) }, "takeover: %v", counts(e.owners()))
	claims := e.eventsSince(t0, "claimed")
	claimTime := map[string]time.Duration{}
	for _, ev := range claims {
		if slices.Contains(victimIDs, ev.Fetcher) {
			claimTime[ev.Fetcher] = ev.Time.Sub(t0)
		}
	}
	if len(claimTime) != len(victimIDs) {
		t.Fatalf("%d of %d fetchers of the killed instance claimed", len(claimTime), len(victimIDs))
	}
	var claimDs []time.Duration
	for id, d := range claimTime {
		claimDs = append(claimDs, d)
		if d > 2*testTTL {
			if starved, late := e.starved(); starved {
				t.Logf("fetcher %s taken over after %s, more than 2 × TTL, while this process overslept by up to %s (loaded machine): not judged", id, d, late)
			} else {
				t.Errorf("fetcher %s taken over after %s, more than 2 × TTL (%s)", id, d, 2*testTTL)
			}
		}
	}
	// Keep going a few segments after the takeover, then compare.
	target := len(e.src.Published(e.rends[0])) + 3
	e.waitFor(30*time.Second, func() bool {
		return len(e.src.Published(e.rends[0])) >= target && e.caughtUp(chs, 2)
	}, "streams continue after the takeover")
	e.pause()
	e.waitFor(30*time.Second, func() bool { return e.caughtUp(chs, 0) }, "caught up")

	// First segment each taken-over fetcher pushed from its new owner.
	var pushDs []time.Duration
	first := map[string]time.Time{}
	for _, p := range e.putsCopy() {
		if p.inst == victim.name {
			if !p.start.Before(killedAt) {
				t.Errorf("killed instance pushed %s of %s after the kill", p.name, p.fetcher)
			}
			continue
		}
		if slices.Contains(victimIDs, p.fetcher) && p.start.After(t0) && strings.Contains(p.name, "_") && !strings.HasSuffix(p.name, ".m3u8") {
			if f, ok := first[p.fetcher]; !ok || p.end.Before(f) {
				first[p.fetcher] = p.end
			}
		}
	}
	for _, at := range first {
		pushDs = append(pushDs, at.Sub(t0))
	}
	putsAfter := 0
	for _, p := range e.putsCopy() {
		if p.inst == victim.name {
			putsAfter++
		}
	}
	if putsAfter != putsAtKill {
		t.Errorf("killed instance: %d uploads at the kill, %d later", putsAtKill, putsAfter)
	}
	rep := e.check(chs)
	conc, detail := concurrentPushes(e.putsCopy())
	t.Logf("failover: %d fetchers moved; claim after kill median %s max %s; first segment pushed by the new owner median %s max %s (TTL %s)",
		len(victimIDs), percentile(claimDs, 50), percentile(claimDs, 100), percentile(pushDs, 50), percentile(pushDs, 100), testTTL)
	t.Logf("failover: %d segment uploads, %d duplicates, %d lost (holes), %d mismatches, %d concurrent uploads; spread after: %v",
		rep.segments, rep.duplicates, rep.holes, rep.mismatches, conc, counts(e.owners()))
	e.judge("failover", rep, conc, detail, e.lostLeases())

	// The killed instance comes back under the same id: the others hand
	// it its share (join with 30 fetchers).
	e.resume()
	tJoin := time.Now()
	b2 := e.start("b")
	e.waitFor(6*testTTL, func() bool {
		o := e.owners()
		return balanced(o, total) && len(o["b"]) >= total/3-1
	}, "rebalance after the rejoin: %v", counts(e.owners()))
	joinTook := time.Since(tJoin)
	target = len(e.src.Published(e.rends[0])) + 3
	e.waitFor(30*time.Second, func() bool {
		return len(e.src.Published(e.rends[0])) >= target && e.caughtUp(chs, 2)
	}, "streams continue after the rejoin")
	e.pause()
	e.waitFor(30*time.Second, func() bool { return e.caughtUp(chs, 0) }, "caught up after the rejoin")
	rep = e.check(chs)
	conc, detail = concurrentPushes(e.putsCopy())
	t.Logf("rejoin: %d fetchers handed to the restarted instance in %s (release to claim max %s; old owner's last upload to new owner's first max %s, source publishes every %s); %d segment uploads in all, %d duplicates, %d lost (holes), %d mismatches, %d concurrent uploads; spread: %v",
		len(b2.node.Owned()), joinTook.Round(time.Millisecond), maxGap(e.handoffLatency(tJoin)), maxGap(handoffGaps(e.putsCopy(), tJoin)), sourceInterval,
		rep.segments, rep.duplicates, rep.holes, rep.mismatches, conc, counts(e.owners()))
	e.judge("rejoin", rep, conc, detail, e.lostLeases())
}
