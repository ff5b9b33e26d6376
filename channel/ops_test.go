package channel

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/channel/internal/config"

	"github.com/pullpush/pullpush/channel/internal/asset"
	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/testutil"
)

// copyAsset copies bundled asset name into dir/as and returns the new
// directory.
func copyAsset(t testing.TB, name, dir, as string) string {
	t.Helper()
	sub, err := fs.Sub(EmbeddedFS(), name)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, as)
	if err := os.CopyFS(dst, sub); err != nil {
		t.Fatal(err)
	}
	return dst
}

// opsChannel is a channel over real media on disk: asset a; "broken", a
// copy of b with a video segment missing (the slate plays for its 30 s);
// "b1", b with its 640x360 rendition only (a smaller ladder, mapped by
// bandwidth); "trim", a cut to [4 s, 12 s) with in 4.5 s and out 11 s. One
// loop is 30 + 30 + 30 + 8 = 98 s.
func opsChannel(t testing.TB) config.Config {
	dir := t.TempDir()
	a := copyAsset(t, "a", dir, "a")
	broken := copyAsset(t, "b", dir, "broken")
	if err := os.Remove(filepath.Join(broken, "v0", "5.ts")); err != nil {
		t.Fatal(err)
	}
	b1 := copyAsset(t, "b", dir, "b1")
	master, err := os.ReadFile(filepath.Join(b1, "master.m3u8"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(master), "\n")
	var kept []string
	for i := 0; i < len(lines); i++ {
		if strings.Contains(lines[i], "RESOLUTION=320x180") {
			i++ // and its URI line
			continue
		}
		kept = append(kept, lines[i])
	}
	if err := os.WriteFile(filepath.Join(b1, "master.m3u8"), []byte(strings.Join(kept, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	return config.Config{Channels: []config.ChannelConfig{{ID: "x", Start: config.DefaultStart(), Assets: []config.AssetConfig{
		{ID: "a", Title: "A", URI: a},
		{ID: "broken", Title: "Broken", URI: broken},
		{ID: "b1", URI: b1},
		{ID: "trim", URI: a, Offset: 4500 * time.Millisecond, Out: 11 * time.Second},
	}}}}
}

func getJSON(t testing.TB, url string, v any) int {
	t.Helper()
	status, _, body := get(t, url)
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %d %v\n%s", url, status, err, body)
	}
	return status
}

// TestOperations: /health reports the broken asset, /status says what
// plays when (the slate for the broken asset, for its whole duration), the
// smaller ladder of b1 plays on both video tracks, the trimmed asset plays
// whole segments [4 s, 12 s), and ffmpeg decodes the window across all of
// them.
func TestOperations(t *testing.T) {
	c := newClock(config.DefaultStart())
	e, err := New(opsChannel(t), WithClock(c.Now), WithLogger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /health", e.OpsHandler())
	mux.Handle("GET /status", e.OpsHandler())
	mux.Handle("/", e.Handler())
	srv := httptest.NewServer(endlist(mux))
	defer srv.Close()

	var health map[string]string
	if status := getJSON(t, srv.URL+"/health", &health); status != http.StatusServiceUnavailable ||
		health["status"] != "degraded" || !strings.Contains(health["error"], `asset "broken"`) || !strings.Contains(health["error"], "5.ts") {
		t.Errorf("health: %d %v", status, health)
	}

	loop := 98 * time.Second
	if got := e.Channels()[0].Loop; got != loop.Seconds() {
		t.Fatalf("loop %vs, want %v", got, loop)
	}
	base := config.DefaultStart().Add(1000 * loop)
	cases := []struct {
		at             time.Duration // in the loop
		asset, next    string
		slate          bool
		start, end     time.Duration
		nextStart, pos time.Duration
	}{
		{at: 10 * time.Second, asset: "a", next: "broken", start: 0, end: 30 * time.Second},
		{at: 45 * time.Second, asset: "broken", next: "b1", slate: true, start: 30 * time.Second, end: 60 * time.Second},
		{at: 91 * time.Second, asset: "trim", next: "a", start: 90 * time.Second, end: 98 * time.Second},
	}
	for _, tc := range cases {
		c.Set(base.Add(tc.at))
		var st struct {
			Channels []ChannelStatus `json:"channels"`
		}
		getJSON(t, srv.URL+"/status", &st)
		if len(st.Channels) != 1 {
			t.Fatalf("status: %+v", st)
		}
		cs := st.Channels[0]
		if !cs.Started || cs.Now == nil || cs.Next == nil {
			t.Fatalf("at %s: status %+v", tc.at, cs)
		}
		if cs.Now.Asset != tc.asset || cs.Now.Slate != tc.slate || !cs.Now.Start.Equal(base.Add(tc.start)) || !cs.Now.End.Equal(base.Add(tc.end)) ||
			cs.Now.Position != (tc.at-tc.start).Seconds() {
			t.Errorf("at %s: now %+v, want %s (slate %v) [%s, %s)", tc.at, cs.Now, tc.asset, tc.slate, tc.start, tc.end)
		}
		if cs.Next.Asset != tc.next || !cs.Next.Start.Equal(cs.Now.End) {
			t.Errorf("at %s: next %+v, want %s at %s", tc.at, cs.Next, tc.next, cs.Now.End)
		}
		if len(cs.Errors) != 1 || cs.Errors[0].Asset != "broken" {
			t.Errorf("at %s: errors %+v", tc.at, cs.Errors)
		}
		m := playlist(t, e, "x", "video_0.m3u8")
		if cs.MediaSequence != m.MediaSequence || cs.LastSequence != m.MediaSequence+int64(len(m.Segments))-1 || cs.DiscontinuitySequence != m.DiscontinuitySequence {
			t.Errorf("at %s: sequences %d/%d/%d, playlist %d+%d/%d", tc.at, cs.MediaSequence, cs.LastSequence, cs.DiscontinuitySequence,
				m.MediaSequence, len(m.Segments), m.DiscontinuitySequence)
		}
	}

	// Window [40 s, 100 s): slate, b1, trim, a.
	c.Set(base.Add(100 * time.Second))
	for _, name := range []string{"video_0.m3u8", "video_1.m3u8"} {
		var b1, trim []string
		m := playlist(t, e, "x", name)
		for _, s := range m.Segments {
			off := s.ProgramDateTime.Sub(base)
			res := resourceName(t, e, "x", s.URI)
			switch {
			case off >= 60*time.Second && off < 90*time.Second:
				b1 = append(b1, res[strings.Index(res, "b1/"):])
			case off >= 90*time.Second && off < 98*time.Second:
				trim = append(trim, res[strings.Index(res, "a/"):]+"@"+strconv.FormatFloat(s.Duration, 'f', 3, 64))
			}
		}
		if len(b1) != 15 || b1[0] != "b1/v1/0.ts" || b1[14] != "b1/v1/14.ts" {
			t.Errorf("%s: b1 segments %v, want b1/v1/0.ts..14.ts", name, b1)
		}
		if want := "a/v0/2.ts@2.000 a/v0/3.ts@2.000 a/v0/4.ts@2.000 a/v0/5.ts@2.000"; name == "video_0.m3u8" && strings.Join(trim, " ") != want {
			t.Errorf("%s: trimmed segments %v, want %s", name, trim, want)
		}
	}
	frames := ffprobeFrames(t, srv.URL+"/channels/x/master.m3u8")
	for idx, n := range frames {
		// About 60 s of video at 15 fps in the window (900 frames); ffmpeg
		// drops a few where the timestamps start over.
		t.Logf("stream %d: %d frames", idx, n)
		if n < 800 {
			t.Errorf("stream %d: %d frames decoded", idx, n)
		}
	}
	if len(frames) < 2 {
		t.Errorf("video streams decoded: %v", frames)
	}
}

// ffprobeFrames decodes every frame of a (closed) channel and returns the
// number of video frames per stream. Errors other than the MPEG-TS
// continuity complaint where assets meet fail the test.
func ffprobeFrames(t *testing.T, url string) map[int]int {
	t.Helper()
	ffprobe := testutil.RequireTool(t, "ffprobe")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, ffprobe, "-v", "error", "-select_streams", "v",
		"-show_entries", "frame=stream_index", "-of", "json", url)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("ffprobe: %v\n%s", err, stderr.String())
	}
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if line != "" && !strings.Contains(line, "corrupt") {
			t.Errorf("ffprobe: %s", line)
		}
	}
	var out struct {
		Frames []struct {
			StreamIndex int `json:"stream_index"`
		} `json:"frames"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("ffprobe output: %v", err)
	}
	n := map[int]int{}
	for _, f := range out.Frames {
		n[f.StreamIndex]++
	}
	return n
}

// TestNearestBandwidth: a channel rendition plays the asset rendition
// nearest in bandwidth on a log scale.
func TestNearestBandwidth(t *testing.T) {
	ladder := func(bws ...int) []*asset.Track {
		var ts []*asset.Track
		for _, bw := range bws {
			ts = append(ts, &asset.Track{Variant: &hls.Variant{Bandwidth: bw}})
		}
		return ts
	}
	for _, tc := range []struct {
		video []int
		bw    int
		want  int
	}{
		{[]int{1_000_000}, 5_000_000, 0},
		{[]int{500_000, 1_000_000, 3_000_000}, 1_100_000, 1},
		{[]int{500_000, 1_000_000, 3_000_000}, 2_000_000, 2}, // 2x above 1 M, 1.5x below 3 M
		{[]int{1_000_000, 4_000_000}, 2_000_000, 0},          // a tie: the lower one
		{[]int{1_000_000, 4_000_000}, 100_000_000, 1},
	} {
		if got := nearestBandwidth(ladder(tc.video...), tc.bw); got != tc.want {
			t.Errorf("%v for %d: %d, want %d", tc.video, tc.bw, got, tc.want)
		}
	}
}
