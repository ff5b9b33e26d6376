package origin

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pullpush/pullpush/internal/testmedia"
	"github.com/pullpush/pullpush/internal/testutil"
)

// shakaTrickPage loads the MPD of ?mpd= in Shaka Player, plays it and
// fast-forwards with trickPlay(4).
const shakaTrickPage = `<!doctype html>
<html><body>
<video id="v" muted autoplay playsinline width="320" height="180"></video>
<script src="/shaka-player.compiled.js"></script>
<script>
window.errors = []; window.trick = false; window.loaded = false;
(async () => {
  shaka.polyfill.installAll();
  const v = document.getElementById('v');
  const p = new shaka.Player();
  window.player = p;
  p.addEventListener('error', e => window.errors.push(JSON.stringify(e.detail)));
  await p.attach(v);
  try {
    await p.load(new URLSearchParams(location.search).get('mpd'));
    const m = p.getManifest && p.getManifest();
    window.trick = !!(m && m.variants.some(x => x.video && x.video.trickModeVideo));
    window.loaded = true;
    await v.play();
    p.trickPlay(4);
  } catch (e) {
    window.errors.push(JSON.stringify(e));
  }
})();
</script>
</body></html>`

// TestDASHBrowserTrickPlay loads a closed window of the DASH endpoint
// (two Periods) in Shaka Player in headless Chromium: Shaka finds the
// trick-play AdaptationSet of the video (trickModeVideo), and fast forward
// (trickPlay(4)) plays on by fetching the trick-play segments, without
// errors.
func TestDASHBrowserTrickPlay(t *testing.T) {
	chromium := testutil.RequireTool(t, "chromium")
	js := testutil.NPMFile(t, "shaka-player", "4", "dist/shaka-player.compiled.js")

	clock := newClock()
	o, err := New(Config{
		DataDir: t.TempDir(),
		Channels: []ChannelConfig{{
			ID: testChannel, Username: testUser, Password: testPass,
			Endpoints: []EndpointConfig{{ID: "ts"}, {ID: "dash", Packaging: PackagingDASH}},
		}},
		Now: clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	var trickGets atomic.Int64
	out := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/"+trickPrefix) {
			trickGets.Add(1)
		}
		o.Handler().ServeHTTP(w, r)
	})
	srv := playerServer(t, o, out, "/shaka-player.compiled.js", js, shakaTrickPage)
	e := &env{t: t, o: o, srv: srv, clock: clock}
	l := newLive(t, testmedia.TS, clock.Now())
	e.pushSteps(l, e.pusher("a"), 0, 16)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	mpd := "/out/v1/live/dash/index.mpd" + vod(l, 0, 16)
	page, problems := openPlayer(t, ctx, chromium, srv.URL+"/?mpd="+strings.ReplaceAll(strings.ReplaceAll(mpd, "&", "%26"), "+", "%2B"))
	type state struct {
		Loaded bool     `json:"loaded"`
		Trick  bool     `json:"trick"`
		Time   float64  `json:"time"`
		Rate   float64  `json:"rate"`
		Errors []string `json:"errors"`
	}
	const stateJS = `(() => {
		const v = document.getElementById('v'), p = window.player;
		if (!v || !p) return null;
		return {loaded: window.loaded, trick: window.trick, time: v.currentTime, rate: p.getPlaybackRate(), errors: window.errors};
	})()`
	var st state
	testutil.Eventually(t, 90*time.Second, func() bool {
		st = state{}
		if err := page.Evaluate(ctx, stateJS, &st); err != nil {
			t.Fatalf("%v\npage problems:\n%s", err, problems)
		}
		if len(st.Errors) > 0 {
			t.Fatalf("Shaka errors: %v\npage problems:\n%s", st.Errors, problems)
		}
		return st.Loaded && st.Trick && st.Rate == 4 && st.Time > 4 && trickGets.Load() >= 2
	}, "Shaka did not fast-forward on the trick-play Representation: %+v, %d trick-play GETs\npage problems:\n%s", &st, &trickGets, problems)
	t.Logf("Shaka 4: trickModeVideo found, at rate %.0f played to %.1f s with %d trick-play segment GETs", st.Rate, st.Time, trickGets.Load())
}
