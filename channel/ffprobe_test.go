package channel

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/channel/internal/config"

	"github.com/pullpush/pullpush/internal/testutil"
)

// endlist serves h, closing every live media playlist with EXT-X-ENDLIST:
// the clock stands still in this test, so the window is all there is and a
// closed playlist lets ffprobe read it to the end and exit.
func endlist(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, ".m3u8") || strings.HasSuffix(r.URL.Path, "/master.m3u8") {
			h.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		if rec.Code == http.StatusOK {
			body = append(body, "#EXT-X-ENDLIST\n"...)
		}
		w.Header().Set("Content-Type", rec.Header().Get("Content-Type"))
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
	})
}

// TestFFprobeAcrossBoundaries decodes every video and audio frame of the
// default channel's live window when it spans two asset boundaries.
func TestFFprobeAcrossBoundaries(t *testing.T) {
	ffprobe := testutil.RequireTool(t, "ffprobe")
	loopStart := config.DefaultStart().Add(500 * 90 * time.Second)
	// Window [-15 s, 45 s]: asset c, boundary, asset a, boundary, asset b.
	c := newClock(loopStart.Add(45 * time.Second))
	e := engineFor(t, DefaultConfig(), nil, c)
	srv := httptest.NewServer(endlist(e.Handler()))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, ffprobe, "-v", "error",
		"-show_entries", "frame=media_type,stream_index,pts_time:stream=index,codec_type,width",
		"-of", "json", srv.URL+"/channels/1/master.m3u8")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("ffprobe: %v\n%s", err, stderr.String())
	}
	// ffmpeg's HLS demuxer ignores EXT-X-DISCONTINUITY; the only complaint
	// allowed is the MPEG-TS continuity counter jump where assets meet.
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if line != "" && !strings.Contains(line, "corrupt") {
			t.Errorf("ffprobe: %s", line)
		}
	}
	var out struct {
		Streams []struct {
			Index     int    `json:"index"`
			CodecType string `json:"codec_type"`
			Width     int    `json:"width"`
		} `json:"streams"`
		Frames []struct {
			MediaType   string `json:"media_type"`
			StreamIndex int    `json:"stream_index"`
			PTS         string `json:"pts_time"`
		} `json:"frames"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("ffprobe output: %v", err)
	}
	kinds := map[int]string{}
	for _, s := range out.Streams {
		kinds[s.Index] = s.CodecType
	}
	frames := map[int]int{}
	resets := map[int]int{}
	last := map[int]float64{}
	for _, f := range out.Frames {
		pts, err := strconv.ParseFloat(f.PTS, 64)
		if err != nil {
			continue
		}
		frames[f.StreamIndex]++
		if prev, ok := last[f.StreamIndex]; ok && pts < prev-1 {
			resets[f.StreamIndex]++ // timestamps restart at each asset
		}
		last[f.StreamIndex] = pts
	}
	var video, audio int
	for idx, kind := range kinds {
		switch kind {
		case "video":
			video++
			// 58 s at 15 fps in the window.
			if frames[idx] < 800 || resets[idx] != 2 {
				t.Errorf("video stream %d: %d frames, %d timestamp restarts; want >= 800 and 2", idx, frames[idx], resets[idx])
			}
		case "audio":
			audio++
			// 48 kHz AAC: 46.9 frames per second.
			if frames[idx] < 2500 || resets[idx] != 2 {
				t.Errorf("audio stream %d: %d frames, %d timestamp restarts; want >= 2500 and 2", idx, frames[idx], resets[idx])
			}
		}
	}
	if video != 2 || audio < 1 {
		t.Errorf("streams %v: want 2 video and audio", kinds)
	}
}
