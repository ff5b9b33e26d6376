package origin

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/testmedia"
)

func iso(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05+00:00") }

func TestTimeShiftVOD(t *testing.T) {
	e := newEnv(t, nil)
	l := newLive(t, testmedia.TS, e.clock.Now())
	e.pushSteps(l, e.pusher("a"), 0, 20)
	start, end := l.epoch.Add(4*time.Second), l.epoch.Add(10*time.Second)

	forms := map[string]string{
		"query iso":   "/out/v1/live/index.m3u8?start=" + iso(start) + "&end=" + iso(end),
		"query epoch": "/out/v1/live/index.m3u8?start=" + strconv.FormatInt(start.Unix(), 10) + "&end=" + strconv.FormatInt(end.Unix(), 10),
		"query Z":     "/out/v1/live/index.m3u8?start=" + start.Format(time.RFC3339) + "&end=" + end.Format(time.RFC3339),
		"path":        "/out/v1/live/start/" + iso(start) + "/end/" + iso(end) + "/index.m3u8",
		"path epoch":  "/out/v1/live/start/" + strconv.FormatInt(start.Unix(), 10) + "/end/" + strconv.FormatInt(end.Unix(), 10) + "/index.m3u8",
	}
	for name, u := range forms {
		t.Run(name, func(t *testing.T) {
			resp, err := http.Get(e.url(u))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Cache-Control"), "86400") {
				t.Fatalf("multivariant: %d cache %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
			}
			_, body := e.get(u)
			mv, err := hls.ParseMultivariant(body)
			if err != nil {
				t.Fatal(err)
			}
			// The media playlist URI resolves relative to the multivariant
			// and keeps start/end.
			base := u[:strings.LastIndex(u, "/")+1]
			mu := base + mv.Variants[0].URI
			m := e.media(mu)
			if !m.Endlist || m.PlaylistType != hls.PlaylistTypeVOD {
				t.Fatalf("not a VOD playlist: endlist %v type %q", m.Endlist, m.PlaylistType)
			}
			if len(m.Segments) != 6 {
				t.Fatalf("%d segments, want 6 (start 4 s, end 10 s)", len(m.Segments))
			}
			if !m.Segments[0].ProgramDateTime.Equal(start) {
				t.Fatalf("first PDT %v, want %v", m.Segments[0].ProgramDateTime, start)
			}
			if _, err := hls.ParseMedia(func() []byte { _, b := e.get(base + mv.IFrameVariants[0].URI); return b }()); err != nil {
				t.Fatalf("iframe playlist of time-shifted multivariant: %v", err)
			}
		})
	}

	// ffprobe decodes the VOD window: duration ~6 s.
	out := ffprobe(t, "-show_entries", "format=duration", "-of", "default=nw=1:nk=1", e.url(forms["path"]))
	d, err := strconv.ParseFloat(strings.TrimSpace(out), 64)
	if err != nil || math.Abs(d-6) > 0.6 {
		t.Fatalf("ffprobe duration %q (%v), want ~6", out, err)
	}
}

func TestTimeShiftErrors(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Channels[0].StartoverWindow = time.Hour })
	l := newLive(t, testmedia.TS, e.clock.Now())
	e.pushSteps(l, e.pusher("a"), 0, 10)
	ep := l.epoch
	cases := []struct {
		name string
		q    string
		want int
	}{
		{"span over 24h", "?start=" + iso(ep) + "&end=" + iso(ep.Add(24*time.Hour+time.Second)), http.StatusBadRequest},
		{"end before start", "?start=" + iso(ep.Add(5*time.Second)) + "&end=" + iso(ep), http.StatusBadRequest},
		{"bad start", "?start=yesterday", http.StatusBadRequest},
		{"bad end", "?start=" + iso(ep) + "&end=soon", http.StatusBadRequest},
		{"before startover", "?start=" + iso(ep.Add(-2*time.Hour)) + "&end=" + iso(ep.Add(-2*time.Hour+time.Minute)), http.StatusNotFound},
		{"before first segment", "?start=" + iso(ep.Add(-time.Minute)) + "&end=" + iso(ep.Add(-30*time.Second)), http.StatusNotFound},
		{"in the future", "?start=" + iso(ep.Add(time.Hour)), http.StatusNotFound},
		{"exactly 24h is fine", "?start=" + iso(ep) + "&end=" + iso(ep.Add(24*time.Hour)), http.StatusOK},
		{"end only is ignored", "?end=" + iso(ep.Add(3*time.Second)), http.StatusOK},
	}
	for _, tc := range cases {
		for _, p := range []string{"/out/v1/live/index.m3u8", "/out/v1/live/channel_video_hi.m3u8"} {
			code, body := e.get(p + tc.q)
			if code != tc.want {
				t.Errorf("%s %s: %d %s, want %d", tc.name, p, code, body, tc.want)
			}
			if code >= 400 && !strings.HasPrefix(string(body), `{"error":`) {
				t.Errorf("%s: error body %q is not JSON", tc.name, body)
			}
		}
	}
	// End only: the live playlist.
	m := e.media("/out/v1/live/channel_video_hi.m3u8?end=" + iso(ep.Add(3*time.Second)))
	live := e.media("/out/v1/live/channel_video_hi.m3u8")
	if m.MediaSequence != live.MediaSequence || m.Endlist {
		t.Fatalf("end-only playlist differs from live")
	}
}

