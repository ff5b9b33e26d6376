// Package metrics exposes fetcher events as Prometheus metrics. Metrics
// implements fetch.Observer on its own prometheus.Registry (never the global
// default one), so several services can live in one process and tests can
// scrape exactly what one service produced.
package metrics

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pullpush/pullpush/fetch"
	"github.com/pullpush/pullpush/internal/buildinfo"
)

// Label names.
const (
	labelFetcher   = "fetcher"   // fetcher id
	labelRendition = "rendition" // source rendition name
	labelTarget    = "target"    // output target name
	labelResult    = "result"    // ok | error
	labelState     = "state"     // fetch.State
	labelName      = "name"      // fetcher name
	labelOutput    = "output"    // output registry name
)

// States lists every fetcher state, in the order pullpush_fetchers reports them.
var states = []fetch.State{
	fetch.StateStarting, fetch.StateRunning, fetch.StateRetrying,
	fetch.StateFailed, fetch.StateStopped, fetch.StateEnded,
}

// UploadBuckets are the upper bounds, in seconds, of pullpush_upload_seconds.
var uploadBuckets = []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// FetcherState is what the pullpush_fetchers and pullpush_fetcher_info
// series report about one fetcher at scrape time.
type FetcherState struct {
	ID     string
	Name   string
	Output string
	State  fetch.State
}

// Metrics is a Prometheus fetch.Observer. Create it with New; it is safe for
// concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	segmentsPulled  *prometheus.CounterVec
	segmentsMissed  *prometheus.CounterVec
	reloads         *prometheus.CounterVec
	segmentsPushed  *prometheus.CounterVec
	bytesPushed     *prometheus.CounterVec
	pushFailures    *prometheus.CounterVec
	segmentsDropped *prometheus.CounterVec
	upload          *prometheus.HistogramVec
	lag             *prometheus.GaugeVec
	stalled         *prometheus.GaugeVec

	mu       sync.Mutex
	fetchers func() []FetcherState
}

var (
	_ fetch.Observer      = (*Metrics)(nil)
	_ fetch.StallObserver = (*Metrics)(nil)
)

// New returns Metrics registered on a fresh registry together with the Go
// runtime and process collectors.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
		m.reg.MustRegister(c)
		return c
	}
	m.segmentsPulled = counter("pullpush_segments_pulled_total",
		"Segments downloaded from the source.", labelFetcher, labelRendition)
	m.segmentsMissed = counter("pullpush_segments_missed_total",
		"Segments that left the source playlist before they could be downloaded (gaps).", labelFetcher, labelRendition)
	m.reloads = counter("pullpush_playlist_reloads_total",
		"Source media playlist reloads by result (ok, error).", labelFetcher, labelRendition, labelResult)
	m.segmentsPushed = counter("pullpush_segments_pushed_total",
		"Files (segments and playlists) pushed to an output target.", labelFetcher, labelTarget)
	m.bytesPushed = counter("pullpush_bytes_pushed_total",
		"Bytes pushed to an output target.", labelFetcher, labelTarget)
	m.pushFailures = counter("pullpush_push_failures_total",
		"Failed upload attempts to an output target.", labelFetcher, labelTarget)
	m.segmentsDropped = counter("pullpush_segments_dropped_total",
		"Segments dropped for a target from a full spool (declared gaps).", labelFetcher, labelTarget)
	m.upload = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "pullpush_upload_seconds",
		Help:    "Duration of successful uploads to an output target.",
		Buckets: uploadBuckets,
	}, []string{labelFetcher, labelTarget})
	m.lag = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "pullpush_lag_seconds",
		Help: "Source live edge minus the newest segment pushed to every target.",
	}, []string{labelFetcher})
	m.stalled = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "pullpush_source_stalled",
		Help: "1 while a source rendition has delivered no new segment for three target durations.",
	}, []string{labelFetcher, labelRendition})
	m.reg.MustRegister(m.upload, m.lag, m.stalled, stateCollector{m},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), buildinfo.Collector())
	return m
}

