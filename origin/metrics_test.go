package origin

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/testmedia"
)

// scrape returns the origin's metrics text.
func scrape(t *testing.T, o *Origin) string {
	t.Helper()
	rec := httptest.NewRecorder()
	o.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

// TestMetrics pushes real media to two inputs, plays it from a TS and a
// CMAF endpoint, and checks that the metrics count exactly that: ingest
// requests and bytes per input, playback requests, latency samples and
// egress bytes per endpoint and kind, the active input, segments retained
// and packager cache hits; requests for a channel the origin does not have
// are counted under "-".
func TestMetrics(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Channels[0].Endpoints = []EndpointConfig{{ID: "ts"}, {ID: "cmaf", Packaging: PackagingCMAF}}
	})
	l := newLive(t, testmedia.TS, e.clock.Now())
	e.pushSteps(l, e.pusher("a"), 0, 3)
	egress := 0
	for _, ep := range []string{"ts", "cmaf", "cmaf"} { // the second CMAF segment GET is a cache hit
		_, pl := e.get("/out/v1/live/" + ep + "/channel_video_hi.m3u8")
		m, err := hls.ParseMedia(pl)
		if err != nil {
			t.Fatal(err)
		}
		_, seg := e.get("/out/v1/live/" + ep + "/" + m.Segments[0].URI)
		if ep == "cmaf" {
			egress += len(pl) + len(seg)
		}
	}
	e.get("/out/v1/nosuch/index.m3u8")
	text := scrape(t, e.o)
	for _, want := range []string{
		`pullpush_origin_playback_requests_total{channel="live",code="200",endpoint="ts",kind="playlist"} 1`,
		`pullpush_origin_playback_requests_total{channel="live",code="200",endpoint="cmaf",kind="segment"} 2`,
		`pullpush_origin_playback_seconds_count{channel="live",endpoint="cmaf",kind="playlist"} 2`,
		fmt.Sprintf(`pullpush_origin_egress_bytes_total{channel="live",endpoint="cmaf"} %d`, egress),
		`pullpush_origin_playback_requests_total{channel="-",code="404",endpoint="-",kind="playlist"} 1`,
		`pullpush_origin_active_input{channel="live",input="a"} 1`,
		`pullpush_origin_input_switches_total{channel="live"} 0`,
		`pullpush_origin_segments_retained{channel="live",rendition="channel_video_hi"} 3`,
		`pullpush_origin_packager_cache_hits_total 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s:\n%s", want, grepMetric(text, "pullpush_origin_"))
		}
	}
	// Every PUT of the pusher (3 steps of 4 renditions + playlists) is
	// counted with its bytes.
	if n := metricValue(text, `pullpush_origin_ingest_requests_total{channel="live",code="201",input="a"}`); n < 12 {
		t.Errorf("%v ingest requests counted:\n%s", n, grepMetric(text, "pullpush_origin_ingest"))
	}
	if n := metricValue(text, `pullpush_origin_ingest_bytes_total{channel="live",input="a"}`); n < float64(len(l.segData(l.set.Rendition("video_hi"), 0))) {
		t.Errorf("%v ingest bytes counted", n)
	}
}

// metricValue returns the value of the series named exactly by prefix, or
// -1.
func metricValue(text, series string) float64 {
	for _, l := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			var f float64
			fmt.Sscan(v, &f)
			return f
		}
	}
	return -1
}

func grepMetric(text, sub string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestHealth: ready with its data directory, 503 with the reason once the
// storage is gone.
func TestHealth(t *testing.T) {
	e := newEnv(t, nil)
	if err := e.o.Ready(context.Background()); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	e.o.HealthHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/health", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"ok"`) {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if err := os.RemoveAll(e.dir); err != nil {
		t.Fatal(err)
	}
	rec = httptest.NewRecorder()
	e.o.HealthHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/health", nil))
	if rec.Code != 503 || !strings.Contains(rec.Body.String(), `"error":"storage:`) {
		t.Fatalf("without storage: %d %s", rec.Code, rec.Body)
	}
}
