package origin

import (
	"encoding/xml"
	"testing"
	"time"

	"github.com/Comcast/scte35-go/pkg/scte35"

	"github.com/pullpush/pullpush/internal/testmedia"
	"github.com/pullpush/pullpush/origin/internal/dash"
)

// Parsed-back EventStreams, by namespace.
type tEvMPD struct {
	Periods []struct {
		ID      string `xml:"id,attr"`
		Start   string `xml:"start,attr"`
		Streams []struct {
			Scheme    string `xml:"schemeIdUri,attr"`
			Timescale uint64 `xml:"timescale,attr"`
			Events    []struct {
				PT     uint64  `xml:"presentationTime,attr"`
				Dur    *uint64 `xml:"duration,attr"`
				ID     int64   `xml:"id,attr"`
				Binary string  `xml:"http://www.scte.org/schemas/35/2016 Signal>Binary"`
			} `xml:"Event"`
		} `xml:"EventStream"`
	} `xml:"Period"`
}

// tEvent is an Event as the test checks it: absolute start, duration,
// id and the decoded section.
type tEvent struct {
	at  time.Time
	dur time.Duration // -1: no duration
	id  int64
	sis *scte35.SpliceInfoSection
}

// dashEvents fetches p and returns its SCTE-35 events per Period, with
// times made absolute from origin (the MPD's time zero).
func dashEvents(t *testing.T, e *env, p string, origin time.Time) [][]tEvent {
	t.Helper()
	_, body := e.mpd(p)
	var m tEvMPD
	if err := xml.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	var out [][]tEvent
	for _, per := range m.Periods {
		start := origin.Add(time.Duration(xsSeconds(t, per.Start) * float64(time.Second)))
		var evs []tEvent
		for _, es := range per.Streams {
			if es.Scheme != dash.SchemeSCTE35XMLBin || es.Timescale == 0 {
				t.Fatalf("EventStream %s/%d:\n%s", es.Scheme, es.Timescale, body)
			}
			tick := func(v uint64) time.Duration { return time.Duration(v * uint64(time.Second) / es.Timescale) }
			for _, ev := range es.Events {
				sis, err := scte35.DecodeBase64(ev.Binary)
				if err != nil {
					t.Fatalf("event %d: Binary %q: %v\n%s", ev.ID, ev.Binary, err, body)
				}
				te := tEvent{at: start.Add(tick(ev.PT)), dur: -1, id: ev.ID, sis: sis}
				if ev.Dur != nil {
					te.dur = tick(*ev.Dur)
				}
				evs = append(evs, te)
			}
		}
		out = append(out, evs)
	}
	return out
}

