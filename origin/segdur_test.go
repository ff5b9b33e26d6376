package origin

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pullpush/pullpush/origin/internal/index"

	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/testmedia"
	"github.com/pullpush/pullpush/internal/testutil"
	"github.com/pullpush/pullpush/internal/versitygw"
	"github.com/pullpush/pullpush/keys"
)

// joinedEndpoints adds TS, CMAF and DASH endpoints with 3 s segments (the
// test media has 1 s segments), next to the plain TS one.
func joinedEndpoints(p keys.Provider) func(*Config) {
	return func(c *Config) {
		c.KeyProvider = p
		c.Channels[0].ManifestWindow = 20 * time.Second
		c.Channels[0].Endpoints = []EndpointConfig{
			{ID: "ts"},
			{ID: "ts3", SegmentDuration: 3 * time.Second},
			{ID: "cmaf3", Packaging: PackagingCMAF, SegmentDuration: 3 * time.Second},
			{ID: "dash3", Packaging: PackagingDASH, SegmentDuration: 3 * time.Second},
		}
		if p != nil {
			c.Channels[0].Endpoints = append(c.Channels[0].Endpoints,
				EndpointConfig{ID: "aes3", SegmentDuration: 3 * time.Second, Encryption: enc(MethodAES128, 0)},
				EndpointConfig{ID: "cenc3", Packaging: PackagingCMAF, SegmentDuration: 3 * time.Second, Encryption: enc(MethodCENC, 0)},
				EndpointConfig{ID: "sample3", SegmentDuration: 3 * time.Second, Encryption: enc(MethodSampleAES, 0)})
		}
	}
}

// TestSegmentDurationPlaylists: with 1 s ingest segments, segmentDuration
// 3s lists 3 s segments on TS and CMAF endpoints, numbered consecutively,
// starting where the plain TS endpoint has a segment; none spans a
// discontinuity (the test media restarts its clock every 8 segments); the
// incomplete group at the live edge is not listed; and a reload after more
// segments arrived lists the same segments under the same numbers.
func TestSegmentDurationPlaylists(t *testing.T) {
	e := newEnv(t, joinedEndpoints(nil))
	l := newLive(t, testmedia.TS, e.clock.Now())
	p := e.pusher("a")
	e.pushSteps(l, p, 0, 13)
	plain := e.media("/out/v1/live/ts/channel_video_hi.m3u8")
	plainAt := map[time.Time]*hls.Segment{}
	for _, s := range plain.Segments {
		plainAt[s.ProgramDateTime] = s
	}
	for _, ep := range []string{"ts3", "cmaf3"} {
		m := e.media("/out/v1/live/" + ep + "/channel_video_hi.m3u8")
		if m.TargetDuration != 3 {
			t.Errorf("%s: TARGETDURATION %d, want 3", ep, m.TargetDuration)
		}
		// segments 0-12: groups [0-2] [3-5] [6-7] (the clock restarts at
		// 8) [8-10]; [11-12] is incomplete.
		want := []float64{3, 3, 2, 3}
		if len(m.Segments) != len(want) {
			t.Fatalf("%s: %d segments, want %d:\n%s", ep, len(m.Segments), len(want), m.Encode())
		}
		at := l.epoch
		for i, s := range m.Segments {
			if math.Abs(s.Duration-want[i]) > 0.05 {
				t.Errorf("%s: segment %d lasts %.3f s, want %v", ep, i, s.Duration, want[i])
			}
			if s.ProgramDateTime.IsZero() || !s.ProgramDateTime.Equal(at) {
				t.Errorf("%s: segment %d PROGRAM-DATE-TIME %v, want %v", ep, i, s.ProgramDateTime, at)
			}
			if plainAt[at] == nil {
				t.Errorf("%s: segment %d starts at %v, where the TS endpoint has no segment", ep, i, at)
			}
			wantDisc := at.Equal(l.epoch.Add(8 * time.Second))
			if s.Discontinuity != wantDisc && ep == "cmaf3" {
				t.Errorf("%s: segment %d discontinuity %v, want %v", ep, i, s.Discontinuity, wantDisc)
			}
			at = at.Add(time.Duration(want[i]) * time.Second)
		}
		if code, body := e.get("/out/v1/live/" + ep + "/" + m.Segments[0].URI); code != 200 || len(body) == 0 {
			t.Fatalf("%s: GET %s: %d", ep, m.Segments[0].URI, code)
		}
	}
	before := e.media("/out/v1/live/ts3/channel_video_hi.m3u8")
	e.pushSteps(l, p, 13, 20)
	after := e.media("/out/v1/live/ts3/channel_video_hi.m3u8")
	if after.MediaSequence < before.MediaSequence {
		t.Fatalf("media sequence went back: %d -> %d", before.MediaSequence, after.MediaSequence)
	}
	common := 0
	for i, s := range before.Segments {
		j := int(before.MediaSequence) + i - int(after.MediaSequence)
		if j < 0 || j >= len(after.Segments) {
			continue
		}
		a := after.Segments[j]
		common++
		if a.URI != s.URI || a.Duration != s.Duration || !a.ProgramDateTime.Equal(s.ProgramDateTime) {
			t.Errorf("segment %d changed across reloads: %s %.3f %v -> %s %.3f %v", before.MediaSequence+int64(i),
				s.URI, s.Duration, s.ProgramDateTime, a.URI, a.Duration, a.ProgramDateTime)
		}
	}
	if common < 3 {
		t.Fatalf("only %d segments in both playlists", common)
	}
	// A closed window lists the groups that overlap it, the same ones
	// before and after more segments arrive.
	q := vod(l, 4, 10)
	w := e.media("/out/v1/live/ts3/channel_video_hi.m3u8" + q)
	if !w.Endlist || len(w.Segments) != 3 || !w.Segments[0].ProgramDateTime.Equal(l.epoch.Add(3*time.Second)) {
		t.Fatalf("window [4,10): want the 3 groups from segment 3 with ENDLIST, got\n%s", w.Encode())
	}
}

