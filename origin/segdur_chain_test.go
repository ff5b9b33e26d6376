package origin_test

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/pullpush/pullpush/internal/chaintest"
	"github.com/pullpush/pullpush/internal/testutil"
	"github.com/pullpush/pullpush/origin"
)

// TestSegmentDurationChain relays the bundled VOD2Live channel into an
// origin with endpoints of 6 s segments: across the asset boundary (at
// 30 s) no joined segment spans the discontinuity, the video of a closed
// window of the joined TS endpoint decodes to the frames the plain TS
// endpoint serves for the same span, and the joined DASH endpoint's
// window decodes without decoder messages.
func TestSegmentDurationChain(t *testing.T) {
	testutil.RequireTool(t, "ffmpeg")
	c := chaintest.Start(t, 44*time.Second, []origin.EndpointConfig{
		{ID: "ts"},
		{ID: "ts6", SegmentDuration: 6 * time.Second},
		{ID: "d6", Packaging: origin.PackagingDASH, SegmentDuration: 6 * time.Second},
	})
	renditions := []string{"channel_video-0", "channel_video-1", "channel_audio-0"}
	q := c.Window(16*time.Second, 40*time.Second)
	c.WaitClosed(t, "ts6", renditions, q, 3, 1)
	boundary := c.Start.Add(30 * time.Second)
	for _, r := range renditions {
		m, err := c.Media("/out/v1/1/ts6/" + r + ".m3u8" + q)
		if err != nil {
			t.Fatal(err)
		}
		plain, err := c.Media("/out/v1/1/ts/" + r + ".m3u8" + q)
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Segments) >= len(plain.Segments) {
			t.Fatalf("%s: %d joined segments, %d plain ones", r, len(m.Segments), len(plain.Segments))
		}
		for _, s := range m.Segments {
			if s.Duration > 6.5 {
				t.Errorf("%s: joined segment %s lasts %.3f s", r, s.URI, s.Duration)
			}
			end := s.ProgramDateTime.Add(time.Duration(s.Duration * float64(time.Second)))
			if s.ProgramDateTime.Before(boundary.Add(-time.Second)) && end.After(boundary.Add(time.Second)) {
				t.Errorf("%s: joined segment %s [%v, %v) spans the asset boundary %v", r, s.URI, s.ProgramDateTime, end, boundary)
			}
		}
		// (the audio's target is 3 for 2.005 s segments: joined by the
		// video's 2, as 3 segments)
		six := 0
		for _, s := range m.Segments {
			if math.Abs(s.Duration-6) < 0.1 {
				six++
			}
		}
		if six < len(m.Segments)-2 {
			t.Errorf("%s: only %d of %d joined segments last 6 s:\n%s", r, six, len(m.Segments), m.Encode())
		}
		if r == "channel_audio-0" {
			continue // audio segments are not cut on the video's times
		}
		first, last := m.Segments[0], m.Segments[len(m.Segments)-1]
		span := fmt.Sprintf("?start=%d&end=%d", first.ProgramDateTime.Unix(),
			last.ProgramDateTime.Add(time.Duration(last.Duration*float64(time.Second))).Round(time.Second).Unix())
		got, msg := chaintest.Decode(t, c.URL+"/out/v1/1/ts6/"+r+".m3u8"+q)
		want, _ := chaintest.Decode(t, c.URL+"/out/v1/1/ts/"+r+".m3u8"+span)
		if i := chaintest.FirstDiff(got, want); i >= 0 || testutil.DecoderErrors(msg) != "" {
			t.Errorf("%s: %d joined frames, %d plain; first differing %d; ffmpeg: %s", r, len(got), len(want), i, msg)
		}
	}
	for _, stream := range []string{"0:v:0", "0:a:0"} {
		got, msg := testutil.DecodeStream(t, c.URL+"/out/v1/1/d6/index.mpd"+q, stream)
		if len(got) == 0 || testutil.DecoderErrors(msg) != "" {
			t.Errorf("DASH %s: %d frames; ffmpeg: %s", stream, len(got), msg)
		}
	}
}
