package origin

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/testmedia"
)

// llPartsPerSeg is how many parts the scripted LL-HLS pusher cuts each
// one-second test segment into.
const llPartsPerSeg = 4

// llLive pushes the test media as a Low-Latency HLS pusher does: every
// part file, then the media playlist listing it; a segment's parts stay
// listed under it once it is complete.
type llLive struct {
	*live
	r *testmedia.Rendition
}

func newLLLive(t *testing.T, e *env) *llLive {
	l := newLive(t, testmedia.TS, e.clock.Now())
	l.window = 30
	for _, r := range l.set.Renditions {
		if r.Name == "video_hi" {
			return &llLive{live: l, r: r}
		}
	}
	t.Fatal("no video_hi rendition")
	return nil
}

func (l *llLive) partName(n, k int) string { return fmt.Sprintf("channel_video_hi_%d_part%d.ts", n, k) }

// partData is part k of segment n: a quarter of the segment, cut at a TS
// packet boundary.
func (l *llLive) partData(n, k int) []byte {
	seg := l.segData(l.r, n)
	pkts := len(seg) / 188
	from, to := pkts*k/llPartsPerSeg*188, pkts*(k+1)/llPartsPerSeg*188
	if k == llPartsPerSeg-1 {
		to = len(seg)
	}
	return seg[from:to]
}

func (l *llLive) parts(n, upto int) []*hls.Part {
	var out []*hls.Part
	for k := 0; k < upto; k++ {
		out = append(out, &hls.Part{Duration: 0.25, URI: l.partName(n, k), Independent: k == 0})
	}
	return out
}

// playlist lists segments 0..n-1 (the last three with their parts) and
// the first k parts of segment n.
func (l *llLive) playlist(n, k int) []byte {
	first := max(0, n-l.window)
	m := &hls.Media{Version: 6, TargetDuration: 1, MediaSequence: int64(first),
		ServerControl: &hls.ServerControl{CanBlockReload: true, PartHoldBack: 0.75},
		PartInf:       &hls.PartInf{PartTarget: 0.25}}
	for i := first; i < n; i++ {
		s := &hls.Segment{Duration: 1, URI: segName(l.r, i), ProgramDateTime: l.epoch.Add(time.Duration(i) * time.Second)}
		if i >= n-3 {
			s.Parts = l.parts(i, llPartsPerSeg)
		}
		m.Segments = append(m.Segments, s)
	}
	m.Parts = l.parts(n, k)
	return m.Encode()
}

// pushPart pushes part k of segment n (completing segment n when k is the
// last part: the whole segment follows) and the playlist.
func (l *llLive) pushPart(p *pusher, n, k int) {
	if n == 0 && k == 0 {
		p.put("channel.m3u8", l.master())
	}
	p.put(l.partName(n, k), l.partData(n, k))
	if k == llPartsPerSeg-1 {
		p.put(segName(l.r, n), l.segData(l.r, n))
		p.put("channel_video_hi.m3u8", l.playlist(n+1, 0))
		return
	}
	p.put("channel_video_hi.m3u8", l.playlist(n, k+1))
}

// pushUntil pushes every part up to part k of segment n, advancing the
// clock by a part duration each.
func (l *llLive) pushUntil(e *env, p *pusher, n, k int) {
	for i := 0; i <= n; i++ {
		for j := 0; j < llPartsPerSeg && (i < n || j <= k); j++ {
			e.clock.Add(250 * time.Millisecond)
			l.pushPart(p, i, j)
		}
	}
}

