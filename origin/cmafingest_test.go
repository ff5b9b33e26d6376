package origin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/digest"
	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/testmedia"
	"github.com/pullpush/pullpush/internal/testutil"
)

func TestParseCMAFPath(t *testing.T) {
	for _, c := range []struct {
		path          string
		ok            bool
		track         string
		stream, isMPD bool
	}{
		{"/in/v2/live/a/Streams(video.cmfv)", true, "video", true, false},
		{"/in/v2/live/a/Streams(audio_en.cmfa)", true, "audio_en", true, false},
		{"/in/v2/live/a/Streams(v1.mp4)", true, "v1", true, false},
		{"/in/v2/live/a/init-stream0.m4s", true, "stream0", false, false},
		{"/in/v2/live/a/chunk-stream1-00042.m4s", true, "stream1", false, false},
		{"/in/v2/live/a/manifest.mpd", true, "", false, true},
		{"/in/v2/live/a/Streams(video.ts)", false, "", false, false},
		{"/in/v2/live/a/Streams(../x.cmfv)", false, "", false, false},
		{"/in/v2/live/a/Streams(index.cmfv)", false, "", false, false},
		{"/in/v2/live/a/seg1.m4s", false, "", false, false},
		{"/in/v2/live/a/channel.m3u8", false, "", false, false},
		{"/in/v2/live/Streams(video.cmfv)", false, "", false, false},
		{"/in/v2/live/a%2Fb/Streams(video.cmfv)", false, "", false, false},
	} {
		p, ok := parseCMAFPath(c.path)
		if ok != c.ok || p.track != c.track || p.stream != c.stream || p.mpd != c.isMPD {
			t.Errorf("%s: got %+v %v", c.path, p, ok)
		}
	}
}

