package origin

import (
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/internal/testmedia"
	"github.com/pullpush/pullpush/output/mediapackage"
)

// TestMediaPackageOutputIntoOrigin pushes through pullpush's own
// mediapackage output (two ingest URLs, digest auth) into the origin:
// ffprobe decodes the result, and when ingest a stops the origin continues
// from b.
func TestMediaPackageOutputIntoOrigin(t *testing.T) {
	e := newEnv(t, nil)
	out, err := mediapackage.New(mediapackage.Config{IngestURLs: []mediapackage.Ingest{
		{URL: e.url("/in/v2/live/a/channel"), Username: testUser, Password: testPass},
		{URL: e.url("/in/v2/live/b/channel"), Username: testUser, Password: testPass},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if out.Stem() != "channel" || len(out.Targets()) != 2 {
		t.Fatalf("stem %q, %d targets", out.Stem(), len(out.Targets()))
	}
	pa := &pusher{t: t, target: out.Targets()[0]}
	pb := &pusher{t: t, target: out.Targets()[1]}
	l := newLive(t, testmedia.FMP4, e.clock.Now())
	for n := 0; n < 12; n++ {
		e.clock.Add(time.Second)
		if n < 6 {
			l.push(pa, n)
		}
		l.push(pb, n)
	}
	if got := e.o.ActiveInput(testChannel); got != "b" {
		t.Fatalf("active input %q, want b after a stopped", got)
	}
	m := e.media("/out/v1/live/channel_video_hi.m3u8?start=" + iso(l.epoch) + "&end=" + iso(l.epoch.Add(12*time.Second)))
	if len(m.Segments) != 12 {
		t.Fatalf("%d segments, want 12", len(m.Segments))
	}
	for i, s := range m.Segments {
		if s.Discontinuity {
			t.Fatalf("DISCONTINUITY at %d", i)
		}
	}
	probe := ffprobe(t, "-show_entries", "stream=codec_type", "-of", "compact", e.url("/out/v1/live/index.m3u8"))
	if !strings.Contains(probe, "codec_type=video") || !strings.Contains(probe, "codec_type=audio") {
		t.Fatalf("ffprobe: %s", probe)
	}
}
