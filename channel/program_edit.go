package channel

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/pullpush/pullpush/channel/internal/asset"
	"github.com/pullpush/pullpush/internal/atomicfile"
)

// scheduleOp changes the items of a schedule at instant now.
type scheduleOp func(items []ScheduleItem, now time.Time) ([]ScheduleItem, error)

// changeSchedule applies op to the schedule of channel id and writes the
// result. ifMatch, when not empty, must be the current version.
func (e *Engine) changeSchedule(id, ifMatch string, op scheduleOp) (Schedule, error) {
	ch := e.staticChannel(id)
	if ch == nil {
		return Schedule{}, fmt.Errorf("%w %q", ErrUnknownChannel, id)
	}
	s := e.schedFor(ch)
	if s == nil {
		return Schedule{}, ErrNoScheduleDir
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := e.refreshLocked(ch, s); err != nil {
		return Schedule{}, fmt.Errorf("%w: fix or remove the file first", err)
	}
	if ifMatch != "" && ifMatch != "*" && ifMatch != s.version {
		return Schedule{}, fmt.Errorf("%w: version %s, not %s", ErrScheduleChanged, s.version, ifMatch)
	}
	now := e.now()
	items, err := op(slices.Clone(s.file.Items), now)
	if err != nil {
		return Schedule{}, err
	}
	slices.SortStableFunc(items, func(a, b ScheduleItem) int { return a.Start.Compare(b.Start) })
	tl, err := e.scheduleTimeline(ch, items)
	if err != nil {
		return Schedule{}, fmt.Errorf("%w: %w", ErrBadSchedule, err)
	}
	f := scheduleFile{Channel: ch.id, Items: items}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return Schedule{}, err
	}
	data = append(data, '\n')
	if err := writeAtomic(s.path, data); err != nil {
		return Schedule{}, fmt.Errorf("schedule: %w", err)
	}
	st, err := os.Stat(s.path)
	if err != nil {
		return Schedule{}, fmt.Errorf("schedule: %w", err)
	}
	ch.tl.Store(tl)
	s.stat, s.version, s.file, s.err = st, contentVersion(data), f, nil
	e.metrics.schedule.WithLabelValues(ch.id, "api").Inc()
	return e.listing(ch, s, now), nil
}

// writeAtomic writes data to path (creating its directory) so that
// readers see the old or the new content, never a part.
func writeAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(path, data)
}

// Schedule lists the schedule of configured channel id.
func (e *Engine) Schedule(id string) (Schedule, error) {
	ch := e.staticChannel(id)
	if ch == nil {
		return Schedule{}, fmt.Errorf("%w %q", ErrUnknownChannel, id)
	}
	s := e.schedFor(ch)
	if s == nil {
		return Schedule{}, ErrNoScheduleDir
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := e.refreshLocked(ch, s); err != nil {
		return Schedule{}, err
	}
	return e.listing(ch, s, e.now()), nil
}

func (e *Engine) listing(ch *channel, s *schedState, now time.Time) Schedule {
	out := Schedule{Channel: ch.id, Time: now.UTC(), Version: s.version, Items: []ListedItem{}}
	if out.Version == "" {
		out.Version = contentVersion(nil)
	}
	tl := ch.tl.Load()
	for _, sp := range tl.spans() {
		li := ListedItem{ScheduleItem: *sp.item, Duration: sp.planned.Seconds(), State: "upcoming"}
		li.URL = asset.Redact(li.URL)
		if sp.end != forever {
			li.End = ch.epoch.Add(sp.end).UTC()
		}
		switch {
		case !li.End.IsZero() && !now.Before(li.End):
			li.State = "done"
		case !now.Before(li.Start):
			li.State = "playing"
		}
		out.Items = append(out.Items, li)
	}
	if p := now.Sub(ch.epoch); p >= 0 {
		out.Now = e.playing(ch, tl, p)
		out.Now.Position = now.Sub(out.Now.Start).Seconds()
	}
	return out
}

// AppendSchedule adds items after the channel's upcoming ones.
func (e *Engine) AppendSchedule(id, ifMatch string, items []ItemSpec) (Schedule, error) {
	ch := e.staticChannel(id)
	return e.changeSchedule(id, ifMatch, func(cur []ScheduleItem, now time.Time) ([]ScheduleItem, error) {
		return e.addItems(ch, cur, items, now)
	})
}

// ReplaceSchedule replaces the channel's upcoming items (those that start
// after now) with items; items that have started stay.
func (e *Engine) ReplaceSchedule(id, ifMatch string, items []ItemSpec) (Schedule, error) {
	ch := e.staticChannel(id)
	return e.changeSchedule(id, ifMatch, func(cur []ScheduleItem, now time.Time) ([]ScheduleItem, error) {
		cur = slices.DeleteFunc(cur, func(it ScheduleItem) bool { return it.Start.After(now) })
		return e.addItems(ch, cur, items, now)
	})
}

// DeleteScheduleItem removes an upcoming item.
func (e *Engine) DeleteScheduleItem(id, ifMatch, item string) (Schedule, error) {
	return e.changeSchedule(id, ifMatch, func(cur []ScheduleItem, now time.Time) ([]ScheduleItem, error) {
		i := slices.IndexFunc(cur, func(it ScheduleItem) bool { return it.ID == item })
		if i < 0 {
			return nil, fmt.Errorf("%w %q", ErrUnknownItem, item)
		}
		if !cur[i].Start.After(now) {
			return nil, fmt.Errorf("%w: %q started at %s", ErrItemStarted, item, cur[i].Start.Format(time.RFC3339Nano))
		}
		return slices.Delete(cur, i, i+1), nil
	})
}

// addItems resolves the specs of a request and adds them to cur.
func (e *Engine) addItems(ch *channel, cur []ScheduleItem, specs []ItemSpec, now time.Time) ([]ScheduleItem, error) {
	if len(specs) == 0 {
		return nil, fmt.Errorf("%w: 'items' must list at least one item", ErrBadSchedule)
	}
	ids := map[string]bool{}
	for _, it := range cur {
		ids[it.ID] = true
	}
	for i, sp := range specs {
		bad := func(format string, args ...any) error {
			return fmt.Errorf("%w: items[%d]: %s", ErrBadSchedule, i, fmt.Sprintf(format, args...))
		}
		it := ScheduleItem{ID: sp.ID, Type: sp.Type, Asset: sp.Asset, Title: sp.Title, In: sp.In, Out: sp.Out,
			Duration: Seconds(time.Duration(sp.Duration).Round(time.Millisecond)), Assets: sp.Assets, URL: sp.URL}
		if it.Type == ItemAsset {
			it.Type = ""
		}
		if it.Type == "" {
			ac, ok := e.library[sp.Asset]
			if !ok {
				return nil, bad("%v %q", ErrUnknownAsset, sp.Asset)
			}
			if it.Title == "" {
				it.Title = ac.Title
			}
		}
		if it.ID == "" {
			for it.ID == "" || ids[it.ID] {
				var b [5]byte
				_, _ = rand.Read(b[:])
				it.ID = "i" + hex.EncodeToString(b[:])
			}
		}
		if ids[it.ID] {
			return nil, bad("duplicate item id %q", it.ID)
		}
		if err := checkItem(it); err != nil {
			return nil, bad("%v", err)
		}
		tl, err := e.scheduleTimeline(ch, cur)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadSchedule, err)
		}
		switch sp.Start {
		case "", "next":
			if open := openLive(tl); open != nil {
				return nil, bad("start \"next\" follows live item %q, which has no end: give a start time", open.ID)
			}
			it.Start = e.nextStart(ch, tl, cur, now)
		default:
			t, err := time.Parse(time.RFC3339Nano, sp.Start)
			if err != nil {
				return nil, bad("invalid start %q: use RFC 3339 (2024-01-01T00:00:00.000Z) or \"next\"", sp.Start)
			}
			if !t.After(now) {
				return nil, bad("start %s is not after now (%s)", sp.Start, now.UTC().Format(time.RFC3339Nano))
			}
			it.Start = e.snapStart(ch, tl, t, now)
			if slices.ContainsFunc(cur, func(o ScheduleItem) bool { return o.Start.Equal(it.Start) }) {
				return nil, bad("start %s is taken by another item", it.Start.Format(time.RFC3339Nano))
			}
		}
		ids[it.ID] = true
		cur = append(cur, it)
		slices.SortStableFunc(cur, func(a, b ScheduleItem) int { return a.Start.Compare(b.Start) })
	}
	return cur, nil
}

