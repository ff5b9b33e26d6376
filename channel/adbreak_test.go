package channel

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/channel/internal/config"

	"github.com/Comcast/scte35-go/pkg/scte35"

	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/adcue"
)

// adConfig is the bundled channel with three ads: b cut to 10 s, c cut
// to 8 s, and one that cannot load.
func adConfig() config.Config {
	cfg := DefaultConfig()
	cfg.Channels[0].Ads = []config.AssetConfig{
		{ID: "ad1", Title: "Ad one", URI: "embed:b", Out: 10 * time.Second},
		{ID: "ad2", URI: "embed:c", Out: 8 * time.Second},
		{ID: "adx", URI: "embed:no-such-ad"},
	}
	return cfg
}

// wantBreak is a break as the test expects it on the timeline.
type wantBreak struct {
	id         string
	start, dur time.Duration // from the test's base
	// parts are the assets that play, from the break's start: ad id (or
	// the slate's) and duration.
	parts []struct {
		asset string
		dur   time.Duration
	}
}

// expectedMarkers returns the ad-marker tags (SCTE-35 payloads and
// elapsed times cut off, see markerTags) a segment starting at off from
// base must carry, and the elapsed time its CUE-OUT-CONT must give.
func expectedMarkers(breaks []wantBreak, off time.Duration) ([]string, time.Duration) {
	var out []string
	var elapsed time.Duration
	for _, b := range breaks {
		if off == b.start+b.dur {
			out = append(out, "#EXT-X-CUE-IN")
		}
	}
	for _, b := range breaks {
		switch {
		case off == b.start:
			out = append(out, fmt.Sprintf("#EXT-X-CUE-OUT:%.3f", b.dur.Seconds()), "#EXT-OATCLS-SCTE35")
		case off > b.start && off < b.start+b.dur:
			out = append(out, fmt.Sprintf("#EXT-X-CUE-OUT-CONT:Duration=%.3f", b.dur.Seconds()))
			elapsed = off - b.start
		}
	}
	return out, elapsed
}

// markerTags returns a segment's ad tags with the SCTE-35 payloads and the
// elapsed time of CUE-OUT-CONT cut off, and that elapsed time; it checks
// that every payload decodes to a splice_insert out of the network for
// dur.
func markerTags(t *testing.T, s *hls.Segment, dur time.Duration) ([]string, time.Duration) {
	t.Helper()
	var out []string
	var elapsed time.Duration
	for _, tag := range s.Tags {
		if !adcue.IsAdTag(tag) {
			continue
		}
		var payload string
		if v, ok := strings.CutPrefix(tag, "#EXT-OATCLS-SCTE35:"); ok {
			payload, tag = v, "#EXT-OATCLS-SCTE35"
		}
		if v, ok := strings.CutPrefix(tag, "#EXT-X-CUE-OUT-CONT:"); ok {
			var e, d float64
			if _, err := fmt.Sscanf(strings.ReplaceAll(v, ",", " "), "ElapsedTime=%g Duration=%g SCTE35=%s", &e, &d, &payload); err != nil {
				t.Fatalf("%s: %v", tag, err)
			}
			elapsed = durationOf(e)
			tag = fmt.Sprintf("#EXT-X-CUE-OUT-CONT:Duration=%.3f", d)
		}
		if payload != "" {
			sis, err := scte35.DecodeBase64(payload)
			if err != nil {
				t.Fatalf("%s: SCTE-35 %q: %v", tag, payload, err)
			}
			ins, ok := sis.SpliceCommand.(*scte35.SpliceInsert)
			if !ok || !ins.OutOfNetworkIndicator || sis.Duration() != dur {
				t.Fatalf("%s: SCTE-35 decodes to %s, want a splice_insert out of the network for %s", tag, sis.Table("", " "), dur)
			}
		}
		out = append(out, tag)
	}
	return out, elapsed
}

