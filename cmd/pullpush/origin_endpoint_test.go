package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/digest"
	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/testmedia"
	"github.com/pullpush/pullpush/internal/testutil"
)

// TestOriginEndpointFlagSettings starts `pullpush origin` with an
// --endpoint that carries settings and checks that the endpoint serves
// with them: its multivariant under manifestName with EXT-X-START and no
// I-frame playlists, and 3 s CMAF segments joined from the 1 s ingest.
func TestOriginEndpointFlagSettings(t *testing.T) {
	dir := t.TempDir()
	cmd := testutil.StartCommand(t, func(ctx context.Context, stdout, stderr io.Writer) error {
		return runOrigin(ctx, []string{"--listen", "127.0.0.1:0", "--data", filepath.Join(dir, "data"), "--channel", "live=pusher:pw",
			"--endpoint", "ts", "--endpoint", "j=cmaf,segmentDuration=3s,manifestName=main,startTimeOffset=-6,startPrecise=true,iframes=false"},
			stdout, stderr)
	})
	re := regexp.MustCompile(`playback j \(cmaf\): (http://127\.0\.0\.1:\d+)/out/v1/live/j/index\.m3u8`)
	base := cmd.WaitMatch(t, &cmd.Stdout, re, 5*time.Second)[1]

	set, err := testmedia.Load(testmedia.TS)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &digest.Transport{Username: "pusher", Password: "pw"}}
	put := func(name string, body []byte) {
		req, _ := http.NewRequest(http.MethodPut, base+"/in/v2/live/a/"+name, bytes.NewReader(body))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("PUT %s: %d", name, resp.StatusCode)
		}
	}
	// Segment n starts at epoch+n s; the epoch is a multiple of 3 s, so
	// segments 0-2 and 3-5 are the first two joined segments.
	epoch := time.Unix(time.Now().Unix()/3*3-30, 0).UTC()
	vid := set.Rendition("video_hi")
	pl := &hls.Media{Version: 3, TargetDuration: 1}
	for n := range 7 {
		name := fmt.Sprintf("channel_v_%d.ts", n)
		put(name, vid.Segments[n].Data)
		pl.Segments = append(pl.Segments, &hls.Segment{Duration: vid.Segments[n].Duration, URI: name,
			ProgramDateTime: epoch.Add(time.Duration(n) * time.Second)})
		put("channel_v.m3u8", pl.Encode())
	}
	get := func(u string) (int, []byte) {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	code, mv := get(base + "/out/v1/live/j/main.m3u8")
	if code != http.StatusOK || !bytes.Contains(mv, []byte("#EXT-X-START:TIME-OFFSET=-6")) || !bytes.Contains(mv, []byte("PRECISE=YES")) ||
		bytes.Contains(mv, []byte("I-FRAME-STREAM-INF")) {
		t.Fatalf("main.m3u8: %d\n%s", code, mv)
	}
	if code, _ := get(base + "/out/v1/live/j/index.m3u8"); code != http.StatusNotFound {
		t.Fatalf("index.m3u8 of an endpoint named main: %d", code)
	}
	if _, ts := get(base + "/out/v1/live/ts/index.m3u8"); !bytes.Contains(ts, []byte("I-FRAME-STREAM-INF")) {
		t.Fatalf("the plain endpoint keeps its I-frame playlists:\n%s", ts)
	}
	code, body := get(base + "/out/v1/live/j/channel_v.m3u8")
	m, err := hls.ParseMedia(body)
	if code != http.StatusOK || err != nil || len(m.Segments) != 2 || m.Segments[0].Map == nil {
		t.Fatalf("j/channel_v.m3u8: %d %v\n%s", code, err, body)
	}
	for _, s := range m.Segments {
		if s.Duration < 2.95 || s.Duration > 3.05 {
			t.Errorf("segment %s lasts %.3f s, want 3", s.URI, s.Duration)
		}
		if code, seg := get(base + "/out/v1/live/j/" + s.URI); code != http.StatusOK || !bytes.Contains(seg[:64], []byte("styp")) {
			t.Errorf("GET %s: %d", s.URI, code)
		}
	}
	if err := cmd.Stop(); err != nil {
		t.Fatalf("runOrigin: %v", err)
	}
}

// TestOriginEndpointSettingErrors: a bad --endpoint setting is a one-line
// usage error naming it, and so is a value out of range.
func TestOriginEndpointSettingErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ ep, want string }{
		{"x,bogus=1", `unknown setting "bogus"`},
		{"x=dash,segmentDuration=6", "segmentDuration: want duration"},
		{"x,segmentDuration=-6s", "segmentDuration"},
		{"x,repeatKey=true", "repeatKey: needs an encryption method"},
		{"x,manifestWindow=500ms", "manifestWindow"},
	} {
		var out, errb bytes.Buffer
		err := runOrigin(context.Background(), []string{"--data", dir, "--channel", "a=u:p", "--endpoint", tc.ep}, &out, &errb)
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("--endpoint %s: %v, want a one-line usage error containing %q", tc.ep, err, tc.want)
		}
	}
}
