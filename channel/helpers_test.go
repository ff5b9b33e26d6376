package channel

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/pullpush/pullpush/channel/internal/config"

	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/testutil"
)

// clock is the settable test clock.
type clock = testutil.Clock

func newClock(t time.Time) *clock { return testutil.NewClock(t) }

// synth describes a synthetic asset written into an fstest.MapFS: playlists
// with arbitrary EXTINFs and small fake segments whose bytes name them.
type synth struct {
	video [][]float64 // EXTINFs of each video rendition
	audio [][]float64 // EXTINFs of each audio rendition (one group "aud")
	subs  [][]float64 // EXTINFs of each subtitle rendition (one group "sub")
	fmp4  bool
	// tags are extra lines before segment i of every rendition's playlist
	// (EXT-X-KEY, EXT-X-DATERANGE, CUE tags, EXT-X-BYTERANGE...).
	tags map[int][]string
	// byteRange stores each rendition's segments in one file addressed with
	// EXT-X-BYTERANGE (without explicit offsets after the first).
	byteRange bool
}

// uniform returns n durations of d.
func uniform(n int, d float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = d
	}
	return out
}

// write writes the asset under dir.
func (s synth) write(fsys fstest.MapFS, dir string) {
	ext := ".ts"
	if s.fmp4 {
		ext = ".m4s"
	}
	media := func(name string, durs []float64, segExt string, fmp4 bool) {
		var b strings.Builder
		b.WriteString("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:3\n#EXT-X-PLAYLIST-TYPE:VOD\n")
		if fmp4 {
			b.WriteString("#EXT-X-MAP:URI=\"init.mp4\"\n")
			fsys[dir+"/"+name+"/init.mp4"] = &fstest.MapFile{Data: []byte(dir + "/" + name + "/init")}
		}
		var all []byte
		for i, d := range durs {
			for _, tag := range s.tags[i] {
				b.WriteString(tag + "\n")
			}
			fmt.Fprintf(&b, "#EXTINF:%.6f,\n", d)
			data := []byte(fmt.Sprintf("%s/%s/%d%s", dir, name, i, segExt))
			if s.byteRange && segExt != ".vtt" {
				if i == 0 {
					fmt.Fprintf(&b, "#EXT-X-BYTERANGE:%d@0\n", len(data))
				} else {
					fmt.Fprintf(&b, "#EXT-X-BYTERANGE:%d\n", len(data))
				}
				b.WriteString("all" + segExt + "\n")
				all = append(all, data...)
				continue
			}
			fmt.Fprintf(&b, "%d%s\n", i, segExt)
			fsys[fmt.Sprintf("%s/%s/%d%s", dir, name, i, segExt)] = &fstest.MapFile{Data: data}
		}
		if all != nil {
			fsys[dir+"/"+name+"/all"+segExt] = &fstest.MapFile{Data: all}
		}
		b.WriteString("#EXT-X-ENDLIST\n")
		fsys[dir+"/"+name+"/index.m3u8"] = &fstest.MapFile{Data: []byte(b.String())}
	}
	var m strings.Builder
	m.WriteString("#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-INDEPENDENT-SEGMENTS\n")
	for i, durs := range s.audio {
		name := fmt.Sprintf("a%d", i)
		media(name, durs, ext, s.fmp4)
		fmt.Fprintf(&m, "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"A%d\",LANGUAGE=\"en\",DEFAULT=%s,AUTOSELECT=YES,URI=\"%s/index.m3u8\"\n",
			i, map[bool]string{true: "YES", false: "NO"}[i == 0], name)
	}
	for i, durs := range s.subs {
		name := fmt.Sprintf("s%d", i)
		media(name, durs, ".vtt", false)
		fmt.Fprintf(&m, "#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"sub\",NAME=\"S%d\",LANGUAGE=\"en\",URI=\"%s/index.m3u8\"\n", i, name)
	}
	for i, durs := range s.video {
		name := fmt.Sprintf("v%d", i)
		media(name, durs, ext, s.fmp4)
		fmt.Fprintf(&m, "#EXT-X-STREAM-INF:BANDWIDTH=%d,CODECS=\"avc1.4d401e,mp4a.40.2\",RESOLUTION=%dx%d", (i+1)*100000, 320*(i+1), 180*(i+1))
		if len(s.audio) > 0 {
			m.WriteString(",AUDIO=\"aud\"")
		}
		if len(s.subs) > 0 {
			m.WriteString(",SUBTITLES=\"sub\"")
		}
		fmt.Fprintf(&m, "\n%s/index.m3u8\n", name)
	}
	fsys[dir+"/master.m3u8"] = &fstest.MapFile{Data: []byte(m.String())}
}

