package channel

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pullpush/pullpush/dashboard"
	"github.com/pullpush/pullpush/internal/cdp"
	"github.com/pullpush/pullpush/internal/testutil"
)

// liveHLSJSPage plays channel 1 with the vendored hls.js and keeps in
// window.st what it saw: errors, the playback time, and the kind of
// source ("vod", "live", "slate") of each fragment it played, in order.
const liveHLSJSPage = `<!doctype html><html><body><video id="v" muted autoplay></video>
<script src="` + dashboard.HLSJSPath + `"></script>
<script>
window.st = {errors: [], fatal: false, time: 0, kinds: []};
const kind = u => u.includes('/seg/_live-') ? 'live' : u.includes('/seg/_slate') ? 'slate' : 'vod';
const v = document.getElementById('v');
const hls = new Hls();
hls.on(Hls.Events.MANIFEST_PARSED, () => v.play());
hls.on(Hls.Events.ERROR, (e, d) => { st.errors.push(d.type + ':' + d.details + (d.fatal ? ' (fatal)' : '')); if (d.fatal) st.fatal = true; });
hls.on(Hls.Events.FRAG_CHANGED, (e, d) => { const k = kind(d.frag.url); if (st.kinds[st.kinds.length-1] !== k) st.kinds.push(k); });
v.addEventListener('timeupdate', () => { st.time = v.currentTime; });
// For the failure message: the buffered ranges and the last fragments.
setInterval(() => {
  const b = [];
  for (let i = 0; i < v.buffered.length; i++) b.push(v.buffered.start(i).toFixed(2) + '-' + v.buffered.end(i).toFixed(2));
  st.buf = b.join(' ');
}, 500);
hls.on(Hls.Events.FRAG_BUFFERED, (e, d) => {
  const f = d.frag;
  st.frags = (st.frags || []).slice(-20);
  st.frags.push(f.type + ' ' + f.sn + ' cc' + f.cc + ' ' + f.start.toFixed(2) + '+' + f.duration.toFixed(2) + ' ' + f.url.split('/').slice(-2).join('/'));
});
hls.loadSource('/channels/1/master.m3u8');
hls.attachMedia(v);
</script></body></html>`

// TestLiveHLSJS has hls.js in headless Chromium play the bundled channel
// on the wall clock while it is switched to a live source for 10 s and
// then through a 6 s ad break: it plays the loop, the live source, the
// loop, the break and the loop again without a fatal error, and its
// playback time keeps advancing.
func TestLiveHLSJS(t *testing.T) {
	chromium := testutil.RequireTool(t, "chromium")
	r := newLiveRig(t, nil)
	mux := http.NewServeMux()
	mux.Handle(dashboard.AssetPrefix, dashboard.Handler(dashboard.Config{}))
	mux.HandleFunc("GET /player", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte(liveHLSJSPage))
	})
	// Every media playlist hls.js loads is checked as the rig's fetch
	// checks its own (a segment keeps its URI, date and discontinuity
	// sequence number), and the renditions it played are compared at
	// the end.
	var bad atomic.Value
	mux.Handle("/", recordPlaylists(r, r.e.Handler(), func(err error) { bad.CompareAndSwap(nil, err) }))
	hs := httptest.NewServer(mux)
	defer hs.Close()
	srv := hs.URL
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		r.checkRenditions()
		for _, name := range r.names() {
			t.Logf("%s as hls.js loaded it:\n%s", name, r.dump(name, 90))
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	b, err := cdp.Start(ctx, chromium)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	page, err := b.NewPage(ctx)
	if err != nil {
		t.Fatalf("%v\nchromium output:\n%s", err, b.Output())
	}
	defer page.Close()
	if err := page.Navigate(ctx, srv+"/player"); err != nil {
		t.Fatal(err)
	}
	type state struct {
		Errors []string `json:"errors"`
		Fatal  bool     `json:"fatal"`
		Time   float64  `json:"time"`
		Kinds  []string `json:"kinds"`
		Buf    string   `json:"buf"`
		Frags  []string `json:"frags"`
	}
	var st state
	poll := func(what string, timeout time.Duration, cond func() bool) {
		t.Helper()
		testutil.Eventually(t, timeout, func() bool {
			st = state{}
			if err := page.Evaluate(ctx, `window.st || null`, &st); err != nil {
				t.Fatal(err)
			}
			return st.Fatal || cond()
		}, "hls.js: %s: %+v", what, &st)
		if st.Fatal {
			t.Fatalf("hls.js fatal error %s: %+v", what, st)
		}
	}
	poll("plays the loop", 60*time.Second, func() bool { return st.Time > 2 })

	status, body := apiCall(t, "POST", r.srv.URL+"/api/v1/channels/1/switch", testToken, `{"url":"`+r.srcURL+`","duration":"10s","id":"event"}`, nil)
	if status != 201 {
		t.Fatalf("switch: %d %s", status, body)
	}
	// (The slate may show up in the live part on a loaded machine.)
	played := regexp.MustCompile(`^vod live( (live|slate))* vod$`)
	poll("plays the live source and the loop again", 90*time.Second, func() bool {
		return played.MatchString(strings.Join(st.Kinds, " "))
	})
	at := st.Time
	poll("keeps playing after the live item", 30*time.Second, func() bool { return st.Time > at+2 })

	// An ad break a few seconds from now, filled by the slate (the
	// channel has no ads): hls.js plays into it and out of it.
	n := len(st.Kinds)
	start := time.Now().Add(4 * time.Second).UTC().Format(time.RFC3339)
	status, body = apiCall(t, "POST", r.srv.URL+"/api/v1/channels/1/schedule", testToken,
		`{"items":[{"id":"break1","type":"break","duration":6,"start":"`+start+`"}]}`, nil)
	if status != 201 {
		t.Fatalf("ad break: %d %s", status, body)
	}
	poll("plays the ad break and the loop again", 60*time.Second, func() bool {
		return len(st.Kinds) >= n+2 && st.Kinds[n] == "slate" && st.Kinds[n+1] == "vod"
	})
	at = st.Time
	poll("keeps playing after the ad break", 30*time.Second, func() bool { return st.Time > at+2 })
	if err, _ := bad.Load().(error); err != nil {
		t.Errorf("playlists hls.js loaded: %v", err)
	}
	if names := r.names(); len(names) < 2 {
		t.Errorf("hls.js loaded only %q", names)
	}
	r.checkRenditions()
	t.Logf("hls.js played %s to %.1f s; non-fatal errors: %q", strings.Join(st.Kinds, " → "), st.Time, st.Errors)
}

// recordPlaylists serves h and records the channel-1 media playlists it
// serves in r (see liveRig.record), reporting what is wrong with one.
func recordPlaylists(r *liveRig, h http.Handler, report func(error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		name, ok := strings.CutPrefix(req.URL.Path, "/channels/1/")
		if !ok || !strings.HasSuffix(name, ".m3u8") || name == "master.m3u8" {
			h.ServeHTTP(w, req)
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code == http.StatusOK {
			if _, err := r.record(name, rec.Body.Bytes()); err != nil {
				report(err)
			}
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
}

// names lists the playlists recorded, in order.
func (r *liveRig) names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for n := range r.seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// checkRenditions checks the discontinuity sequence numbers of every
// recorded playlist against the first one's (see checkDiscontinuities).
func (r *liveRig) checkRenditions() {
	r.t.Helper()
	names := r.names()
	for _, n := range names[min(1, len(names)):] {
		r.checkDiscontinuities(names[0], n)
	}
}
