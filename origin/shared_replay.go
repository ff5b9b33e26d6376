package origin

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pullpush/pullpush/origin/internal/index"

	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/origin/internal/shared"
)

// replayTick is the spacing of the replay's retention sweeps, on the
// ingest clock (multiples of it since the epoch, the same on every
// instance).
const replayTick = int64(time.Second)

// listPage is the number of keys one list request asks for.
const listPage = 1000

// fetchParallel bounds concurrent log entry downloads.
const fetchParallel = 8

// replayState is how far one channel's replay got. Only the replay loop
// (and the initial recovery before it starts) touches it.
type replayState struct {
	lastKey string // every log key up to this one was handled
	doneTo  int64  // entries up to this time were applied (ns); later-listed ones are late
	tick    int64  // next sweep tick (0: before the first entry)
	snap    []byte // newest snapshot taken by a tick, not written yet
	snapAt  int64
}

// recover loads the newest usable snapshot of ch and replays the log up to
// the watermark.
func (o *Origin) recoverChannel(ctx context.Context, ch *channel) error {
	s := o.shared
	rp := &replayState{}
	s.mu.Lock()
	s.replays[ch.cfg.ID] = rp
	s.mu.Unlock()
	keys, err := listAll(ctx, s.blob, shared.SnapDir+ch.cfg.ID+"/")
	if err != nil {
		return err
	}
	for i := len(keys) - 1; i >= 0; i-- {
		t, err := shared.ParseSnapKey(ch.cfg.ID, keys[i])
		if err != nil {
			continue
		}
		data, err := s.blob.Get(ctx, keys[i])
		if err != nil {
			if errors.Is(err, shared.ErrNoObject) {
				continue
			}
			return err
		}
		snap, err := decodeSnapshot(ch.cfg.ID, data)
		if err == nil && snap.Time == t {
			ch.mu.Lock()
			err = ch.Restore(snap)
			ch.VNow = time.Unix(0, t)
			ch.mu.Unlock()
		}
		if err != nil {
			s.log.Warn("unusable snapshot", logChannel, ch.cfg.ID, logSnapshot, keys[i], logErr, err)
			continue
		}
		rp.lastKey, rp.doneTo, rp.tick = shared.LogTimeBound(ch.cfg.ID, t), t-1, t+replayTick
		s.log.Info("index restored from snapshot", logChannel, ch.cfg.ID, logSnapshot, keys[i])
		break
	}
	return o.replayChannel(ctx, ch)
}

func listAll(ctx context.Context, b shared.Store, prefix string) ([]string, error) {
	var all []string
	after := ""
	for {
		keys, err := b.List(ctx, prefix, after, listPage)
		if err != nil {
			return nil, err
		}
		all = append(all, keys...)
		if len(keys) < listPage {
			return all, nil
		}
		after = keys[len(keys)-1]
	}
}

// replayLoop keeps every channel's index up to date until ctx ends.
func (o *Origin) replayLoop(ctx context.Context) {
	t := time.NewTicker(o.shared.cfg.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, ch := range o.list() {
			if err := o.replayChannel(ctx, ch); err != nil && ctx.Err() == nil {
				o.log.Warn("replay ingest log", logChannel, ch.cfg.ID, logErr, err)
			}
		}
	}
}

// replayChannel applies the log entries of ch up to the watermark (now −
// settle delay), in key order, with the sweeps of the ticks between them,
// then writes the snapshot a tick took.
func (o *Origin) replayChannel(ctx context.Context, ch *channel) error {
	s := o.shared
	s.mu.Lock()
	rp := s.replays[ch.cfg.ID]
	s.mu.Unlock()
	if rp == nil {
		return nil // deleted meanwhile
	}
	wm := s.now().Add(-s.cfg.SettleDelay).UnixNano()
	if wm <= rp.doneTo {
		return nil
	}
	for {
		keys, err := s.blob.List(ctx, shared.LogPrefix(ch.cfg.ID), rp.lastKey, listPage)
		if err != nil {
			return err
		}
		var batch []string
		var infos []shared.KeyInfo
		stop := false
		for _, k := range keys {
			info, err := shared.ParseLogKey(k)
			if err != nil || info.Channel != ch.cfg.ID {
				s.log.Warn("ignoring a foreign object in the ingest log", logObject, k)
				batch, infos = append(batch, k), append(infos, shared.KeyInfo{Time: -1})
				continue
			}
			if info.Time > wm {
				stop = true
				break
			}
			batch, infos = append(batch, k), append(infos, info)
		}
		entries, errs := fetchEntries(ctx, s.blob, batch, infos)
		for i, k := range batch {
			switch info := infos[i]; {
			case info.Time < 0:
			case info.Time <= rp.doneTo:
				s.log.Warn("ingest log entry listed after the settle delay; ignored", logChannel, ch.cfg.ID, logObject, k)
			case errs[i] != nil && errors.Is(errs[i], shared.ErrNoObject):
				// withdrawn by its writer (too slow) between list and get
			case errs[i] != nil && errors.Is(errs[i], shared.ErrBadEntry):
				// never applicable: skipped by every instance alike
				s.log.Warn("malformed ingest log entry; ignored", logChannel, ch.cfg.ID, logObject, k, logErr, errs[i])
			case errs[i] != nil:
				return errs[i]
			default:
				ch.mu.Lock()
				o.advance(ch, rp, info.Time)
				o.apply(ch, entries[i])
				ch.mu.Unlock()
			}
			rp.lastKey = k
		}
		if stop || len(keys) < listPage {
			break
		}
	}
	ch.mu.Lock()
	o.advance(ch, rp, wm)
	ch.mu.Unlock()
	rp.doneTo = wm
	if rp.snap != nil {
		data, at := rp.snap, rp.snapAt
		rp.snap = nil
		if err := o.writeSnapshot(ctx, ch, at, data); err != nil {
			return err
		}
	}
	return nil
}

