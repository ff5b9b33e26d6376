package channel

import (
	"github.com/pullpush/pullpush/internal/buildinfo"

	"net/http"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pullpush/pullpush/internal/httprec"
)

// Metric label names and values.
const (
	labelChannel = "channel"
	labelKind    = "kind" // multivariant | media
	labelCode    = "code"
	labelAsset   = "asset"
	labelStage   = "stage"  // load | segment
	labelSource  = "source" // api | file

	kindMultivariant = "multivariant"
	kindMedia        = "media"
	// sessionLabel is the channel label of every session channel (their
	// ids are random: one label each would grow without bound).
	sessionLabel = "session"
	// unknownLabel is the channel label of a request for no channel.
	unknownLabel = "-"
)

// engineMetrics are the Prometheus metrics of one Engine, on its own
// registry.
type engineMetrics struct {
	reg     *prometheus.Registry // the engine's own metrics
	runtime *prometheus.Registry // Go runtime and process

	playlists   *prometheus.CounterVec
	segments    *prometheus.CounterVec
	assetErrors *prometheus.CounterVec
	slate       *prometheus.CounterVec
	schedule    *prometheus.CounterVec
	schedErrors *prometheus.CounterVec
}

func newEngineMetrics(e *Engine) *engineMetrics {
	m := &engineMetrics{reg: prometheus.NewRegistry(), runtime: prometheus.NewRegistry()}
	m.runtime.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), buildinfo.Collector())
	m.playlists = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "pullpush_channel_playlist_requests_total",
		Help: "Playlist requests by channel (\"session\" for every session channel), kind (multivariant or media) and status code."},
		[]string{labelChannel, labelKind, labelCode})
	m.segments = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "pullpush_channel_segment_requests_total",
		Help: "Segment, init section and key requests by channel and status code."},
		[]string{labelChannel, labelCode})
	m.assetErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "pullpush_channel_asset_errors_total",
		Help: "Asset fetch errors by asset and stage: load (the asset could not be loaded; the slate plays instead) or segment (a segment, init section or key could not be read or fetched; answered 502)."},
		[]string{labelAsset, labelStage})
	m.slate = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "pullpush_channel_slate_segments_total",
		Help: "Slate segments served, by channel: the slate playing for a failed asset or filling an ad break."},
		[]string{labelChannel})
	m.schedule = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "pullpush_channel_schedule_changes_total",
		Help: "Schedule changes by channel and source: api (a change made through this engine) or file (the schedule file changed, e.g. written by another engine)."},
		[]string{labelChannel, labelSource})
	m.schedErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "pullpush_channel_schedule_errors_total",
		Help: "Schedule files that could not be used (the previous schedule plays), by channel."},
		[]string{labelChannel})
	m.reg.MustRegister(m.playlists, m.segments, m.assetErrors, m.slate, m.schedule, m.schedErrors)
	return m
}

// MetricsHandler serves the engine's Prometheus metrics: playlist and
// segment requests by channel, asset errors by asset, slate segments,
// schedule changes and unusable schedule files; and the Go runtime and
// process.
func (e *Engine) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(prometheus.Gatherers{e.metrics.reg, e.metrics.runtime}, promhttp.HandlerOpts{})
}

// Gatherer returns the engine's own metrics (those of MetricsHandler
// without the Go runtime and process), to serve next to another
// registry's in one process.
func (e *Engine) Gatherer() prometheus.Gatherer { return e.metrics.reg }

// channelLabel is the metrics label of channel ch.
func channelLabel(ch *channel) string {
	if ch.session {
		return sessionLabel
	}
	return ch.id
}

// instrument counts the playlist and segment requests of next.
func (e *Engine) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
		if len(parts) < 3 || parts[0] != "channels" || parts[1] == "" || parts[1] == "new" {
			next.ServeHTTP(w, r)
			return
		}
		rec := httprec.Wrap(w, r)
		next.ServeHTTP(rec, r)
		label := unknownLabel
		if ch := e.staticChannel(parts[1]); ch != nil {
			label = ch.id
		} else if e.hasSession(parts[1]) {
			label = sessionLabel
		}
		code := strconv.Itoa(rec.Status())
		switch {
		case len(parts) == 3 && parts[2] == "master.m3u8":
			e.metrics.playlists.WithLabelValues(label, kindMultivariant, code).Inc()
		case len(parts) == 3 && strings.HasSuffix(parts[2], ".m3u8"):
			e.metrics.playlists.WithLabelValues(label, kindMedia, code).Inc()
		case parts[2] == "seg":
			e.metrics.segments.WithLabelValues(label, code).Inc()
		}
	})
}

// hasSession reports whether a session channel has id (without marking it
// used).
func (e *Engine) hasSession(id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, ok := e.sessions[id]
	return ok
}
