package channel

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/pullpush/pullpush/channel/internal/asset"
)

// ErrNotLive: the channel plays no live item to switch back from.
var ErrNotLive = errors.New("channel is not playing a live item")

// SwitchSpec is the body of POST /api/v1/channels/{id}/switch: a live
// source to switch to now ({"url":...,"duration":"5m"}), or {"to":"vod"}
// to switch back.
type SwitchSpec struct {
	// To is "live" (the default when URL is set) or "vod".
	To string `json:"to,omitempty"`
	// URL is the live source's HLS playlist.
	URL string `json:"url,omitempty"`
	// Duration is optional: without it the live item plays until switched
	// back or until the next scheduled item starts.
	Duration Seconds `json:"duration,omitempty"`
	// ID and Title are those of the schedule item the switch adds.
	ID    string `json:"id,omitempty"`
	Title string `json:"title,omitempty"`
}

// SwitchLive adds a live item to the schedule of channel id that starts at
// the next segment boundary of its first video playlist.
func (e *Engine) SwitchLive(id, ifMatch string, spec SwitchSpec) (Schedule, error) {
	ch := e.staticChannel(id)
	s, err := e.changeSchedule(id, ifMatch, func(cur []ScheduleItem, now time.Time) ([]ScheduleItem, error) {
		tl, err := e.scheduleTimeline(ch, cur)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadSchedule, err)
		}
		start := ch.epoch.Add(ch.nextSegmentBoundary(tl, now)).UTC()
		if slices.ContainsFunc(cur, func(o ScheduleItem) bool { return o.Start.Equal(start) }) {
			return nil, fmt.Errorf("%w: the next segment boundary (%s) is taken by another item; retry", ErrBadSchedule, start.Format(time.RFC3339Nano))
		}
		items, err := e.addItems(ch, cur, []ItemSpec{{ID: spec.ID, Type: ItemLive, URL: spec.URL, Title: spec.Title,
			Duration: spec.Duration, Start: start.Format(time.RFC3339Nano)}}, now)
		if err != nil {
			return nil, err
		}
		// addItems may have moved the start onto a frame grid; a live item
		// starts exactly at the segment boundary.
		for i := range items {
			if !slices.ContainsFunc(cur, func(o ScheduleItem) bool { return o.ID == items[i].ID }) {
				items[i].Start = start
			}
		}
		slices.SortStableFunc(items, func(a, b ScheduleItem) int { return a.Start.Compare(b.Start) })
		return items, nil
	})
	if err == nil {
		ch.resolve(ch.tl.Load(), e.now()) // starts polling the source
	}
	return s, err
}

// SwitchBack ends the live item that plays now on channel id at the next
// segment boundary; the VOD loop (or the next item) follows.
func (e *Engine) SwitchBack(id, ifMatch string) (Schedule, error) {
	ch := e.staticChannel(id)
	return e.changeSchedule(id, ifMatch, func(cur []ScheduleItem, now time.Time) ([]ScheduleItem, error) {
		tl, err := e.scheduleTimeline(ch, cur)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadSchedule, err)
		}
		p := now.Sub(ch.epoch)
		pc := tl.pieces[tl.pieceAt(p)]
		if pc.live == nil {
			return nil, ErrNotLive
		}
		end := ch.nextSegmentBoundary(tl, now)
		if end >= pc.end {
			return cur, nil // it ends by then anyway
		}
		i := slices.IndexFunc(cur, func(it ScheduleItem) bool { return it.ID == pc.item.ID })
		cur[i].Duration = Seconds(end - pc.start)
		return cur, nil
	})
}

// nextSegmentBoundary is where the first segment of the first video
// playlist that starts at least minSpan after now starts (from the epoch).
// During a live item whose next segment is not placed yet, it is where the
// segments placed so far end, or minSpan after now.
func (ch *channel) nextSegmentBoundary(tl *timeline, now time.Time) time.Duration {
	p := now.Sub(ch.epoch)
	tl = ch.resolve(tl, now)
	cur := tl.seek(ch, 0, p+minSpan)
	if cur.valid() {
		return cur.at().start
	}
	pc := tl.pieces[cur.pi]
	if segs := pc.clip.tracks[0].segs; len(segs) > 0 {
		if e := pc.start + segs[len(segs)-1].start + segs[len(segs)-1].dur; e > p {
			return e
		}
	}
	return (p + minSpan).Round(time.Millisecond)
}

// switchStatus maps an error of the switch API to an HTTP status.
func switchStatus(err error) int {
	if errors.Is(err, ErrNotLive) {
		return http.StatusConflict
	}
	return scheduleStatus(err)
}

func (e *Engine) serveSwitch(w http.ResponseWriter, r *http.Request) {
	var spec SwitchSpec
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxScheduleBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		writeError(w, http.StatusBadRequest, errors.New("switch: invalid JSON body: "+err.Error()))
		return
	}
	id, ifMatch := r.PathValue("id"), r.Header.Get("If-Match")
	var s Schedule
	var err error
	status := http.StatusCreated
	switch {
	case spec.To == "vod":
		if spec.URL != "" || spec.Duration != 0 || spec.ID != "" || spec.Title != "" {
			writeError(w, http.StatusBadRequest, errors.New(`switch: {"to":"vod"} takes no other field`))
			return
		}
		s, err = e.SwitchBack(id, ifMatch)
		status = http.StatusOK
	case spec.To != "" && spec.To != ItemLive:
		writeError(w, http.StatusBadRequest, fmt.Errorf("switch: 'to' must be %q or \"vod\", got %q", ItemLive, spec.To))
		return
	case spec.URL == "":
		writeError(w, http.StatusBadRequest, errors.New(`switch: 'url' (the live source's HLS playlist) is required, or {"to":"vod"}`))
		return
	default:
		s, err = e.SwitchLive(id, ifMatch, spec)
	}
	e.answerSwitch(w, status, s, err)
}

func (e *Engine) serveSwitchBack(w http.ResponseWriter, r *http.Request) {
	s, err := e.SwitchBack(r.PathValue("id"), r.Header.Get("If-Match"))
	e.answerSwitch(w, http.StatusOK, s, err)
}

func (e *Engine) answerSwitch(w http.ResponseWriter, status int, s Schedule, err error) {
	if err != nil {
		writeError(w, switchStatus(err), err)
		return
	}
	w.Header().Set("ETag", s.Version)
	writeJSON(w, status, s)
}

// openLive returns the last item of tl when it is a live item without an
// end, else nil.
func openLive(tl *timeline) *ScheduleItem {
	sps := tl.spans()
	if len(sps) == 0 {
		return nil
	}
	if sp := sps[len(sps)-1]; sp.item.Type == ItemLive && sp.end == forever {
		return sp.item
	}
	return nil
}

// checkLiveURL checks the source URL of a live item: an absolute http(s)
// URL.
func checkLiveURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("invalid 'url' %q: a live item needs the http(s) URL of an HLS playlist", asset.Redact(raw))
	}
	if len(raw) > 2048 {
		return errors.New("'url' is longer than 2048 characters")
	}
	return nil
}
