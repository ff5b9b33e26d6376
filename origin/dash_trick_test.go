package origin

import (
	"bytes"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Eyevinn/mp4ff/mp4"

	"github.com/pullpush/pullpush/internal/testmedia"
)

// trickSets returns the trick-play AdaptationSets of a Period.
func trickSets(p tPeriod) []tASet {
	var out []tASet
	for _, as := range p.Sets {
		if len(as.Essential) > 0 {
			out = append(out, as)
		}
	}
	return out
}

// TestDASHTrickPlay: every Period of a DASH endpoint has a trick-play
// AdaptationSet naming the video one, a Representation per video
// Representation with its timeline and init segment, maxPlayoutRate
// frame rate × segment duration; each of its segments is one key frame
// lasting the whole segment, at the main segment's decode time; ffmpeg
// decodes it to the frames of the HLS I-frame playlist; the manifest
// filter's trickplay_type:none removes it, trickplay_height selects its
// Representations, and an endpoint without I-frames has none.
func TestDASHTrickPlay(t *testing.T) {
	no := false
	e := dashEnv(t, func(c *Config) {
		c.Channels[0].Endpoints = append(c.Channels[0].Endpoints,
			EndpointConfig{ID: "noif", Packaging: PackagingDASH, ManifestWindow: 20 * time.Second, IFrames: &no})
	})
	l := newLive(t, testmedia.TS, e.clock.Now())
	e.pushSteps(l, e.pusher("a"), 0, 12)
	m, body := e.mpd("/out/v1/live/dash/index.mpd")
	if len(m.Periods) != 2 {
		t.Fatalf("%d periods:\n%s", len(m.Periods), body)
	}
	for _, p := range m.Periods {
		ts := trickSets(p)
		if len(ts) != 1 || len(p.Sets) != 4 {
			t.Fatalf("period %s: %d trick-play sets of %d:\n%s", p.ID, len(ts), len(p.Sets), body)
		}
		tas, main := ts[0], p.Sets[0]
		if ep := tas.Essential[0]; ep.Scheme != "http://dashif.org/guidelines/trickmode" || ep.Value != "0" || tas.ContentType != "video" {
			t.Fatalf("trick-play set %+v", tas)
		}
		if len(tas.Reps) != len(main.Reps) {
			t.Fatalf("%d trick-play Representations for %d video ones", len(tas.Reps), len(main.Reps))
		}
		for i, r := range tas.Reps {
			mr := main.Reps[i]
			if r.ID != mr.ID+"-trick" || r.MaxPlayoutRate != 25 || r.CodingDependency != "false" || r.Width != mr.Width ||
				r.Template.Init != mr.Template.Init || r.Template.Media != mr.ID+"/trick-$Number$.m4s" ||
				r.Template.PTO != mr.Template.PTO || r.Template.Start != mr.Template.Start ||
				r.Bandwidth <= 1 || r.Bandwidth >= mr.Bandwidth {
				t.Fatalf("trick-play Representation %+v of %+v", r, mr)
			}
			got, want := r.Template.segments(t, r.ID), mr.Template.segments(t, mr.ID)
			if !slices.Equal(got, want) {
				t.Fatalf("%s: timeline %v, the video's %v", r.ID, got, want)
			}
			// One sync sample per segment, at the main segment's decode
			// time, lasting the whole segment.
			base := "/out/v1/live/dash/"
			_, init := e.get(base + r.Template.Init)
			for _, s := range got[:2] {
				code, seg := e.get(base + strings.ReplaceAll(r.Template.Media, "$Number$", fmtInt(s.n)))
				if code != http.StatusOK {
					t.Fatalf("%s segment %d: %d %s", r.ID, s.n, code, seg)
				}
				f, err := mp4.DecodeFile(bytes.NewReader(append(append([]byte{}, init...), seg...)))
				if err != nil || len(f.Segments) != 1 || len(f.Segments[0].Fragments) != 1 {
					t.Fatalf("%s segment %d: %v", r.ID, s.n, err)
				}
				frag := f.Segments[0].Fragments[0]
				fs, err := frag.GetFullSamples(nil)
				if err != nil || len(fs) != 1 || fs[0].Flags != mp4.SyncSampleFlags || fs[0].DecodeTime != s.t || uint64(fs[0].Dur) != s.d {
					t.Fatalf("%s segment %d: samples %+v (%v), want one sync sample at %d for %d", r.ID, s.n, len(fs), err, s.t, s.d)
				}
			}
		}
	}

	// The filter.
	m, _ = e.mpd("/out/v1/live/dash/index.mpd?aws.manifestfilter=trickplay_type:none")
	for _, p := range m.Periods {
		if len(trickSets(p)) != 0 || len(p.Sets) != 3 {
			t.Fatalf("trickplay_type:none keeps trick play: %+v", p.Sets)
		}
	}
	m, _ = e.mpd("/out/v1/live/dash/index.mpd?aws.manifestfilter=trickplay_height:0-100")
	for _, p := range m.Periods {
		if ts := trickSets(p); len(ts) != 1 || len(ts[0].Reps) != 1 || ts[0].Reps[0].Height != 90 || len(p.Sets[0].Reps) != 2 {
			t.Fatalf("trickplay_height:0-100: %+v", p.Sets)
		}
	}
	m, _ = e.mpd("/out/v1/live/noif/index.mpd")
	for _, p := range m.Periods {
		if len(trickSets(p)) != 0 {
			t.Fatalf("iframes: false has trick play: %+v", p.Sets)
		}
	}
	// Trick-play segments exist only where the MPD lists them.
	seg3 := fmtInt(l.epoch.Unix() + 3)
	if code, _ := e.get("/out/v1/live/noif/channel_video_hi/trick-" + seg3 + ".m4s"); code != http.StatusNotFound {
		t.Fatalf("trick-play segment of an endpoint without I-frames: %d", code)
	}
	if code, _ := e.get("/out/v1/live/dash/channel_video_hi/trick-" + seg3 + ".m4s"); code != http.StatusOK {
		t.Fatalf("trick-play segment: %d", code)
	}
	// A segment that does not exist, and trick play of audio.
	if code, _ := e.get("/out/v1/live/dash/channel_video_hi/trick-1.m4s"); code != http.StatusNotFound {
		t.Fatalf("unknown trick-play segment: %d", code)
	}
	if code, _ := e.get("/out/v1/live/dash/channel_audio/trick-" + fmtInt(l.epoch.Unix()+3) + ".m4s"); code != http.StatusNotFound {
		t.Fatalf("trick play of audio: %d", code)
	}
}

