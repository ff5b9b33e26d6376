package channel

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/pullpush/pullpush/channel/internal/asset"
	"github.com/pullpush/pullpush/channel/internal/config"
	"github.com/pullpush/pullpush/internal/adcue"
)

// maxScheduleItems bounds the items of a channel's schedule, past ones
// included (they are kept: the media sequence numbers are counted through
// them).
const maxScheduleItems = 10_000

// Errors of the schedule API callers can branch on (wrapped with details).
var (
	// ErrUnknownChannel: no configured channel has the id.
	ErrUnknownChannel = errors.New("unknown channel")
	// ErrUnknownItem: the schedule has no item with the id.
	ErrUnknownItem = errors.New("unknown schedule item")
	// ErrItemStarted: the item has started; only upcoming items can be
	// deleted or replaced.
	ErrItemStarted = errors.New("schedule item has started")
	// ErrBadSchedule: the request is invalid (bad start, unknown asset,
	// trim points outside the asset...).
	ErrBadSchedule = errors.New("invalid schedule")
	// ErrNoScheduleDir: the engine has no directory to keep schedules in.
	ErrNoScheduleDir = errors.New("schedules need a data directory (--data)")
	// ErrScheduleChanged: the schedule file changed since the version the
	// request names (If-Match).
	ErrScheduleChanged = errors.New("schedule changed")
)

// ScheduleItem is one entry of a channel's schedule: an asset that plays
// from Start until it ends or the next item starts, or an ad break
// (Type ItemBreak) of a fixed duration. The loop of the channel's config
// plays before, between and after items; after an item it resumes at the
// first of its entry boundaries at or after where it was interrupted.
//
// A break plays its ads (Assets, else the channel's ChannelConfig.Ads) in
// order, each cut to its configured trim points, the last one cut where the
// break ends; an ad that failed plays the slate for its duration (or is
// skipped when that is unknown), and the slate fills what the ads leave.
// Every media playlist signals it: #EXT-X-CUE-OUT and #EXT-OATCLS-SCTE35 on
// its first segment, #EXT-X-CUE-OUT-CONT on the others, #EXT-X-CUE-IN on the
// first segment after it, and EXT-X-DATERANGE with SCTE35-OUT
// (PLANNED-DURATION) at its start and SCTE35-IN (END-DATE) after it; the
// SCTE-35 is a splice_insert with the break's duration.
type ScheduleItem struct {
	// ID names the item (in the API and in the EXT-X-DATERANGE that marks
	// it).
	ID string `json:"id"`
	// Type is empty for an asset, or ItemBreak.
	Type string `json:"type,omitempty"`
	// Asset is the id of a configured asset (asset items).
	Asset string `json:"asset,omitempty"`
	// Title is shown in guides (X-TITLE of the EXT-X-DATERANGE).
	Title string `json:"title,omitempty"`
	// Start is when the item starts, to the millisecond.
	Start time.Time `json:"start"`
	// In and Out are trim points in the asset, as AssetConfig's Offset and
	// Out (whole segments).
	In  Seconds `json:"in,omitempty"`
	Out Seconds `json:"out,omitempty"`
	// Duration is a break's duration (to the millisecond).
	Duration Seconds `json:"duration,omitempty"`
	// Assets are the ids of the configured assets that fill a break, in
	// order. Empty: the channel's ads.
	Assets []string `json:"assets,omitempty"`
	// URL is the multivariant (or media) playlist of a live item's HLS
	// source. For a live item Duration is optional: zero plays until the
	// next item starts or the channel is switched back.
	URL string `json:"url,omitempty"`
}

// Schedule item types.
const (
	// ItemAsset is an item that plays an asset (Type "" in the file).
	ItemAsset = "asset"
	// ItemBreak is an ad break.
	ItemBreak = "break"
	// ItemLive plays a live HLS source (see README, "Live switching").
	ItemLive = "live"
)

// maxLive bounds the duration of a live item that has one.
const maxLive = 7 * 24 * time.Hour

// maxBreak bounds the duration of an ad break.
const maxBreak = time.Hour

