package channel_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Comcast/scte35-go/pkg/scte35"

	"github.com/pullpush/pullpush/channel"
	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/adcue"
	"github.com/pullpush/pullpush/internal/chaintest"
	"github.com/pullpush/pullpush/internal/testutil"
	"github.com/pullpush/pullpush/origin"
)

// TestAdBreakThroughChain relays a channel with a 20 s ad break (10 s of
// ad, 10 s of slate) through a pullpush fetcher into an origin: the relay
// keeps the channel's markers (the passthrough endpoint serves them
// verbatim), and the origin's ad-marker modes convert them: the daterange
// endpoint has SCTE35-OUT with PLANNED-DURATION at the break's start and
// SCTE35-IN with END-DATE after it, the scte35_enhanced endpoint CUE-OUT,
// CUE-OUT-CONT and CUE-IN, with SCTE-35 that decodes to the break.
func TestAdBreakThroughChain(t *testing.T) {
	start := time.Now().Add(-70 * time.Second).Truncate(time.Second)
	brkStart := start.Add(30 * time.Second) // when asset a ends
	const brkDur = 20 * time.Second
	dir := t.TempDir()
	sched, err := json.Marshal(map[string]any{"channel": chaintest.ChannelID, "items": []channel.ScheduleItem{
		{ID: "brk", Type: channel.ItemBreak, Start: brkStart, Duration: channel.Seconds(brkDur)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, chaintest.ChannelID+".json"), sched, 0o644); err != nil {
		t.Fatal(err)
	}
	c := chaintest.StartWith(t, chaintest.Options{
		Start: start,
		Endpoints: []origin.EndpointConfig{{ID: "pass"}, {ID: "dr", AdMarkers: adcue.ModeDateRange},
			{ID: "enh", AdMarkers: adcue.ModeSCTE35Enhanced}},
		Channel: func(cfg *channel.Config) {
			cfg.Channels[0].Ads = []channel.AssetConfig{{ID: "ad1", URI: "embed:c", Out: 10 * time.Second}}
		},
		ChannelOptions: []channel.Option{channel.WithScheduleDir(dir)},
	})

	// The closed window [25 s, 60 s) around the break, once the origin has
	// all of it.
	q := c.Window(25*time.Second, 60*time.Second)
	get := func(ep, r string) *hls.Media {
		var m *hls.Media
		testutil.Eventually(t, time.Minute, func() bool {
			var err error
			m, err = c.Media("/out/v1/" + chaintest.ChannelID + "/" + ep + "/" + r + ".m3u8" + q)
			return err == nil && m.Endlist && len(m.Segments) >= 15
		}, "%s/%s: closed window around the break", ep, r)
		return m
	}
	for _, r := range []string{"channel_video-0", "channel_audio-0"} {
		// Passthrough: the channel's own markers, kept by the relay.
		m := get("pass", r)
		var pass []string
		for _, s := range m.Segments {
			for _, tag := range s.Tags {
				if adcue.IsAdTag(tag) {
					name, _, _ := strings.Cut(tag, ":")
					pass = append(pass, name)
				}
			}
			for _, d := range s.DateRanges {
				if adcue.IsAdDateRange(d) {
					pass = append(pass, "DATERANGE "+d.ID)
				}
			}
		}
		joined := strings.Join(pass, " ")
		if !strings.HasPrefix(joined, "#EXT-X-CUE-OUT #EXT-OATCLS-SCTE35 DATERANGE splice:brk #EXT-X-CUE-OUT-CONT") ||
			!strings.HasSuffix(joined, "#EXT-X-CUE-OUT-CONT #EXT-X-CUE-IN DATERANGE splice:brk") {
			t.Errorf("%s passthrough: ad markers %s\n%s", r, joined, m.Encode())
		}

		// daterange.
		m = get("dr", r)
		var outs, ins []*hls.DateRange
		var outAt, inAt time.Time
		for _, s := range m.Segments {
			if len(s.Tags) > 0 {
				t.Errorf("%s daterange: tags %v", r, s.Tags)
			}
			for _, d := range s.DateRanges {
				for _, a := range d.Extra {
					switch a.Key {
					case "SCTE35-OUT":
						outs, outAt = append(outs, d), s.ProgramDateTime
						sis, err := scte35.DecodeHex(strings.TrimPrefix(a.Value, "0x"))
						if err != nil || sis.Duration() != brkDur {
							t.Errorf("%s: SCTE35-OUT %s: %v", r, a.Value, err)
						}
					case "SCTE35-IN":
						ins, inAt = append(ins, d), s.ProgramDateTime
					}
				}
			}
		}
		if len(outs) != 1 || len(ins) != 1 {
			t.Fatalf("%s daterange: %d SCTE35-OUT, %d SCTE35-IN:\n%s", r, len(outs), len(ins), m.Encode())
		}
		if !outAt.Equal(brkStart) || !outs[0].StartDate.Equal(brkStart) || outs[0].PlannedDuration == nil || *outs[0].PlannedDuration != brkDur.Seconds() {
			t.Errorf("%s: SCTE35-OUT %s on the segment at %s, want at %s", r, outs[0].Encode(), outAt, brkStart)
		}
		if end := brkStart.Add(brkDur); !inAt.Equal(end) || ins[0].EndDate == nil || !ins[0].EndDate.Equal(end) {
			t.Errorf("%s: SCTE35-IN %s on the segment at %s, want at %s", r, ins[0].Encode(), inAt, end)
		}

		// scte35_enhanced.
		m = get("enh", r)
		var oatcls string
		var conts int
		var cueIn time.Time
		for _, s := range m.Segments {
			for _, tag := range s.Tags {
				switch {
				case strings.HasPrefix(tag, "#EXT-OATCLS-SCTE35:"):
					oatcls = strings.TrimPrefix(tag, "#EXT-OATCLS-SCTE35:")
				case strings.HasPrefix(tag, "#EXT-X-CUE-OUT-CONT:"):
					conts++
					if !strings.Contains(tag, ",Duration=20.000,") {
						t.Errorf("%s: %s", r, tag)
					}
				case tag == "#EXT-X-CUE-IN":
					cueIn = s.ProgramDateTime
				}
			}
		}
		sis, err := scte35.DecodeBase64(oatcls)
		if err != nil || sis.Duration() != brkDur {
			t.Errorf("%s enhanced: OATCLS %q: %v", r, oatcls, err)
		}
		if conts < 8 || !cueIn.Equal(brkStart.Add(brkDur)) {
			t.Errorf("%s enhanced: %d CUE-OUT-CONT, CUE-IN at %s:\n%s", r, conts, cueIn, m.Encode())
		}
	}
}
