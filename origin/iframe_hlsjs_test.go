package origin

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/dashboard"
	"github.com/pullpush/pullpush/internal/cdp"
	"github.com/pullpush/pullpush/internal/testutil"
)

// hlsjsPage plays /out/v1/live/ts/index.m3u8 with the vendored hls.js and
// keeps what it saw in window.st.
const hlsjsPage = `<!doctype html><html><body><video id="v" muted autoplay></video>
<script src="` + dashboard.HLSJSPath + `"></script>
<script>
window.st = {parsed: false, levels: [], errors: [], time: 0};
const v = document.getElementById('v');
const hls = new Hls({startPosition: 0});
hls.on(Hls.Events.MANIFEST_PARSED, (e, d) => {
	st.parsed = true;
	st.levels = d.levels.map(l => l.url[0] + ' ' + l.width + 'x' + l.height);
	v.play();
});
hls.on(Hls.Events.ERROR, (e, d) => { st.errors.push(d.type + ':' + d.details + (d.fatal ? ' (fatal)' : '')); });
v.addEventListener('timeupdate', () => { st.time = v.currentTime; });
hls.loadSource('/out/v1/live/ts/index.m3u8');
hls.attachMedia(v);
</script></body></html>`

// TestIFrameMultivariantHLSJS has hls.js (which has no I-frame playlist
// API) load a multivariant with an EXT-X-I-FRAME-STREAM-INF per video
// rendition in headless Chromium: it parses it without error, takes only
// the two EXT-X-STREAM-INF variants as levels and plays.
func TestIFrameMultivariantHLSJS(t *testing.T) {
	chromium := testutil.RequireTool(t, "chromium")
	l := makeFFmpegLadder(t, 6, 25, 2)
	e := newEnv(t, func(c *Config) {
		c.Channels[0].ManifestWindow = time.Minute
		c.Channels[0].Endpoints = []EndpointConfig{{ID: "ts"}}
	})
	l.pushLive(e, e.pusher("a"), 10)
	if _, body := e.get("/out/v1/live/ts/index.m3u8"); strings.Count(string(body), "#EXT-X-I-FRAME-STREAM-INF:") != 2 {
		t.Fatalf("multivariant lacks two I-frame variants:\n%s", body)
	}
	mux := http.NewServeMux()
	mux.Handle(dashboard.AssetPrefix, dashboard.Handler(dashboard.Config{}))
	mux.HandleFunc("GET /player", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(hlsjsPage))
	})
	mux.Handle("/", e.o.Handler())
	srv := newLoopbackServer(t, mux)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
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
	if err := page.Navigate(ctx, srv.URL+"/player"); err != nil {
		t.Fatal(err)
	}
	type state struct {
		Parsed bool     `json:"parsed"`
		Levels []string `json:"levels"`
		Errors []string `json:"errors"`
		Time   float64  `json:"time"`
	}
	var st state
	testutil.Eventually(t, 60*time.Second, func() bool {
		st = state{}
		if err := page.Evaluate(ctx, `window.st || null`, &st); err != nil {
			t.Fatal(err)
		}
		return st.Parsed && st.Time > 1.5 || len(st.Errors) > 0
	}, "hls.js does not play: %+v", &st)
	if len(st.Errors) > 0 {
		t.Fatalf("hls.js errors: %q (state %+v)", st.Errors, st)
	}
	if len(st.Levels) != 2 || strings.Contains(strings.Join(st.Levels, " "), iframesName) {
		t.Fatalf("hls.js levels %q, want the two EXT-X-STREAM-INF variants and no I-frame playlist", st.Levels)
	}
	t.Logf("hls.js levels %q, played to %.1f s", st.Levels, st.Time)
}