// TestSegmentDurationLiveEdge: a closed window whose end lies in a group
// that is not complete yet is no VOD playlist until the group is listed.
func TestSegmentDurationLiveEdge(t *testing.T) {
	e := newEnv(t, joinedEndpoints(nil))
	l := newLive(t, testmedia.TS, e.clock.Now())
	p := e.pusher("a")
	e.pushSteps(l, p, 0, 5) // groups [0-2] complete, [3-4] open
	e.clock.Add(2 * time.Second)
	m := e.media("/out/v1/live/ts3/channel_video_hi.m3u8" + vod(l, 0, 4))
	if m.Endlist || len(m.Segments) != 1 {
		t.Fatalf("window [0,4) with segment 5 missing: want 1 segment, no ENDLIST:\n%s", m.Encode())
	}
	e.pushSteps(l, p, 5, 6)
	m = e.media("/out/v1/live/ts3/channel_video_hi.m3u8" + vod(l, 0, 4))
	if !m.Endlist || len(m.Segments) != 2 {
		t.Fatalf("window [0,4) once [3-5] is complete: want 2 segments and ENDLIST:\n%s", m.Encode())
	}
}

// TestSegmentDurationDecodes has ffmpeg decode a closed window of the
// joined TS, CMAF, DASH and encrypted endpoints: every video and audio
// frame equals the plain TS endpoint's of the same window, without decoder
// messages, and the joined TS segment itself decodes cleanly.
func TestSegmentDurationDecodes(t *testing.T) {
	testutil.RequireTool(t, "ffmpeg")
	k := newKeyEnv(t, "")
	e := newEnv(t, joinedEndpoints(k.speke(t)))
	l := newLive(t, testmedia.TS, e.clock.Now())
	e.pushSteps(l, e.pusher("a"), 0, 8)
	// From segment 0: see TestDASHDecodesLikeTS.
	q := vod(l, 0, 6)
	for _, tc := range []struct{ stream, ts string }{
		{"0:v:0", "channel_video_hi"},
		{"0:a:0", "channel_audio"},
	} {
		clear := frameHashes(t, e.url("/out/v1/live/ts/"+tc.ts+".m3u8"+q), "")
		if len(clear) < 100 {
			t.Fatalf("%s: only %d frames", tc.ts, len(clear))
		}
		for _, ep := range []string{"ts3", "cmaf3", "aes3", "cenc3", "sample3"} {
			m := e.media("/out/v1/live/" + ep + "/" + tc.ts + ".m3u8" + q)
			if len(m.Segments) != 2 {
				t.Errorf("%s %s: %d segments, want 2 of 3 s", ep, tc.ts, len(m.Segments))
			}
			got, msg := decodeFrames(t, e.url("/out/v1/live/"+ep+"/"+tc.ts+".m3u8"+q), "")
			if strings.Join(got, ",") != strings.Join(clear, ",") {
				t.Errorf("%s %s: %d frames decode differently from the plain TS endpoint (%d frames)", ep, tc.ts, len(got), len(clear))
			}
			if msg := testutil.DecoderErrors(msg); msg != "" {
				t.Errorf("%s %s: ffmpeg reports:\n%s", ep, tc.ts, msg)
			}
		}
		got := mappedFrameHashes(t, e.url("/out/v1/live/dash3/index.mpd"+q), tc.stream)
		if strings.Join(got, ",") != strings.Join(clear, ",") {
			t.Errorf("dash3 %s: %d frames decode differently from the plain TS endpoint (%d frames)", tc.stream, len(got), len(clear))
		}
	}
	m := e.media("/out/v1/live/ts3/channel_video_hi.m3u8" + q)
	whole := mappedFrameHashes(t, e.url("/out/v1/live/ts3/"+m.Segments[1].URI), "0:v:0")
	part := frameHashes(t, e.url("/out/v1/live/ts/channel_video_hi.m3u8"+vod(l, 3, 6)), "")
	if strings.Join(whole, ",") != strings.Join(part, ",") {
		t.Errorf("joined TS segment 3-5 alone: %d frames, the TS endpoint's segments 3-5 %d, or they differ", len(whole), len(part))
	}
}

