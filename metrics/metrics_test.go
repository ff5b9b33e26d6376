package metrics

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/fetch"
)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestExposition(t *testing.T) {
	m := New()
	m.SetFetchers(func() []FetcherState {
		return []FetcherState{
			{ID: "f1", Name: "one", Output: "void", State: fetch.StateRunning},
			{ID: "f2", Name: "two", Output: "s3", State: fetch.StateRunning},
			{ID: "f3", Name: "three", Output: "void", State: fetch.StateFailed},
		}
	})
	m.PlaylistReloaded("f1", "720p", nil)
	m.PlaylistReloaded("f1", "720p", nil)
	m.PlaylistReloaded("f1", "720p", errors.New("boom"))
	m.SegmentPulled("f1", "720p", 1000)
	m.SegmentMissed("f1", "720p")
	m.FilePushed("f1", "a", 1500, 30*time.Millisecond)
	m.FilePushed("f1", "a", 500, 2*time.Second)
	m.PushFailed("f1", "b")
	m.SegmentDropped("f1", "b")
	m.Lag("f1", 7.5)
	m.FilePushed("f2", "a", 10, time.Millisecond)

	out := scrape(t, m)
	for _, want := range []string{
		`pullpush_segments_pulled_total{fetcher="f1",rendition="720p"} 1`,
		`pullpush_segments_missed_total{fetcher="f1",rendition="720p"} 1`,
		`pullpush_playlist_reloads_total{fetcher="f1",rendition="720p",result="ok"} 2`,
		`pullpush_playlist_reloads_total{fetcher="f1",rendition="720p",result="error"} 1`,
		`pullpush_segments_pushed_total{fetcher="f1",target="a"} 2`,
		`pullpush_bytes_pushed_total{fetcher="f1",target="a"} 2000`,
		`pullpush_push_failures_total{fetcher="f1",target="b"} 1`,
		`pullpush_segments_dropped_total{fetcher="f1",target="b"} 1`,
		`pullpush_upload_seconds_bucket{fetcher="f1",target="a",le="0.05"} 1`,
		`pullpush_upload_seconds_bucket{fetcher="f1",target="a",le="2.5"} 2`,
		`pullpush_upload_seconds_count{fetcher="f1",target="a"} 2`,
		`pullpush_lag_seconds{fetcher="f1"} 7.5`,
		`pullpush_fetchers{state="running"} 2`,
		`pullpush_fetchers{state="failed"} 1`,
		`pullpush_fetchers{state="starting"} 0`,
		`pullpush_fetcher_info{fetcher="f2",name="two",output="s3",state="running"} 1`,
		`pullpush_segments_pushed_total{fetcher="f2",target="a"} 1`,
		"go_goroutines ",
		"process_cpu_seconds_total ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("exposition lacks %q", want)
		}
	}

	// Removing f1 drops all its series and keeps f2's.
	m.Remove("f1")
	out = scrape(t, m)
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, `fetcher="f1"`) && !strings.HasPrefix(line, "pullpush_fetcher_info") {
			t.Errorf("series of removed fetcher remains: %s", line)
		}
	}
	if !strings.Contains(out, `pullpush_segments_pushed_total{fetcher="f2",target="a"} 1`) {
		t.Error("series of another fetcher removed")
	}
}

func TestSeparateRegistries(t *testing.T) {
	a, b := New(), New()
	a.SegmentPulled("x", "r", 1)
	if strings.Contains(scrape(t, b), `fetcher="x"`) {
		t.Fatal("metrics leaked between instances: a shared registry is in use")
	}
	// No fetcher lister set: every state reports 0.
	if !strings.Contains(scrape(t, b), `pullpush_fetchers{state="running"} 0`) {
		t.Fatal("pullpush_fetchers missing without a lister")
	}
}

func TestConcurrentObserve(t *testing.T) {
	m := New()
	done := make(chan struct{})
	for i := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 200 {
				m.FilePushed("f", "t", 1, time.Millisecond)
				m.Lag("f", float64(i))
				if i == 0 {
					m.Remove("f")
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
	_ = scrape(t, m)
}
