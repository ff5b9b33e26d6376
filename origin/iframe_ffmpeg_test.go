package origin

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/testutil"
)

// ffmpegLadder is a live channel encoded by ffmpeg's own HLS muxer, as a
// user pushing with curl would have it: libx264 with its default B-frames,
// AAC muxed into every TS segment, PAT/PMT at each segment start.
type ffmpegLadder struct {
	dir    string
	master []byte
	rends  map[string]*hls.Media // media playlist (VOD, full) by file name
	names  []string              // media playlist file names, master order
}

// makeFFmpegLadder encodes secs seconds of two H.264+AAC renditions
// (320x180 and 160x90, 25 fps, a keyframe every gop frames) into TS
// segments of segSecs seconds named like MediaPackage ingest files
// (channel.m3u8, channel_video-<n>.m3u8, channel_video-<n>_<seq>.ts).
func makeFFmpegLadder(t *testing.T, secs, gop int, segSecs float64) *ffmpegLadder {
	t.Helper()
	ffmpeg := testutil.RequireTool(t, "ffmpeg")
	dir := t.TempDir()
	cmd := exec.Command(ffmpeg, "-v", "error",
		"-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", fmt.Sprint(secs),
		"-filter_complex", "[0:v]split=2[a][b];[b]scale=160:90[b2]",
		"-map", "[a]", "-map", "[b2]", "-map", "1:a", "-map", "1:a",
		"-c:v", "libx264", "-preset", "veryfast", "-threads", "1",
		"-g", fmt.Sprint(gop), "-keyint_min", fmt.Sprint(gop), "-sc_threshold", "0",
		"-c:a", "aac", "-b:a", "48k",
		"-f", "hls", "-hls_time", fmt.Sprint(segSecs), "-hls_playlist_type", "vod",
		"-var_stream_map", "v:0,a:0 v:1,a:1", "-master_pl_name", "channel.m3u8",
		"-hls_segment_filename", filepath.Join(dir, "channel_video-%v_%d.ts"),
		filepath.Join(dir, "channel_video-%v.m3u8"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	l := &ffmpegLadder{dir: dir, rends: map[string]*hls.Media{}}
	var err error
	if l.master, err = os.ReadFile(filepath.Join(dir, "channel.m3u8")); err != nil {
		t.Fatal(err)
	}
	mv, err := hls.ParseMultivariant(l.master)
	if err != nil {
		t.Fatalf("ffmpeg master: %v\n%s", err, l.master)
	}
	for _, v := range mv.Variants {
		b, err := os.ReadFile(filepath.Join(dir, v.URI))
		if err != nil {
			t.Fatal(err)
		}
		m, err := hls.ParseMedia(b)
		if err != nil {
			t.Fatalf("ffmpeg %s: %v", v.URI, err)
		}
		l.names = append(l.names, v.URI)
		l.rends[v.URI] = m
	}
	if len(l.names) != 2 {
		t.Fatalf("ffmpeg made %d variants, want 2:\n%s", len(l.names), l.master)
	}
	return l
}

// pushLive pushes the ladder to p as a live channel: the master, then for
// each segment index every rendition's segment followed by its live media
// playlist (the last window segments), advancing the clock by the
// segment's duration first.
func (l *ffmpegLadder) pushLive(e *env, p *pusher, window int) {
	e.t.Helper()
	p.put("channel.m3u8", l.master)
	n := len(l.rends[l.names[0]].Segments)
	for i := range n {
		e.clock.Add(time.Duration(l.rends[l.names[0]].Segments[i].Duration * float64(time.Second)))
		for _, name := range l.names {
			full := l.rends[name]
			if i >= len(full.Segments) {
				continue
			}
			s := full.Segments[i]
			data, err := os.ReadFile(filepath.Join(l.dir, s.URI))
			if err != nil {
				e.t.Fatal(err)
			}
			p.put(s.URI, data)
			first := max(0, i-window+1)
			m := &hls.Media{Version: 3, TargetDuration: full.TargetDuration, MediaSequence: int64(first)}
			for _, s := range full.Segments[first : i+1] {
				m.Segments = append(m.Segments, &hls.Segment{Duration: s.Duration, URI: s.URI})
			}
			p.put(name, m.Encode())
		}
	}
}

// liveHLSArgs make ffmpeg read a live playlist from its first entry and
// stop at its end instead of waiting for new segments.
var liveHLSArgs = []string{"-live_start_index", "0", "-m3u8_hold_counters", "0"}

// keyframeInfo has ffprobe decode the video of the HLS playlist u and
// returns one "key_frame,pts,pict_type" line per decoded frame; with
// keyOnly the decoder skips all but keyframes.
func keyframeInfo(t *testing.T, u string, keyOnly bool) []string {
	t.Helper()
	args := append([]string{}, liveHLSArgs...)
	if keyOnly {
		args = append(args, "-skip_frame", "nokey")
	}
	args = append(args, "-select_streams", "v:0", "-show_entries", "frame=key_frame,pict_type,pts", "-of", "csv=p=0", u)
	out := strings.TrimSpace(ffprobe(t, args...))
	if out == "" {
		return nil
	}
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		// ffprobe appends side data markers to some frames.
		f := strings.Split(strings.TrimSpace(l), ",")
		if len(f) >= 3 {
			lines = append(lines, strings.Join(f[:3], ","))
		}
	}
	return lines
}

// liveFrameHashes has ffmpeg decode the video of the HLS playlist u and returns
// the MD5 of each decoded picture (framemd5); with keyOnly the decoder
// skips all but keyframes.
func liveFrameHashes(t *testing.T, u string, keyOnly bool) []string {
	t.Helper()
	ffmpeg := testutil.RequireTool(t, "ffmpeg")
	args := []string{"-v", "error", "-protocol_whitelist", "file,http,tcp"}
	args = append(args, liveHLSArgs...)
	if keyOnly {
		args = append(args, "-skip_frame", "nokey")
	}
	args = append(args, "-i", u, "-map", "0:v:0", "-fps_mode", "passthrough", "-f", "framemd5", "-")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, ffmpeg, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffmpeg framemd5 %s: %v\n%s", u, err, stderr.String())
	}
	var hashes []string
	for _, l := range strings.Split(string(out), "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		f := strings.Split(l, ",")
		hashes = append(hashes, strings.TrimSpace(f[len(f)-1]))
	}
	return hashes
}

