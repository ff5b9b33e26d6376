package channel

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/pullpush/pullpush/channel/internal/config"

	"github.com/pullpush/pullpush/hls"
)

// aacLike is the EXTINF pattern of AAC audio cut at 2 s (1024-sample frames
// at 48 kHz): the segments are not 2 s long and the rendition ends 20 ms
// after the video, like the bundled assets.
func aacLike(n int) []float64 {
	var out []float64
	for i := 0; i < n; i++ {
		if i%4 == 3 {
			out = append(out, 1.984)
		} else {
			out = append(out, 2.005333)
		}
	}
	return append(out, 0.021333)
}

// liveCases are channels the property tests run against.
func liveCases() []struct {
	name string
	cfg  config.Config
	fsys fstest.MapFS
} {
	misaligned := testFS(map[string]synth{
		// Audio EXTINFs differ from video's and the audio is slightly longer.
		"m1": {video: [][]float64{uniform(15, 2), uniform(15, 2)}, audio: [][]float64{aacLike(15)}, subs: [][]float64{uniform(5, 6)}},
		// NTSC-like video, 3.2 s audio segments that run 2.38 s past the video.
		"m2": {video: [][]float64{uniform(10, 2.002), uniform(10, 2.002)}, audio: [][]float64{uniform(7, 3.2)}, subs: [][]float64{uniform(4, 6)}},
		// Audio 2 s shorter than video: its last segment is stretched.
		"m3": {video: [][]float64{uniform(12, 2.5), uniform(12, 2.5)}, audio: [][]float64{uniform(14, 2)}, subs: [][]float64{uniform(12, 2.5)}},
		// An asset with discontinuities of its own.
		"m4": {video: [][]float64{uniform(9, 2), uniform(9, 2)}, audio: [][]float64{uniform(9, 2)}, subs: [][]float64{uniform(9, 2)},
			tags: map[int][]string{3: {"#EXT-X-DISCONTINUITY"}, 6: {"#EXT-X-DISCONTINUITY"}}},
	})
	ch := func(id string, order config.Order, seed int64, assets ...config.AssetConfig) config.Config {
		return config.Config{Channels: []config.ChannelConfig{{ID: id, Start: config.DefaultStart(), Window: 30 * time.Second, Order: order, Seed: seed, Assets: assets}}}
	}
	fmp4 := testFS(map[string]synth{
		"f1": {video: [][]float64{uniform(6, 2)}, audio: [][]float64{aacLike(6)}, fmp4: true},
		"f2": {video: [][]float64{uniform(4, 3)}, audio: [][]float64{uniform(4, 3)}, fmp4: true},
	})
	return []struct {
		name string
		cfg  config.Config
		fsys fstest.MapFS
	}{
		{"default", DefaultConfig(), nil},
		{"misaligned audio", ch("m", config.OrderSequential, 0,
			config.AssetConfig{ID: "m1", URI: "embed:m1"}, config.AssetConfig{ID: "m2", URI: "embed:m2"}, config.AssetConfig{ID: "m3", URI: "embed:m3"}), misaligned},
		{"shuffled with offsets", ch("s", config.OrderShuffle, 42,
			config.AssetConfig{ID: "m1", URI: "embed:m1", Offset: 5 * time.Second}, config.AssetConfig{ID: "m2", URI: "embed:m2"},
			config.AssetConfig{ID: "m3", URI: "embed:m3", Offset: 7 * time.Second}, config.AssetConfig{ID: "m1b", URI: "embed:m1"}), misaligned},
		{"single asset", ch("one", config.OrderSequential, 0, config.AssetConfig{ID: "m2", URI: "embed:m2"}), misaligned},
		{"internal discontinuities", ch("d", config.OrderShuffle, 1,
			config.AssetConfig{ID: "m4", URI: "embed:m4"}, config.AssetConfig{ID: "m1", URI: "embed:m1"}, config.AssetConfig{ID: "m4b", URI: "embed:m4", Offset: 7 * time.Second}), misaligned},
		{"fmp4", ch("f", config.OrderSequential, 0, config.AssetConfig{ID: "f1", URI: "embed:f1"}, config.AssetConfig{ID: "f2", URI: "embed:f2"}), fmp4},
	}
}

