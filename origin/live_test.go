package origin

import (
	"math/rand"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/testmedia"
)

// pushSteps pushes segments from..to-1 to p. Like a real pusher, segment
// n (epoch+n .. epoch+n+1) is pushed once complete: the clock advances by
// one second before each push.
func (e *env) pushSteps(l *live, p *pusher, from, to int) {
	for n := from; n < to; n++ {
		e.clock.Add(time.Second)
		l.push(p, n)
	}
}

func TestLivePlaylistWindowAndSequence(t *testing.T) {
	e := newEnv(t, nil)
	l := newLive(t, testmedia.TS, e.clock.Now())
	p := e.pusher("a")
	var lastSeq int64 = -1
	var lastDSN int64
	for n := 0; n < 14; n++ {
		l.push(p, n)
		e.clock.Add(time.Second)
		m := e.media("/out/v1/live/channel_video_hi.m3u8")
		if m.MediaSequence < lastSeq {
			t.Fatalf("step %d: MEDIA-SEQUENCE went back from %d to %d", n, lastSeq, m.MediaSequence)
		}
		if m.DiscontinuitySequence < lastDSN {
			t.Fatalf("step %d: DISCONTINUITY-SEQUENCE went back", n)
		}
		lastSeq, lastDSN = m.MediaSequence, m.DiscontinuitySequence
		if m.Endlist || m.PlaylistType != hls.PlaylistTypeNone {
			t.Fatalf("live playlist has ENDLIST or a type: %+v", m)
		}
		if got, want := len(m.Segments), min(n+1, 5); got != want {
			t.Fatalf("step %d: %d segments, want %d (5 s manifest window)", n, got, want)
		}
		last := m.Segments[len(m.Segments)-1]
		if want := l.epoch.Add(time.Duration(n) * time.Second); !last.ProgramDateTime.Equal(want) {
			t.Fatalf("step %d: last PDT %v, want %v", n, last.ProgramDateTime, want)
		}
		for i, s := range m.Segments {
			if s.Discontinuity {
				t.Fatalf("step %d: unexpected discontinuity at %d", n, i)
			}
			if s.ProgramDateTime.IsZero() {
				t.Fatalf("step %d: segment %d has no PDT", n, i)
			}
		}
		// The segment content is the pushed one.
		code, body := e.get("/out/v1/live/" + last.URI)
		if code != http.StatusOK || sha(body) != sha(l.segData(l.set.Rendition("video_hi"), n)) {
			t.Fatalf("step %d: segment %s: %d, content mismatch", n, last.URI, code)
		}
	}
}