// Registry returns the registry the metrics live on, for callers that add
// their own collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus text (or OpenMetrics) format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// SetFetchers sets the function that lists fetchers at scrape time for
// pullpush_fetchers{state} and pullpush_fetcher_info.
func (m *Metrics) SetFetchers(fn func() []FetcherState) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fetchers = fn
}

// Remove deletes every series of fetcherID; call it once the fetcher has
// stopped and been deleted.
func (m *Metrics) Remove(fetcherID string) {
	l := prometheus.Labels{labelFetcher: fetcherID}
	for _, v := range []*prometheus.CounterVec{m.segmentsPulled, m.segmentsMissed, m.reloads,
		m.segmentsPushed, m.bytesPushed, m.pushFailures, m.segmentsDropped} {
		v.DeletePartialMatch(l)
	}
	m.upload.DeletePartialMatch(l)
	m.lag.DeletePartialMatch(l)
	m.stalled.DeletePartialMatch(l)
}

// PlaylistReloaded implements fetch.Observer.
func (m *Metrics) PlaylistReloaded(fetcherID, rendition string, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.reloads.WithLabelValues(fetcherID, rendition, result).Inc()
}

// SegmentPulled implements fetch.Observer.
func (m *Metrics) SegmentPulled(fetcherID, rendition string, bytes int64) {
	m.segmentsPulled.WithLabelValues(fetcherID, rendition).Inc()
}

// SegmentMissed implements fetch.Observer.
func (m *Metrics) SegmentMissed(fetcherID, rendition string) {
	m.segmentsMissed.WithLabelValues(fetcherID, rendition).Inc()
}

// FilePushed implements fetch.Observer.
func (m *Metrics) FilePushed(fetcherID, target string, bytes int64, took time.Duration) {
	m.segmentsPushed.WithLabelValues(fetcherID, target).Inc()
	if bytes > 0 {
		m.bytesPushed.WithLabelValues(fetcherID, target).Add(float64(bytes))
	}
	m.upload.WithLabelValues(fetcherID, target).Observe(took.Seconds())
}

// PushFailed implements fetch.Observer.
func (m *Metrics) PushFailed(fetcherID, target string) {
	m.pushFailures.WithLabelValues(fetcherID, target).Inc()
}

// SegmentDropped implements fetch.Observer.
func (m *Metrics) SegmentDropped(fetcherID, target string) {
	m.segmentsDropped.WithLabelValues(fetcherID, target).Inc()
}

// SourceStalled implements fetch.StallObserver.
func (m *Metrics) SourceStalled(fetcherID, rendition string, stalled bool) {
	v := 0.0
	if stalled {
		v = 1
	}
	m.stalled.WithLabelValues(fetcherID, rendition).Set(v)
}

// Lag implements fetch.Observer.
func (m *Metrics) Lag(fetcherID string, seconds float64) {
	m.lag.WithLabelValues(fetcherID).Set(seconds)
}

var (
	descFetchers = prometheus.NewDesc("pullpush_fetchers",
		"Fetchers by state.", []string{labelState}, nil)
	descInfo = prometheus.NewDesc("pullpush_fetcher_info",
		"Always 1; labels tie a fetcher id to its name, output and state.",
		[]string{labelFetcher, labelName, labelOutput, labelState}, nil)
)

// stateCollector reports the fetchers listed by Metrics.fetchers at scrape time.
type stateCollector struct{ m *Metrics }

func (c stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descFetchers
	ch <- descInfo
}

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.mu.Lock()
	fn := c.m.fetchers
	c.m.mu.Unlock()
	var list []FetcherState
	if fn != nil {
		list = fn()
	}
	counts := make(map[fetch.State]int, len(states))
	for _, f := range list {
		counts[f.State]++
		ch <- prometheus.MustNewConstMetric(descInfo, prometheus.GaugeValue, 1, f.ID, f.Name, f.Output, string(f.State))
	}
	for _, s := range states {
		ch <- prometheus.MustNewConstMetric(descFetchers, prometheus.GaugeValue, float64(counts[s]), string(s))
	}
}
