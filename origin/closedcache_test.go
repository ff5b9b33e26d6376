package origin

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/pullpush/pullpush/internal/testmedia"
)

// TestClosedPlaylistCache: a closed window's playlist is rendered once
// and then served from memory with the same bytes; a live playlist is
// never cached; a window the startover pruning trims renders again.
func TestClosedPlaylistCache(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Channels[0].StartoverWindow = 8 * time.Second })
	l := newLive(t, testmedia.TS, e.clock.Now())
	e.pushSteps(l, e.pusher("a"), 0, 6)
	q := vod(l, 1, 5)
	code, first := e.get("/out/v1/live/channel_video_hi.m3u8" + q)
	if code != http.StatusOK || !bytes.Contains(first, []byte("#EXT-X-ENDLIST")) {
		t.Fatalf("closed window: %d\n%s", code, first)
	}
	hits := e.o.closed.hits.Load()
	if _, again := e.get("/out/v1/live/channel_video_hi.m3u8" + q); !bytes.Equal(again, first) {
		t.Fatalf("cached playlist differs:\n%s\nvs\n%s", again, first)
	}
	if e.o.closed.hits.Load() != hits+1 {
		t.Fatalf("second GET of the closed window was not served from the cache")
	}
	n, _ := e.o.closed.len()
	e.get("/out/v1/live/channel_video_hi.m3u8")
	if m, _ := e.o.closed.len(); m != n {
		t.Fatalf("a live playlist was cached (%d entries, was %d)", m, n)
	}
	// 6 s later the 8 s startover window has dropped the window's first
	// segments: the playlist lists fewer, from a fresh render.
	e.pushSteps(l, e.pusher("a"), 6, 12)
	_, trimmed := e.get("/out/v1/live/channel_video_hi.m3u8" + q)
	if bytes.Equal(trimmed, first) {
		t.Fatalf("a pruned window was served from the cache:\n%s", trimmed)
	}
	if got, want := bytes.Count(trimmed, []byte("#EXTINF")), bytes.Count(first, []byte("#EXTINF")); got >= want && got != 0 {
		t.Fatalf("pruned window lists %d segments, the full one %d", got, want)
	}
}