func engineFor(t testing.TB, cfg config.Config, fsys fstest.MapFS, c *clock) *Engine {
	t.Helper()
	if fsys == nil {
		return newEngine(t, cfg, c, nil, WithFS(EmbeddedFS()))
	}
	return newEngine(t, cfg, c, fsys)
}

// seen is what a segment looked like the first time it was observed.
type seen struct {
	uri   string
	pdt   time.Time
	dur   float64
	discN int64 // discontinuity sequence number of the segment
}

// TestLiveProperties steps the clock across hours (many loops) and checks
// every playlist of every channel: MEDIA-SEQUENCE monotonic, each segment
// unchanged for as long as it is listed, DISCONTINUITY-SEQUENCE increasing
// exactly by the discontinuities that left the window, PROGRAM-DATE-TIME
// continuous, live edge at the clock, EXTINF sums equal to elapsed time, and
// audio/subtitles aligned with video.
func TestLiveProperties(t *testing.T) {
	for _, tc := range liveCases() {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock(config.DefaultStart())
			e := engineFor(t, tc.cfg, tc.fsys, c)
			ch := e.static[0]
			td := time.Duration(ch.targetDuration) * time.Second
			start := config.DefaultStart().Add(ch.window + 17*time.Second)
			steps := []time.Duration{1700 * time.Millisecond, 3100 * time.Millisecond, 700 * time.Millisecond}
			type state struct {
				prev    *hls.Media
				seen    map[int64]seen
				firstAt time.Time
				first   *hls.Media
				sumUS   int64 // EXTINF of segments that appeared after the first playlist, in µs
				maxSeq  int64
			}
			states := make([]state, len(ch.tracks))
			for i := range states {
				states[i].seen = map[int64]seen{}
			}
			c.Set(start)
			for i := 0; c.Now().Before(start.Add(3 * time.Hour)); i++ {
				now := c.Now()
				var video *hls.Media
				for tr, ref := range ch.tracks {
					m := playlist(t, e, ch.id, ref.name)
					st := &states[tr]
					checkPlaylist(t, ref.name, m, now, ch.window, td)
					discN := m.DiscontinuitySequence
					for k, s := range m.Segments {
						seq := m.MediaSequence + int64(k)
						if s.Discontinuity {
							discN++
						}
						obs := seen{s.URI, s.ProgramDateTime, s.Duration, discN}
						if old, ok := st.seen[seq]; ok && old != obs {
							t.Fatalf("%s at %s: segment %d changed: was %+v, now %+v", ref.name, now, seq, old, obs)
						}
						st.seen[seq] = obs
						if st.first != nil && seq > st.maxSeq {
							st.sumUS += int64(durationOf(s.Duration) / time.Microsecond)
						}
					}
					if p := st.prev; p != nil {
						if m.MediaSequence < p.MediaSequence {
							t.Fatalf("%s at %s: MEDIA-SEQUENCE went back from %d to %d", ref.name, now, p.MediaSequence, m.MediaSequence)
						}
						left := int64(0)
						for k, s := range p.Segments {
							if p.MediaSequence+int64(k) < m.MediaSequence && s.Discontinuity {
								left++
							}
						}
						if got := m.DiscontinuitySequence - p.DiscontinuitySequence; got != left {
							t.Fatalf("%s at %s: DISCONTINUITY-SEQUENCE %d -> %d, but %d discontinuities left the window",
								ref.name, now, p.DiscontinuitySequence, m.DiscontinuitySequence, left)
						}
					} else {
						st.first, st.firstAt = m, now
					}
					for seq := range st.seen {
						if seq < m.MediaSequence {
							delete(st.seen, seq)
						}
					}
					st.prev = m
					st.maxSeq = m.MediaSequence + int64(len(m.Segments)) - 1
					if ref.kind == hls.MediaTypeVideo && ref.index == 0 {
						video = m
					} else {
						checkAligned(t, ref.name, video, m, td)
					}
				}
				c.Add(steps[i%len(steps)])
			}
			for tr, ref := range ch.tracks {
				st := &states[tr]
				// The EXTINF of every segment that appeared equals the wall
				// clock elapsed between the first and last playlist (within
				// one segment: the live edge moves in whole segments).
				gotSum := time.Duration(st.sumUS) * time.Microsecond
				wantEdge := end(st.prev).Sub(end(st.first))
				if diff := gotSum - wantEdge; diff < -time.Millisecond || diff > time.Millisecond {
					t.Errorf("%s: EXTINF sum %s, but the live edge moved %s", ref.name, gotSum, wantEdge)
				}
				elapsed := c.Now().Sub(st.firstAt) - steps[0]
				if diff := gotSum - elapsed; diff < -td || diff > td {
					t.Errorf("%s: EXTINF sum %s, but %s of wall clock elapsed", ref.name, gotSum, elapsed)
				}
			}
		})
	}
}