func TestTimeShiftStartOnlyGrows(t *testing.T) {
	e := newEnv(t, nil)
	l := newLive(t, testmedia.TS, e.clock.Now())
	p := e.pusher("a")
	e.pushSteps(l, p, 0, 10)
	u := "/out/v1/live/channel_video_hi.m3u8?start=" + iso(l.epoch.Add(2*time.Second))
	m1 := e.media(u)
	if m1.Endlist || m1.PlaylistType != hls.PlaylistTypeEvent || len(m1.Segments) != 8 {
		t.Fatalf("start-only: endlist %v type %q segments %d, want EVENT with 8", m1.Endlist, m1.PlaylistType, len(m1.Segments))
	}
	e.pushSteps(l, p, 10, 13)
	m2 := e.media(u)
	if m2.MediaSequence != m1.MediaSequence || len(m2.Segments) != 11 || m2.Endlist {
		t.Fatalf("did not grow: seq %d->%d, %d segments", m1.MediaSequence, m2.MediaSequence, len(m2.Segments))
	}
	// The path form behaves the same.
	m3 := e.media("/out/v1/live/start/" + iso(l.epoch.Add(2*time.Second)) + "/channel_video_hi.m3u8")
	if len(m3.Segments) != 11 || m3.Segments[0].URI != m2.Segments[0].URI {
		t.Fatalf("path form: %d segments", len(m3.Segments))
	}
	// Segments referenced from the path form resolve.
	if code, _ := e.get("/out/v1/live/start/" + iso(l.epoch.Add(2*time.Second)) + "/" + m3.Segments[0].URI); code != http.StatusOK {
		t.Fatalf("segment under path form: %d", code)
	}
}

func TestTimeDelay(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Channels[0].TimeDelay = 5 * time.Second })
	l := newLive(t, testmedia.TS, e.clock.Now())
	p := e.pusher("a")
	e.pushSteps(l, p, 0, 4)
	if code, _ := e.get("/out/v1/live/channel_video_hi.m3u8"); code != http.StatusNotFound {
		t.Fatalf("nothing is 5 s old yet, got %d", code)
	}
	e.pushSteps(l, p, 4, 15)
	// Now is epoch+15s; as of now-5s = epoch+10s, the newest complete
	// segment is #9 (9..10 s).
	m := e.media("/out/v1/live/channel_video_hi.m3u8")
	last := m.Segments[len(m.Segments)-1]
	if want := l.epoch.Add(9 * time.Second); !last.ProgramDateTime.Equal(want) {
		t.Fatalf("last PDT %v, want %v (5 s delay)", last.ProgramDateTime, want)
	}
	// The delay follows the clock even without new segments.
	e.clock.Add(2 * time.Second)
	m = e.media("/out/v1/live/channel_video_hi.m3u8")
	if want := l.epoch.Add(11 * time.Second); !m.Segments[len(m.Segments)-1].ProgramDateTime.Equal(want) {
		t.Fatalf("after 2 s: last PDT %v, want %v", m.Segments[len(m.Segments)-1].ProgramDateTime, want)
	}
}

func TestRetentionDeletesOldFiles(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Channels[0].StartoverWindow = 20 * time.Second })
	l := newLive(t, testmedia.TS, e.clock.Now())
	p := e.pusher("a")
	e.pushSteps(l, p, 0, 3)
	first := e.media("/out/v1/live/channel_video_hi.m3u8").Segments[0].URI
	e.pushSteps(l, p, 3, 60)
	e.clock.Add(3 * time.Minute) // past fileGrace: the name table lets go too
	e.pushSteps(l, p, 60, 62)
	e.o.Sweep()
	if code, _ := e.get("/out/v1/live/" + first); code != http.StatusNotFound {
		t.Fatalf("segment older than the startover window: %d", code)
	}
	// 4 renditions x ~21 segments in the window (the clock jump leaves two).
	if n := filesUnder(t, e.dir); n > 4*22 {
		t.Fatalf("%d files on disk, want at most %d", n, 4*22)
	}
	if code, _ := e.get("/out/v1/live/index.m3u8?start=" + iso(l.epoch.Add(5*time.Second))); code != http.StatusNotFound {
		t.Fatalf("time-shift to deleted content: %d", code)
	}
}
