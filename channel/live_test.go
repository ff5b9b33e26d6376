package channel

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/channel/internal/config"

	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/testmedia"
	"github.com/pullpush/pullpush/internal/testutil"
)

// liveBase is a loop start of the bundled channel (asset a begins; its
// segments are 2 s).
var liveBase = config.DefaultStart().Add(1000 * 90 * time.Second)

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
			if !strings.HasPrefix(st.LiveSource.URL, "http://127.0.0.1:") || strings.Contains(st.LiveSource.URL, "operator") {
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

// TestLiveSwitch switches the bundled channel to a live source now, makes
// the source fail (the slate follows within one target duration of the
// failure being noticed, and /status reports it), brings it back (live
// again) and switches back to the loop, all through the API.
func TestLiveSwitch(t *testing.T) {
	c := newClock(liveBase.Add(10*time.Second + 300*time.Millisecond))
	r := newLiveRig(t, c, withLivePoll(2*time.Millisecond))
	sw := r.srv.URL + "/api/v1/channels/1/switch"

	for _, tc := range []struct {
		method, body string
		status       int
		err          string
	}{
		{"POST", `{}`, 400, "'url' (the live source's HLS playlist) is required"},
		{"POST", `{"to":"tv"}`, 400, `'to' must be "live" or "vod"`},
		{"POST", `{"to":"vod","url":"http://127.0.0.1/x.m3u8"}`, 400, "takes no other field"},
		{"POST", `{"url":"file:///etc/passwd"}`, 400, "invalid 'url'"},
		{"POST", `{"url":"http://127.0.0.1/x.m3u8","extra":1}`, 400, "unknown field"},
		{"POST", `{"to":"vod"}`, 409, ErrNotLive.Error()},
		{"DELETE", ``, 409, ErrNotLive.Error()},
	} {
		status, body := apiCall(t, tc.method, sw, testToken, tc.body, nil)
		var e struct{ Error string }
		_ = json.Unmarshal([]byte(body), &e)
		if status != tc.status || !strings.Contains(e.Error, tc.err) {
			t.Errorf("%s %s: %d %s, want %d %q", tc.method, tc.body, status, body, tc.status, tc.err)
		}
	}
	if status, _ := apiCall(t, "POST", sw, "", `{"url":"`+r.srcURL+`"}`, nil); status != 401 {
		t.Errorf("switch without the token: %d", status)
	}

	var sched Schedule
	status, body := apiCall(t, "POST", sw, testToken, `{"url":"`+r.srcURL+`","id":"event","title":"Live event"}`, &sched)
	start := liveBase.Add(12 * time.Second) // the next segment boundary
	if status != 201 || len(sched.Items) != 1 || sched.Items[0].Type != ItemLive || !sched.Items[0].Start.Equal(start) || !sched.Items[0].End.IsZero() || strings.Contains(body, liveSecret) {
		t.Fatalf("switch: %d %s", status, body)
	}
	if status, body := apiCall(t, "POST", r.srv.URL+"/api/v1/channels/1/schedule", testToken, `{"items":[{"asset":"a"}]}`, nil); status != 400 || !strings.Contains(body, "has no end") {
		t.Errorf(`"next" after an open live item: %d %s`, status, body)
	}

	follow := func(until time.Time) {
		for c.Now().Before(until) {
			r.step(250 * time.Millisecond)
			r.fetch("video_0.m3u8")
			r.fetch("audio_0.m3u8")
		}
	}
	follow(liveBase.Add(20 * time.Second))
	if rs := r.runs("video_0.m3u8"); len(rs) != 2 || rs[1].kind != "live" || !rs[1].start.Equal(start) {
		t.Fatalf("after the switch: %s", kinds(rs))
	}

	r.fail.Store(true)
	failed := c.Now()
	follow(failed.Add(6 * time.Second))
	rs := r.runs("video_0.m3u8")
	if len(rs) != 3 || rs[2].kind != "slate" {
		t.Fatalf("source down: runs %s, want vod, live, slate", kinds(rs))
	}
	// The source counts as down 1.5 target durations (1 s) after its last
	// good poll; the slate follows within one channel target duration.
	td := time.Duration(r.e.staticChannel("1").targetDuration) * time.Second
	if late := rs[2].start.Sub(failed); late > 1500*time.Millisecond+td {
		t.Errorf("slate starts %s after the source failed, want at most %s", late, 1500*time.Millisecond+td)
	}
	st := r.status()
	if !st.Live || st.LiveSource == nil || st.LiveSource.State != "slate" || !strings.Contains(st.LiveSource.Error, "503") || st.LiveSource.PollErrors == 0 {
		t.Fatalf("status with the source down: %+v %+v", st, st.LiveSource)
	}
	if len(st.Errors) == 0 || !strings.Contains(st.Errors[len(st.Errors)-1].Error, "503") {
		t.Errorf("status errors: %+v", st.Errors)
	}

	r.fail.Store(false)
	back := c.Now()
	follow(back.Add(6 * time.Second))
	rs = r.runs("video_0.m3u8")
	if len(rs) != 4 || rs[3].kind != "live" || rs[3].start.Sub(back) > 2*td {
		t.Fatalf("source back: runs %s (back at %s), want live again", kinds(rs), back.Format("15:04:05.000"))
	}
	if st := r.status(); st.LiveSource == nil || st.LiveSource.State != "live" || st.LiveSource.Error != "" {
		t.Errorf("status with the source back: %+v", st.LiveSource)
	}

	status, body = apiCall(t, "DELETE", sw, testToken, "", &sched)
	if status != 200 || len(sched.Items) != 1 || sched.Items[0].End.IsZero() || !sched.Items[0].End.After(c.Now()) {
		t.Fatalf("switch back: %d %s", status, body)
	}
	stop := sched.Items[0].End
	follow(stop.Add(5 * time.Second))
	rs = r.runs("video_0.m3u8")
	if len(rs) != 5 || rs[4].kind != "vod" || !rs[4].start.Equal(stop) {
		t.Fatalf("switched back at %s: runs %s", stop.Format("15:04:05.000"), kinds(rs))
	}
	t.Logf("video runs: %s (failed %s, back %s)", kinds(rs), failed.Format("15:04:05.000"), back.Format("15:04:05.000"))
	r.checkDiscontinuities("video_0.m3u8", "audio_0.m3u8")
	if ra := r.runs("audio_0.m3u8"); ra[len(ra)-1].kind != "vod" || !ra[len(ra)-1].start.Equal(stop) {
		t.Errorf("audio: runs %s", kinds(ra))
	}
	if st := r.status(); st.Live {
		t.Errorf("status after switching back: %+v", st)
	}
}

// TestLiveTwoEngines runs engines on one schedule directory: two that
// poll the live source from the start, one that starts during the live
// item and one after it. Through the placement log their playlists stay
// identical during the live item and after it.
func TestLiveTwoEngines(t *testing.T) {
	c := newClock(liveBase.Add(10 * time.Second))
	r := newLiveRig(t, c, withLivePoll(2*time.Millisecond))
	srv2 := r.addEngine()
	status, body := apiCall(t, "POST", r.srv.URL+"/api/v1/channels/1/switch", testToken, `{"url":"`+r.srcURL+`","duration":"9s"}`, nil)
	if status != 201 {
		t.Fatalf("switch: %d %s", status, body)
	}
	servers := []string{srv2.URL}
	for c.Now().Before(liveBase.Add(28 * time.Second)) {
		r.step(250 * time.Millisecond)
		if c.Now().Equal(liveBase.Add(16 * time.Second)) {
			// An engine that starts (or restarts) during the live item.
			servers = append(servers, r.addEngine().URL)
		}
		for _, n := range []string{"video_0.m3u8", "audio_0.m3u8"} {
			// The engines place segments in turn: whoever is asked first.
			for i, srv := range servers {
				_, _, b1 := get(t, r.srv.URL+"/channels/1/"+n)
				_, _, b2 := get(t, srv+"/channels/1/"+n)
				if i%2 == 1 {
					_, _, b2 = get(t, srv+"/channels/1/"+n)
					_, _, b1 = get(t, r.srv.URL+"/channels/1/"+n)
				}
				if !bytes.Equal(bytes.TrimSuffix(b1, []byte("#EXT-X-ENDLIST\n")), b2) {
					t.Fatalf("%s at %s differs between engine 1 and %d:\n%s\n----\n%s", n, c.Now().Format(time.RFC3339Nano), i+2, b1, b2)
				}
			}
		}
	}
	// An engine that starts after the live item lists what the others did.
	srv4 := r.addEngine()
	_, _, b1 := get(t, r.srv.URL+"/channels/1/video_0.m3u8")
	if _, _, b4 := get(t, srv4.URL+"/channels/1/video_0.m3u8"); !bytes.Equal(bytes.TrimSuffix(b1, []byte("#EXT-X-ENDLIST\n")), b4) {
		t.Fatalf("an engine started after the live item differs:\n%s\n----\n%s", b1, b4)
	}
	if !strings.Contains(string(r.fetch("video_0.m3u8").Encode()), "seg/"+liveAssetPrefix) {
		t.Fatal("no live segment in the window")
	}
}

// TestLiveSourceUnusable switches to a source that does not exist: the
// slate plays from the switch on, /status says why, and switching back
// returns to the loop.
func TestLiveSourceUnusable(t *testing.T) {
	c := newClock(liveBase.Add(10 * time.Second))
	r := newLiveRig(t, c, withLivePoll(2*time.Millisecond))
	sw := r.srv.URL + "/api/v1/channels/1/switch"
	missing := strings.Replace(r.srcURL, "/master.m3u8", "/none.m3u8", 1)
	if status, body := apiCall(t, "POST", sw, testToken, `{"url":"`+missing+`"}`, nil); status != 201 {
		t.Fatalf("switch: %d %s", status, body)
	}
	for c.Now().Before(liveBase.Add(18 * time.Second)) {
		r.step(250 * time.Millisecond)
		r.fetch("video_0.m3u8")
	}
	if rs := r.runs("video_0.m3u8"); len(rs) != 2 || rs[1].kind != "slate" || !rs[1].start.Equal(liveBase.Add(12*time.Second)) {
		t.Fatalf("runs %s, want the slate from the switch", kinds(rs))
	}
	st := r.status()
	if !st.Live || st.LiveSource.State != "slate" || !strings.Contains(st.LiveSource.Error, "404") {
		t.Fatalf("status: %+v", st.LiveSource)
	}
	if status, body := apiCall(t, "POST", sw, testToken, `{"to":"vod"}`, nil); status != 200 {
		t.Fatalf("switch back: %d %s", status, body)
	}
	for c.Now().Before(liveBase.Add(24 * time.Second)) {
		r.step(250 * time.Millisecond)
		r.fetch("video_0.m3u8")
	}
	if rs := r.runs("video_0.m3u8"); len(rs) != 3 || rs[2].kind != "vod" {
		t.Fatalf("runs %s, want the loop after switching back", kinds(rs))
	}
}

// TestLiveFMP4 plays an fMP4 live source in an fMP4 channel (the bundled
// fMP4 slate as its loop): the live segments come with their EXT-X-MAP,
// proxied like the segments, and ffmpeg decodes the window across both
// transitions.
func TestLiveFMP4(t *testing.T) {
	cfg := config.Config{Channels: []config.ChannelConfig{{ID: "1", Start: config.DefaultStart(), Assets: []config.AssetConfig{{ID: "loop", URI: slateFMP4}}}}}
	c := newClock(config.DefaultStart().Add(100*time.Hour + 10*time.Second))
	r := newLiveRigWith(t, c, cfg, testmedia.FMP4, withLivePoll(2*time.Millisecond))
	status, body := apiCall(t, "POST", r.srv.URL+"/api/v1/channels/1/switch", testToken, `{"url":"`+r.srcURL+`","duration":"8s"}`, nil)
	if status != 201 {
		t.Fatalf("switch: %d %s", status, body)
	}
	var m *hls.Media
	for range 4 * 20 {
		r.step(250 * time.Millisecond)
		m = r.fetch("video_0.m3u8")
	}
	rs := r.runs("video_0.m3u8")
	if len(rs) != 3 || rs[1].kind != "live" || rs[2].kind != "vod" {
		t.Fatalf("runs %s, want vod, live, vod (errors %+v)", kinds(rs), r.status().Errors)
	}
	var maps []string
	for _, s := range m.Segments {
		if s.Map != nil {
			maps = append(maps, s.Map.URI)
		}
	}
	var liveMap string
	for _, u := range maps {
		if strings.HasPrefix(u, "seg/"+liveAssetPrefix) {
			liveMap = u
		}
	}
	if liveMap == "" || !strings.HasSuffix(r.liveSource(liveMap), "/video_lo/init.mp4") {
		t.Fatalf("no EXT-X-MAP of the live source's video_lo in %q", maps)
	}
	if status, _, b := get(t, r.srv.URL+"/channels/1/"+liveMap); status != 200 || len(b) == 0 {
		t.Fatalf("live init section: %d", status)
	}
	// ffmpeg's HLS demuxer keeps the first init section's decoder
	// configuration across an EXT-X-MAP change, so it decodes the live part
	// on its own: a closed playlist of the channel's live segments.
	live := &hls.Media{Version: m.Version, TargetDuration: m.TargetDuration, Endlist: true}
	for _, s := range m.Segments {
		if segKind(s.URI) == "live" {
			c := *s
			c.URI = r.srv.URL + "/channels/1/" + s.URI
			c.Discontinuity = c.Discontinuity && len(live.Segments) > 0
			if len(live.Segments) == 0 {
				c.Map = &hls.Map{URI: r.srv.URL + "/channels/1/" + liveMap}
			} else if c.Map != nil {
				c.Map = &hls.Map{URI: r.srv.URL + "/channels/1/" + c.Map.URI}
			}
			c.DateRanges = nil
			live.Segments = append(live.Segments, &c)
		}
	}
	pl := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", mpegURL)
		_, _ = w.Write(live.Encode())
	}))
	defer pl.Close()
	frames, stderr := testutil.DecodeFrames(t, pl.URL+"/live.m3u8")
	if want := 8 * 25; len(frames) < want-25 {
		t.Errorf("ffmpeg decoded %d frames of the 8 s live part, want about %d\n%s", len(frames), want, stderr)
	}
	if msg := testutil.DecoderErrors(stderr); msg != "" {
		t.Errorf("ffmpeg: %s", msg)
	}
}