// checkPlaylist checks one live playlist at instant now.
func checkPlaylist(t *testing.T, name string, m *hls.Media, now time.Time, window, td time.Duration) {
	t.Helper()
	if m.Version < 3 || !m.IndependentSegments || m.Endlist || m.PlaylistType != "" {
		t.Fatalf("%s at %s: bad header %+v", name, now, m)
	}
	if len(m.Segments) == 0 {
		t.Fatalf("%s at %s: no segments", name, now)
	}
	for k, s := range m.Segments {
		if s.ProgramDateTime.IsZero() {
			t.Fatalf("%s at %s: segment %d has no PROGRAM-DATE-TIME", name, now, k)
		}
		if r := int(s.Duration + 0.5); r > m.TargetDuration {
			t.Fatalf("%s at %s: EXTINF %v above TARGETDURATION %d", name, now, s.Duration, m.TargetDuration)
		}
		if k > 0 {
			prev := m.Segments[k-1]
			gap := s.ProgramDateTime.Sub(prev.ProgramDateTime) - durationOf(prev.Duration)
			if gap < -time.Millisecond || gap > time.Millisecond {
				t.Fatalf("%s at %s: PROGRAM-DATE-TIME jumps by %s after segment %d", name, now, gap, k-1)
			}
		}
	}
	if got := end(m).Sub(m.Segments[0].ProgramDateTime); got < 3*time.Duration(m.TargetDuration)*time.Second {
		t.Fatalf("%s at %s: playlist holds %s, less than three target durations", name, now, got)
	}
	edge := end(m)
	if edge.After(now) || now.Sub(edge) > td+time.Millisecond {
		t.Fatalf("%s at %s: live edge %s is not within one target duration before now", name, now, edge)
	}
	if head := m.Segments[0].ProgramDateTime; head.Before(now.Add(-window).Add(-time.Millisecond)) || now.Sub(head) < window-2*td {
		t.Fatalf("%s at %s: window starts at %s, want about %s before now", name, now, head, window)
	}
}

// checkAligned checks that playlist m (audio or subtitles) covers the same
// time range as the video playlist within one segment, and that both have
// their discontinuities at the same instants.
func checkAligned(t *testing.T, name string, video, m *hls.Media, td time.Duration) {
	t.Helper()
	// One segment: EXTINF rounds to at most the target duration.
	td += td / 4
	if d := m.Segments[0].ProgramDateTime.Sub(video.Segments[0].ProgramDateTime).Abs(); d > td {
		t.Fatalf("%s: window starts %s away from video's", name, d)
	}
	if d := end(m).Sub(end(video)).Abs(); d > td {
		t.Fatalf("%s: live edge %s away from video's", name, d)
	}
	lo := max(m.Segments[0].ProgramDateTime.UnixMilli(), video.Segments[0].ProgramDateTime.UnixMilli())
	hi := min(end(m).UnixMilli(), end(video).UnixMilli())
	discs := func(p *hls.Media) []int64 {
		var out []int64
		for _, s := range p.Segments {
			if ms := s.ProgramDateTime.UnixMilli(); s.Discontinuity && ms > lo && ms < hi {
				out = append(out, ms)
			}
		}
		return out
	}
	if a, v := discs(m), discs(video); !slices.Equal(a, v) {
		t.Fatalf("%s: discontinuities at %v, video's at %v", name, a, v)
	}
}