// TestSegmentDurationDASH: the DASH endpoint's SegmentTimeline has the
// joined durations, $Number$ are the joined segments' numbers (those of
// the TS endpoint with the same segment duration), and numbers, times and
// durations stay the same as the window slides.
func TestSegmentDurationDASH(t *testing.T) {
	e := newEnv(t, joinedEndpoints(nil))
	l := newLive(t, testmedia.TS, e.clock.Now())
	p := e.pusher("a")
	e.pushSteps(l, p, 0, 7)
	m1, _ := e.mpd("/out/v1/live/dash3/index.mpd")
	seen := map[int64]tSeg{}
	hls3 := e.media("/out/v1/live/ts3/channel_video_hi.m3u8")
	count := 0
	for _, per := range m1.Periods {
		for _, as := range per.Sets {
			for _, r := range as.Reps {
				if r.ID != "channel_video_hi" {
					continue
				}
				for _, s := range r.Template.segments(t, r.ID) {
					count++
					seen[s.n] = s
					i := s.n - hls3.MediaSequence
					if i < 0 || i >= int64(len(hls3.Segments)) {
						t.Fatalf("DASH segment %d not in the ts3 playlist (from %d)", s.n, hls3.MediaSequence)
					}
					if d := float64(s.d)/float64(r.Template.Timescale) - hls3.Segments[i].Duration; math.Abs(d) > 0.05 {
						t.Errorf("DASH segment %d lasts %d/%d, HLS %.3f", s.n, s.d, r.Template.Timescale, hls3.Segments[i].Duration)
					}
				}
			}
		}
	}
	if count != 2 {
		t.Fatalf("DASH video timeline: %d segments, want 2 (segments 0-5 joined by 3)", count)
	}
	e.pushSteps(l, p, 7, 30)
	m2, _ := e.mpd("/out/v1/live/dash3/index.mpd")
	again := 0
	for _, per := range m2.Periods {
		for _, as := range per.Sets {
			for _, r := range as.Reps {
				if r.ID != "channel_video_hi" {
					continue
				}
				for _, s := range r.Template.segments(t, r.ID) {
					if old, ok := seen[s.n]; ok {
						again++
						if old.t != s.t || old.d != s.d {
							t.Errorf("segment %d: t=%d d=%d, before t=%d d=%d", s.n, s.t, s.d, old.t, old.d)
						}
					}
				}
			}
		}
	}
	// The first groups have left the 20 s window by now: a time-shifted
	// MPD lists them as the live one did.
	m3, _ := e.mpd("/out/v1/live/dash3/index.mpd" + vod(l, 0, 6))
	for _, per := range m3.Periods {
		for _, as := range per.Sets {
			for _, r := range as.Reps {
				if r.ID != "channel_video_hi" {
					continue
				}
				for _, s := range r.Template.segments(t, r.ID) {
					old, ok := seen[s.n]
					if !ok || old.t != s.t || old.d != s.d {
						t.Errorf("time-shifted segment %d (t=%d d=%d) differs from the live MPD's (%v %+v)", s.n, s.t, s.d, ok, old)
					}
					again++
				}
			}
		}
	}
	if again < 2 {
		t.Fatalf("only %d segments seen again", again)
	}
}

