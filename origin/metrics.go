package origin

import (
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pullpush/pullpush/internal/buildinfo"
	"github.com/pullpush/pullpush/internal/httprec"
)

// Metric label names.
const (
	labelChannel   = "channel"
	labelInput     = "input"
	labelEndpoint  = "endpoint"
	labelKind      = "kind" // playlist | segment
	labelCode      = "code"
	labelRendition = "rendition"
	unknownLabel   = "-" // a channel, input or endpoint the origin does not have
	// defaultEndpointLabel names the endpoint of a channel configured
	// without endpoints (/out/v1/{channel}/index.m3u8).
	defaultEndpointLabel = "default"
)

// requestBuckets are the upper bounds, in seconds, of the request latency
// histograms.
var requestBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}

// originMetrics are the Prometheus metrics of one Origin, on its own
// registry: request counters and histograms recorded by instrument, and
// the index state read at scrape time by the Origin's collector.
type originMetrics struct {
	reg     *prometheus.Registry // the origin's own metrics
	runtime *prometheus.Registry // Go runtime and process

	ingest        *prometheus.CounterVec
	ingestBytes   *prometheus.CounterVec
	ingestErrors  *prometheus.CounterVec
	ingestSeconds *prometheus.HistogramVec
	playback      *prometheus.CounterVec
	playSeconds   *prometheus.HistogramVec
	egress        *prometheus.CounterVec
}

func newOriginMetrics(o *Origin) *originMetrics {
	m := &originMetrics{reg: prometheus.NewRegistry(), runtime: prometheus.NewRegistry()}
	m.runtime.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), buildinfo.Collector())
	m.ingest = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "pullpush_origin_ingest_requests_total", Help: "Ingest requests (PUT and DELETE) by channel, input and status code."},
		[]string{labelChannel, labelInput, labelCode})
	m.ingestBytes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "pullpush_origin_ingest_bytes_total", Help: "Request body bytes of ingest requests."},
		[]string{labelChannel, labelInput})
	m.ingestErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "pullpush_origin_ingest_errors_total", Help: "Ingest requests answered with a status of 400 or more, except 401 (every digest exchange starts with one; see pullpush_origin_ingest_requests_total{code=\"401\"})."},
		[]string{labelChannel, labelInput})
	m.ingestSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "pullpush_origin_ingest_seconds", Help: "Time to answer an ingest request.", Buckets: requestBuckets},
		[]string{labelChannel, labelInput})
	m.playback = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "pullpush_origin_playback_requests_total", Help: "Playback requests by channel, endpoint, kind (playlist or segment) and status code."},
		[]string{labelChannel, labelEndpoint, labelKind, labelCode})
	m.playSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "pullpush_origin_playback_seconds", Help: "Time to answer a playback request (to the last byte).", Buckets: requestBuckets},
		[]string{labelChannel, labelEndpoint, labelKind})
	m.egress = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "pullpush_origin_egress_bytes_total", Help: "Response body bytes of playback requests."},
		[]string{labelChannel, labelEndpoint})
	held := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "pullpush_origin_held_requests", Help: "Playback requests held for a Low-Latency HLS part or segment to arrive (blocking playlist reloads, preloaded parts)."},
		func() float64 { return float64(o.waiting.Load()) })
	m.reg.MustRegister(m.ingest, m.ingestBytes, m.ingestErrors, m.ingestSeconds, m.playback, m.playSeconds, m.egress,
		held, &indexCollector{o: o})
	return m
}

// instrument records every request of next in the metrics.
func (o *Origin) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := httprec.Wrap(w, r)
		next.ServeHTTP(rec, r)
		secs := time.Since(start).Seconds()
		code := strconv.Itoa(rec.Status())
		m := o.metrics
		switch ch, second, kind := o.classify(r.URL.Path); kind {
		case "ingest":
			input := second
			if rec.Status() == http.StatusUnauthorized || rec.Status() == http.StatusForbidden {
				input = unknownLabel // not the pusher's word for it: keep the label set bounded
			}
			m.ingest.WithLabelValues(ch, input, code).Inc()
			m.ingestBytes.WithLabelValues(ch, input).Add(float64(rec.RequestBytes()))
			m.ingestSeconds.WithLabelValues(ch, input).Observe(secs)
			if rec.Status() >= 400 && rec.Status() != http.StatusUnauthorized {
				m.ingestErrors.WithLabelValues(ch, input).Inc()
			}
		case "playlist", "segment":
			m.playback.WithLabelValues(ch, second, kind, code).Inc()
			m.playSeconds.WithLabelValues(ch, second, kind).Observe(secs)
			m.egress.WithLabelValues(ch, second).Add(float64(rec.Bytes()))
		}
	})
}