// TestTwoEnginesAgree: engines created at different times from the same
// config serve byte-identical playlists at the same instants.
func TestTwoEnginesAgree(t *testing.T) {
	for _, tc := range liveCases() {
		t.Run(tc.name, func(t *testing.T) {
			c1 := newClock(time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC))
			e1 := engineFor(t, tc.cfg, tc.fsys, c1)
			c2 := newClock(time.Date(2031, 7, 9, 13, 0, 0, 0, time.UTC))
			e2 := engineFor(t, tc.cfg, tc.fsys, c2)
			ch := e1.static[0]
			if !bytes.Equal(ch.master, e2.static[0].master) {
				t.Fatalf("master playlists differ")
			}
			for i, at := 0, config.DefaultStart().Add(ch.window); i < 200; i++ {
				at = at.Add(time.Duration(i)*7919*time.Millisecond + 13*time.Hour)
				for tr := range ch.tracks {
					m1, err1 := ch.media(tr, at)
					m2, err2 := e2.static[0].media(tr, at)
					if err1 != nil || err2 != nil {
						t.Fatalf("media: %v, %v", err1, err2)
					}
					if b1, b2 := m1.Encode(), m2.Encode(); !bytes.Equal(b1, b2) {
						t.Fatalf("at %s track %d the engines differ:\n%s\n---\n%s", at, tr, b1, b2)
					}
				}
			}
		})
	}
}

// TestDiscontinuityAtBoundaries checks the exact playlist around the first
// boundary of the default channel: DISCONTINUITY at the asset change, the
// sequence numbers and PROGRAM-DATE-TIME from the schedule.
func TestDiscontinuityAtBoundaries(t *testing.T) {
	c := newClock(config.DefaultStart())
	e := engineFor(t, DefaultConfig(), nil, c)
	// Loop 1000 (90 s loops), 35 s in: the window spans a->b (boundary at 30 s).
	loopStart := config.DefaultStart().Add(1000 * 90 * time.Second)
	c.Set(loopStart.Add(35 * time.Second))
	for _, name := range []string{"video_0.m3u8", "video_1.m3u8", "audio_0.m3u8", "subs_0.m3u8"} {
		m := playlist(t, e, "1", name)
		var discAt []time.Time
		for _, s := range m.Segments {
			if s.Discontinuity {
				discAt = append(discAt, s.ProgramDateTime)
			}
		}
		want := []time.Time{loopStart, loopStart.Add(30 * time.Second)}
		if m.Segments[0].ProgramDateTime.Equal(loopStart) {
			want = want[1:] // the boundary at the head is in the sequence number
		}
		if !slices.EqualFunc(discAt, want, time.Time.Equal) {
			t.Errorf("%s: discontinuities at %v, want %v", name, discAt, want)
		}
		// The window (60 s) starts 25 s before loop 1000, in asset c of
		// loop 999: 1000 loops of 3 boundaries are before it, less the
		// channel's very first segment, which has no tag.
		if m.DiscontinuitySequence != 2999 {
			t.Errorf("%s: DISCONTINUITY-SEQUENCE %d, want 2999", name, m.DiscontinuitySequence)
		}
		if end(m).After(c.Now()) {
			t.Errorf("%s: lists a segment that ends after now", name)
		}
		for _, s := range m.Segments {
			if s.ProgramDateTime.After(loopStart.Add(30*time.Second)) != strings.HasPrefix(s.URI, "seg/b/") &&
				!s.ProgramDateTime.Equal(loopStart.Add(30*time.Second)) {
				t.Errorf("%s: segment %s at %s on the wrong side of the boundary", name, s.URI, s.ProgramDateTime)
			}
		}
	}
	v := playlist(t, e, "1", "video_0.m3u8")
	// Video segments are exactly 2 s: the sequence number is the number of
	// segments since the epoch.
	wantSeq := int64(v.Segments[0].ProgramDateTime.Sub(config.DefaultStart()) / (2 * time.Second))
	if v.MediaSequence != wantSeq {
		t.Errorf("MEDIA-SEQUENCE %d, want %d", v.MediaSequence, wantSeq)
	}
}

