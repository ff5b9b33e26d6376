package origin

import (
	"strings"
	"testing"
	"time"

	"github.com/Comcast/scte35-go/pkg/scte35"

	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/testmedia"
)

// adLive is test media (1 s segments) with two breaks: #EXT-X-CUE-OUT:4
// on segment 3 (a stray CUE-OUT-CONT on 5, #EXT-X-CUE-IN on 7), and an
// EXT-X-DATERANGE SCTE35-OUT of 2 s (a splice_insert built with
// scte35-go) on segment 10 with no explicit end.
func adLive(t *testing.T, epoch time.Time) *live {
	t.Helper()
	l := newLive(t, testmedia.TS, epoch)
	l.window = 14
	sis := &scte35.SpliceInfoSection{Tier: 4095, SAPType: 3, SpliceCommand: &scte35.SpliceInsert{
		SpliceEventID: 77, OutOfNetworkIndicator: true, SpliceImmediateFlag: true, Program: &scte35.SpliceInsertProgram{},
		BreakDuration: &scte35.BreakDuration{AutoReturn: true, Duration: scte35.DurationToTicks(2 * time.Second)}}}
	l.tags = func(i int) []string {
		switch i {
		case 3:
			return []string{"#EXT-X-CUE-OUT:4"}
		case 5:
			return []string{"#EXT-X-CUE-OUT-CONT:2/4"}
		case 7:
			return []string{"#EXT-X-CUE-IN"}
		case 10:
			return []string{`#EXT-X-DATERANGE:ID="ad-77",START-DATE="` + epoch.Add(10*time.Second).Format(time.RFC3339Nano) +
				`",DURATION=2.0,SCTE35-OUT=0x` + sis.Hex()}
		}
		return nil
	}
	return l
}

// adTags returns, per listed segment, its ad-marker lines.
func adTags(t *testing.T, e *env, path string) ([]string, *hls.Media) {
	t.Helper()
	m := e.media(path)
	var out []string
	for _, l := range strings.Split(string(m.Encode()), "\n") {
		if strings.HasPrefix(l, "#EXTINF") {
			out = append(out, "|")
		}
		if strings.HasPrefix(l, "#EXT-X-CUE") || strings.HasPrefix(l, "#EXT-OATCLS") || strings.HasPrefix(l, "#EXT-X-DATERANGE") {
			out = append(out, l)
		}
	}
	return out, m
}

// TestAdMarkerModes: the same ingest with ad signals in two forms is
// served in each ad-marker mode; elapsed time and duration are right on a
// playlist that starts inside a break; the SCTE-35 written decodes (with
// scte35-go) to the break.
func TestAdMarkerModes(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Channels[0].Endpoints = []EndpointConfig{{ID: "pass"}, {ID: "none", AdMarkers: "none"},
			{ID: "enh", AdMarkers: "scte35_enhanced"}, {ID: "dr", AdMarkers: "daterange"}}
	})
	l := adLive(t, e.clock.Now())
	e.pushSteps(l, e.pusher("a"), 0, 14)
	const r = "/channel_video_hi.m3u8"

	// scte35_enhanced, from inside the first break to after the second.
	got, m := adTags(t, e, "/out/v1/live/enh"+r+vod(l, 4, 13))
	joined := strings.Join(got, " ")
	for _, want := range []string{
		"#EXT-X-CUE-OUT-CONT:ElapsedTime=1.000,Duration=4.000,SCTE35=",
		"#EXT-X-CUE-OUT-CONT:ElapsedTime=3.000,Duration=4.000,SCTE35=",
		"| #EXT-X-CUE-IN |",
		"#EXT-X-CUE-OUT:2.000 #EXT-OATCLS-SCTE35:",
		"#EXT-X-CUE-OUT-CONT:ElapsedTime=1.000,Duration=2.000,SCTE35=",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("enhanced lacks %q:\n%s", want, m.Encode())
		}
	}
	if strings.Contains(joined, "2/4") {
		t.Errorf("the ingest's CUE-OUT-CONT was kept:\n%s", m.Encode())
	}
	// Segment by segment (4 to 12).
	want := []string{"CONT:ElapsedTime=1.000", "CONT:ElapsedTime=2.000", "CONT:ElapsedTime=3.000", "#EXT-X-CUE-IN", "", "",
		"#EXT-X-CUE-OUT:2.000", "CONT:ElapsedTime=1.000,Duration=2.000", "#EXT-X-CUE-IN"}
	for i, s := range m.Segments {
		tags := strings.Join(s.Tags, " ")
		if i >= len(want) || (want[i] == "" && tags != "") || !strings.Contains(tags, want[i]) {
			t.Errorf("segment %d: %q, want %q", 4+i, tags, want[min(i, len(want)-1)])
		}
	}
	// Tags come before their EXTINF: the window's first segment (4) is one
	// second into the first break.
	if !strings.HasPrefix(got[0], "#EXT-X-CUE-OUT-CONT:ElapsedTime=1.000") || got[1] != "|" {
		t.Errorf("first segment of the window: %v", got[:2])
	}
	// The first break's start, with the SCTE-35 built for a CUE-OUT
	// without one.
	_, m = adTags(t, e, "/out/v1/live/enh"+r+vod(l, 2, 6))
	var oatcls string
	for _, s := range m.Segments {
		for _, tag := range s.Tags {
			if v, ok := strings.CutPrefix(tag, "#EXT-OATCLS-SCTE35:"); ok {
				oatcls = v
			}
		}
	}
	sis, err := scte35.DecodeBase64(oatcls)
	if err != nil {
		t.Fatalf("OATCLS %q: %v", oatcls, err)
	}
	if ins, ok := sis.SpliceCommand.(*scte35.SpliceInsert); !ok || !ins.OutOfNetworkIndicator || sis.Duration() != 4*time.Second {
		t.Fatalf("written SCTE-35: %s", sis.Table("", "  "))
	}

	// daterange: SCTE35-OUT with PLANNED-DURATION at the start, SCTE35-IN
	// with END-DATE after; the second break keeps its splice event.
	m = e.media("/out/v1/live/dr" + r + vod(l, 2, 13))
	var outs, ins []*hls.DateRange
	for _, s := range m.Segments {
		for _, d := range s.DateRanges {
			for _, a := range d.Extra {
				switch a.Key {
				case "SCTE35-OUT":
					outs = append(outs, d)
				case "SCTE35-IN":
					ins = append(ins, d)
				}
			}
		}
		if len(s.Tags) > 0 {
			t.Errorf("daterange mode kept tags %v", s.Tags)
		}
	}
	if len(outs) != 2 || len(ins) != 2 || *outs[0].PlannedDuration != 4 || outs[1].ID != "ad-77" ||
		!ins[0].EndDate.Equal(l.epoch.Add(7*time.Second)) || *ins[1].Duration != 2 {
		t.Fatalf("dateranges: out %+v in %+v\n%s", outs, ins, m.Encode())
	}

	// none: no marker at all; passthrough: the ingest's tags.
	if got, m := adTags(t, e, "/out/v1/live/none"+r+vod(l, 2, 13)); strings.Contains(strings.Join(got, ""), "#") {
		t.Errorf("none kept markers:\n%s", m.Encode())
	}
	if got, m := adTags(t, e, "/out/v1/live/pass"+r+vod(l, 2, 13)); !strings.Contains(strings.Join(got, " "), "#EXT-X-CUE-OUT:4 |") ||
		!strings.Contains(strings.Join(got, " "), "2/4") {
		t.Errorf("passthrough:\n%s", m.Encode())
	}
}
