package origin

import (
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/testutil"
)

// TestFFmpegHLSMuxerPush has ffmpeg's own HLS muxer push a live stream with
// HTTP PUT and digest auth (credentials in the URL), as a user would, with
// the real clock; the origin serves it and ffprobe decodes it.
func TestFFmpegHLSMuxerPush(t *testing.T) {
	ffmpeg := testutil.RequireTool(t, "ffmpeg")
	o, err := New(Config{
		DataDir:  t.TempDir(),
		Channels: []ChannelConfig{{ID: testChannel, Username: testUser, Password: testPass, ManifestWindow: 10 * time.Second}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	srv := newLoopbackServer(t, o.Handler())
	ingest := strings.Replace(srv.URL, "http://", "http://"+testUser+":"+testPass+"@", 1) + "/in/v2/" + testChannel + "/a/channel.m3u8"
	cmd := exec.Command(ffmpeg, "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=25", "-f", "lavfi", "-i", "sine=frequency=440",
		"-t", "4", "-c:v", "libx264", "-g", "25", "-keyint_min", "25", "-sc_threshold", "0", "-c:a", "aac",
		"-f", "hls", "-hls_time", "1", "-hls_list_size", "3", "-hls_flags", "program_date_time",
		"-method", "PUT", ingest)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg push: %v\n%s", err, out)
	}
	resp, err := http.Get(srv.URL + "/out/v1/live/channel.m3u8")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("media playlist: %d %s", resp.StatusCode, body)
	}
	m, err := hls.ParseMedia(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Segments) < 3 {
		t.Fatalf("%d segments from ffmpeg, want >= 3:\n%s", len(m.Segments), body)
	}
	out := ffprobe(t, "-show_entries", "stream=codec_type", "-of", "compact", srv.URL+"/out/v1/live/index.m3u8")
	if !strings.Contains(out, "codec_type=video") || !strings.Contains(out, "codec_type=audio") {
		t.Fatalf("ffprobe: %s", out)
	}
}