// cmafOrigin starts an origin with one channel (digest ingest) and a CMAF
// and a DASH endpoint.
func cmafOrigin(t *testing.T) (*Origin, string) {
	t.Helper()
	o, err := New(Config{
		DataDir: t.TempDir(),
		Channels: []ChannelConfig{{ID: testChannel, Username: testUser, Password: testPass,
			ManifestWindow: 30 * time.Second, StartoverWindow: time.Hour,
			Endpoints: []EndpointConfig{{ID: "cmaf", Packaging: PackagingCMAF}, {ID: "ts", Packaging: PackagingTS}, {ID: "dash", Packaging: PackagingDASH}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	return o, newLoopbackServer(t, o.Handler()).URL
}

// cmafClient is an interface-1 client with digest credentials; prime
// makes one small request so later streamed bodies are authorized up front.
func cmafClient(t *testing.T, base string) *http.Client {
	t.Helper()
	c := &http.Client{Transport: &digest.Transport{Username: testUser, Password: testPass}}
	req, _ := http.NewRequest(http.MethodDelete, base+"/in/v2/"+testChannel+"/a/Streams(prime.cmfv)", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("prime: %d", resp.StatusCode)
	}
	return c
}

// streamPost is one long chunked POST of a CMAF track: write to w, close
// it, then wait for the response on done.
type streamPost struct {
	w    *io.PipeWriter
	done chan error
}

func startStream(t *testing.T, c *http.Client, url string) *streamPost {
	t.Helper()
	pr, pw := io.Pipe()
	s := &streamPost{w: pw, done: make(chan error, 1)}
	req, err := http.NewRequest(http.MethodPost, url, pr)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		resp, err := c.Do(req)
		if err != nil {
			pr.CloseWithError(err)
			s.done <- err
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			err = fmt.Errorf("%s: %d %s", url, resp.StatusCode, body)
		}
		pr.Close()
		s.done <- err
	}()
	return s
}

func (s *streamPost) write(t *testing.T, b []byte) {
	t.Helper()
	if _, err := s.w.Write(b); err != nil {
		t.Fatalf("stream write: %v", err)
	}
}

func (s *streamPost) finish(t *testing.T) {
	t.Helper()
	s.w.Close()
	select {
	case err := <-s.done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no response to the stream")
	}
}

// getBody GETs url and returns status and body.
func getBody(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// segmentsOf returns the media playlist at url, nil while it has none.
func segmentsOf(t *testing.T, url string) *hls.Media {
	t.Helper()
	st, b := getBody(t, url)
	if st != http.StatusOK {
		return nil
	}
	m, err := hls.ParseMedia(b)
	if err != nil {
		t.Fatalf("%s: %v\n%s", url, err, b)
	}
	return m
}

// vodQuery is the time-shift query of the whole of live playlist m.
func vodQuery(t *testing.T, m *hls.Media) string {
	t.Helper()
	if len(m.Segments) == 0 || m.Segments[0].ProgramDateTime.IsZero() {
		t.Fatalf("playlist without program date time")
	}
	start := m.Segments[0].ProgramDateTime
	end := start
	for _, s := range m.Segments {
		end = end.Add(time.Duration(s.Duration * float64(time.Second)))
	}
	return "?start=" + start.UTC().Format(time.RFC3339Nano) + "&end=" + end.Add(-100*time.Millisecond).UTC().Format(time.RFC3339Nano)
}

// testmediaDir writes the fMP4 test media to a folder, for ffmpeg.
func testmediaDir(t *testing.T) string {
	t.Helper()
	sub, err := testmedia.Sub(testmedia.FMP4)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.CopyFS(dir, sub); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestCMAFIngestInterface1 pushes the fMP4 test media as DASH-IF
// interface 1: one long chunked POST per track carrying the init segment
// and every fragment. Segments are served while the POST is still open,
// the multivariant names both tracks, and ffmpeg decodes the HLS CMAF and
// TS endpoints' video and audio frame for frame like the source.
func TestCMAFIngestInterface1(t *testing.T) {
	testutil.RequireTool(t, "ffmpeg")
	_, base := cmafOrigin(t)
	c := cmafClient(t, base)
	set := testmedia.MustLoad(testmedia.FMP4)
	tracks := map[string]string{"video_lo": ".cmfv", "audio": ".cmfa"}
	streams := map[string]*streamPost{}
	for name, ext := range tracks {
		s := startStream(t, c, base+"/in/v2/"+testChannel+"/a/Streams("+name+ext+")")
		r := set.Rendition(name)
		s.write(t, r.Init)
		s.write(t, r.Segments[0].Data)
		s.write(t, r.Segments[1].Data)
		streams[name] = s
	}
	// The first segments are served while the requests are open.
	testutil.Eventually(t, 10*time.Second, func() bool {
		m := segmentsOf(t, base+"/out/v1/"+testChannel+"/cmaf/video_lo.m3u8")
		return m != nil && len(m.Segments) >= 1
	}, "no segment while the POST is open")
	for name, s := range streams {
		for _, seg := range set.Rendition(name).Segments[2:] {
			s.write(t, seg.Data)
		}
		s.finish(t)
	}
	st, mv := getBody(t, base+"/out/v1/"+testChannel+"/cmaf/index.m3u8")
	if st != http.StatusOK || !bytes.Contains(mv, []byte("video_lo.m3u8")) || !bytes.Contains(mv, []byte(`TYPE=AUDIO,GROUP-ID="audio"`)) ||
		!bytes.Contains(mv, []byte("avc1.")) || !bytes.Contains(mv, []byte("mp4a.40.2")) {
		t.Fatalf("multivariant %d:\n%s", st, mv)
	}
	src := testmediaDir(t)
	for name := range tracks {
		want := frameHashes(t, filepath.Join(src, name+".m3u8"), "")
		var m *hls.Media
		testutil.Eventually(t, 10*time.Second, func() bool {
			m = segmentsOf(t, base+"/out/v1/"+testChannel+"/cmaf/"+name+".m3u8")
			return m != nil && len(m.Segments) == len(set.Rendition(name).Segments)
		}, "%s: not all segments listed", name)
		q := vodQuery(t, m)
		for _, ep := range []string{"cmaf", "ts"} {
			got := frameHashes(t, base+"/out/v1/"+testChannel+"/"+ep+"/"+name+".m3u8"+q, "")
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("%s on %s: %d frames differ from the source's %d", name, ep, len(got), len(want))
			}
		}
	}
}

// TestCMAFIngestErrors: bad boxes, fragments before an init segment and
// oversized boxes get clear 4xx JSON errors.
func TestCMAFIngestErrors(t *testing.T) {
	o, base := cmafOrigin(t)
	o.cfg.MaxBodyBytes = 64 << 10
	c := cmafClient(t, base)
	set := testmedia.MustLoad(testmedia.FMP4)
	r := set.Rendition("video_lo")
	big := make([]byte, 100<<10)
	copy(big, []byte{0, 1, 0x90, 0, 'm', 'd', 'a', 't'})
	for _, tc := range []struct {
		name, track string
		body        []byte
		status      int
		msg         string
	}{
		{"garbage", "g1", []byte("\x00\x00\x00\x10\x01\x02\x03\x04 not an mp4 file at all"), http.StatusBadRequest, "bad box"},
		{"truncated", "g2", r.Init[:40], http.StatusBadRequest, "stream ends inside"},
		{"fragment first", "g3", r.Segments[0].Data, http.StatusConflict, "before the track's init"},
		{"moov alone", "g4", r.Init[28:], http.StatusBadRequest, "moov without"},
		{"too large", "g5", append(bytes.Clone(r.Init), big...), http.StatusRequestEntityTooLarge, "limit"},
		{"zero size", "g6", []byte{0, 0, 0, 0, 'm', 'o', 'o', 'f'}, http.StatusBadRequest, "size 0"},
	} {
		req, _ := http.NewRequest(http.MethodPut, base+"/in/v2/"+testChannel+"/a/Streams("+tc.track+".cmfv)", bytes.NewReader(tc.body))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e struct{ Error string }
		err = json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != tc.status || err != nil || !strings.Contains(e.Error, tc.msg) {
			t.Errorf("%s: %d %q (%v), want %d %q", tc.name, resp.StatusCode, e.Error, err, tc.status, tc.msg)
		}
	}
	// Unauthenticated requests are refused like HLS ingest.
	resp, err := http.Post(base+"/in/v2/"+testChannel+"/a/Streams(video.cmfv)", "video/mp4", bytes.NewReader(r.Init))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("unauthenticated: %d", resp.StatusCode)
	}
}

// TestCMAFIngestRedundant pushes the same tracks to inputs a and b, stops
// a half way, and the channel continues from b.
func TestCMAFIngestRedundant(t *testing.T) {
	testutil.RequireTool(t, "ffmpeg")
	_, base := cmafOrigin(t)
	c := cmafClient(t, base)
	set := testmedia.MustLoad(testmedia.FMP4)
	r := set.Rendition("video_lo")
	sa := startStream(t, c, base+"/in/v2/"+testChannel+"/a/Streams(video_lo.cmfv)")
	sb := startStream(t, c, base+"/in/v2/"+testChannel+"/b/Streams(video_lo.cmfv)")
	sa.write(t, r.Init)
	sb.write(t, r.Init)
	playlist := base + "/out/v1/" + testChannel + "/cmaf/video_lo.m3u8"
	for i, seg := range r.Segments[:4] {
		sa.write(t, seg.Data)
		sb.write(t, seg.Data)
		testutil.Eventually(t, 10*time.Second, func() bool {
			m := segmentsOf(t, playlist)
			return m != nil && len(m.Segments) == i+1
		}, "segment %d not listed", i)
	}
	sa.finish(t) // input a stops
	for _, seg := range r.Segments[4:] {
		sb.write(t, seg.Data)
	}
	sb.finish(t)
	var m *hls.Media
	testutil.Eventually(t, 20*time.Second, func() bool {
		m = segmentsOf(t, playlist)
		return m != nil && len(m.Segments) == len(r.Segments)
	}, "input b's segments not served after input a stopped")
	got := frameHashes(t, playlist+vodQuery(t, m), "")
	want := frameHashes(t, filepath.Join(testmediaDir(t), "video_lo.m3u8"), "")
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("%d frames differ from the source's %d", len(got), len(want))
	}
}

// TestCMAFIngestFFmpegDash has ffmpeg's dash muxer push the fMP4 test
// media in real time, one chunked PUT per segment (-streaming 1 -ldash 1),
// with digest credentials in the URL; the HLS CMAF endpoint decodes frame
// for frame like the source.
func TestCMAFIngestFFmpegDash(t *testing.T) {
	ffmpeg := testutil.RequireTool(t, "ffmpeg")
	_, base := cmafOrigin(t)
	src := testmediaDir(t)
	ingest := strings.Replace(base, "http://", "http://"+testUser+":"+testPass+"@", 1) + "/in/v2/" + testChannel + "/a/manifest.mpd"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, ffmpeg, "-v", "error", "-re", "-allowed_extensions", "ALL",
		"-i", filepath.Join(src, "video_lo.m3u8"), "-i", filepath.Join(src, "audio.m3u8"),
		"-map", "0:v", "-map", "1:a", "-c", "copy",
		"-f", "dash", "-method", "PUT", "-streaming", "1", "-ldash", "1", "-seg_duration", "1",
		"-use_template", "1", "-use_timeline", "0", "-window_size", "5", ingest)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg dash push: %v\n%s", err, out)
	}
	st, mv := getBody(t, base+"/out/v1/"+testChannel+"/cmaf/index.m3u8")
	if st != http.StatusOK || !bytes.Contains(mv, []byte("stream0.m3u8")) || !bytes.Contains(mv, []byte("stream1.m3u8")) {
		t.Fatalf("multivariant %d:\n%s", st, mv)
	}
	for track, name := range map[string]string{"stream0": "video_lo", "stream1": "audio"} {
		m := segmentsOf(t, base+"/out/v1/"+testChannel+"/cmaf/"+track+".m3u8")
		if m == nil || len(m.Segments) < 6 {
			t.Fatalf("%s: playlist %+v", track, m)
		}
		got := frameHashes(t, base+"/out/v1/"+testChannel+"/cmaf/"+track+".m3u8"+vodQuery(t, m), "")
		want := frameHashes(t, filepath.Join(src, name+".m3u8"), "")
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s: %d frames differ from the source's %d", track, len(got), len(want))
			_, b := getBody(t, base+"/out/v1/"+testChannel+"/cmaf/"+track+".m3u8")
			t.Logf("%s", b)
		}
	}
}
