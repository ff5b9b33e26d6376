package metrics

import (
	"strings"
	"testing"
)

func TestSourceStalledGauge(t *testing.T) {
	m := New()
	m.SourceStalled("f1", "720p", true)
	m.SourceStalled("f1", "audio", true)
	m.SourceStalled("f1", "audio", false)
	out := scrape(t, m)
	for _, want := range []string{
		`pullpush_source_stalled{fetcher="f1",rendition="720p"} 1`,
		`pullpush_source_stalled{fetcher="f1",rendition="audio"} 0`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %s", want)
		}
	}
	m.Remove("f1")
	if out := scrape(t, m); strings.Contains(out, `pullpush_source_stalled{`) {
		t.Error("stall series of a removed fetcher still exported")
	}
}