// TestDASHSCTE35Events: the ad breaks of an ingest (a CUE-OUT:4 with its
// CUE-IN, a DATERANGE SCTE35-OUT of 2 s) are Events of the Periods'
// SCTE-35 EventStreams at the breaks' PROGRAM-DATE-TIME, with their
// durations and sections; a window starting inside a break lists what
// remains of it; a CUE-OUT without a duration lasts until its CUE-IN;
// adMarkers none lists no events.
func TestDASHSCTE35Events(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Channels[0].Endpoints = []EndpointConfig{{ID: "ts"},
			{ID: "dash", Packaging: PackagingDASH, ManifestWindow: 20 * time.Second},
			{ID: "enh", Packaging: PackagingDASH, ManifestWindow: 20 * time.Second, AdMarkers: "daterange"},
			{ID: "none", Packaging: PackagingDASH, ManifestWindow: 20 * time.Second, AdMarkers: "none"}}
	})
	l := adLive(t, e.clock.Now())
	e.pushSteps(l, e.pusher("a"), 0, 14)
	seq := func(n int) int64 { return l.epoch.Unix() + int64(n) }
	at := func(n int) time.Time { return l.epoch.Add(time.Duration(n) * time.Second) }
	check := func(where string, got []tEvent, want []tEvent) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d events, want %d: %+v", where, len(got), len(want), got)
		}
		for i, w := range want {
			g := got[i]
			if !g.at.Equal(w.at) || g.dur != w.dur || g.id != w.id {
				t.Errorf("%s: event %d at %v for %v id %d, want at %v for %v id %d", where, i, g.at, g.dur, g.id, w.at, w.dur, w.id)
			}
			ins, ok := g.sis.SpliceCommand.(*scte35.SpliceInsert)
			if !ok || !ins.OutOfNetworkIndicator {
				t.Errorf("%s: event %d: section %s", where, i, g.sis.Table("", "  "))
			}
			if w.sis != nil && (ins == nil || ins.SpliceEventID != w.sis.SpliceCommand.(*scte35.SpliceInsert).SpliceEventID) {
				t.Errorf("%s: event %d is not the ingest's section: %s", where, i, g.sis.Table("", "  "))
			}
		}
	}
	ingest := &scte35.SpliceInfoSection{SpliceCommand: &scte35.SpliceInsert{SpliceEventID: 77}}
	first := tEvent{at: at(3), dur: 4 * time.Second, id: seq(3)}
	second := tEvent{at: at(10), dur: 2 * time.Second, id: seq(10), sis: ingest}

	for _, ep := range []string{"dash", "enh"} {
		// Live: a Period per source clock epoch (restart at segment 8),
		// each with the break that starts in it.
		ps := dashEvents(t, e, "/out/v1/live/"+ep+"/index.mpd", time.Unix(0, 0))
		if len(ps) != 2 {
			t.Fatalf("%s: %d periods", ep, len(ps))
		}
		check(ep+" live period 0", ps[0], []tEvent{first})
		check(ep+" live period 1", ps[1], []tEvent{second})
	}
	// A static window from inside the first break.
	ps := dashEvents(t, e, "/out/v1/live/dash/index.mpd"+vod(l, 4, 13), at(4))
	if len(ps) != 2 {
		t.Fatalf("static: %d periods", len(ps))
	}
	check("static period 0", ps[0], []tEvent{{at: at(4), dur: 3 * time.Second, id: seq(3)}})
	check("static period 1", ps[1], []tEvent{second})
	// A window after both breaks has none.
	ps = dashEvents(t, e, "/out/v1/live/dash/index.mpd"+vod(l, 12, 14), at(12))
	if len(ps) != 1 || len(ps[0]) != 0 {
		t.Fatalf("window after the breaks: %+v", ps)
	}
	for _, p := range dashEvents(t, e, "/out/v1/live/none/index.mpd", time.Unix(0, 0)) {
		if len(p) != 0 {
			t.Fatalf("adMarkers none lists events: %+v", p)
		}
	}
}

// TestDASHSCTE35OpenBreak: a CUE-OUT without a duration lasts until its
// CUE-IN; one whose CUE-IN has not arrived has no duration yet.
func TestDASHSCTE35OpenBreak(t *testing.T) {
	e := dashEnv(t, nil)
	l := newLive(t, testmedia.TS, e.clock.Now())
	l.window = 10
	l.tags = func(i int) []string {
		switch i {
		case 1:
			return []string{"#EXT-X-CUE-OUT"}
		case 4:
			return []string{"#EXT-X-CUE-IN"}
		case 6:
			return []string{"#EXT-X-CUE-OUT"}
		}
		return nil
	}
	e.pushSteps(l, e.pusher("a"), 0, 8)
	ps := dashEvents(t, e, "/out/v1/live/dash/index.mpd", time.Unix(0, 0))
	if len(ps) != 1 || len(ps[0]) != 2 {
		t.Fatalf("events %+v", ps)
	}
	a, b := ps[0][0], ps[0][1]
	if !a.at.Equal(l.epoch.Add(time.Second)) || a.dur != 3*time.Second || !b.at.Equal(l.epoch.Add(6*time.Second)) || b.dur != -1 {
		t.Fatalf("events %+v", ps[0])
	}
}