// ItemSpec is a schedule item in a request: an asset
// ({"asset":"a","in":4,"out":12}) or an ad break
// ({"type":"break","duration":30,"assets":["ad1","ad2"]}).
type ItemSpec struct {
	// ID is optional; default: a random id.
	ID string `json:"id,omitempty"`
	// Type is "asset" (or empty) or "break".
	Type  string `json:"type,omitempty"`
	Asset string `json:"asset,omitempty"`
	// Title is optional; default: the asset's title.
	Title string `json:"title,omitempty"`
	// Start is an RFC 3339 time, or "next" (or empty): when the previous
	// item of the request ends, else when the last upcoming item ends, else
	// when the clip playing now ends.
	Start string  `json:"start,omitempty"`
	In    Seconds `json:"in,omitempty"`
	Out   Seconds `json:"out,omitempty"`
	// Duration and Assets are those of a break (see ScheduleItem).
	Duration Seconds  `json:"duration,omitempty"`
	Assets   []string `json:"assets,omitempty"`
	// URL is the source of a live item
	// ({"type":"live","url":"http://host/master.m3u8","duration":"5m"}).
	URL string `json:"url,omitempty"`
}

// Schedule is a channel's schedule as the API lists it.
type Schedule struct {
	Channel string `json:"channel"`
	// Time is the instant of the listing.
	Time time.Time `json:"time"`
	// Version identifies the schedule file's content (the ETag).
	Version string       `json:"version"`
	Items   []ListedItem `json:"items"`
	// Now is what plays at Time.
	Now *Playing `json:"now,omitempty"`
}

// ListedItem is a schedule item with when it plays.
type ListedItem struct {
	ScheduleItem
	// End is when the item ends as scheduled: at the end of its asset (or
	// break) or when the next item starts; absent for a live item without
	// an end yet.
	End time.Time `json:"end,omitzero"`
	// Duration is the item's trimmed duration (a break's duration) in
	// seconds.
	Duration float64 `json:"duration"`
	// State is "done", "playing" or "upcoming".
	State string `json:"state"`
}

// Seconds is a duration that JSON encodes as a number of seconds; it
// decodes from a number of seconds or a Go duration string ("1m30s").
type Seconds time.Duration

// MarshalJSON implements json.Marshaler.
func (s Seconds) MarshalJSON() ([]byte, error) {
	return strconv.AppendFloat(nil, time.Duration(s).Seconds(), 'f', -1, 64), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (s *Seconds) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch v := v.(type) {
	case float64:
		if math.IsNaN(v) || math.Abs(v) > float64(math.MaxInt64/int64(time.Second)) {
			return fmt.Errorf("invalid duration %v", v)
		}
		*s = Seconds(math.Round(v * float64(time.Second)))
	case string:
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("invalid duration %q: use seconds or a duration such as \"1m30s\"", v)
		}
		*s = Seconds(d)
	default:
		return fmt.Errorf("invalid duration %s: use seconds or a duration such as \"1m30s\"", b)
	}
	return nil
}

// scheduleFile is the JSON file of a channel's schedule.
type scheduleFile struct {
	Channel string         `json:"channel"`
	Items   []ScheduleItem `json:"items"`
}

// schedState is the schedule of a configured channel, read from its file.
type schedState struct {
	mu      sync.Mutex
	path    string
	stat    os.FileInfo // of the file the timeline was built from; nil: none
	version string
	file    scheduleFile
	err     error // the file could not be used; the previous schedule plays
	read    bool  // the file has been looked at once (changes after count in the metrics)
}

// WithScheduleDir keeps the schedules of the configured channels in dir,
// one file per channel ({id}.json). Every engine that shares dir serves
// the same playlists: each rereads a file when it changes.
func WithScheduleDir(dir string) Option { return func(o *options) { o.scheduleDir = dir } }

// schedFor returns the schedule state of a configured channel, or nil.
func (e *Engine) schedFor(ch *channel) *schedState {
	if ch.session || e.scheduleDir == "" {
		return nil
	}
	return e.scheds[ch.id]
}

// refreshSchedule rebuilds the timeline of ch when its schedule file
// changed, and returns why the file cannot be used, if it cannot.
func (e *Engine) refreshSchedule(ch *channel) error {
	s := e.schedFor(ch)
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return e.refreshLocked(ch, s)
}