// fetchEntries downloads and decodes the entries of keys (infos[i].Time <
// 0: skipped) concurrently.
func fetchEntries(ctx context.Context, b shared.Store, keys []string, infos []shared.KeyInfo) ([]*shared.Entry, []error) {
	entries, errs := make([]*shared.Entry, len(keys)), make([]error, len(keys))
	sem := make(chan struct{}, fetchParallel)
	var wg sync.WaitGroup
	for i, k := range keys {
		if infos[i].Time < 0 {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			data, err := b.Get(ctx, k)
			if err == nil {
				entries[i], err = shared.DecodeEntry(infos[i], data)
				if err != nil {
					err = fmt.Errorf("%s: %w", k, err)
				}
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	return entries, errs
}

// advance runs the sweep ticks up to t and sets the ingest clock to t.
// Caller holds ch.mu.
func (o *Origin) advance(ch *channel, rp *replayState, t int64) {
	if rp.tick == 0 {
		rp.tick = (t + replayTick - 1) / replayTick * replayTick
	}
	snapEvery := int64(o.shared.cfg.SnapshotInterval)
	for ; rp.tick <= t; rp.tick += replayTick {
		ch.VNow = time.Unix(0, rp.tick)
		ch.Sweep()
		if rp.tick%snapEvery == 0 && len(ch.Inputs) > 0 {
			data, err := ch.EncodeSnapshot(rp.tick)
			if err != nil {
				o.log.Warn("snapshot", logChannel, ch.cfg.ID, logErr, err)
				continue
			}
			rp.snap, rp.snapAt = data, rp.tick
		}
	}
	ch.VNow = time.Unix(0, t)
}

// apply applies one log entry to the index. Caller holds ch.mu.
func (o *Origin) apply(ch *channel, e *shared.Entry) {
	in, err := ch.input(e.Input)
	if err != nil {
		o.log.Warn("ingest log entry refused", logChannel, ch.cfg.ID, logInput, e.Input, logErr, err)
		return
	}
	recv := time.Unix(0, e.Time)
	switch e.Kind {
	case shared.EntryFile:
		f := &index.StoredFile{Path: e.Object, Size: e.Size, Recv: recv, KF: e.KF.Value(), TS: e.TS.Value()}
		ch.StoreFile(in, e.Name, f)
	case shared.EntryDelete:
		ch.DeleteFile(in, e.Name)
	case shared.EntryPlaylist:
		pl, err := hls.Parse([]byte(e.Body))
		if err != nil {
			o.log.Warn("ingest log playlist", logChannel, ch.cfg.ID, logInput, e.Input, logFile, e.Name, logErr, err)
			return
		}
		switch pl := pl.(type) {
		case *hls.Multivariant:
			ch.SetMaster(in, pl)
			in.MasterRaw = []byte(e.Body)
		case *hls.Media:
			key := playlistKey(e.Name)
			ch.IndexPlaylist(in, key, pl, recv)
			if ir := in.Rend(key); ir.Pending == pl {
				ir.PendRaw = []byte(e.Body)
			} else if ir.Pending == nil {
				ir.PendRaw = nil
			}
		}
	}
}

// writeSnapshot stores the snapshot taken at tick t unless another instance
// already did; the instance that writes it prunes what it makes obsolete.
func (o *Origin) writeSnapshot(ctx context.Context, ch *channel, t int64, data []byte) error {
	s := o.shared
	key := shared.SnapKey(ch.cfg.ID, t)
	ok, err := s.blob.Exists(ctx, key)
	if err != nil || ok {
		return err
	}
	if err := s.blob.Put(ctx, key, data); err != nil {
		return err
	}
	s.log.Debug("snapshot written", logChannel, ch.cfg.ID, logSnapshot, key)
	return o.prune(ctx, ch)
}

// keepSnapshots is how many snapshots stay in the bucket; log entries
// older than the oldest of them are deleted.
const keepSnapshots = 2

// prune deletes old snapshots and the log entries no kept snapshot needs.
func (o *Origin) prune(ctx context.Context, ch *channel) error {
	s := o.shared
	keys, err := listAll(ctx, s.blob, shared.SnapDir+ch.cfg.ID+"/")
	if err != nil {
		return err
	}
	var times []int64
	var valid []string
	for _, k := range keys {
		if t, err := shared.ParseSnapKey(ch.cfg.ID, k); err == nil {
			times, valid = append(times, t), append(valid, k)
		}
	}
	if len(valid) < keepSnapshots {
		return nil
	}
	cut := len(valid) - keepSnapshots
	for _, k := range valid[:cut] {
		if err := s.blob.Remove(ctx, k); err != nil {
			return err
		}
	}
	oldest := times[cut]
	n := 0
	for {
		logKeys, err := s.blob.List(ctx, shared.LogPrefix(ch.cfg.ID), "", listPage)
		if err != nil {
			return err
		}
		done := len(logKeys) < listPage
		for _, k := range logKeys {
			if info, err := shared.ParseLogKey(k); err == nil && info.Time >= oldest {
				done = true
				break
			}
			if err := s.blob.Remove(ctx, k); err != nil {
				return err
			}
			n++
		}
		if done {
			break
		}
	}
	s.log.Debug("ingest log pruned", logChannel, ch.cfg.ID, logCount, n)
	return nil
}

// decodeSnapshot parses a snapshot of channel ch (see decodeIndexSnapshot).
func decodeSnapshot(ch string, data []byte) (*index.Snapshot, error) {
	return index.DecodeSnapshot(ch, data, MaxInputs)
}
