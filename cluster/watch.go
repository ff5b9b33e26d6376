package cluster

import (
	"bytes"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// watch keeps views[name] equal to the bucket: each (re)start loads a
// snapshot that replaces the view, then applies every change. Expiry
// markers (TTL buckets) arrive as purges. It restarts the watcher when the
// connection drops it, until the node stops.
func (n *Node) watch(name string, kv jetstream.KeyValue) {
	defer n.wg.Done()
	for n.ctx.Err() == nil {
		w, err := kv.WatchAll(n.ctx)
		if err != nil {
			if n.ctx.Err() == nil {
				n.log.Warn("watch failed, retrying", logKeyBucket, kv.Bucket(), logKeyErr, err)
			}
			n.sleep(n.ttl / 10)
			continue
		}
		snapshot := map[string]viewEntry{}
		initial := true
		for open := true; open; {
			var e jetstream.KeyValueEntry
			select {
			case <-n.ctx.Done():
				w.Stop()
				return
			case e, open = <-w.Updates():
			}
			if !open {
				break
			}
			if e == nil {
				if initial {
					initial = false
					n.mu.Lock()
					n.views[name] = snapshot
					n.synced[name] = true
					n.mu.Unlock()
					n.pokeReconcile()
				}
				continue
			}
			deleted := e.Operation() == jetstream.KeyValueDelete || e.Operation() == jetstream.KeyValuePurge
			ve := viewEntry{value: e.Value(), rev: e.Revision(), seen: n.seenAt(e.Created())}
			if initial {
				if !deleted {
					snapshot[e.Key()] = ve
				}
				continue
			}
			n.mu.Lock()
			v := n.views[name]
			changed := false
			if old, ok := v[e.Key()]; !ok || old.rev < ve.rev {
				// A renewal (same value, new revision) only refreshes seen.
				changed = !ok || deleted || !bytes.Equal(old.value, ve.value)
				if deleted {
					delete(v, e.Key())
				} else {
					v[e.Key()] = ve
				}
			}
			n.mu.Unlock()
			if changed && name != "status" {
				n.pokeReconcile()
			}
		}
		w.Stop()
		if n.ctx.Err() == nil {
			n.log.Warn("watcher closed, restarting", logKeyBucket, kv.Bucket())
			n.sleep(n.ttl / 10)
		}
	}
}

// seenAt converts a server timestamp to mono(), clamped to [now-TTL, now]
// so that clock skew can neither keep an entry alive nor expire it early
// by more than one TTL.
func (n *Node) seenAt(created time.Time) int64 {
	now := n.mono()
	age := time.Since(created)
	age = min(max(age, 0), n.ttl)
	return now - int64(age)
}

// watchDefs keeps defs equal to the set of stored definitions.
func (n *Node) watchDefs() {
	defer n.wg.Done()
	for n.ctx.Err() == nil {
		ch, err := n.st.Watch(n.ctx)
		if err != nil {
			if n.ctx.Err() == nil {
				n.log.Warn("watch definitions failed, retrying", logKeyErr, err)
			}
			n.sleep(n.ttl / 10)
			continue
		}
		snapshot := map[string]bool{}
		initial := true
		for c := range ch {
			if initial {
				if c.ID == "" {
					initial = false
					n.mu.Lock()
					n.defs = snapshot
					n.defsSynced = true
					n.mu.Unlock()
					n.pokeReconcile()
				} else {
					snapshot[c.ID] = true
				}
				continue
			}
			n.mu.Lock()
			if c.Deleted {
				delete(n.defs, c.ID)
			} else {
				n.defs[c.ID] = true
			}
			n.mu.Unlock()
			n.pokeReconcile()
		}
		if n.ctx.Err() == nil {
			n.log.Warn("definitions watcher closed, restarting")
			n.sleep(n.ttl / 10)
		}
	}
}

func (n *Node) sleep(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-n.ctx.Done():
	case <-t.C:
	}
}