// getAsync starts a GET and returns its result on a channel.
func getAsync(e *env, p string) <-chan getResult {
	res := make(chan getResult, 1)
	go func() {
		resp, err := http.Get(e.url(p))
		if err != nil {
			res <- getResult{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		res <- getResult{code: resp.StatusCode, body: b, err: err}
	}()
	return res
}

type getResult struct {
	code int
	body []byte
	err  error
}

func awaitGet(t *testing.T, what string, res <-chan getResult) getResult {
	t.Helper()
	select {
	case r := <-res:
		if r.err != nil {
			t.Fatalf("%s: %v", what, r.err)
		}
		return r
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: no answer", what)
	}
	return getResult{}
}

func TestLowLatencyPlaylist(t *testing.T) {
	e := newEnv(t, nil)
	l := newLLLive(t, e)
	p := e.pusher("a")
	l.pushUntil(e, p, 3, 1) // segments 0-2 complete, parts 0 and 1 of segment 3

	const pl = "/out/v1/" + testChannel + "/channel_video_hi.m3u8"
	m := e.media(pl)
	sc := m.ServerControl
	if sc == nil || !sc.CanBlockReload || sc.PartHoldBack != 0.75 || sc.CanSkipUntil != 6 {
		t.Fatalf("EXT-X-SERVER-CONTROL = %+v, want CAN-BLOCK-RELOAD, PART-HOLD-BACK=0.75, CAN-SKIP-UNTIL=6", sc)
	}
	if m.PartInf == nil || m.PartInf.PartTarget != 0.25 {
		t.Fatalf("EXT-X-PART-INF = %+v", m.PartInf)
	}
	last := m.Segments[len(m.Segments)-1]
	tailSeq := m.MediaSequence + int64(len(m.Segments))
	if len(last.Parts) != llPartsPerSeg {
		t.Fatalf("last complete segment lists %d parts, want %d", len(last.Parts), llPartsPerSeg)
	}
	if len(m.Parts) != 2 {
		t.Fatalf("segment in progress lists %d parts, want 2", len(m.Parts))
	}
	wantHint := fmt.Sprintf("channel_video_hi/%d.2.ts", tailSeq)
	if len(m.PreloadHints) != 1 || m.PreloadHints[0].Type != "PART" || m.PreloadHints[0].URI != wantHint {
		t.Fatalf("preload hints %+v, want PART %s", m.PreloadHints, wantHint)
	}
	// Parts serve the bytes pushed; their durations and INDEPENDENT flags
	// are the ingest's.
	for k, pt := range m.Parts {
		code, b := e.get("/out/v1/" + testChannel + "/" + pt.URI)
		if code != http.StatusOK || !bytes.Equal(b, l.partData(3, k)) {
			t.Fatalf("part %s: %d, %d bytes, want the %d bytes pushed", pt.URI, code, len(b), len(l.partData(3, k)))
		}
		if pt.Duration != 0.25 || pt.Independent != (k == 0) {
			t.Fatalf("part %d = %+v", k, pt)
		}
	}
	for k, pt := range last.Parts {
		_, b := e.get("/out/v1/" + testChannel + "/" + pt.URI)
		if !bytes.Equal(b, l.partData(2, k)) {
			t.Fatalf("part %d of the last complete segment differs from what was pushed", k)
		}
	}

	// A blocking reload for the next part and a request for the hinted
	// part are answered once that part arrives, with it.
	reload := getAsync(e, fmt.Sprintf("%s?_HLS_msn=%d&_HLS_part=2", pl, tailSeq))
	hinted := getAsync(e, "/out/v1/"+testChannel+"/"+wantHint)
	waitBlocked(t, e, 2)
	rec := httptest.NewRecorder()
	e.o.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if !strings.Contains(rec.Body.String(), "\npullpush_origin_held_requests 2\n") {
		t.Errorf("metrics do not count the 2 held requests:\n%s", rec.Body.String())
	}
	e.clock.Add(250 * time.Millisecond)
	l.pushPart(p, 3, 2)
	r := awaitGet(t, "blocking reload", reload)
	got, err := hls.ParseMedia(r.body)
	if r.code != http.StatusOK || err != nil {
		t.Fatalf("blocking reload: %d %v\n%s", r.code, err, r.body)
	}
	if len(got.Parts) != 3 {
		t.Fatalf("blocking reload answered with %d parts in progress, want 3:\n%s", len(got.Parts), r.body)
	}
	if h := awaitGet(t, "preloaded part", hinted); h.code != http.StatusOK || !bytes.Equal(h.body, l.partData(3, 2)) {
		t.Fatalf("preloaded part: %d, %d bytes", h.code, len(h.body))
	}

	// A reload for the whole segment waits for its last part.
	reload = getAsync(e, fmt.Sprintf("%s?_HLS_msn=%d", pl, tailSeq))
	waitBlocked(t, e, 1)
	e.clock.Add(250 * time.Millisecond)
	l.pushPart(p, 3, 3)
	r = awaitGet(t, "blocking reload for a segment", reload)
	got, _ = hls.ParseMedia(r.body)
	if got == nil || got.MediaSequence+int64(len(got.Segments))-1 != tailSeq {
		t.Fatalf("reload for segment %d answered:\n%s", tailSeq, r.body)
	}

	// Bad directives and a request far past the live edge get 400.
	for _, q := range []string{"?_HLS_msn=x", "?_HLS_part=1", "?_HLS_msn=1&_HLS_part=-1", "?_HLS_skip=maybe",
		fmt.Sprintf("?_HLS_msn=%d", tailSeq+5)} {
		if code, b := e.get(pl + q); code != http.StatusBadRequest || !strings.Contains(string(b), `"error"`) {
			t.Errorf("GET %s: %d %s, want 400 with an error", q, code, b)
		}
	}
	// A part that is not the next one is not waited for.
	if code, _ := e.get(fmt.Sprintf("/out/v1/%s/channel_video_hi/%d.3.ts", testChannel, tailSeq+1)); code != http.StatusNotFound {
		t.Errorf("part two ahead: %d, want 404", code)
	}
}

// waitBlocked waits until n playback requests are held by the origin.
func waitBlocked(t *testing.T, e *env, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for e.o.waiting.Load() < int64(n) {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests held, want %d", e.o.waiting.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestLowLatencyDeltaUpdate(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Channels[0].ManifestWindow = 20 * time.Second })
	l := newLLLive(t, e)
	l.pushUntil(e, e.pusher("a"), 15, 0)
	const pl = "/out/v1/" + testChannel + "/channel_video_hi.m3u8"
	full := e.media(pl)
	_, b := e.get(pl + "?_HLS_skip=YES")
	delta, err := hls.ParseMedia(b)
	if err != nil {
		t.Fatalf("delta update: %v\n%s", err, b)
	}
	if delta.Skip == nil {
		t.Fatalf("no EXT-X-SKIP in\n%s", b)
	}
	n := int(delta.Skip.SkippedSegments)
	if delta.MediaSequence != full.MediaSequence || n+len(delta.Segments) != len(full.Segments) {
		t.Fatalf("delta: sequence %d, %d skipped + %d listed; full: sequence %d, %d listed",
			delta.MediaSequence, n, len(delta.Segments), full.MediaSequence, len(full.Segments))
	}
	// What is listed is the last CAN-SKIP-UNTIL (6 s) or more of the full
	// playlist, segment for segment.
	var listed float64
	for i, s := range delta.Segments {
		if s.URI != full.Segments[n+i].URI {
			t.Fatalf("delta segment %d is %s, full playlist has %s", i, s.URI, full.Segments[n+i].URI)
		}
		listed += s.Duration
	}
	if listed < 6 || delta.Version < 9 {
		t.Fatalf("delta lists %.1f s (want >= 6), version %d (want >= 9)", listed, delta.Version)
	}
}

func TestLowLatencyEndpoints(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Channels[0].Endpoints = []EndpointConfig{
			{ID: "ll", Packaging: PackagingTS},
			{ID: "off", Packaging: PackagingTS, LowLatency: Bool(false)},
			{ID: "joined", Packaging: PackagingTS, SegmentDuration: 2 * time.Second},
			{ID: "cmaf", Packaging: PackagingCMAF}, // TS ingest is repackaged: whole segments only
		}
	})
	l := newLLLive(t, e)
	l.pushUntil(e, e.pusher("a"), 4, 1)
	for _, c := range []struct {
		ep string
		ll bool
	}{{"ll", true}, {"off", false}, {"joined", false}, {"cmaf", false}} {
		m := e.media("/out/v1/" + testChannel + "/" + c.ep + "/channel_video_hi.m3u8")
		if got := m.PartInf != nil && len(m.Parts) > 0; got != c.ll {
			t.Errorf("endpoint %s: low latency %t, want %t", c.ep, got, c.ll)
		}
	}
	// A time-shifted playlist has no parts.
	start := e.clock.Now().Add(-3 * time.Second).Unix()
	m := e.media(fmt.Sprintf("/out/v1/%s/ll/channel_video_hi.m3u8?start=%d", testChannel, start))
	if m.PartInf != nil || len(m.Parts) > 0 {
		t.Errorf("time-shifted playlist carries parts")
	}
	// The parts of old segments leave the playlist (three target
	// durations), and their files are released with them.
	l.pushUntil(e, e.pusher("a"), 10, 0)
	m = e.media("/out/v1/" + testChannel + "/ll/channel_video_hi.m3u8")
	withParts := 0
	for _, s := range m.Segments {
		if len(s.Parts) > 0 {
			withParts++
		}
	}
	if withParts == 0 || withParts > 4 {
		t.Errorf("%d complete segments list parts, want 1-4 (three target durations)", withParts)
	}
	first := m.MediaSequence
	if code, _ := e.get(fmt.Sprintf("/out/v1/%s/ll/channel_video_hi/%d.0.ts", testChannel, first)); code != http.StatusNotFound {
		t.Errorf("part of the oldest segment: %d, want 404", code)
	}
}

func TestLowLatencyConfig(t *testing.T) {
	for _, c := range []struct {
		name string
		ep   EndpointConfig
		want string
	}{
		{"encrypted", EndpointConfig{ID: "e", LowLatency: Bool(true), Encryption: &EncryptionConfig{Method: MethodAES128}}, "lowLatency"},
		{"joined", EndpointConfig{ID: "j", LowLatency: Bool(true), SegmentDuration: 4 * time.Second}, "segmentDuration"},
		{"delayed", EndpointConfig{ID: "d", LowLatency: Bool(true), TimeDelay: 10 * time.Second}, "timeDelay"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := Config{DataDir: t.TempDir(), Channels: []ChannelConfig{{ID: testChannel, Username: testUser, Password: testPass,
				Endpoints: []EndpointConfig{c.ep}}}}
			_, err := New(cfg)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "lowLatency") {
				t.Fatalf("New: %v, want an error on lowLatency naming %s", err, c.want)
			}
		})
	}
}