// TestLiveRenditionFails makes the source's subtitles playlist fail: the
// subtitles play the slate while video and audio stay live.
func TestLiveRenditionFails(t *testing.T) {
	c := newClock(liveBase.Add(10 * time.Second))
	r := newLiveRig(t, c, withLivePoll(2*time.Millisecond))
	if status, body := apiCall(t, "POST", r.srv.URL+"/api/v1/channels/1/switch", testToken, `{"url":"`+r.srcURL+`"}`, nil); status != 201 {
		t.Fatalf("switch: %d %s", status, body)
	}
	names := []string{"video_0.m3u8", "audio_0.m3u8", "subs_0.m3u8"}
	follow := func(until time.Time) {
		for c.Now().Before(until) {
			r.step(250 * time.Millisecond)
			for _, n := range names {
				r.fetch(n)
			}
		}
	}
	follow(liveBase.Add(16 * time.Second))
	r.failP.Store("/subs.m3u8")
	follow(liveBase.Add(24 * time.Second))
	for _, n := range names[:2] {
		if rs := r.runs(n); len(rs) != 2 || rs[1].kind != "live" {
			t.Errorf("%s: runs %s, want vod, live", n, kinds(rs))
		}
	}
	if rs := r.runs("subs_0.m3u8"); len(rs) != 3 || rs[1].kind != "live" || rs[2].kind != "slate" {
		t.Errorf("subtitles: runs %s, want vod, live, slate", kinds(rs))
	}
	if st := r.status(); !strings.Contains(st.LiveSource.Error, "/subs.m3u8") || st.LiveSource.State != "live" {
		t.Errorf("status: %+v", st.LiveSource)
	}
}
