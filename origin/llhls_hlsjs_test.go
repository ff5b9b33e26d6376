package origin

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/dashboard"
	"github.com/pullpush/pullpush/internal/testutil"
)

// llHLSJSPage plays the origin's LL-HLS channel with hls.js in
// low-latency mode and keeps what it saw in window.st: whether the
// playlists carried parts and blocking reload, how many parts it loaded,
// and its latency (hls.latency: behind the live edge; lag: the wall clock
// minus the playing PROGRAM-DATE-TIME, which the source stamps with the
// wall clock at capture: glass to glass).
const llHLSJSPage = `<!doctype html><html><body><video id="v" muted autoplay></video>
<script src="` + dashboard.HLSJSPath + `"></script>
<script>
window.st = {errors: [], time: 0, parts: 0, ll: false, block: false, latency: [], lag: []};
const v = document.getElementById('v');
const hls = new Hls({lowLatencyMode: true});
hls.on(Hls.Events.ERROR, (e, d) => { st.errors.push(d.type + ':' + d.details + (d.fatal ? ' (fatal)' : '')); });
hls.on(Hls.Events.LEVEL_LOADED, (e, d) => {
	st.ll = st.ll || (d.details.partList || []).length > 0;
	st.block = st.block || !!d.details.canBlockReload;
});
hls.on(Hls.Events.FRAG_LOADED, (e, d) => { if (d.part) st.parts++; });
hls.on(Hls.Events.MANIFEST_PARSED, () => v.play());
v.addEventListener('timeupdate', () => { st.time = v.currentTime; });
setInterval(() => {
	if (v.paused || v.currentTime === 0) return;
	st.latency.push(hls.latency);
	if (hls.playingDate) st.lag.push(Date.now() - hls.playingDate.getTime());
}, 250);
hls.loadSource('/out/v1/ll/index.m3u8');
hls.attachMedia(v);
</script></body></html>`

// TestLowLatencyHLSJS has hls.js in low-latency mode, in headless
// Chromium, play the LL-HLS relay chain (gohlslib source, fetcher with
// parts, origin): it sees parts and blocking reload in the playlists,
// loads parts, and plays without a fatal error. Its latency is logged.
func TestLowLatencyHLSJS(t *testing.T) {
	chromium := testutil.RequireTool(t, "chromium")
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	c := startLLChain(t, ctx, 0)
	// A viewer joining a running channel: a few segments in the window.
	u := c.videoPlaylist(t)
	testutil.Eventually(t, 30*time.Second, func() bool { return segmentsAt(u) >= 4 }, "4 segments at the origin")
	mux := http.NewServeMux()
	mux.Handle(dashboard.AssetPrefix, dashboard.Handler(dashboard.Config{}))
	mux.HandleFunc("GET /player", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(llHLSJSPage))
	})
	mux.Handle("GET /watch", dashboard.Page(dashboard.Config{Playback: "/out/v1/ll/index.m3u8"}))
	mux.Handle("/", c.o.Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()
	page, problems := openPlayer(t, ctx, chromium, srv.URL+"/watch")
	// The dashboard's player shows that it plays low-latency HLS and how
	// far behind the source clock.
	var dash struct {
		Status string `json:"status"`
		Behind string `json:"behind"`
	}
	testutil.Eventually(t, 60*time.Second, func() bool {
		err := page.Evaluate(ctx, `({status: document.getElementById('player-status').textContent, behind: document.getElementById('player').dataset.behind || ''})`, &dash)
		return err == nil && strings.Contains(dash.Status, "low-latency HLS") && dash.Behind != ""
	}, "dashboard showing low-latency HLS and its latency (status %q)", dash.Status)
	t.Logf("dashboard: %s", dash.Status)

	// Then hls.js itself, in low-latency mode. (Opened second: the first
	// page a fresh headless Chromium plays keeps a playing date that falls
	// behind the clock, dashboard or not.)
	if err := page.Navigate(ctx, srv.URL+"/player"); err != nil {
		t.Fatal(err)
	}
	type state struct {
		Errors  []string  `json:"errors"`
		Time    float64   `json:"time"`
		Parts   int       `json:"parts"`
		LL      bool      `json:"ll"`
		Block   bool      `json:"block"`
		Latency []float64 `json:"latency"`
		Lag     []float64 `json:"lag"`
	}
	var st state
	testutil.Eventually(t, 90*time.Second, func() bool {
		if err := page.Evaluate(ctx, "window.st", &st); err != nil {
			return false // the page is still loading
		}
		for _, e := range st.Errors {
			if strings.Contains(e, "fatal") {
				t.Fatalf("hls.js: %v\nbrowser: %s", st.Errors, problems.String())
			}
		}
		return st.Time >= 8 && len(st.Lag) >= 8
	}, "hls.js playing 8 s of the LL-HLS channel (at %.1f s, %d parts, errors %v)", st.Time, st.Parts, st.Errors)
	if !st.LL || !st.Block {
		t.Fatalf("hls.js saw parts %t, blocking reload %t in the origin's playlists", st.LL, st.Block)
	}
	if st.Parts == 0 {
		t.Fatal("hls.js loaded no part: it did not play in low-latency mode")
	}
	lag := slices.Clone(st.Lag)
	slices.Sort(lag)
	lat := slices.Clone(st.Latency)
	slices.Sort(lat)
	t.Logf("hls.js low-latency: %d parts loaded, %.1f s played; glass-to-glass (now - playing PDT) p50 %.0f ms, max %.0f ms; hls.latency p50 %.2f s; non-fatal errors %v",
		st.Parts, st.Time, lag[len(lag)/2], lag[len(lag)-1], lat[len(lat)/2], st.Errors)

}
