package origin

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Eyevinn/mp4ff/mp4"

	"github.com/pullpush/pullpush/internal/testmedia"
)

// textSet returns the text AdaptationSets of a Period.
func textSets(p tPeriod) []tASet {
	var out []tASet
	for _, as := range p.Sets {
		if as.ContentType == "text" {
			out = append(out, as)
		}
	}
	return out
}

// TestDASHSubtitles: the WebVTT rendition of the ingest is a text
// AdaptationSet in every Period (language, label, Role, wvtt), on the
// video's timeline (the same S@t and durations, the same presentation
// time offset: checkTimeline also checks tfdt and PROGRAM-DATE-TIME);
// every segment is CMAF WebVTT whose samples show the segment's cue for
// its 0.9 s at the segment's start and nothing for the rest, across the
// source clock restart; the manifest filter's subtitle_language applies.
func TestDASHSubtitles(t *testing.T) {
	e := dashEnv(t, nil)
	l := newLive(t, testmedia.TS, e.clock.Now())
	e.pushSteps(l, e.pusher("a"), 0, 12)
	m, body := e.mpd("/out/v1/live/dash/index.mpd")
	if len(m.Periods) != 2 {
		t.Fatalf("%d periods:\n%s", len(m.Periods), body)
	}
	checkTimeline(t, e, m, time.Unix(0, 0), "")
	base := "/out/v1/live/dash/"
	n := 0
	for _, p := range m.Periods {
		ts := textSets(p)
		if len(ts) != 1 {
			t.Fatalf("period %s: %d text sets:\n%s", p.ID, len(ts), body)
		}
		as := ts[0]
		if as.MimeType != "application/mp4" || as.Lang != "en" || as.Label != "English" || as.Role == nil || as.Role.Value != "subtitle" ||
			len(as.Reps) != 1 || as.Reps[0].Codecs != "wvtt" || as.Reps[0].ID != "channel_subs" {
			t.Fatalf("text set %+v", as)
		}
		r, v := as.Reps[0], p.Sets[0].Reps[0]
		segs, vsegs := r.Template.segments(t, r.ID), v.Template.segments(t, v.ID)
		if r.Template.Timescale != v.Template.Timescale || r.Template.PTO != v.Template.PTO || !slices.Equal(segs, vsegs) {
			t.Fatalf("text timeline %+v (%v), video %+v (%v)", r.Template, segs, v.Template, vsegs)
		}
		_, init := e.get(base + r.Template.Init)
		f, err := mp4.DecodeFile(bytes.NewReader(init))
		if err != nil || f.Init == nil || len(f.Init.Moov.Traks) != 1 {
			t.Fatalf("init: %v", err)
		}
		if sd := f.Init.Moov.Trak.Mdia.Minf.Stbl.Stsd; len(sd.Children) != 1 || sd.Children[0].Type() != "wvtt" || f.Init.Moov.Trak.Mdia.Mdhd.Timescale != 90000 {
			t.Fatalf("init sample entry %+v", sd.Children)
		}
		for _, s := range segs {
			code, seg := e.get(base + strings.ReplaceAll(r.Template.Media, "$Number$", fmtInt(s.n)))
			if code != 200 {
				t.Fatalf("segment %d: %d %s", s.n, code, seg)
			}
			idx := s.n - l.epoch.Unix()
			want := []wvttSample{{t: s.t, d: 81000, cues: []string{fmt.Sprintf("Segment %d", idx%8)}}, {t: s.t + 81000, d: 9000}}
			got := decodeWVTT(t, append(append([]byte{}, init...), seg...))
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("segment %d: samples %+v, want %+v", idx, got, want)
			}
			n++
		}
	}
	if n != 12 {
		t.Fatalf("%d text segments, want 12", n)
	}
	for q, want := range map[string]int{"subtitle_language:fr": 0, "subtitle_language:en": 1, "video_height:0-100": 1} {
		m, _ := e.mpd(base + "index.mpd?aws.manifestfilter=" + q)
		for _, p := range m.Periods {
			if got := len(textSets(p)); got != want {
				t.Fatalf("%s: %d text sets, want %d", q, got, want)
			}
		}
	}
	// The HLS view of the same endpoint still serves the WebVTT as ingested.
	sm := e.media(base + "channel_subs.m3u8")
	if last := sm.Segments[len(sm.Segments)-1]; !strings.HasSuffix(last.URI, ".vtt") {
		t.Fatalf("CMAF HLS subtitles %s", last.URI)
	}
}