// TestDASHTrickPlayDecodes has ffmpeg decode the trick-play
// Representations of a closed window (one Period: ffmpeg's DASH demuxer
// reads only one) and compares their frames with those of the TS endpoint's HLS I-frame
// playlists: one key frame per segment, the same pictures.
func TestDASHTrickPlayDecodes(t *testing.T) {
	e := dashEnv(t, nil)
	l := newLive(t, testmedia.TS, e.clock.Now())
	e.pushSteps(l, e.pusher("a"), 0, 12)
	q := vod(l, 1, 8)
	for _, r := range []string{"channel_video_hi", "channel_video_lo"} {
		want := liveFrameHashes(t, e.url("/out/v1/live/ts/"+r+"/"+iframesName+q), false)
		got := mappedFrameHashes(t, e.url("/out/v1/live/dash/index.mpd"+q), "0:m:id:"+r+trickSuffix)
		if len(want) != 7 || !slices.Equal(got, want) {
			t.Errorf("%s: trick play decodes to %d frames %q, the HLS I-frame playlist to %d %q", r, len(got), got, len(want), want)
		}
	}
}

// TestDASHTrickPlayBFrames: with libx264's B-frames (composition offsets)
// and two GOPs per segment, each trick-play segment decodes to the
// segment's first key frame: every other key frame of the full-rate
// stream.
func TestDASHTrickPlayBFrames(t *testing.T) {
	l := makeFFmpegLadder(t, 6, 25, 2)
	e := dashEnv(t, nil)
	start := e.clock.Now()
	l.pushLive(e, e.pusher("a"), 10)
	q := "?start=" + iso(start.Add(-time.Minute)) + "&end=" + iso(e.clock.Now())
	for _, name := range l.names {
		r := strings.TrimSuffix(name, ".m3u8")
		keys := liveFrameHashes(t, e.url("/out/v1/live/ts/"+name+q), true)
		var want []string
		for i := 0; i < len(keys); i += 2 {
			want = append(want, keys[i])
		}
		got := mappedFrameHashes(t, e.url("/out/v1/live/dash/index.mpd"+q), "0:m:id:"+r+trickSuffix)
		if len(want) != 3 || !slices.Equal(got, want) {
			t.Errorf("%s: trick play decodes to %q, want the segments' first key frames %q (of %q)", r, got, want, keys)
		}
	}
}
