package origin

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/internal/cdp"
	"github.com/pullpush/pullpush/internal/testmedia"
	"github.com/pullpush/pullpush/internal/testutil"
)

// dashjsVersion is the dash.js release the browser test installs.
const dashjsVersion = "4"

// installDashJS installs dash.js with npm into a temporary directory and
// returns its player script. Without npm or the registry the test is
// skipped, unless PULLPUSH_REQUIRE_TOOLS=1.
func installDashJS(t *testing.T) []byte {
	t.Helper()
	npm := testutil.LookTool(t, "npm", "apt-get install npm")
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, npm, "install", "--prefix", dir, "--no-audit", "--no-fund", "--no-save", "dashjs@"+dashjsVersion).CombinedOutput()
	if err != nil {
		msg := fmt.Sprintf("npm install dashjs: %v\n%s", err, out)
		if os.Getenv("PULLPUSH_REQUIRE_TOOLS") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	js, err := os.ReadFile(filepath.Join(dir, "node_modules", "dashjs", "dist", "dash.all.min.js"))
	if err != nil {
		t.Fatal(err)
	}
	return js
}

const dashPage = `<!doctype html>
<html><body>
<video id="v" muted autoplay playsinline width="320" height="180"></video>
<script src="/dash.all.min.js"></script>
<script>
window.errors = []; window.periods = [];
const p = dashjs.MediaPlayer().create();
p.updateSettings({debug: {logLevel: dashjs.Debug.LOG_LEVEL_WARNING}});
p.on(dashjs.MediaPlayer.events.ERROR, e => window.errors.push(JSON.stringify(e.error || e)));
p.on(dashjs.MediaPlayer.events.PERIOD_SWITCH_COMPLETED, e => window.periods.push(e.toStreamInfo && e.toStreamInfo.id));
p.initialize(document.getElementById('v'), '/out/v1/live/dash/index.mpd', true);
window.player = p;
</script>
</body></html>`

// TestDASHBrowserLive plays the live DASH endpoint with dash.js in
// headless Chromium while segments are pushed in real time: the player
// treats it as live, plays across Period boundaries (the test media's
// clock restarts every 8 s) without errors and stays near the live edge.
func TestDASHBrowserLive(t *testing.T) {
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
	srv := playerServer(t, o, nil, "/dash.all.min.js", js, dashPage)
	e := &env{t: t, o: o, srv: srv}

	// A live source: segment n covers epoch+n .. epoch+n+1 s and is pushed
	// once it is complete by the wall clock; 10 s of backlog first.
	l := newLive(t, testmedia.TS, time.Now().Add(-10*time.Second).Truncate(time.Second))
	p := e.pusher("a")
	pushDue := pushLive(l, p)
	pushDue()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	page, problems := openPlayer(t, ctx, chromium, srv.URL+"/")
	type state struct {
		Time    float64  `json:"time"`
		Paused  bool     `json:"paused"`
		Ready   int      `json:"ready"`
		Dynamic bool     `json:"dynamic"`
		Latency float64  `json:"latency"`
		Periods []string `json:"periods"`
		Errors  []string `json:"errors"`
		Width   int      `json:"width"`
	}
	const stateJS = `(() => {
		const v = document.getElementById('v'), p = window.player;
		if (!v || !p || !p.isReady()) return null;
		return {time: v.currentTime, paused: v.paused, ready: v.readyState, dynamic: p.isDynamic(),
			latency: p.getCurrentLiveLatency() || 0, periods: window.periods, errors: window.errors, width: v.videoWidth};
	})()`
	var st state
	first := -1.0
	testutil.Eventually(t, 90*time.Second, func() bool {
		pushDue()
		st = state{}
		if err := page.Evaluate(ctx, stateJS, &st); err != nil {
			t.Fatalf("%v\npage problems:\n%s", err, problems)
		}
		if len(st.Errors) > 0 {
			t.Fatalf("dash.js errors: %v\npage problems:\n%s", st.Errors, problems)
		}
		if st.Time > 0 && first < 0 {
			first = st.Time
		}
		// 12 s of playback cross at least one Period boundary.
		return first > 0 && !st.Paused && st.Ready >= 3 && st.Time > first+12 && len(st.Periods) > 0
	}, "dash.js did not play 12 s across a Period boundary: %+v (first %.1f)\npage problems:\n%s", &st, &first, problems)
	t.Logf("dash.js %s: played %.1f s, periods %v, live latency %.1f s, %d px wide", dashjsVersion, st.Time-first, st.Periods, st.Latency, st.Width)
	if !st.Dynamic || st.Width != 320 {
		t.Errorf("player state %+v, want a dynamic stream of the 320 px variant", st)
	}
	if st.Latency <= 0 || st.Latency > 20 {
		t.Errorf("live latency %.1f s, want 0-20 s", st.Latency)
	}
	if s := problems.String(); s != "" {
		t.Errorf("page problems:\n%s", s)
	}
}

// collectProblems records uncaught exceptions and console errors until the
// page closes.
func collectProblems(page *cdp.Page, problems *testutil.LockedBuffer) {
	for ev := range page.Events() {
		switch ev.Method {
		case "Runtime.exceptionThrown":
			fmt.Fprintf(problems, "exception: %s\n", ev.Params)
		case "Runtime.consoleAPICalled":
			var c struct {
				Type string            `json:"type"`
				Args []json.RawMessage `json:"args"`
			}
			if json.Unmarshal(ev.Params, &c) == nil && c.Type == "error" {
				var parts []string
				for _, a := range c.Args {
					parts = append(parts, string(a))
				}
				fmt.Fprintf(problems, "console.error: %s\n", strings.Join(parts, " "))
			}
		}
	}
}
