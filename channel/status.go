package channel

import (
	"github.com/pullpush/pullpush/internal/buildinfo"

	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"
)

// ChannelStatus is what a channel plays at an instant (GET /status).
type ChannelStatus struct {
	ID string `json:"id"`
	// Time is the instant of the status.
	Time time.Time `json:"time"`
	// Started is false before the channel's epoch (then Now is nil).
	Started bool `json:"started"`
	// Now is what plays at Time, Next what follows it.
	Now  *Playing `json:"now,omitempty"`
	Next *Playing `json:"next,omitempty"`
	// MediaSequence and DiscontinuitySequence are those of the first video
	// playlist at Time; LastSequence is the media sequence number of its
	// newest segment.
	MediaSequence         int64 `json:"mediaSequence"`
	LastSequence          int64 `json:"lastSequence"`
	DiscontinuitySequence int64 `json:"discontinuitySequence"`
	// Errors are the channel's assets that failed to load (the slate plays
	// instead), a schedule file that could not be read, and the errors of
	// the live source that plays.
	Errors []AssetError `json:"errors,omitempty"`
	// Live is true while a live item plays; LiveSource describes it.
	Live       bool              `json:"live"`
	LiveSource *LiveSourceStatus `json:"liveSource,omitempty"`
}

// Playing is one clip of a channel's timeline.
type Playing struct {
	Asset string `json:"asset"`
	Title string `json:"title,omitempty"`
	// Item is the id of the schedule item, empty for the loop.
	Item string `json:"item,omitempty"`
	// Break is true during an ad break (Item is the break; Asset the ad
	// that plays, empty for the slate filling the break).
	Break bool `json:"break,omitempty"`
	// Slate is true when the slate plays instead of the asset.
	Slate bool `json:"slate,omitempty"`
	// Live is true for a live item (Asset is empty).
	Live  bool      `json:"live,omitempty"`
	Start time.Time `json:"start"`
	// End is absent for a live item without an end yet.
	End time.Time `json:"end,omitzero"`
	// Position is the time in seconds since Start (Now only).
	Position float64 `json:"position,omitempty"`
}

// AssetError is an asset that failed and why.
type AssetError struct {
	Asset string `json:"asset,omitempty"`
	Error string `json:"error"`
}

// clipAt describes the clip of the timeline that plays at p (from the
// epoch): its clip, asset id, schedule item, and span.
func (ch *channel) clipAt(tl *timeline, p time.Duration) (c *clip, assetID string, it *ScheduleItem, start, end time.Duration) {
	pc := tl.pieces[tl.pieceAt(p)]
	if pc.clip != nil {
		return pc.clip, pc.asset, pc.item, pc.start, min(pc.start+pc.clip.dur, pc.end)
	}
	x := pc.loopPos + (p - pc.start)
	n := int64(x / ch.loop)
	q := x - time.Duration(n)*ch.loop
	lay := ch.layoutFor(n)
	e := sort.Search(len(ch.clips), func(i int) bool { return lay.start[i+1] > q })
	start = pc.start + time.Duration(n)*ch.loop + lay.start[e] - pc.loopPos
	c = ch.clips[lay.order[e]]
	return c, ch.assetID[lay.order[e]], nil, start, min(start+c.dur, pc.end)
}

func (e *Engine) playing(ch *channel, tl *timeline, p time.Duration) *Playing {
	c, id, it, start, end := ch.clipAt(tl, p)
	pl := &Playing{
		Asset: id,
		Title: e.library[id].Title,
		Slate: c.failed != nil,
		Start: ch.epoch.Add(start).UTC(),
	}
	if end < forever/2 {
		pl.End = ch.epoch.Add(end).UTC()
	}
	if it != nil {
		pl.Live = it.Type == ItemLive
		pl.Item = it.ID
		pl.Break = it.Type == ItemBreak
		if it.Title != "" {
			pl.Title = it.Title
		}
	}
	return pl
}

// Status returns the status of every configured channel at the engine's
// clock.
func (e *Engine) Status() []ChannelStatus {
	now := e.now()
	out := make([]ChannelStatus, 0, len(e.static))
	for _, ch := range e.static {
		out = append(out, e.channelStatus(ch, now))
	}
	return out
}

func (e *Engine) channelStatus(ch *channel, now time.Time) ChannelStatus {
	schedErr := e.refreshSchedule(ch)
	st := ChannelStatus{ID: ch.id, Time: now.UTC()}
	seen := map[string]bool{}
	for _, id := range ch.assetID {
		if err, ok := e.failed[id]; ok && !seen[id] {
			st.Errors = append(st.Errors, AssetError{Asset: id, Error: err.Error()})
		}
		seen[id] = true
	}
	if schedErr != nil {
		st.Errors = append(st.Errors, AssetError{Error: schedErr.Error()})
	}
	tl := ch.tl.Load()
	p := now.Sub(ch.epoch)
	if p < 0 {
		st.Next = e.playing(ch, tl, 0)
		return st
	}
	st.Started = true
	st.Now = e.playing(ch, tl, p)
	st.Now.Position = now.Sub(st.Now.Start).Seconds()
	if !st.Now.End.IsZero() {
		st.Next = e.playing(ch, tl, st.Now.End.Sub(ch.epoch))
	}
	if pc := tl.pieces[tl.pieceAt(p)]; pc.live != nil {
		st.Live = true
		st.LiveSource = pc.live.status(now)
		if st.LiveSource.Error != "" {
			st.Errors = append(st.Errors, AssetError{Asset: pc.live.asset.ID, Error: st.LiveSource.Error})
		}
	}
	if m, err := ch.media(0, now); err == nil {
		st.MediaSequence = m.MediaSequence
		st.LastSequence = m.MediaSequence + int64(len(m.Segments)) - 1
		st.DiscontinuitySequence = m.DiscontinuitySequence
	}
	return st
}

// Health reports whether every asset of every configured channel loaded
// (nil), or which did not.
func (e *Engine) Health() error {
	if len(e.failed) == 0 {
		return nil
	}
	var msgs []string
	for _, id := range slices.Sorted(maps.Keys(e.failed)) {
		msgs = append(msgs, fmt.Sprintf("asset %q: %v", id, e.failed[id]))
	}
	return errors.New(strings.Join(msgs, "; "))
}

// OpsHandler serves the engine's operations endpoints:
//
//	GET /health  200 {"status":"ok"} when every asset loaded, else 503
//	             {"status":"degraded","error":"..."} (the slate plays for
//	             the failed assets)
//	GET /status  {"channels":[ChannelStatus...]}: what plays now and next,
//	             the media sequence, and errors, per configured channel
func (e *Engine) OpsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		if err := e.Health(); err != nil {
			h := buildinfo.Health("degraded")
			h["error"] = err.Error()
			writeJSON(w, http.StatusServiceUnavailable, h)
			return
		}
		writeJSON(w, http.StatusOK, buildinfo.Health("ok"))
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"channels": e.Status()})
	})
	return mux
}
