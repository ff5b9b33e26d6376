package channel_test

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/channel"
	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/chaintest"
	"github.com/pullpush/pullpush/internal/livesource"
	"github.com/pullpush/pullpush/internal/testmedia"
	"github.com/pullpush/pullpush/internal/testutil"
	"github.com/pullpush/pullpush/origin"
)

// TestLiveThroughChain relays the bundled channel with a 10 s live item
// through a pullpush fetcher into an origin on the wall clock: the
// origin's window around the item has EXT-X-DISCONTINUITY where the live
// source starts and ends, the item's guide EXT-X-DATERANGE, and ffmpeg
// decodes it.
func TestLiveThroughChain(t *testing.T) {
	set, err := testmedia.Load(testmedia.TS)
	if err != nil {
		t.Fatal(err)
	}
	src := httptest.NewServer(livesource.New(livesource.Config{Set: set, Clock: time.Now}))
	defer src.Close()

	start := time.Now().Add(-20 * time.Second).Truncate(time.Second)
	liveStart, liveEnd := start.Add(24*time.Second), start.Add(34*time.Second)
	dir := t.TempDir()
	sched, err := json.Marshal(map[string]any{"channel": chaintest.ChannelID, "items": []channel.ScheduleItem{
		{ID: "event", Type: channel.ItemLive, URL: src.URL + livesource.MasterPath, Title: "Event", Start: liveStart, Duration: channel.Seconds(10 * time.Second)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, chaintest.ChannelID+".json"), sched, 0o644); err != nil {
		t.Fatal(err)
	}
	c := chaintest.StartWith(t, chaintest.Options{
		Start:          start,
		Endpoints:      []origin.EndpointConfig{{ID: "pass"}},
		ChannelOptions: []channel.Option{channel.WithScheduleDir(dir)},
	})

	q := c.Window(16*time.Second, 44*time.Second)
	path := "/out/v1/" + chaintest.ChannelID + "/pass/channel_video-0.m3u8" + q
	var m *hls.Media
	testutil.Eventually(t, 90*time.Second, func() bool {
		var err error
		m, err = c.Media(path)
		return err == nil && m.Endlist && len(m.Segments) >= 16
	}, "closed origin window around the live item")
	discAt := map[int64]bool{}
	var guide *hls.DateRange
	for _, s := range m.Segments {
		if s.Discontinuity {
			discAt[s.ProgramDateTime.UnixNano()] = true
		}
		for _, d := range s.DateRanges {
			if d.ID == "event" {
				guide = d
			}
		}
	}
	if !discAt[liveStart.UnixNano()] || !discAt[liveEnd.UnixNano()] {
		t.Errorf("discontinuities at %v, want at %s and %s:\n%s", discAt, liveStart, liveEnd, m.Encode())
	}
	if guide == nil || guide.Class != channel.ScheduleDateRangeClass || !guide.StartDate.Equal(liveStart) || !strings.Contains(guide.Encode(), `X-TYPE="live"`) {
		t.Errorf("guide DATERANGE of the live item: %+v", guide)
	}
	frames, stderr := testutil.DecodeFrames(t, c.URL+path)
	if len(frames) < 20*15 {
		t.Errorf("ffmpeg decoded %d frames of the origin's window\n%s", len(frames), stderr)
	}
	if msg := testutil.DecoderErrors(stderr); msg != "" {
		t.Logf("ffmpeg: %s", msg)
	}
}