func TestLiveFFprobeDecodes(t *testing.T) {
	for _, flavour := range []string{testmedia.TS, testmedia.FMP4} {
		t.Run(flavour, func(t *testing.T) {
			e := newEnv(t, nil)
			l := newLive(t, flavour, e.clock.Now())
			e.pushSteps(l, e.pusher("a"), 0, 6)
			out := ffprobe(t, "-show_entries", "stream=codec_type,codec_name,width,height", "-of", "compact", e.url("/out/v1/live/index.m3u8"))
			for _, want := range []string{"codec_type=video", "codec_name=h264", "codec_type=audio", "codec_name=aac"} {
				if !strings.Contains(out, want) {
					t.Fatalf("ffprobe output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

func TestMultivariant(t *testing.T) {
	e := newEnv(t, nil)
	l := newLive(t, testmedia.TS, e.clock.Now())
	e.pushSteps(l, e.pusher("a"), 0, 3)
	code, body := e.get("/out/v1/live/index.m3u8")
	if code != http.StatusOK {
		t.Fatalf("%d %s", code, body)
	}
	mv, err := hls.ParseMultivariant(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(mv.Variants) != 2 || len(mv.Renditions) != 2 {
		t.Fatalf("variants %d renditions %d:\n%s", len(mv.Variants), len(mv.Renditions), body)
	}
	v := mv.Variants[0]
	if v.Bandwidth != 273728 || v.AverageBandwidth != 252672 || v.Codecs != "avc1.4d401e,mp4a.40.2" ||
		v.Resolution == nil || v.Resolution.Width != 320 || v.FrameRate != 25 || v.Audio != "aud" || v.Subtitles != "subs" {
		t.Fatalf("variant attributes not copied: %+v", v)
	}
	if v.URI != "channel_video_hi.m3u8" {
		t.Fatalf("variant URI %q", v.URI)
	}
	// One I-frame playlist per video variant, in variant order, with the
	// variant's video codec and resolution.
	if len(mv.IFrameVariants) != 2 {
		t.Fatalf("I-FRAME-STREAM-INF: %+v, want one per video variant\n%s", mv.IFrameVariants, body)
	}
	for i, want := range []string{"channel_video_hi/iframes.m3u8", "channel_video_lo/iframes.m3u8"} {
		iv := mv.IFrameVariants[i]
		if iv.URI != want || iv.Codecs != "avc1.4d401e" || iv.Resolution == nil || *iv.Resolution != *mv.Variants[i].Resolution {
			t.Fatalf("I-FRAME-STREAM-INF %d: %+v, want %s\n%s", i, iv, want, body)
		}
		if c, b := e.get("/out/v1/live/" + iv.URI); c != http.StatusOK {
			t.Fatalf("%s: %d %s", iv.URI, c, b)
		}
	}
	for _, r := range mv.Renditions {
		if c, b := e.get("/out/v1/live/" + r.URI); c != http.StatusOK {
			t.Fatalf("rendition %s: %d %s", r.URI, c, b)
		}
	}

	// I-frames off: no I-FRAME-STREAM-INF and the playlist is 404.
	e2 := newEnv(t, func(c *Config) { c.Channels[0].IFrames = Bool(false) })
	e2.pushSteps(newLive(t, testmedia.TS, e2.clock.Now()), e2.pusher("a"), 0, 2)
	_, body = e2.get("/out/v1/live/index.m3u8")
	if strings.Contains(string(body), "I-FRAME") {
		t.Fatalf("iframes disabled but listed:\n%s", body)
	}
	if c, _ := e2.get("/out/v1/live/channel_video_hi/iframes.m3u8"); c != http.StatusNotFound {
		t.Fatalf("iframes disabled: playlist status %d", c)
	}
}

// TestIngestAnyOrder pushes every file of 6 segments in a random order,
// playlists included (a playlist may arrive before its segments), and
// checks that the result equals an in-order push.
func TestIngestAnyOrder(t *testing.T) {
	for _, flavour := range []string{testmedia.TS, testmedia.FMP4} {
		t.Run(flavour, func(t *testing.T) {
			e := newEnv(t, nil)
			l := newLive(t, flavour, e.clock.Now())
			l.window = 6
			p := e.pusher("a")
			type file struct {
				name string
				data []byte
			}
			files := []file{{"channel.m3u8", l.master()}}
			for _, r := range l.set.Renditions {
				if r.Init != nil {
					files = append(files, file{initName(r), r.Init})
				}
				for n := 0; n < 6; n++ {
					files = append(files, file{segName(r, n), l.segData(r, n)})
				}
				files = append(files, file{"channel_" + r.Name + ".m3u8", l.playlist(r, 5)})
			}
			rng := rand.New(rand.NewSource(int64(len(flavour))))
			rng.Shuffle(len(files), func(i, j int) { files[i], files[j] = files[j], files[i] })
			for _, f := range files {
				p.put(f.name, f.data)
			}
			e.clock.Add(time.Second)
			for _, r := range l.set.Renditions {
				m := e.media("/out/v1/live/channel_" + r.Name + ".m3u8")
				if len(m.Segments) != 5 { // 5 s manifest window over 6 segments
					t.Fatalf("%s: %d segments", r.Name, len(m.Segments))
				}
				for i, s := range m.Segments {
					_, body := e.get("/out/v1/live/" + s.URI)
					if sha(body) != sha(l.segData(r, i+1)) {
						t.Fatalf("%s segment %d content mismatch", r.Name, i)
					}
				}
			}
		})
	}
}

func TestAdMarkersPassThrough(t *testing.T) {
	e := newEnv(t, nil)
	l := newLive(t, testmedia.TS, e.clock.Now())
	l.tags = func(n int) []string {
		switch n {
		case 2:
			return []string{"#EXT-X-CUE-OUT:2.000", `#EXT-X-DATERANGE:ID="ad1",START-DATE="2026-03-01T12:00:02Z",PLANNED-DURATION=2,SCTE35-OUT=0xFC30`}
		case 4:
			return []string{"#EXT-X-CUE-IN"}
		}
		return nil
	}
	e.pushSteps(l, e.pusher("a"), 0, 6)
	_, body := e.get("/out/v1/live/channel_video_hi.m3u8")
	s := string(body)
	for _, want := range []string{"#EXT-X-CUE-OUT:2.000", "#EXT-X-CUE-IN", `ID="ad1"`, "SCTE35-OUT=0xFC30"} {
		if !strings.Contains(s, want) {
			t.Fatalf("playlist lacks %q:\n%s", want, s)
		}
	}
	if strings.Index(s, "#EXT-X-CUE-OUT") > strings.Index(s, "#EXT-X-CUE-IN") {
		t.Fatalf("markers out of order:\n%s", s)
	}
}

func TestDeleteKeepsServedSegments(t *testing.T) {
	e := newEnv(t, nil)
	l := newLive(t, testmedia.TS, e.clock.Now())
	p := e.pusher("a")
	e.pushSteps(l, p, 0, 4)
	r := l.set.Rendition("video_hi")
	if code := p.del(segName(r, 1)); code != http.StatusNoContent {
		t.Fatalf("DELETE: %d", code)
	}
	if code := p.del("never-existed.ts"); code != http.StatusNoContent {
		t.Fatalf("DELETE unknown: %d", code)
	}
	m := e.media("/out/v1/live/channel_video_hi.m3u8")
	for _, s := range m.Segments {
		if code, _ := e.get("/out/v1/live/" + s.URI); code != http.StatusOK {
			t.Fatalf("segment %s after DELETE: %d", s.URI, code)
		}
	}
}

func TestCORSHeadRange(t *testing.T) {
	e := newEnv(t, nil)
	l := newLive(t, testmedia.TS, e.clock.Now())
	e.pushSteps(l, e.pusher("a"), 0, 3)
	m := e.media("/out/v1/live/channel_video_hi.m3u8")
	segURL := e.url("/out/v1/live/" + m.Segments[0].URI)

	req, _ := http.NewRequest(http.MethodOptions, e.url("/out/v1/live/index.m3u8"), nil)
	req.Header.Set("Origin", "https://player.example")
	req.Header.Set("Access-Control-Request-Method", "GET")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "*" ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "Range") {
		t.Fatalf("OPTIONS: %d %v", resp.StatusCode, resp.Header)
	}

	resp, err = http.Head(segURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	want := int64(len(l.segData(l.set.Rendition("video_hi"), 0)))
	if resp.StatusCode != http.StatusOK || resp.ContentLength != want || resp.Header.Get("Content-Type") != "video/mp2t" ||
		resp.Header.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "Content-Range") ||
		!strings.Contains(resp.Header.Get("Cache-Control"), "max-age=86400") {
		t.Fatalf("HEAD segment: %d len %d headers %v", resp.StatusCode, resp.ContentLength, resp.Header)
	}

	req, _ = http.NewRequest(http.MethodGet, segURL, nil)
	req.Header.Set("Range", "bytes=188-375")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || resp.ContentLength != 188 ||
		resp.Header.Get("Content-Range") != "bytes 188-375/"+strconv.FormatInt(want, 10) {
		t.Fatalf("Range: %d %v", resp.StatusCode, resp.Header)
	}

	resp, err = http.Get(e.url("/out/v1/live/channel_video_hi.m3u8"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Content-Type") != "application/vnd.apple.mpegurl" || resp.Header.Get("Cache-Control") != "max-age=1" {
		t.Fatalf("live playlist headers: %v", resp.Header)
	}
	for p, ct := range map[string]string{
		"/out/v1/live/nope.m3u8":             "application/json",
		"/out/v1/other/index.m3u8":           "application/json",
		"/out/v1/live/channel_video_hi/1.ts": "application/json",
	} {
		resp, err := http.Get(e.url(p))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") != ct {
			t.Fatalf("GET %s: %d %s", p, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
}

// TestSourceDiscontinuity: a source DISCONTINUITY with a real time jump
// (forward, then backward) is passed on; the timeline stays sorted and
// DISCONTINUITY-SEQUENCE counts the tags that slid out of the window.
func TestSourceDiscontinuity(t *testing.T) {
	e := newEnv(t, nil)
	l := newLive(t, testmedia.TS, e.clock.Now())
	l.window = 10
	r := l.set.Rendition("video_hi")
	p := e.pusher("a")
	// Segment times: 0..3 normal, 4..6 jump 100 s ahead, 7..9 jump 1 h back.
	at := func(i int) time.Time {
		switch {
		case i >= 7:
			return l.epoch.Add(time.Duration(i)*time.Second - time.Hour)
		case i >= 4:
			return l.epoch.Add(time.Duration(i)*time.Second + 100*time.Second)
		}
		return l.epoch.Add(time.Duration(i) * time.Second)
	}
	playlist := func(n int) []byte {
		m := &hls.Media{Version: 3, TargetDuration: 1, MediaSequence: 0}
		for i := 0; i <= n; i++ {
			m.Segments = append(m.Segments, &hls.Segment{Duration: 1, URI: segName(r, i), ProgramDateTime: at(i), Discontinuity: i == 4 || i == 7})
		}
		return m.Encode()
	}
	for n := 0; n < 10; n++ {
		e.clock.Add(time.Second)
		p.put(segName(r, n), l.segData(r, n))
		p.put("channel_video_hi.m3u8", playlist(n))
	}
	m := e.media("/out/v1/live/channel_video_hi.m3u8?start=" + iso(l.epoch) + "&end=" + iso(l.epoch.Add(200*time.Second)))
	if len(m.Segments) != 10 {
		t.Fatalf("%d segments, want 10", len(m.Segments))
	}
	for i, s := range m.Segments {
		if s.Discontinuity != (i == 4 || i == 7) {
			t.Fatalf("segment %d: DISCONTINUITY %v", i, s.Discontinuity)
		}
		if i > 0 && !s.ProgramDateTime.IsZero() && s.ProgramDateTime.Before(m.Segments[i-1].ProgramDateTime) {
			t.Fatalf("segment %d: PDT went back", i)
		}
	}
	// Live window (5 s): the first tag slid out, the second is listed.
	live := e.media("/out/v1/live/channel_video_hi.m3u8")
	if live.DiscontinuitySequence != 1 {
		t.Fatalf("DISCONTINUITY-SEQUENCE %d, want 1", live.DiscontinuitySequence)
	}
}

func TestPDTInterval(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Channels[0].PDTInterval = 3 * time.Second
		c.Channels[0].ManifestWindow = 10 * time.Second
	})
	l := newLive(t, testmedia.TS, e.clock.Now())
	e.pushSteps(l, e.pusher("a"), 0, 10)
	m := e.media("/out/v1/live/channel_video_hi.m3u8")
	var with []int
	for i, s := range m.Segments {
		if !s.ProgramDateTime.IsZero() {
			with = append(with, i)
		}
	}
	if len(m.Segments) != 10 || len(with) != 4 || with[0] != 0 || with[1] != 3 {
		t.Fatalf("%d segments, PDT on %v; want 10 with PDT on 0,3,6,9", len(m.Segments), with)
	}
}

// TestMediaPlaylistNamedIndex: a single-rendition pusher (e.g. ffmpeg)
// may call its media playlist index.m3u8; it must not clash with the
// playback multivariant.
func TestMediaPlaylistNamedIndex(t *testing.T) {
	e := newEnv(t, nil)
	set := testmedia.MustLoad(testmedia.TS)
	r := set.Rendition("video_hi")
	p := e.pusher("a")
	e.clock.Add(time.Second)
	p.put("seg0.ts", r.Segments[0].Data)
	p.put("index.m3u8", []byte("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\nseg0.ts\n"))
	_, body := e.get("/out/v1/live/index.m3u8")
	mv, err := hls.ParseMultivariant(body)
	if err != nil || len(mv.Variants) != 1 || mv.Variants[0].URI == "index.m3u8" {
		t.Fatalf("multivariant: %v\n%s", err, body)
	}
	if m := e.media("/out/v1/live/" + mv.Variants[0].URI); len(m.Segments) != 1 {
		t.Fatalf("%d segments", len(m.Segments))
	}
}
