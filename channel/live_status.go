package channel

import (
	"net/url"
	"time"
)

// LiveSourceStatus is the state of the live source a channel plays
// (ChannelStatus.LiveSource).
type LiveSourceStatus struct {
	// Item is the id of the live schedule item.
	Item string `json:"item"`
	// URL is the source's playlist, without credentials.
	URL string `json:"url"`
	// State is "starting" (no segment placed yet), "live" (the newest
	// segment of the first video playlist is the source's) or "slate".
	State string `json:"state"`
	// Error is why the source cannot play now (a poll error, a source that
	// stopped listing new segments, a rendition the source lacks), empty
	// when it plays.
	Error string `json:"error,omitempty"`
	// PollErrors counts the failed polls of the source so far.
	PollErrors int `json:"pollErrors"`
	// LastNewSegment is when the source last listed a new segment.
	LastNewSegment time.Time `json:"lastNewSegment,omitzero"`
}

// status describes the feed at now.
func (f *liveFeed) status(now time.Time) *LiveSourceStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := &LiveSourceStatus{Item: f.item, URL: withoutUser(f.url), State: "starting", PollErrors: f.errs, LastNewSegment: f.lastNew.UTC()}
	if f.lastNew.IsZero() {
		st.LastNewSegment = time.Time{}
	}
	if segs := f.tracks[0].segs; len(segs) > 0 {
		st.State = "live"
		if segs[len(segs)-1].asset == f.slate {
			st.State = "slate"
		}
	}
	err := f.downFor(nil, now)
	for t := range f.tracks {
		if err == nil && f.master {
			err = f.tracks[t].srcErr
		}
		if r := f.trackSource(t); err == nil && r != nil {
			err = f.downFor(r, now)
		}
	}
	if err == nil {
		err = f.err
	}
	if err != nil {
		st.Error = err.Error()
	}
	return st
}

// withoutUser returns a URL without its user information.
func withoutUser(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	u.User = nil
	return u.String()
}
