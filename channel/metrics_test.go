package channel

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/channel/internal/config"
)

// metricsText fetches the engine's /metrics.
func metricsText(t *testing.T, base string) string {
	t.Helper()
	status, ctype, body := get(t, base+"/metrics")
	if status != http.StatusOK || !strings.HasPrefix(ctype, "text/plain") {
		t.Fatalf("metrics: %d %s", status, ctype)
	}
	return string(body)
}

// TestMetrics drives an engine over loopback and reads its /metrics:
// playlist requests by channel, kind and status (session channels under
// one label, unknown channels as "-"), segment requests, asset errors at
// load and for a segment that fails later (502), slate segments served,
// and schedule changes made through the API and by another engine
// writing the shared file. Two engines keep separate registries.
func TestMetrics(t *testing.T) {
	up := newUpstream(t)
	cfg := config.Config{Channels: []config.ChannelConfig{{ID: "x", Start: config.DefaultStart(), Assets: []config.AssetConfig{
		{ID: "web", URI: up.URL + "/a/master.m3u8"},
		{ID: "broken", URI: "embed:no-such-asset"},
	}}}}
	dir := t.TempDir()
	c := newClock(config.DefaultStart().Add(time.Hour + 20*time.Second))
	e := newEngine(t, cfg, c, nil, WithFS(EmbeddedFS()), WithHTTPClient(up.Client()), WithScheduleDir(dir))
	other := newEngine(t, cfg, c, nil, WithFS(EmbeddedFS()), WithHTTPClient(up.Client()), WithScheduleDir(dir))
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", e.MetricsHandler())
	mux.Handle("/api/v1/", e.ScheduleHandler(testToken))
	mux.Handle("/", e.Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	for _, p := range []string{"master.m3u8", "video_0.m3u8", "video_0.m3u8", "audio_0.m3u8", "nope.m3u8"} {
		get(t, srv.URL+"/channels/x/"+p)
	}
	get(t, srv.URL+"/channels/zz/video_0.m3u8")
	status, _, _ := get(t, srv.URL+"/channels/new?assets=web")
	if status != http.StatusCreated {
		t.Fatalf("session: %d", status)
	}
	sess := e.Channels()[1].Path
	get(t, srv.URL+sess)

	// A segment of the http asset, and one that fails once the upstream
	// breaks (segments past the first are not fetched at load).
	m := playlist(t, e, "x", "video_0.m3u8")
	var webSeg string
	for _, s := range m.Segments {
		if strings.HasPrefix(s.URI, "seg/web/") {
			webSeg = s.URI
		}
	}
	if status, _, _ := get(t, srv.URL+"/channels/x/"+webSeg); status != http.StatusOK {
		t.Fatalf("segment %s: %d", webSeg, status)
	}
	up.setFail(func(p string) bool { return strings.HasSuffix(p, ".ts") })
	var failed string
	for _, s := range m.Segments {
		if strings.HasPrefix(s.URI, "seg/web/") && s.URI != webSeg {
			failed = s.URI
		}
	}
	if status, _, _ := get(t, srv.URL+"/channels/x/"+failed); status != http.StatusBadGateway {
		t.Fatalf("segment %s of a broken upstream: %d", failed, status)
	}
	// The slate plays for the broken asset.
	var slateSegs int
	for _, s := range m.Segments {
		if strings.HasPrefix(s.URI, "seg/_slate") {
			if status, _, _ := get(t, srv.URL+"/channels/x/"+s.URI); status != http.StatusOK {
				t.Fatalf("slate segment %s: %d", s.URI, status)
			}
			slateSegs++
		}
	}
	if slateSegs == 0 {
		t.Fatalf("no slate in the window:\n%s", m.Encode())
	}

	// Schedule: a change through this engine's API, then one by the
	// other engine, which this one sees in the file.
	if status, body := apiCall(t, "POST", srv.URL+"/api/v1/channels/x/schedule", testToken, `{"items":[{"type":"break","duration":10}]}`, nil); status != 201 {
		t.Fatalf("schedule: %d %s", status, body)
	}
	if _, err := other.AppendSchedule("x", "", []ItemSpec{{Asset: "web"}}); err != nil {
		t.Fatal(err)
	}
	get(t, srv.URL+"/channels/x/video_0.m3u8")

	body := metricsText(t, srv.URL)
	for _, want := range []string{
		`pullpush_channel_playlist_requests_total{channel="x",code="200",kind="multivariant"} 1`,
		`pullpush_channel_playlist_requests_total{channel="x",code="200",kind="media"} 4`,
		`pullpush_channel_playlist_requests_total{channel="x",code="404",kind="media"} 1`,
		`pullpush_channel_playlist_requests_total{channel="-",code="404",kind="media"} 1`,
		`pullpush_channel_playlist_requests_total{channel="session",code="200",kind="multivariant"} 1`,
		`pullpush_channel_segment_requests_total{channel="x",code="200"} ` + strconv.Itoa(1+slateSegs),
		`pullpush_channel_segment_requests_total{channel="x",code="502"} 1`,
		`pullpush_channel_asset_errors_total{asset="broken",stage="load"} 1`,
		`pullpush_channel_asset_errors_total{asset="web",stage="segment"} 1`,
		`pullpush_channel_slate_segments_total{channel="x"} ` + strconv.Itoa(slateSegs),
		`pullpush_channel_schedule_changes_total{channel="x",source="api"} 1`,
		`pullpush_channel_schedule_changes_total{channel="x",source="file"} 1`,
		"go_goroutines ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", body)
	}
	// The other engine's registry has its own counts.
	osrv := httptest.NewServer(other.MetricsHandler())
	t.Cleanup(osrv.Close)
	ob := metricsText(t, osrv.URL)
	if !strings.Contains(ob, `pullpush_channel_schedule_changes_total{channel="x",source="api"} 1`) || strings.Contains(ob, "pullpush_channel_playlist_requests_total{") {
		t.Errorf("other engine's metrics:\n%s", ob)
	}
}
