package cluster

import (
	"encoding/json"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"github.com/pullpush/pullpush/store/natskv"
)

// reconcileLoop reconciles after every watched change and every TTL/3.
func (n *Node) reconcileLoop() {
	defer n.wg.Done()
	t := time.NewTicker(n.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-n.poke:
		case <-t.C:
		}
		n.reconcile()
	}
}

// plan is what one reconciliation decided.
type plan struct {
	release []*lease // hand off (reason "deleted" for gone definitions)
	deleted map[*lease]bool
	claim   []string // candidates, best first
	budget  int      // how many of them to claim
}

// score is the rendezvous weight of fetcher id for instance: each instance
// prefers other fetchers, so concurrent claims rarely collide, and the ones
// an instance keeps when it hands off are stable.
func score(instance, id string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(instance))
	h.Write([]byte{0})
	h.Write([]byte(id))
	return h.Sum64()
}

// decide computes the plan from the current views. Call with n.mu held.
func (n *Node) decideLocked() plan {
	p := plan{deleted: map[*lease]bool{}}
	if n.state != stateRunning || !n.defsSynced {
		return p
	}
	// Fetchers whose definition is gone are stopped.
	mine := 0
	var active []*lease
	for id, l := range n.held {
		if l.isStopping() {
			continue
		}
		if !n.defs[id] {
			if l.markStopping() {
				p.release = append(p.release, l)
				p.deleted[l] = true
			}
			continue
		}
		mine++
		active = append(active, l)
	}

	// Load of each live member, from the leases it holds.
	members := n.liveMembersLocked()
	live := make(map[string]bool, len(members))
	caps := map[string]int{}
	for _, m := range members {
		live[m] = true
		if e, ok := n.views["members"][m]; ok {
			var mv memberValue
			if json.Unmarshal(e.value, &mv) == nil {
				caps[m] = mv.Max
			}
		}
	}
	caps[n.memKey] = n.cfg.MaxFetchers
	loads := make(map[string]int, len(members))
	unowned := make([]string, 0)
	for id := range n.defs {
		key := natskv.Key(id)
		if _, ok := n.held[id]; ok || n.draining[id] {
			continue
		}
		e, ok := n.views["leases"][key]
		if !ok || n.expiredLocked(e) {
			unowned = append(unowned, id)
			continue
		}
		var lv leaseValue
		if json.Unmarshal(e.value, &lv) == nil && live[lv.Instance] && lv.Instance != n.memKey {
			loads[lv.Instance]++
		}
	}
	loads[n.memKey] = mine

	total := len(n.defs)
	hi := fillLevel(total, members, caps)
	if c := n.cfg.MaxFetchers; c > 0 {
		hi = min(hi, c)
	}
	// The least loaded member that can still take fetchers.
	minLoad, minSet := 0, false
	for _, m := range members {
		if c := caps[m]; c > 0 && loads[m] >= c {
			continue
		}
		if !minSet || loads[m] < minLoad {
			minLoad, minSet = loads[m], true
		}
	}
	if !minSet {
		minLoad = mine
	}
	// The most loaded member, ties broken by id.
	maxID, maxLoad := "", -1
	for _, m := range members {
		if loads[m] > maxLoad || loads[m] == maxLoad && m > maxID {
			maxID, maxLoad = m, loads[m]
		}
	}

	// Over target: hand off the fetchers this instance likes least.
	surplus := 0
	switch {
	case mine > hi:
		surplus = mine - hi
	case maxID == n.memKey && mine >= minLoad+2 && len(unowned) == 0:
		surplus = 1
	}
	if surplus > 0 {
		slices.SortFunc(active, func(a, b *lease) int {
			sa, sb := score(n.memKey, a.id), score(n.memKey, b.id)
			switch {
			case sa < sb:
				return -1
			case sa > sb:
				return 1
			}
			return strings.Compare(a.id, b.id)
		})
		for _, l := range active[:surplus] {
			if l.markStopping() {
				p.release = append(p.release, l)
			}
		}
		return p
	}

	// Under target and among the least loaded: claim.
	if mine < hi && mine <= minLoad && len(unowned) > 0 {
		p.budget = min(hi, minLoad+1) - mine
		slices.SortFunc(unowned, func(a, b string) int {
			sa, sb := score(n.memKey, a), score(n.memKey, b)
			switch {
			case sa > sb:
				return -1
			case sa < sb:
				return 1
			}
			return strings.Compare(a, b)
		})
		p.claim = unowned
	}
	return p
}

// fillLevel is the smallest per-member count that places total fetchers
// on the members given their caps (0 = none): ceil(total/members) when no
// cap binds.
func fillLevel(total int, members []string, caps map[string]int) int {
	level := (total + len(members) - 1) / len(members)
	for ; level < total; level++ {
		sum := 0
		for _, m := range members {
			if c := caps[m]; c > 0 {
				sum += min(c, level)
			} else {
				sum += level
			}
		}
		if sum >= total {
			break
		}
	}
	return level
}

// reconcile applies one plan: hand-offs in the background, claims in turn.
// Nothing is decided while the NATS connection is down: the views are stale
// and no claim could succeed.
func (n *Node) reconcile() {
	if nc := n.cfg.JS.Conn(); nc != nil && !nc.IsConnected() {
		return
	}
	n.mu.Lock()
	p := n.decideLocked()
	n.mu.Unlock()
	for _, l := range p.release {
		reason := "rebalance"
		if p.deleted[l] {
			reason = "definition deleted"
		}
		n.wg.Add(1) // this goroutine holds a count: no race with Close's Wait
		go func() { defer n.wg.Done(); n.handOff(n.ctx, l, reason) }()
	}
	claimed := 0
	for _, id := range p.claim {
		if claimed >= p.budget || !n.running() {
			break
		}
		if n.claim(n.ctx, id) {
			claimed++
		}
	}
	if claimed > 0 {
		n.pokeReconcile()
	}
}