// basic is a 2-video + audio + subtitles asset of n segments of d seconds.
func basic(n int, d float64) synth {
	return synth{
		video: [][]float64{uniform(n, d), uniform(n, d)},
		audio: [][]float64{uniform(n, d)},
		subs:  [][]float64{uniform(n, d)},
	}
}

// testFS returns a file system with the bundled slates and synthetic assets.
func testFS(assets map[string]synth) fstest.MapFS {
	fsys := fstest.MapFS{}
	for dir, s := range assets {
		s.write(fsys, dir)
	}
	// Bundled-style slates (same ladder shape as basic).
	basic(3, 2).write(fsys, "slate")
	sl := basic(3, 2)
	sl.fmp4 = true
	sl.write(fsys, "slate-fmp4")
	return fsys
}

// slogTo logs text to w.
func slogTo(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

// quietLogger discards logs.
func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// logBuffer is a log destination safe for concurrent writes.
type logBuffer = testutil.LockedBuffer

// newEngine builds an engine over fsys with a test clock.
func newEngine(t testing.TB, cfg config.Config, c *clock, fsys fstest.MapFS, opts ...Option) *Engine {
	t.Helper()
	all := []Option{WithClock(c.Now), WithFS(fsys), WithLogger(quietLogger())}
	e, err := New(cfg, append(all, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return e
}

// oneChannel is a config with one channel over embedded assets.
func oneChannel(window time.Duration, uris ...string) config.Config {
	ch := config.ChannelConfig{ID: "x", Start: config.DefaultStart(), Window: window}
	for i, u := range uris {
		ch.Assets = append(ch.Assets, config.AssetConfig{ID: fmt.Sprintf("e%d", i), URI: u})
	}
	return config.Config{Channels: []config.ChannelConfig{ch}}
}

// playlist renders track name of channel id at the engine's clock.
func playlist(t testing.TB, e *Engine, id, name string) *hls.Media {
	t.Helper()
	ch := e.lookup(id)
	if ch == nil {
		t.Fatalf("no channel %q", id)
	}
	tr := ch.track(name)
	if tr < 0 {
		t.Fatalf("channel %q has no track %q", id, name)
	}
	if err := e.refreshSchedule(ch); err != nil {
		t.Fatalf("schedule of %s: %v", id, err)
	}
	m, err := ch.media(tr, e.now())
	if err != nil {
		t.Fatalf("media %s/%s: %v", id, name, err)
	}
	// Round-trip through the encoder and parser, as a client sees it.
	out, err := hls.ParseMedia(m.Encode())
	if err != nil {
		t.Fatalf("parse own playlist: %v\n%s", err, m.Encode())
	}
	return out
}

// end returns the end instant of a playlist's last segment.
func end(m *hls.Media) time.Time {
	last := m.Segments[len(m.Segments)-1]
	return last.ProgramDateTime.Add(durationOf(last.Duration))
}

func durationOf(sec float64) time.Duration {
	return time.Duration(sec*1e6+0.5) * time.Microsecond
}

// resourceName returns the asset file behind a segment URI of a channel.
func resourceName(t testing.TB, e *Engine, id, uri string) string {
	t.Helper()
	var asset, file string
	if _, err := fmt.Sscanf(strings.ReplaceAll(strings.TrimPrefix(uri, "seg/"), "/", " "), "%s %s", &asset, &file); err != nil {
		t.Fatalf("segment uri %q: %v", uri, err)
	}
	a := e.lookup(id).assets[asset]
	var i int
	if _, err := fmt.Sscanf(file, "%d", &i); err != nil || a == nil || i >= len(a.Res) {
		t.Fatalf("segment uri %q names no resource", uri)
	}
	return a.Res[i].Name
}