func (e *Engine) refreshLocked(ch *channel, s *schedState) error {
	changed := func() {
		if s.read {
			e.metrics.schedule.WithLabelValues(ch.id, "file").Inc()
		}
	}
	defer func() { s.read = true }()
	st, err := os.Stat(s.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if s.stat != nil || s.err != nil {
			ch.tl.Store(ch.buildTimeline(nil, nil))
			s.stat, s.version, s.file, s.err = nil, "", scheduleFile{}, nil
			changed()
		}
		return nil
	case err != nil:
		return e.scheduleFailed(ch, s, fmt.Errorf("schedule %s: %w", s.path, err))
	}
	if s.stat != nil && os.SameFile(st, s.stat) && st.ModTime().Equal(s.stat.ModTime()) && st.Size() == s.stat.Size() {
		return s.err
	}
	data, err := os.ReadFile(s.path)
	if err == nil {
		var f scheduleFile
		if err = json.Unmarshal(data, &f); err == nil {
			var tl *timeline
			if tl, err = e.scheduleTimeline(ch, f.Items); err == nil {
				ch.tl.Store(tl)
				s.stat, s.version, s.file, s.err = st, contentVersion(data), f, nil
				changed()
				return nil
			}
		}
	}
	s.stat = st
	return e.scheduleFailed(ch, s, fmt.Errorf("schedule %s: %w (the previous schedule plays)", s.path, err))
}

// scheduleFailed records and logs (once per error) why the schedule file
// of ch cannot be used.
func (e *Engine) scheduleFailed(ch *channel, s *schedState, err error) error {
	if s.err == nil || s.err.Error() != err.Error() {
		e.metrics.schedErrors.WithLabelValues(ch.id).Inc()
	}
	s.err = err
	e.logOnce("schedule/"+ch.id+"/"+err.Error(), "channel schedule unusable", logKeyChannel, ch.id, logKeyError, err)
	return err
}

func contentVersion(data []byte) string {
	h := sha256.Sum256(data)
	return `"` + hex.EncodeToString(h[:8]) + `"`
}

// itemClip builds the clip of a schedule item on ch: the asset cut to the
// trim points, or the slate for as long when the asset failed.
func (e *Engine) itemClip(ch *channel, it ScheduleItem) (*clip, error) {
	if _, ok := e.library[it.Asset]; !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownAsset, it.Asset)
	}
	if a, ok := e.assets[it.Asset]; ok {
		if err := matchLadder(ch.template, a, false); err != nil {
			return nil, fmt.Errorf("asset %q: %w (ladder of asset %q)", it.Asset, err, ch.template.ID)
		}
		if a.Version > ch.version {
			return nil, fmt.Errorf("asset %q needs EXT-X-VERSION %d, the channel has %d", it.Asset, a.Version, ch.version)
		}
		c, err := ch.buildClip(a, time.Duration(it.In), time.Duration(it.Out))
		if err != nil {
			return nil, fmt.Errorf("asset %q: %w", it.Asset, err)
		}
		for _, ct := range c.tracks {
			for _, s := range ct.segs {
				if td := int(math.Round(s.dur.Seconds())); td > ch.targetDuration {
					return nil, fmt.Errorf("asset %q has %ds segments, the channel's target duration is %ds", it.Asset, td, ch.targetDuration)
				}
			}
		}
		return c, nil
	}
	s, err := e.slate(ch.template.Format)
	if err != nil {
		return nil, err
	}
	var dur time.Duration
	if p := e.partials[it.Asset]; p != nil {
		if from, to, err := trimSpan(p, time.Duration(it.In), time.Duration(it.Out)); err == nil {
			dur = to - from
		}
	}
	c, err := ch.slateClip(s, dur)
	if err != nil {
		return nil, err
	}
	c.failed = e.failed[it.Asset]
	return c, nil
}