// TestSegmentDurationIFrames: the I-frame playlist of a joined endpoint
// points into the joined segments, at TS packets.
func TestSegmentDurationIFrames(t *testing.T) {
	e := newEnv(t, joinedEndpoints(nil))
	l := newLive(t, testmedia.TS, e.clock.Now())
	e.pushSteps(l, e.pusher("a"), 0, 7)
	m := e.media("/out/v1/live/ts3/channel_video_hi/iframes.m3u8")
	if !m.IFramesOnly || len(m.Segments) < 2 {
		t.Fatalf("I-frame playlist:\n%s", m.Encode())
	}
	segs := map[string][]byte{}
	for _, s := range m.Segments {
		b, ok := segs[s.URI]
		if !ok {
			var code int
			code, b = e.get("/out/v1/live/ts3/channel_video_hi/" + s.URI)
			if code != 200 {
				t.Fatalf("GET %s: %d", s.URI, code)
			}
			segs[s.URI] = b
		}
		off := *s.ByteRange.Offset
		if off+s.ByteRange.Length > int64(len(b)) || b[off] != 0x47 {
			t.Errorf("%s @%d+%d: outside the %d-byte segment or not at a TS packet", s.URI, off, s.ByteRange.Length, len(b))
		}
	}
	if len(segs) != 2 {
		t.Errorf("I-frames in %d segments, want the 2 joined ones", len(segs))
	}
}

// TestContinueCC: joined TS continues every PID's continuity counter.
func TestContinueCC(t *testing.T) {
	pkt := func(pid uint16, cc byte, payload bool) []byte {
		p := make([]byte, 188)
		p[0], p[1], p[2] = 0x47, byte(pid>>8), byte(pid)
		p[3] = cc
		if payload {
			p[3] |= 0x10
		} else {
			p[3] |= 0x20
		}
		return p
	}
	last := map[uint16]byte{}
	a := bytes.Join([][]byte{pkt(0x100, 14, true), pkt(0x100, 15, true)}, nil)
	b := bytes.Join([][]byte{pkt(0x100, 3, true), pkt(0x100, 3, false), pkt(0x101, 7, true)}, nil)
	continueCC(a, last)
	continueCC(b, last)
	if got := []byte{b[3] & 0xf, b[188+3] & 0xf, b[376+3] & 0xf}; !bytes.Equal(got, []byte{0, 0, 7}) {
		t.Fatalf("counters %v, want [0 0 7]", got)
	}
}

