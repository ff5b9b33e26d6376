package origin

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/pullpush/pullpush/internal/testmedia"
)

// TestPlaylistCache: a closed window's playlist is rendered once and then
// served from memory with the same bytes; a live playlist is served from
// memory until a new segment moves its edge; a window the startover
// pruning trims renders again.
func TestPlaylistCache(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Channels[0].StartoverWindow = 8 * time.Second })
	l := newLive(t, testmedia.TS, e.clock.Now())
	e.pushSteps(l, e.pusher("a"), 0, 6)
	q := vod(l, 1, 5)
	code, first := e.get("/out/v1/live/channel_video_hi.m3u8" + q)
	if code != http.StatusOK || !bytes.Contains(first, []byte("#EXT-X-ENDLIST")) {
		t.Fatalf("closed window: %d\n%s", code, first)
	}
	hits := e.o.playlists.hits.Load()
	if _, again := e.get("/out/v1/live/channel_video_hi.m3u8" + q); !bytes.Equal(again, first) {
		t.Fatalf("cached playlist differs:\n%s\nvs\n%s", again, first)
	}
	if e.o.playlists.hits.Load() != hits+1 {
		t.Fatalf("second GET of the closed window was not served from the cache")
	}
	// A live playlist is cached until its edge moves.
	_, live := e.get("/out/v1/live/channel_video_hi.m3u8")
	hits = e.o.playlists.hits.Load()
	if _, again := e.get("/out/v1/live/channel_video_hi.m3u8"); !bytes.Equal(again, live) || e.o.playlists.hits.Load() != hits+1 {
		t.Fatalf("second GET of the unchanged live playlist was not served from the cache")
	}
	e.pushSteps(l, e.pusher("a"), 6, 7)
	if _, moved := e.get("/out/v1/live/channel_video_hi.m3u8"); bytes.Equal(moved, live) {
		t.Fatalf("the live playlist did not move with a new segment:\n%s", moved)
	}
	// 6 s later the 8 s startover window has dropped the window's first
	// segments: the playlist lists fewer, from a fresh render.
	e.pushSteps(l, e.pusher("a"), 7, 12)
	_, trimmed := e.get("/out/v1/live/channel_video_hi.m3u8" + q)
	if bytes.Equal(trimmed, first) {
		t.Fatalf("a pruned window was served from the cache:\n%s", trimmed)
	}
	if got, want := bytes.Count(trimmed, []byte("#EXTINF")), bytes.Count(first, []byte("#EXTINF")); got >= want && got != 0 {
		t.Fatalf("pruned window lists %d segments, the full one %d", got, want)
	}
}