// TestShuffleDeterministic: a shuffled channel plays every asset once per
// loop, in an order that depends on the seed and the loop.
func TestShuffleDeterministic(t *testing.T) {
	orders := map[string]bool{}
	for n := int64(0); n < 50; n++ {
		p := permutation(5, 7, n)
		if q := permutation(5, 7, n); !slices.Equal(p, q) {
			t.Fatalf("permutation not deterministic: %v, %v", p, q)
		}
		s := slices.Clone(p)
		slices.Sort(s)
		if !slices.Equal(s, identity(5)) {
			t.Fatalf("loop %d: %v is not a permutation", n, p)
		}
		orders[fmt.Sprint(p)] = true
	}
	if len(orders) < 10 {
		t.Errorf("only %d different orders in 50 loops", len(orders))
	}
	if slices.Equal(permutation(5, 7, 3), permutation(5, 8, 3)) && slices.Equal(permutation(5, 7, 4), permutation(5, 8, 4)) {
		t.Errorf("the seed does not change the order")
	}
	// Pinned: the order must not change across versions (replicas agree).
	if got := fmt.Sprint(permutation(5, 42, 0), permutation(5, 42, 1)); got != pinnedShuffle {
		t.Errorf("permutation(5, 42, 0..1) = %s, want %s", got, pinnedShuffle)
	}
}

const pinnedShuffle = "[1 2 0 4 3] [4 3 0 2 1]"

// TestOffset: an asset with an offset starts at the video segment that
// contains it.
func TestOffset(t *testing.T) {
	fsys := testFS(map[string]synth{"m": basic(10, 2)})
	cfg := config.Config{Channels: []config.ChannelConfig{{ID: "o", Start: config.DefaultStart(), Window: 12 * time.Second, Assets: []config.AssetConfig{
		{ID: "m", URI: "embed:m", Offset: 5 * time.Second},
	}}}}
	c := newClock(config.DefaultStart().Add(12 * time.Second))
	e := newEngine(t, cfg, c, fsys)
	if got := e.static[0].loop; got != 16*time.Second {
		t.Fatalf("loop %s, want 16s (20 s asset from 4 s)", got)
	}
	m := playlist(t, e, "o", "video_0.m3u8")
	if got := m.Segments[0].URI; got != "seg/m/2.ts" {
		t.Errorf("first segment %s, want seg/m/2.ts (4-6 s contains 5 s)", got)
	}
	for _, name := range []string{"audio_0.m3u8", "subs_0.m3u8"} {
		uri := playlist(t, e, "o", name).Segments[0].URI
		if got := resourceName(t, e, "o", uri); !strings.HasSuffix(got, "0/2.ts") && !strings.HasSuffix(got, "0/2.vtt") {
			t.Errorf("%s: first segment %s (%s), want the third", name, uri, got)
		}
	}
}

// BenchmarkMedia renders a playlist of a shuffled channel decades after its
// epoch: the cost does not depend on how long the channel has run.
func BenchmarkMedia(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Channels[0].Order = config.OrderShuffle
	c := newClock(config.DefaultStart())
	e := engineFor(b, cfg, nil, c)
	ch := e.static[0]
	at := config.DefaultStart().Add(30 * 365 * 24 * time.Hour)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		m, err := ch.media(i%len(ch.tracks), at.Add(time.Duration(i)*time.Second))
		if err != nil {
			b.Fatal(err)
		}
		_ = m.Encode()
	}
}