// TestSegmentDurationSnapshot: an instance that restores a snapshot whose
// front lies after a discontinuity (the test media restart their clock at
// segment 8) numbers the joined segments as the instance that wrote it.
func TestSegmentDurationSnapshot(t *testing.T) {
	e := newEnv(t, joinedEndpoints(nil))
	l := newLive(t, testmedia.TS, e.clock.Now())
	e.pushSteps(l, e.pusher("a"), 0, 20)
	ch := e.o.lookup(testChannel)
	ch.mu.Lock()
	defer ch.mu.Unlock()
	data, err := ch.EncodeSnapshot(0)
	if err != nil {
		t.Fatal(err)
	}
	s, err := decodeSnapshot(testChannel, data)
	if err != nil {
		t.Fatal(err)
	}
	for i := range s.Rends {
		s.Rends[i].Segs = s.Rends[i].Segs[10:] // a later front, past segment 8
	}
	c := &index.Index{State: &index.State{}, Params: ch.Params}
	if err := c.Restore(s); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"channel_video_hi", "channel_audio"} {
		want := ch.Rends[key].Groups[3*time.Second].Joined.Segs
		got := c.Rends[key].Groups[3*time.Second].Joined.Segs
		if len(got) == 0 || len(want) < len(got) {
			t.Fatalf("%s: %d joined segments restored, %d before", key, len(got), len(want))
		}
		want = want[len(want)-len(got):]
		for i := range got {
			if got[i].Seq != want[i].Seq || got[i].Grp.First != want[i].Grp.First || got[i].Dur != want[i].Dur {
				t.Errorf("%s: restored joined segment %d is %d (from %d, %d ns), before %d (from %d, %d ns)", key, i,
					got[i].Seq, got[i].Grp.First, got[i].Dur, want[i].Seq, want[i].Grp.First, want[i].Dur)
			}
		}
	}
}

// TestSegmentDurationAddedAtRunTime: an endpoint given a segment duration
// at run time joins the segments retained then, and the ones that follow.
func TestSegmentDurationAddedAtRunTime(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Channels[0].ManifestWindow = 20 * time.Second
		c.Channels[0].Endpoints = []EndpointConfig{{ID: "ts"}}
	})
	l := newLive(t, testmedia.TS, e.clock.Now())
	p := e.pusher("a")
	e.pushSteps(l, p, 0, 7)
	if code, _ := e.get("/out/v1/live/ts3/channel_video_hi.m3u8"); code != 404 {
		t.Fatalf("ts3 before it exists: %d", code)
	}
	if _, err := e.o.UpdateChannel(t.Context(), ChannelConfig{ID: testChannel, Username: testUser, ManifestWindow: 20 * time.Second,
		Endpoints: []EndpointConfig{{ID: "ts"}, {ID: "ts3", SegmentDuration: 3 * time.Second}}}); err != nil {
		t.Fatal(err)
	}
	m := e.media("/out/v1/live/ts3/channel_video_hi.m3u8")
	if len(m.Segments) != 2 || m.Segments[0].Duration != 3 {
		t.Fatalf("ts3 after the update:\n%s", m.Encode())
	}
	e.pushSteps(l, p, 7, 9)
	m2 := e.media("/out/v1/live/ts3/channel_video_hi.m3u8")
	if len(m2.Segments) != 3 || m2.MediaSequence != m.MediaSequence || m2.Segments[2].Duration != 2 {
		t.Fatalf("ts3 two segments later (6-7 complete at the clock restart):\n%s", m2.Encode())
	}
}

