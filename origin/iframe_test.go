package origin

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/internal/testutil"
	"github.com/pullpush/pullpush/origin/internal/media"

	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/testmedia"
)

// rangeGet fetches bytes [off, off+n) of u with a Range request.
func rangeGet(t *testing.T, u string, off, n int64) []byte {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, off+n-1))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusPartialContent || int64(len(b)) != n {
		t.Fatalf("Range GET %s %d@%d: %d, %d bytes", u, n, off, resp.StatusCode, len(b))
	}
	return b
}

// TestIFramePlaylistRangesDecode fetches every byte range of the I-frame
// playlist with a Range GET (prefixed by its EXT-X-MAP) and has ffprobe
// decode it: the first video frame must be a keyframe, and for TS the
// range must hold exactly that one frame.
func TestIFramePlaylistRangesDecode(t *testing.T) {
	for _, flavour := range []string{testmedia.TS, testmedia.FMP4} {
		t.Run(flavour, func(t *testing.T) {
			e := newEnv(t, nil)
			l := newLive(t, flavour, e.clock.Now())
			e.pushSteps(l, e.pusher("a"), 0, 4)
			base := "/out/v1/live/channel_video_hi/"
			code, body := e.get(base + "iframes.m3u8")
			if code != http.StatusOK {
				t.Fatalf("%d %s", code, body)
			}
			m, err := hls.ParseMedia(body)
			if err != nil {
				t.Fatal(err)
			}
			if !m.IFramesOnly || len(m.Segments) != 4 {
				t.Fatalf("I-FRAMES-ONLY %v, %d entries, want 4 (one keyframe per 1 s segment):\n%s", m.IFramesOnly, len(m.Segments), body)
			}
			var mapData []byte
			dir := t.TempDir()
			for i, s := range m.Segments {
				if s.Map != nil {
					if s.Map.ByteRange != nil {
						mapData = rangeGet(t, e.url(base+s.Map.URI), *s.Map.ByteRange.Offset, s.Map.ByteRange.Length)
					} else {
						_, mapData = e.get(base + s.Map.URI)
					}
				}
				if s.ByteRange == nil || s.ByteRange.Offset == nil {
					t.Fatalf("entry %d has no byte range", i)
				}
				if s.Duration < 0.9 || s.Duration > 1.1 {
					t.Fatalf("entry %d EXTINF %v, want ~1 (time to next keyframe)", i, s.Duration)
				}
				frag := rangeGet(t, e.url(base+s.URI), *s.ByteRange.Offset, s.ByteRange.Length)
				f := filepath.Join(dir, fmt.Sprintf("kf%d", i))
				if err := os.WriteFile(f, append(append([]byte{}, mapData...), frag...), 0o644); err != nil {
					t.Fatal(err)
				}
				out := strings.TrimSpace(ffprobe(t, "-select_streams", "v:0", "-show_entries", "frame=key_frame,pict_type", "-of", "csv=p=0", f))
				frames := strings.Split(out, "\n")
				if out == "" || !strings.HasPrefix(frames[0], "1,I") {
					t.Fatalf("entry %d: first decoded frame is not a keyframe: %q", i, out)
				}
				if flavour == testmedia.TS && len(frames) != 1 {
					t.Fatalf("entry %d: %d frames decoded, want exactly the keyframe: %q", i, len(frames), out)
				}
			}
		})
	}
}

func TestScanRejectsGarbage(t *testing.T) {
	if _, err := media.ScanTS([]byte("not a transport stream at all, clearly")); err == nil {
		t.Fatal("scanTS accepted garbage")
	}
	if _, err := media.ScanFMP4([]byte{0, 0, 0, 8, 'f', 'r', 'e'}, nil); err == nil {
		t.Fatal("scanFMP4 accepted garbage")
	}
	set := testmedia.MustLoad(testmedia.TS)
	kf, err := media.ScanTS(set.Rendition("audio").Segments[0].Data)
	if err != nil || kf != nil {
		t.Fatalf("audio-only TS: %v %v, want no keyframes", kf, err)
	}
}

// TestIFramesSeveralPerSegment uses an ffmpeg-made 2 s TS segment with a
// keyframe every 0.5 s: four I-frame entries, EXTINF = time to the next
// keyframe, each range one decodable keyframe.
func TestIFramesSeveralPerSegment(t *testing.T) {
	ffmpeg := testutil.RequireTool(t, "ffmpeg")
	dir := t.TempDir()
	ts := filepath.Join(dir, "seg.ts")
	cmd := exec.Command(ffmpeg, "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=24", "-t", "2",
		"-c:v", "libx264", "-g", "12", "-keyint_min", "12", "-sc_threshold", "0", "-bf", "0", "-f", "mpegts", ts)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	data, err := os.ReadFile(ts)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, nil)
	p := e.pusher("a")
	e.clock.Add(2 * time.Second)
	p.put("channel_v_0.ts", data)
	p.put("channel_v.m3u8", []byte("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nchannel_v_0.ts\n"))
	m := e.media("/out/v1/live/channel_v/iframes.m3u8")
	if len(m.Segments) != 4 {
		t.Fatalf("%d I-frame entries, want 4", len(m.Segments))
	}
	var mapData []byte
	for i, s := range m.Segments {
		if s.Duration < 0.45 || s.Duration > 0.55 {
			t.Fatalf("entry %d EXTINF %v, want 0.5", i, s.Duration)
		}
		if s.Map != nil {
			mapData = rangeGet(t, e.url("/out/v1/live/channel_v/"+s.Map.URI), *s.Map.ByteRange.Offset, s.Map.ByteRange.Length)
		}
		frag := rangeGet(t, e.url("/out/v1/live/channel_v/"+s.URI), *s.ByteRange.Offset, s.ByteRange.Length)
		f := filepath.Join(dir, fmt.Sprintf("kf%d.ts", i))
		os.WriteFile(f, append(append([]byte{}, mapData...), frag...), 0o644)
		out := strings.TrimSpace(ffprobe(t, "-select_streams", "v:0", "-show_entries", "frame=key_frame,pict_type", "-of", "csv=p=0", f))
		if strings.Contains(out, "\n") || !strings.HasPrefix(out, "1,I") {
			t.Fatalf("entry %d decodes to %q, want one keyframe", i, out)
		}
	}
	// Without a master, the multivariant is synthesised and lists the
	// I-frame playlist.
	_, body := e.get("/out/v1/live/index.m3u8")
	if !strings.Contains(string(body), `#EXT-X-I-FRAME-STREAM-INF:`) || !strings.Contains(string(body), "channel_v.m3u8") {
		t.Fatalf("synthesised multivariant:\n%s", body)
	}
}