// TestIFramePlaylistsFFmpegLive pushes an ffmpeg-encoded two-rendition TS
// channel (libx264 with B-frames, AAC muxed in, 1 s GOP, 2 s segments so
// two keyframes per segment) over HTTP ingest as a live channel and checks
// on a TS and a CMAF endpoint that the multivariant lists an I-frame
// playlist for every video rendition and that ffmpeg, reading each one
// over HTTP, decodes exactly one keyframe per entry, at the keyframe's
// time and equal (framemd5) to the keyframe decoded from the full-rate
// playlist.
func TestIFramePlaylistsFFmpegLive(t *testing.T) {
	l := makeFFmpegLadder(t, 6, 25, 2)
	e := newEnv(t, func(c *Config) {
		c.Channels[0].ManifestWindow = time.Minute
		c.Channels[0].Endpoints = []EndpointConfig{{ID: "ts"}, {ID: "cmaf", Packaging: PackagingCMAF}}
	})
	l.pushLive(e, e.pusher("a"), 10)
	for _, ep := range []string{"ts", "cmaf"} {
		t.Run(ep, func(t *testing.T) {
			base := "/out/v1/live/" + ep + "/"
			code, body := e.get(base + "index.m3u8")
			if code != http.StatusOK {
				t.Fatalf("multivariant: %d %s", code, body)
			}
			mv, err := hls.ParseMultivariant(body)
			if err != nil {
				t.Fatalf("multivariant: %v\n%s", err, body)
			}
			var listed []string
			for _, iv := range mv.IFrameVariants {
				listed = append(listed, iv.URI)
			}
			var want []string
			for _, name := range l.names {
				want = append(want, strings.TrimSuffix(name, ".m3u8")+"/"+iframesName)
			}
			if !slices.Equal(listed, want) {
				t.Fatalf("EXT-X-I-FRAME-STREAM-INF URIs %q, want %q:\n%s", listed, want, body)
			}
			for i, iv := range mv.IFrameVariants {
				if iv.Resolution == nil || mv.Variants[i].Resolution == nil || *iv.Resolution != *mv.Variants[i].Resolution || iv.Codecs == "" || strings.Contains(iv.Codecs, "mp4a") || iv.Bandwidth <= 1 {
					t.Errorf("I-frame variant %s: %+v, want the video of %+v", iv.URI, iv, mv.Variants[i])
				}
			}
			for _, name := range l.names {
				key := strings.TrimSuffix(name, ".m3u8")
				m := e.media(base + key + "/" + iframesName)
				// 6 s of 1 s GOPs in 2 s segments: two entries per
				// segment, each lasting until the next keyframe.
				if !m.IFramesOnly || len(m.Segments) != 6 {
					t.Fatalf("%s: I-FRAMES-ONLY %v, %d entries, want 6", key, m.IFramesOnly, len(m.Segments))
				}
				for i, s := range m.Segments {
					if s.Duration < 0.95 || s.Duration > 1.05 {
						t.Errorf("%s entry %d: EXTINF %v, want 1 (to the next keyframe)", key, i, s.Duration)
					}
					if s.ByteRange == nil || s.ByteRange.Offset == nil {
						t.Fatalf("%s entry %d has no byte range", key, i)
					}
				}
				iframes := e.url(base + key + "/" + iframesName)
				full := e.url(base + name)
				got := keyframeInfo(t, iframes, false)
				wantKF := keyframeInfo(t, full, true)
				if len(wantKF) != len(m.Segments) {
					t.Fatalf("%s: the full-rate playlist has %d keyframes, want %d", key, len(wantKF), len(m.Segments))
				}
				if !slices.Equal(got, wantKF) {
					t.Fatalf("%s: frames decoded through %s (key,pts,type):\n%q\nwant the full-rate playlist's keyframes:\n%q",
						key, iframesName, got, wantKF)
				}
				gotMD5, wantMD5 := liveFrameHashes(t, iframes, false), liveFrameHashes(t, full, true)
				if len(gotMD5) != len(m.Segments) || !slices.Equal(gotMD5, wantMD5) {
					t.Fatalf("%s: framemd5 through %s\n%q\nwant the full-rate keyframes\n%q", key, iframesName, gotMD5, wantMD5)
				}
				t.Logf("%s/%s: %d entries, each one keyframe equal to the full-rate one", ep, key, len(m.Segments))
			}
		})
	}
}