// TestSegmentDurationShared: origin instances on one bucket, one of them
// started later (from a snapshot and the ingest log), serve the same
// joined playlists and segments.
func TestSegmentDurationShared(t *testing.T) {
	gw := versitygw.Start(t, sharedBucket)
	st := sharedSettings(gw, "joined")
	start := func() *env {
		o, err := New(Config{Storage: st, Channels: []ChannelConfig{{
			ID: testChannel, Username: testUser, Password: testPass, ManifestWindow: 30 * time.Second,
			Endpoints: []EndpointConfig{{ID: "ts3", SegmentDuration: 3 * time.Second}, {ID: "c3", Packaging: PackagingCMAF, SegmentDuration: 3 * time.Second}},
		}}})
		if err != nil {
			t.Fatal(err)
		}
		srv := newLoopbackServer(t, o.Handler())
		t.Cleanup(func() { o.Close() })
		return &env{t: t, o: o, srv: srv}
	}
	a, b := start(), start()
	l := newLive(t, testmedia.TS, time.Now().Add(-30*time.Second).Truncate(time.Second))
	pa := a.pusher("a")
	for n := range 12 {
		l.push(pa, n)
	}
	paths := []string{"/out/v1/live/ts3/channel_video_hi.m3u8", "/out/v1/live/c3/channel_audio.m3u8", "/out/v1/live/c3/channel_video_hi.m3u8"}
	agree := func(envs ...*env) map[string][]byte {
		got := map[string][]byte{}
		testutil.Eventually(t, 30*time.Second, func() bool {
			for _, p := range paths {
				body, ok := sameOn(p, envs...)
				if !ok || !bytes.Contains(body, []byte("#EXTINF:3.0")) {
					return false
				}
				got[p] = body
			}
			return true
		}, "instances do not serve the same joined playlists")
		return got
	}
	agree(a, b)
	// c starts later, from the bucket (snapshots every second, and the
	// ingest log), once the index has joined timelines to snapshot.
	testutil.Eventually(t, 30*time.Second, func() bool { return bytes.Contains(snapshotOf(a.o), []byte(`"groups"`)) },
		"no snapshot with joined timelines")
	c := start()
	for n := 12; n < 16; n++ {
		l.push(pa, n)
	}
	pls := agree(a, b, c)
	if n := segmentsIdentical(t, pls, a, b, c); n < 6 {
		t.Fatalf("only %d segments compared", n)
	}
	// The three indexes, joined timelines included, are the same.
	testutil.Eventually(t, 10*time.Second, func() bool {
		sa, sb, sc := snapshotOf(a.o), snapshotOf(b.o), snapshotOf(c.o)
		return bytes.Equal(sa, sb) && bytes.Equal(sa, sc) && bytes.Contains(sa, []byte(`"groups"`))
	}, "indexes of the three instances differ")
}

// TestSegmentDurationFMP4Ingest: fMP4 ingest is joined as stored (the
// members' fragments one after the other, the same init section), clear,
// with AES-128 over the joined file and with cbcs and cenc per member, and
// decodes frame for frame like the plain endpoint.
func TestSegmentDurationFMP4Ingest(t *testing.T) {
	testutil.RequireTool(t, "ffmpeg")
	k := newKeyEnv(t, "")
	e := newEnv(t, func(c *Config) {
		c.KeyProvider = k.speke(t)
		c.Channels[0].ManifestWindow = 20 * time.Second
		c.Channels[0].Endpoints = []EndpointConfig{
			{ID: "ts"},
			{ID: "j", SegmentDuration: 3 * time.Second},
			{ID: "jaes", SegmentDuration: 3 * time.Second, Encryption: enc(MethodAES128, 0)},
			{ID: "jcbcs", Packaging: PackagingCMAF, SegmentDuration: 3 * time.Second, Encryption: enc(MethodCBCS, 0)},
			{ID: "jcenc", Packaging: PackagingCMAF, SegmentDuration: 3 * time.Second, Encryption: enc(MethodCENC, 0)},
		}
	})
	l := newLive(t, testmedia.FMP4, e.clock.Now())
	e.pushSteps(l, e.pusher("a"), 0, 8)
	q := vod(l, 0, 6)
	for _, r := range []string{"channel_video_hi", "channel_audio"} {
		clear := frameHashes(t, e.url("/out/v1/live/ts/"+r+".m3u8"+q), "")
		for _, ep := range []string{"j", "jaes", "jcbcs", "jcenc"} {
			m := e.media("/out/v1/live/" + ep + "/" + r + ".m3u8" + q)
			if len(m.Segments) != 2 || m.Segments[0].Map == nil || math.Abs(m.Segments[0].Duration-3) > 0.05 {
				t.Fatalf("%s %s: want 2 joined fMP4 segments of 3 s:\n%s", ep, r, m.Encode())
			}
			got, msg := decodeFrames(t, e.url("/out/v1/live/"+ep+"/"+r+".m3u8"+q), "")
			if strings.Join(got, ",") != strings.Join(clear, ",") {
				t.Errorf("%s %s: %d frames decode differently from the plain endpoint (%d frames)", ep, r, len(got), len(clear))
			}
			if msg := testutil.DecoderErrors(msg); msg != "" {
				t.Errorf("%s %s: ffmpeg reports:\n%s", ep, r, msg)
			}
		}
	}
}

