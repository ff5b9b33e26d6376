package origin

import (
	"context"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/internal/testmedia"
	"github.com/pullpush/pullpush/internal/testutil"
)

// dashExtrasPage plays the live DASH endpoint with dash.js, subscribed to
// the SCTE-35 EventStream, with subtitles shown.
const dashExtrasPage = `<!doctype html>
<html><body>
<video id="v" muted autoplay playsinline width="320" height="180"></video>
<script src="/dash.all.min.js"></script>
<script>
window.errors = []; window.events = [];
const p = dashjs.MediaPlayer().create();
p.updateSettings({debug: {logLevel: dashjs.Debug.LOG_LEVEL_WARNING}, streaming: {text: {defaultEnabled: true}}});
p.on(dashjs.MediaPlayer.events.ERROR, e => window.errors.push(JSON.stringify(e.error || e)));
p.on('urn:scte:scte35:2014:xml+bin', e => window.events.push({id: String(e.event.id), duration: e.event.duration,
  at: e.event.calculatedPresentationTime, data: String(e.event.messageData || '')}),
  null, {mode: dashjs.MediaPlayer.events.EVENT_MODE_ON_RECEIVE});
p.initialize(document.getElementById('v'), '/out/v1/live/dash/index.mpd', true);
window.player = p;
</script>
</body></html>`

// TestDASHBrowserEventsAndSubtitles plays the live DASH endpoint of an
// ingest with ad breaks and WebVTT subtitles in dash.js (headless
// Chromium): dash.js receives the SCTE-35 events of the EventStream with
// their ids and durations, and shows the subtitle cues of the text
// AdaptationSet ("Segment n") as a text track, without errors.
func TestDASHBrowserEventsAndSubtitles(t *testing.T) {
	chromium := testutil.RequireTool(t, "chromium")
	js := installDashJS(t)

	o, err := New(Config{
		DataDir: t.TempDir(),
		Channels: []ChannelConfig{{
			ID: testChannel, Username: testUser, Password: testPass, ManifestWindow: 30 * time.Second,
			Endpoints: []EndpointConfig{{ID: "ts"}, {ID: "dash", Packaging: PackagingDASH}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	srv := playerServer(t, o, nil, "/dash.all.min.js", js, dashExtrasPage)
	e := &env{t: t, o: o, srv: srv}

	// Live, pushed by the wall clock, with a 4 s break every 6 segments.
	l := newLive(t, testmedia.TS, time.Now().Add(-10*time.Second).Truncate(time.Second))
	l.tags = func(n int) []string {
		if n%6 == 3 {
			return []string{"#EXT-X-CUE-OUT:4"}
		}
		if n%6 == 1 && n > 1 {
			return []string{"#EXT-X-CUE-IN"}
		}
		return nil
	}
	p := e.pusher("a")
	pushDue := pushLive(l, p)
	pushDue()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	page, problems := openPlayer(t, ctx, chromium, srv.URL+"/")
	type event struct {
		ID       string  `json:"id"`
		Duration float64 `json:"duration"`
		At       float64 `json:"at"`
		Data     string  `json:"data"`
	}
	type state struct {
		Time   float64  `json:"time"`
		Events []event  `json:"events"`
		Cues   []string `json:"cues"`
		Tracks int      `json:"tracks"`
		Errors []string `json:"errors"`
	}
	const stateJS = `(() => {
		const v = document.getElementById('v'), p = window.player;
		if (!v || !p || !p.isReady()) return null;
		const cues = [];
		for (const tt of v.textTracks) {
			tt.mode = 'showing';
			for (const c of (tt.cues || [])) cues.push(c.text);
		}
		return {time: v.currentTime, events: window.events, cues, tracks: v.textTracks.length, errors: window.errors};
	})()`
	var st state
	testutil.Eventually(t, 90*time.Second, func() bool {
		pushDue()
		st = state{}
		if err := page.Evaluate(ctx, stateJS, &st); err != nil {
			t.Fatalf("%v\npage problems:\n%s", err, problems)
		}
		if len(st.Errors) > 0 {
			t.Fatalf("dash.js errors: %v\npage problems:\n%s", st.Errors, problems)
		}
		withCue := 0
		for _, c := range st.Cues {
			if strings.HasPrefix(c, "Segment ") {
				withCue++
			}
		}
		return st.Time > 4 && len(st.Events) >= 2 && withCue >= 3
	}, "dash.js did not see 2 SCTE-35 events and 3 subtitle cues: %+v\npage problems:\n%s", &st, problems)
	// Each event is presented at its break's PROGRAM-DATE-TIME (segment
	// n at epoch+n s, n%6 == 3), carries a splice_info_section (table_id
	// 0xFC) and its id is the segment's sequence number (its unix second).
	for _, ev := range st.Events {
		n := int64(math.Round(ev.At)) - l.epoch.Unix()
		if ev.Duration != 4 || ev.ID != strconv.FormatInt(l.epoch.Unix()+n, 10) || n%6 != 3 || math.Abs(ev.At-math.Round(ev.At)) > 0.01 ||
			!strings.HasPrefix(ev.Data, "252,") {
			t.Errorf("event %+v, want a 4 s break at a segment n%%6 == 3 (epoch %d)", ev, l.epoch.Unix())
		}
	}
	t.Logf("dash.js %s: played to %.1f s, %d SCTE-35 events (%+v), %d text tracks, cues %q", dashjsVersion, st.Time, len(st.Events), st.Events[0], st.Tracks, st.Cues)
}