// nextStart is where a "next" item starts: when the last item ends, or
// when the clip playing now ends if that is later.
func (e *Engine) nextStart(ch *channel, tl *timeline, cur []ScheduleItem, now time.Time) time.Time {
	p := max(now.Sub(ch.epoch), 0)
	_, _, _, _, end := ch.clipAt(tl, p)
	at := ch.epoch.Add(end)
	for _, sp := range tl.spans() {
		at = later(at, ch.epoch.Add(sp.start+sp.planned))
	}
	return at.UTC()
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// snapStart places an explicit start t on the frame grid of the video that
// plays at t (FRAME-RATE of the rendition, relative to its segment's start),
// rounded to the millisecond of EXT-X-PROGRAM-DATE-TIME. A start within
// minSpan after a segment boundary moves to the boundary (when that is
// after now), so no segment shorter than minSpan is left before the item.
func (e *Engine) snapStart(ch *channel, tl *timeline, t, now time.Time) time.Time {
	p := t.Sub(ch.epoch)
	td := time.Duration(ch.targetDuration) * time.Second
	tl = ch.resolve(tl, now)
	cur := tl.seek(ch, 0, max(p-2*td, 0))
	if !cur.valid() {
		return t.Round(time.Millisecond).UTC()
	}
	pl := cur.at()
	for i := 0; pl.start+pl.dur <= p && i < 1000; i++ {
		if cur.next(); !cur.valid() {
			return t.Round(time.Millisecond).UTC()
		}
		pl = cur.at()
	}
	if pl.start > p {
		return t.Round(time.Millisecond).UTC()
	}
	d := p - pl.start
	if pl.pc.live != nil {
		// Live segments: no frame grid to snap to.
	} else if v := assetTrack(ch.template, pl.c.asset, ch.tracks[0]).Variant; v != nil && v.FrameRate > 0 {
		frame := float64(time.Second) / v.FrameRate
		d = time.Duration(math.Round(float64(d)/frame) * frame)
	}
	d = d.Round(time.Millisecond)
	if d < minSpan {
		if seg := ch.epoch.Add(pl.start); seg.After(now) {
			return seg.UTC()
		}
		d = minSpan
	}
	return ch.epoch.Add(pl.start + d).UTC()
}

// scheduleStatus maps an error of the schedule API to an HTTP status.
func scheduleStatus(err error) int {
	switch {
	case errors.Is(err, ErrUnknownChannel), errors.Is(err, ErrUnknownItem), errors.Is(err, ErrNoScheduleDir):
		return 404
	case errors.Is(err, ErrItemStarted):
		return 409
	case errors.Is(err, ErrScheduleChanged):
		return 412
	case errors.Is(err, ErrBadSchedule):
		return 400
	}
	return 500
}