// classify returns the channel label of an ingest or playback path, its
// input (ingest) or endpoint (playback) label, and the kind: "ingest",
// "playlist", "segment" or "" for anything else. Names the origin does not
// have become unknownLabel, so clients cannot grow the label sets.
func (o *Origin) classify(p string) (channel, second, kind string) {
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	switch {
	case len(parts) == 5 && parts[0] == "in" && parts[1] == "v2":
		ch := o.lookup(parts[2])
		if ch == nil {
			return unknownLabel, unknownLabel, "ingest"
		}
		if !validName(parts[3]) {
			return ch.cfg.ID, unknownLabel, "ingest"
		}
		return ch.cfg.ID, parts[3], "ingest"
	case len(parts) >= 4 && parts[0] == "out" && parts[1] == "v1":
		kind = "segment"
		if ext := path.Ext(p); ext == ".m3u8" || ext == ".mpd" {
			kind = "playlist"
		}
		ch := o.lookup(parts[2])
		if ch == nil {
			return unknownLabel, unknownLabel, kind
		}
		ep := ch.eps[0].id
		for _, e := range ch.eps {
			if e.id == parts[3] {
				ep = e.id
			}
		}
		if ep == "" {
			ep = defaultEndpointLabel
		}
		return ch.cfg.ID, ep, kind
	}
	return "", "", ""
}

// MetricsHandler serves the origin's Prometheus metrics: ingest and
// playback requests, bytes and latency by channel, input and endpoint; per
// channel the active input, input switches, segments retained per
// rendition and (shared storage) the replay lag; the packager cache; and
// the Go runtime and process.
func (o *Origin) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(prometheus.Gatherers{o.metrics.reg, o.metrics.runtime}, promhttp.HandlerOpts{})
}

// Gatherer returns the origin's own metrics (those of MetricsHandler
// without the Go runtime, process and build info), to serve next to
// another registry's in one process.
func (o *Origin) Gatherer() prometheus.Gatherer { return o.metrics.reg }

// indexCollector reports the index state of an Origin at scrape time.
type indexCollector struct{ o *Origin }

var (
	descActive = prometheus.NewDesc("pullpush_origin_active_input",
		"1 for the input a channel serves from, 0 for its other inputs.", []string{labelChannel, labelInput}, nil)
	descSwitches = prometheus.NewDesc("pullpush_origin_input_switches_total",
		"Switches of a channel's active input.", []string{labelChannel}, nil)
	descSegments = prometheus.NewDesc("pullpush_origin_segments_retained",
		"Segments a rendition keeps for playback (the startover window).", []string{labelChannel, labelRendition}, nil)
	descLag = prometheus.NewDesc("pullpush_origin_replay_lag_seconds",
		"Shared storage: how far the index is behind the clock (ingest log replay).", []string{labelChannel}, nil)
	descCacheHits = prometheus.NewDesc("pullpush_origin_packager_cache_hits_total",
		"Packaged files served from the packager cache (or a build in flight).", nil, nil)
	descCacheMisses = prometheus.NewDesc("pullpush_origin_packager_cache_misses_total",
		"Packaged files built on request.", nil, nil)
	descCacheBytes = prometheus.NewDesc("pullpush_origin_packager_cache_bytes",
		"Bytes held by the packager cache.", nil, nil)
)

// Describe implements prometheus.Collector.
func (c *indexCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descActive, descSwitches, descSegments, descLag, descCacheHits, descCacheMisses, descCacheBytes} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *indexCollector) Collect(out chan<- prometheus.Metric) {
	o := c.o
	now := o.cfg.Now()
	for _, ch := range o.list() {
		ch.mu.Lock()
		for _, name := range ch.Order {
			v := 0.0
			if name == ch.Active {
				v = 1
			}
			out <- prometheus.MustNewConstMetric(descActive, prometheus.GaugeValue, v, ch.cfg.ID, name)
		}
		out <- prometheus.MustNewConstMetric(descSwitches, prometheus.CounterValue, float64(ch.Switches), ch.cfg.ID)
		for _, key := range ch.RendKeys {
			out <- prometheus.MustNewConstMetric(descSegments, prometheus.GaugeValue, float64(len(ch.Rends[key].Segs)), ch.cfg.ID, key)
		}
		if ch.Shared && !ch.VNow.IsZero() {
			out <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, max(0, now.Sub(ch.VNow).Seconds()), ch.cfg.ID)
		}
		ch.mu.Unlock()
	}
	_, size := o.cache.len()
	out <- prometheus.MustNewConstMetric(descCacheHits, prometheus.CounterValue, float64(o.cache.hits.Load()))
	out <- prometheus.MustNewConstMetric(descCacheMisses, prometheus.CounterValue, float64(o.cache.misses.Load()))
	out <- prometheus.MustNewConstMetric(descCacheBytes, prometheus.GaugeValue, float64(size))
}
