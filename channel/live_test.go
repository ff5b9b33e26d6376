package channel

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/testutil"
)

// liveBase is a loop start of the bundled channel (asset a begins; its
// segments are 2 s).
var liveBase = DefaultStart().Add(1000 * 90 * time.Second)

// TestLiveItem schedules a 12 s live item into the bundled channel and
// follows its playlists every 250 ms on an injected clock: the loop plays,
// then from the item's start the live source's segments (its ladder
// mapped by nearest bandwidth: both video renditions play the source's
// low one, audio and subtitles by language) with EXT-X-DISCONTINUITY, then
// the loop again at the item's end. The media sequence never goes back,
// every EXT-X-PROGRAM-DATE-TIME follows the previous segment, /status shows
// the live source without its password, and ffmpeg decodes the final
// window across both transitions.
func TestLiveItem(t *testing.T) {
	c := newClock(liveBase.Add(10 * time.Second))
	r := newLiveRig(t, c, withLivePoll(2*time.Millisecond))
	api := r.srv.URL + "/api/v1/channels/1/schedule"

	for _, tc := range []struct{ body, err string }{
		{`{"items":[{"type":"live"}]}`, "invalid 'url'"},
		{`{"items":[{"type":"live","url":"ftp://x/y.m3u8"}]}`, "invalid 'url'"},
		{`{"items":[{"type":"live","url":"http://127.0.0.1/a.m3u8","asset":"a"}]}`, "'asset', 'assets', 'in' and 'out' are for other items"},
		{`{"items":[{"type":"live","url":"http://127.0.0.1/a.m3u8","duration":-1}]}`, "must not be negative"},
		{`{"items":[{"asset":"a","url":"http://127.0.0.1/a.m3u8"}]}`, "'url' is for live items"},
	} {
		status, body := apiCall(t, "POST", api, testToken, tc.body, nil)
		var e struct{ Error string }
		_ = json.Unmarshal([]byte(body), &e)
		if status != 400 || !strings.Contains(e.Error, tc.err) {
			t.Errorf("%s: %d %s, want 400 %q", tc.body, status, body, tc.err)
		}
	}

	start, stop := liveBase.Add(20*time.Second), liveBase.Add(32*time.Second)
	var sched Schedule
	status, body := apiCall(t, "POST", api, testToken, `{"items":[{"id":"news","type":"live","title":"Breaking news","url":"`+r.srcURL+`","start":"`+start.Format(time.RFC3339Nano)+`","duration":"12s"}]}`, &sched)
	if status != 201 || len(sched.Items) != 1 {
		t.Fatalf("schedule live item: %d %s", status, body)
	}
	if it := sched.Items[0]; it.Type != ItemLive || !it.Start.Equal(start) || !it.End.Equal(stop) || strings.Contains(body, liveSecret) {
		t.Fatalf("listed live item: %+v (%s)", it, body)
	}

	names := []string{"video_0", "video_1", "audio_0", "subs_0"}
	sawLiveStatus := false
	for c.Now().Before(liveBase.Add(44 * time.Second)) {
		r.step(250 * time.Millisecond)
		for _, n := range names {
			r.fetch(n + ".m3u8")
		}
		if now := c.Now(); now.After(start.Add(3*time.Second)) && now.Before(stop) && !sawLiveStatus {
			st := r.status()
			if !st.Live || st.LiveSource == nil || st.LiveSource.Item != "news" || st.LiveSource.State != "live" || st.Now == nil || !st.Now.Live || !st.Now.End.Equal(stop) {
				t.Fatalf("status during the live item: %+v %+v", st, st.LiveSource)
			}
			if !strings.Contains(st.LiveSource.URL, "127.0.0.1") {
				t.Errorf("status source URL %q", st.LiveSource.URL)
			}
			sawLiveStatus = true
		}
	}
	if st := r.status(); st.Live || st.LiveSource != nil {
		t.Errorf("status after the live item: %+v", st)
	}
	for _, n := range names {
		rs := r.runs(n + ".m3u8")
		if len(rs) != 3 || rs[0].kind != "vod" || rs[1].kind != "live" || rs[2].kind != "vod" {
			t.Fatalf("%s: runs %s, want vod, live, vod", n, kinds(rs))
		}
		if !rs[1].start.Equal(start) || !rs[2].start.Equal(stop) {
			t.Errorf("%s: live from %s to %s, want %s to %s", n, rs[1].start, rs[2].start, start, stop)
		}
		if n == "video_0" {
			dr := rs[1].first.dateRanges["news"]
			if dr == nil || dr.Class != ScheduleDateRangeClass || !dr.StartDate.Equal(start) || !strings.Contains(attrs(dr), `X-TYPE="live"`) || !strings.Contains(attrs(dr), `X-TITLE="Breaking news"`) {
				t.Errorf("live item EXT-X-DATERANGE: %+v", dr)
			}
		}
		want := map[string]string{"video_0": "/video_lo/", "video_1": "/video_lo/", "audio_0": "/audio/", "subs_0": "/subs/"}[n]
		var prev string
		for seq := rs[1].seq; seq < rs[2].seq; seq++ {
			src := r.liveSource(r.seen[n+".m3u8"][seq].uri)
			if !strings.Contains(src, want) {
				t.Errorf("%s: live segment %d plays %s, want the source's %s", n, seq, src, want)
			}
			if src == prev {
				t.Errorf("%s: live segment %s twice", n, src)
			}
			prev = src
		}
	}

	// The final window [-16 s, 44 s] holds loop, live and loop.
	frames, stderr := testutil.DecodeFrames(t, r.srv.URL+"/channels/1/video_0.m3u8")
	// 60 s of video; framemd5 output runs at the first part's 15 fps.
	if len(frames) < 58*15 {
		t.Errorf("ffmpeg decoded %d frames across the live item, want about %d\n%s", len(frames), 60*15, stderr)
	}
	if msg := testutil.DecoderErrors(stderr); msg != "" {
		t.Logf("ffmpeg (%d frames): %s", len(frames), msg)
	}
}

// attrs renders the attributes of an EXT-X-DATERANGE for matching.
func attrs(dr *hls.DateRange) string { return dr.Encode() }