// TestSegmentDurationInputSwitch: a joined segment never spans a switch to
// the other input: input a stops after segment 9, b's segments follow, and
// a group starts at segment 10, and groups of 3 follow from there.
func TestSegmentDurationInputSwitch(t *testing.T) {
	e := newEnv(t, joinedEndpoints(nil))
	l := newLive(t, testmedia.TS, e.clock.Now())
	pa, pb := e.pusher("a"), e.pusher("b")
	const failAt, total = 10, 16
	for n := range total {
		e.clock.Add(time.Second)
		if n < failAt {
			l.push(pa, n)
		}
		l.push(pb, n)
	}
	if got := e.o.ActiveInput(testChannel); got != "b" {
		t.Fatalf("active input %q, want b", got)
	}
	m := e.media("/out/v1/live/ts3/channel_video_hi.m3u8" + vod(l, 0, 15))
	var starts []int
	for _, s := range m.Segments {
		starts = append(starts, int(s.ProgramDateTime.Sub(l.epoch)/time.Second))
	}
	// 8: the media's clock restart; 10: the switch.
	want := []int{0, 3, 6, 8, 10, 13}
	if !slices.Equal(starts, want) {
		t.Fatalf("joined segments start at %v, want %v:\n%s", starts, want, m.Encode())
	}
	got, msg := decodeFrames(t, e.url("/out/v1/live/ts3/channel_video_hi.m3u8"+vod(l, 8, 13)), "")
	clear := frameHashes(t, e.url("/out/v1/live/ts/channel_video_hi.m3u8"+vod(l, 8, 13)), "")
	if strings.Join(got, ",") != strings.Join(clear, ",") || testutil.DecoderErrors(msg) != "" {
		t.Errorf("across the switch: %d frames, plain %d, or they differ; ffmpeg:\n%s", len(got), len(clear), msg)
	}
}

// TestSegmentDurationConcurrent: playlists, I-frame playlists, MPDs and
// joined segments requested while segments arrive (run with -race).
func TestSegmentDurationConcurrent(t *testing.T) {
	e := newEnv(t, joinedEndpoints(nil))
	l := newLive(t, testmedia.TS, e.clock.Now())
	p := e.pusher("a")
	e.pushSteps(l, p, 0, 4)
	done := make(chan struct{})
	errs := make(chan string, 64)
	var wg sync.WaitGroup
	for _, path := range []string{"/out/v1/live/ts3/channel_video_hi/iframes.m3u8", "/out/v1/live/cmaf3/channel_video_hi/iframes.m3u8",
		"/out/v1/live/dash3/index.mpd", "/out/v1/live/cmaf3/channel_audio.m3u8"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				if code, body := e.fetch(path); code != 200 {
					select {
					case errs <- fmt.Sprintf("%s: %d %s", path, code, body):
					default:
					}
				}
			}
		}()
	}
	e.pushSteps(l, p, 4, 14)
	close(done)
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
}