// TestAdBreaks schedules two back-to-back breaks through the API on the
// bundled channel — one naming its ads (10 s of ad1, a failed ad skipped,
// 8 s of ad2, then 7 s of slate: 25 s), one filled from the channel's ads
// (ad1, then ad2 cut after 2 s: 12 s) — and steps the clock across them
// while two engines share the schedule: every segment of every media
// playlist carries exactly the markers of where it stands (CUE-OUT with
// OATCLS at a start, CUE-OUT-CONT with the right elapsed time inside,
// CUE-IN after, DATERANGE SCTE35-OUT/IN), the SCTE-35 decodes back to the
// break's duration, the ads and the slate play where planned, and the loop
// resumes after the breaks.
func TestAdBreaks(t *testing.T) {
	dir := t.TempDir()
	base := config.DefaultStart().Add(1000 * 90 * time.Second)
	c := newClock(base.Add(10 * time.Second))
	newE := func() *Engine {
		return newEngine(t, adConfig(), c, nil, WithFS(EmbeddedFS()), WithScheduleDir(dir))
	}
	e1, e2 := newE(), newE()
	srv := schedServer(t, e1)
	api := srv.URL + "/api/v1/channels/1/schedule"

	for _, tc := range []struct{ body, err string }{
		{`{"items":[{"type":"break"}]}`, "'duration' must be more than 0"},
		{`{"items":[{"type":"break","duration":7200}]}`, "at most 1h0m0s"},
		{`{"items":[{"type":"break","duration":10,"asset":"a"}]}`, "'asset', 'in' and 'out' are for asset items"},
		{`{"items":[{"type":"break","duration":10,"assets":["zz"]}]}`, `unknown asset "zz"`},
		{`{"items":[{"asset":"a","duration":10}]}`, "'duration' and 'assets' are for breaks"},
		{`{"items":[{"type":"promo","asset":"a"}]}`, `invalid type "promo"`},
	} {
		status, body := apiCall(t, "POST", api, testToken, tc.body, nil)
		var e struct{ Error string }
		_ = json.Unmarshal([]byte(body), &e)
		if status != 400 || !strings.Contains(e.Error, tc.err) {
			t.Errorf("%s: %d %s, want 400 %q", tc.body, status, body, tc.err)
		}
	}

	var sched Schedule
	status, body := apiCall(t, "POST", api, testToken, `{"items":[
		{"id":"brk1","type":"break","duration":25,"start":"next","assets":["ad1","adx","ad2"],"title":"First break"},
		{"id":"brk2","type":"break","duration":"12s"},
		{"id":"after","type":"asset","asset":"a","start":"`+base.Add(97*time.Second).Format(time.RFC3339Nano)+`"}]}`, &sched)
	if status != 201 || len(sched.Items) != 3 {
		t.Fatalf("append breaks: %d %s", status, body)
	}
	b1, b2 := sched.Items[0], sched.Items[1]
	if b1.Type != ItemBreak || !b1.Start.Equal(base.Add(30*time.Second)) || !b1.End.Equal(base.Add(55*time.Second)) || b1.Duration != 25 || b1.Asset != "" {
		t.Errorf("first break: %+v", b1)
	}
	if b2.Type != ItemBreak || !b2.Start.Equal(base.Add(55*time.Second)) || !b2.End.Equal(base.Add(67*time.Second)) || b2.Duration != 12 || len(b2.Assets) != 0 {
		t.Errorf("second break: %+v", b2)
	}
	if sched.Items[2].Type != "" {
		t.Errorf("an asset item is stored without a type: %+v", sched.Items[2])
	}

	breaks := []wantBreak{
		{id: "brk1", start: 30 * time.Second, dur: 25 * time.Second, parts: []struct {
			asset string
			dur   time.Duration
		}{{"ad1", 10 * time.Second}, {"ad2", 8 * time.Second}, {"_slate-ts", 7 * time.Second}}},
		{id: "brk2", start: 55 * time.Second, dur: 12 * time.Second, parts: []struct {
			asset string
			dur   time.Duration
		}{{"ad1", 10 * time.Second}, {"ad2", 2 * time.Second}}},
	}
	// what plays at off (from base): the asset id of its segments.
	playsAt := func(off time.Duration) string {
		for _, b := range breaks {
			at := b.start
			for _, p := range b.parts {
				if off >= at && off < at+p.dur {
					return p.asset
				}
				at += p.dur
			}
		}
		switch {
		case off < 30*time.Second:
			return "a"
		case off < 97*time.Second:
			return "b" // the loop resumes at the boundary it was interrupted at: b
		case off < 127*time.Second:
			return "a" // item "after"
		case off < 157*time.Second:
			return "c" // the loop resumes at the next boundary: c
		}
		return "?"
	}
	breakOf := func(off time.Duration) time.Duration {
		for _, b := range breaks {
			if off >= b.start && off < b.start+b.dur {
				return b.dur
			}
		}
		return -1
	}

	w := newWatcher(t, e1, e2)
	ch := e1.static[0]
	steps := 0
	for at := base.Add(20 * time.Second); !at.After(base.Add(140 * time.Second)); at = at.Add(700 * time.Millisecond) {
		c.Set(at)
		for _, tr := range ch.tracks {
			m := playlist(t, e1, "1", tr.name)
			for i, s := range m.Segments {
				off := s.ProgramDateTime.Sub(base)
				where := fmt.Sprintf("%s at %s, segment %d (+%s)", tr.name, at.Sub(base), i, off)
				got, elapsed := markerTags(t, s, breakOf(off))
				want, wantElapsed := expectedMarkers(breaks, off)
				if strings.Join(got, " ") != strings.Join(want, " ") {
					t.Fatalf("%s: ad tags %q, want %q", where, got, want)
				}
				// EXT-X-PROGRAM-DATE-TIME has milliseconds.
				if d := elapsed - wantElapsed; d < -time.Millisecond || d > time.Millisecond {
					t.Fatalf("%s: ElapsedTime %s, want %s", where, elapsed, wantElapsed)
				}
				var drs []string
				for _, d := range s.DateRanges {
					if adcue.IsAdDateRange(d) {
						drs = append(drs, d.Encode())
					}
				}
				var wantDRs []string
				for _, b := range breaks {
					sid := "splice:" + b.id
					start := base.Add(b.start).Format("2006-01-02T15:04:05.000Z")
					if off == b.start+b.dur {
						wantDRs = append(wantDRs, fmt.Sprintf(`#EXT-X-DATERANGE:ID="%s",START-DATE="%s",END-DATE="%s",DURATION=%g,SCTE35-IN=0x`,
							sid, start, base.Add(b.start+b.dur).Format("2006-01-02T15:04:05.000Z"), b.dur.Seconds()))
					}
				}
				for _, b := range breaks {
					if off == b.start {
						wantDRs = append(wantDRs, fmt.Sprintf(`#EXT-X-DATERANGE:ID="splice:%s",START-DATE="%s",PLANNED-DURATION=%g,SCTE35-OUT=0x`,
							b.id, base.Add(b.start).Format("2006-01-02T15:04:05.000Z"), b.dur.Seconds()))
					}
				}
				if len(drs) != len(wantDRs) {
					t.Fatalf("%s: SCTE-35 date ranges %q, want %q", where, drs, wantDRs)
				}
				for k := range drs {
					if !strings.HasPrefix(drs[k], wantDRs[k]) {
						t.Fatalf("%s: date range %q, want %q...", where, drs[k], wantDRs[k])
					}
				}
				if len(drs) > 0 || len(got) > 0 {
					cue, err := adcue.Read(s.Tags, s.DateRanges)
					if err != nil {
						t.Fatalf("%s: markers do not read back: %v", where, err)
					}
					if cue != nil && cue.Out && cue.Duration != breakOf(off) {
						t.Fatalf("%s: cue reads back as %+v", where, cue)
					}
				}
				if tr.kind == hls.MediaTypeVideo && off >= 0 {
					if a := strings.Split(s.URI, "/")[1]; a != playsAt(off) {
						t.Fatalf("%s: plays %s (%s), want %s", where, a, s.URI, playsAt(off))
					}
				}
			}
		}
		steps++
		w.step(c, at)
	}
	t.Logf("%d clock steps, every playlist checked", steps)

	// The SCTE-35 date range decodes to the break.
	c.Set(base.Add(90 * time.Second))
	m := playlist(t, e1, "1", "audio_0.m3u8")
	var outs, ins int
	for _, s := range m.Segments {
		for _, d := range s.DateRanges {
			for _, a := range d.Extra {
				if a.Key != "SCTE35-OUT" && a.Key != "SCTE35-IN" {
					continue
				}
				sis, err := scte35.DecodeHex(strings.TrimPrefix(a.Value, "0x"))
				if err != nil {
					t.Fatalf("%s %s: %v", d.ID, a.Key, err)
				}
				ins2, ok := sis.SpliceCommand.(*scte35.SpliceInsert)
				if !ok || ins2.SpliceEventID != spliceEventID(strings.TrimPrefix(d.ID, "splice:")) {
					t.Fatalf("%s %s: %s", d.ID, a.Key, sis.Table("", " "))
				}
				if a.Key == "SCTE35-OUT" {
					outs++
					if !ins2.OutOfNetworkIndicator || sis.Duration() != time.Duration(*d.PlannedDuration*float64(time.Second)) {
						t.Errorf("%s: SCTE35-OUT %s", d.ID, sis.Table("", " "))
					}
				} else {
					ins++
					if ins2.OutOfNetworkIndicator {
						t.Errorf("%s: SCTE35-IN is out of network", d.ID)
					}
				}
			}
		}
	}
	if outs != 2 || ins != 2 {
		t.Errorf("audio at +90 s: %d SCTE35-OUT and %d SCTE35-IN, want 2 each", outs, ins)
	}

	// /status during a break.
	for _, tc := range []struct {
		at            time.Duration
		item, asset   string
		slate, break_ bool
	}{
		{35 * time.Second, "brk1", "ad1", false, true},
		{50 * time.Second, "brk1", "", true, true},
		{66 * time.Second, "brk2", "ad2", false, true},
		{70 * time.Second, "", "b", false, false},
	} {
		c.Set(base.Add(tc.at))
		st := e1.Status()[0]
		if n := st.Now; n == nil || n.Item != tc.item || n.Asset != tc.asset || n.Slate != tc.slate || n.Break != tc.break_ {
			b, _ := json.Marshal(st.Now)
			t.Errorf("status at +%s: %s", tc.at, b)
		}
	}
}

// BenchmarkBreakPlaylist measures a media playlist whose window is inside
// an ad break (every segment carries markers in both forms).
func BenchmarkBreakPlaylist(b *testing.B) {
	base := config.DefaultStart().Add(1000 * 90 * time.Second)
	c := newClock(base.Add(10 * time.Second))
	e := newEngine(b, adConfig(), c, nil, WithFS(EmbeddedFS()), WithScheduleDir(b.TempDir()))
	if _, err := e.AppendSchedule("1", "", []ItemSpec{{Type: ItemBreak, Duration: Seconds(10 * time.Minute)}}); err != nil {
		b.Fatal(err)
	}
	ch := e.static[0]
	at := base.Add(5 * time.Minute)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		m, err := ch.media(i%len(ch.tracks), at.Add(time.Duration(i%100)*time.Second))
		if err != nil {
			b.Fatal(err)
		}
		_ = m.Encode()
	}
}