// scheduleTimeline builds the timeline of ch with items (sorted by start).
func (e *Engine) scheduleTimeline(ch *channel, items []ScheduleItem) (*timeline, error) {
	if len(items) > maxScheduleItems {
		return nil, fmt.Errorf("more than %d items", maxScheduleItems)
	}
	assets := map[string]*asset.Asset{}
	var tcs []timedClip
	ids := map[string]bool{}
	for i := range items {
		it := &items[i]
		if err := checkItem(*it); err != nil {
			return nil, err
		}
		if ids[it.ID] {
			return nil, fmt.Errorf("item %q: duplicate id", it.ID)
		}
		ids[it.ID] = true
		start := it.Start.Sub(ch.epoch)
		if start <= 0 {
			return nil, fmt.Errorf("item %q: start %s is not after the channel's start %s", it.ID, it.Start.Format(time.RFC3339Nano), ch.epoch.Format(time.RFC3339))
		}
		if i > 0 && !it.Start.After(items[i-1].Start) {
			return nil, fmt.Errorf("item %q: starts at %s, not after item %q", it.ID, it.Start.Format(time.RFC3339Nano), items[i-1].ID)
		}
		sp := &span{item: it, start: start}
		if it.Type == ItemLive {
			tc, err := e.liveClip(ch, sp)
			if err != nil {
				return nil, fmt.Errorf("item %q: %w", it.ID, err)
			}
			assets[tc.live.slate.ID] = tc.live.slate
			tcs = append(tcs, tc)
			continue
		}
		if it.Type != ItemBreak {
			c, err := e.itemClip(ch, *it)
			if err != nil {
				return nil, fmt.Errorf("item %q: %w", it.ID, err)
			}
			assets[c.asset.ID] = c.asset
			sp.planned = c.dur
			tcs = append(tcs, timedClip{start: start, clip: c, span: sp, asset: it.Asset, limit: forever})
			continue
		}
		parts, err := e.breakParts(ch, *it)
		if err != nil {
			return nil, fmt.Errorf("item %q: %w", it.ID, err)
		}
		sp.planned = time.Duration(it.Duration)
		b := adcue.NewBreak(&adcue.Cue{Out: true, Duration: sp.planned, ID: spliceIDPrefix + it.ID}, it.Start.UTC(), int64(spliceEventID(it.ID)))
		sp.brk = &b
		// Parts that would start after the next item has are dropped.
		limit := start + sp.planned
		if i+1 < len(items) {
			limit = min(limit, items[i+1].Start.Sub(ch.epoch))
		}
		at := start
		for k, p := range parts {
			if at >= limit {
				break
			}
			assets[p.clip.asset.ID] = p.clip.asset
			tcs = append(tcs, timedClip{start: at, clip: p.clip, span: sp, asset: p.id, limit: start + sp.planned, part: k})
			at += p.clip.dur
		}
	}
	return ch.buildTimeline(tcs, assets), nil
}

// checkItem checks the fields of an item that need no engine.
func checkItem(it ScheduleItem) error {
	if !config.ValidID(it.ID, true) {
		return fmt.Errorf("invalid item id %q: use letters, digits, '-', '_' and '.', starting with a letter or digit", it.ID)
	}
	if it.Type != ItemLive && it.URL != "" {
		return fmt.Errorf("item %q: 'url' is for live items (\"type\":\"live\")", it.ID)
	}
	switch it.Type {
	case ItemLive:
		if it.Asset != "" || it.In != 0 || it.Out != 0 || len(it.Assets) > 0 {
			return fmt.Errorf("item %q: a live item plays 'url' (for 'duration', if any); 'asset', 'assets', 'in' and 'out' are for other items", it.ID)
		}
		if err := checkLiveURL(it.URL); err != nil {
			return fmt.Errorf("item %q: %w", it.ID, err)
		}
		if d := time.Duration(it.Duration); d < 0 || d > maxLive {
			return fmt.Errorf("item %q: a live item's 'duration' must not be negative or more than %s (leave it out to play until switched back)", it.ID, maxLive)
		}
	case "":
		if it.Duration != 0 || len(it.Assets) > 0 {
			return fmt.Errorf("item %q: 'duration' and 'assets' are for breaks (\"type\":\"break\"); an asset item plays 'asset'", it.ID)
		}
	case ItemBreak:
		if it.Asset != "" || it.In != 0 || it.Out != 0 {
			return fmt.Errorf("item %q: a break plays 'assets' for its 'duration'; 'asset', 'in' and 'out' are for asset items", it.ID)
		}
		if d := time.Duration(it.Duration); d <= 0 || d > maxBreak {
			return fmt.Errorf("item %q: a break's 'duration' must be more than 0 and at most %s", it.ID, maxBreak)
		}
		if len(it.Assets) > 100 {
			return fmt.Errorf("item %q: a break has at most 100 'assets'", it.ID)
		}
	default:
		return fmt.Errorf("item %q: invalid type %q: use %q, %q or %q", it.ID, it.Type, ItemAsset, ItemBreak, ItemLive)
	}
	if len(it.Title) > 256 || strings.ContainsFunc(it.Title, func(r rune) bool { return r == '"' || unicode.IsControl(r) }) {
		return fmt.Errorf("item %q: invalid title: at most 256 characters, no '\"' or control characters", it.ID)
	}
	if it.In < 0 || it.Out < 0 {
		return fmt.Errorf("item %q: 'in' and 'out' must not be negative", it.ID)
	}
	return nil
}
