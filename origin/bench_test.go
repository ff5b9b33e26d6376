package origin

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/pullpush/pullpush/origin/internal/index"
)

// benchOrigin returns an origin whose channel "live" has one rendition with
// n one-second segments ending at the clock's now, built directly in the
// index (no disk I/O).
func benchOrigin(b *testing.B, n int) *Origin {
	b.Helper()
	end := time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC)
	o, err := New(Config{
		DataDir: b.TempDir(),
		Channels: []ChannelConfig{{
			ID: "live", Username: "u", Password: "p",
			StartoverWindow: MaxStartoverWindow, ManifestWindow: DefaultManifestWindow,
		}},
		Now: func() time.Time { return end },
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { o.Close() })
	ch := o.lookup("live")
	f := &index.StoredFile{Path: "/nonexistent", Size: 100_000, Refs: 1 << 30}
	r := ch.Rend("channel_1")
	r.Ext, r.Target = ".ts", time.Second
	r.Segs = make([]index.Rec, 0, n)
	start := end.Add(-time.Duration(n) * time.Second).UnixNano()
	for i := 0; i < n; i++ {
		r.Append(index.Rec{Start: start + int64(i)*int64(time.Second), Dur: int64(time.Second), File: f}, int64(time.Second/2), nil)
	}
	return o
}

// BenchmarkPlaylist14DayWindow measures serving a live media playlist (60 s
// manifest window) and a 10-minute time-shifted VOD playlist from an index
// holding 1 hour versus 14 days of 1 s segments. Binary search over the
// time-sorted index makes the cost independent of the retained length.
func BenchmarkPlaylist14DayWindow(b *testing.B) {
	for _, tc := range []struct {
		name string
		n    int
	}{
		{"retained=1h", 3600},
		{"retained=14d", int(MaxStartoverWindow / time.Second)},
	} {
		o := benchOrigin(b, tc.n)
		h := o.Handler()
		end := o.cfg.Now()
		shifted := "/out/v1/live/channel_1.m3u8?start=" + strconv.FormatInt(end.Add(-50*time.Minute).Unix(), 10) +
			"&end=" + strconv.FormatInt(end.Add(-40*time.Minute).Unix(), 10)
		for _, p := range []struct{ name, url string }{
			{"live", "/out/v1/live/channel_1.m3u8"},
			{"timeshift10m", shifted},
		} {
			b.Run(tc.name+"/"+p.name, func(b *testing.B) {
				req := httptest.NewRequest(http.MethodGet, p.url, nil)
				b.ReportAllocs()
				for b.Loop() {
					w := httptest.NewRecorder()
					h.ServeHTTP(w, req)
					if w.Code != http.StatusOK {
						b.Fatalf("%d %s", w.Code, w.Body)
					}
				}
			})
		}
	}
}
