package origin

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/pullpush/pullpush/fetch"
	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/llsource"
	"github.com/pullpush/pullpush/internal/testutil"
	"github.com/pullpush/pullpush/output/mediapackage"
)

// llChain is a live LL-HLS source (gohlslib's muxer, 200 ms parts, 1 s
// segments) relayed by a fetcher through the mediapackage output with
// lowLatency into an origin channel "ll", everything on loopback with the
// wall clock.
type llChain struct {
	src    *llsource.Source
	srcSrv *httptest.Server
	o      *Origin
	srv    *httptest.Server
	logs   *testutil.LockedBuffer
}

func startLLChain(t *testing.T, ctx context.Context, loops int) *llChain {
	t.Helper()
	c := &llChain{logs: &testutil.LockedBuffer{}}
	var err error
	c.src, err = llsource.Start(ctx, llsource.Options{Loops: loops, OnError: func(err error) { t.Logf("muxer: %v", err) }})
	if err != nil {
		t.Fatal(err)
	}
	c.srcSrv = httptest.NewServer(c.src)
	t.Cleanup(c.srcSrv.Close)
	t.Cleanup(c.src.Close) // before srcSrv.Close: releases held playlist requests
	log := slog.New(slog.NewTextHandler(c.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c.o, err = New(Config{DataDir: t.TempDir(), Channels: []ChannelConfig{{
		ID: "ll", Username: testUser, Password: testPass, ManifestWindow: 30 * time.Second,
	}}}, WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	c.srv = httptest.NewServer(c.o.Handler())
	t.Cleanup(func() { c.srv.Close(); c.o.Close() })
	out, err := mediapackage.New(mediapackage.Config{LowLatency: true, IngestURLs: []mediapackage.Ingest{{
		URL: c.srv.URL + "/in/v2/ll/a/channel", Username: testUser, Password: testPass}}})
	if err != nil {
		t.Fatal(err)
	}
	f, err := fetch.New(fetch.Config{ID: "ll", URL: c.srcSrv.URL + "/index.m3u8", Output: out, Logger: log, SpoolDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		if err := f.Run(ctx); err != nil && ctx.Err() == nil {
			t.Errorf("fetcher: %v", err)
		}
	}()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log:\n%s", c.logs.String())
		}
	})
	return c
}

// videoPlaylist waits for the origin's multivariant playlist and returns
// the URL of its video media playlist.
func (c *llChain) videoPlaylist(t *testing.T) string {
	t.Helper()
	var uri string
	testutil.Eventually(t, 30*time.Second, func() bool {
		resp, err := http.Get(c.srv.URL + "/out/v1/ll/index.m3u8")
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		mv, err := hls.ParseMultivariant(b)
		if resp.StatusCode != http.StatusOK || err != nil || len(mv.Variants) == 0 {
			return false
		}
		uri = mv.Variants[0].URI
		return true
	}, "origin multivariant playlist")
	u := c.srv.URL + "/out/v1/ll/" + uri
	// The media playlist answers once a whole segment is indexed (parts
	// of the first one may come before).
	testutil.Eventually(t, 30*time.Second, func() bool { return segmentsAt(u) >= 1 }, "a segment at the origin")
	return u
}

// segmentsAt is how many segments the media playlist at u lists, 0 when it
// cannot be read.
func segmentsAt(u string) int {
	resp, err := http.Get(u)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m, err := hls.ParseMedia(b)
	if err != nil {
		return 0
	}
	return len(m.Segments)
}

// partSeen is a part of the origin's video playlist and when a blocking
// reload first listed it.
type partSeen struct {
	seq  int64
	idx  int
	end  time.Time // its media end by the playlist's PROGRAM-DATE-TIME
	seen time.Time
}

// followLL follows an origin LL-HLS media playlist as a low-latency player
// does, with blocking reloads for the next part, until ctx ends or the
// playlist stops growing, and records every part it saw.
func followLL(ctx context.Context, t *testing.T, u string, stop <-chan struct{}) []partSeen {
	var out []partSeen
	known := map[string]bool{}
	next := ""
	for {
		select {
		case <-ctx.Done():
			return out
		case <-stop:
			return out
		default:
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u+next, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return out
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		now := time.Now()
		m, err := hls.ParseMedia(b)
		if resp.StatusCode != http.StatusOK || err != nil || m.PartInf == nil || len(m.Segments) == 0 {
			t.Errorf("origin LL playlist: %d %v\n%s", resp.StatusCode, err, b)
			return out
		}
		record := func(seq int64, start time.Time, parts []*hls.Part) time.Time {
			for i, p := range parts {
				start = start.Add(time.Duration(p.Duration * float64(time.Second)))
				if !known[p.URI] {
					known[p.URI] = true
					out = append(out, partSeen{seq: seq, idx: i, end: start, seen: now})
				}
			}
			return start
		}
		var at time.Time
		for i, s := range m.Segments {
			if !s.ProgramDateTime.IsZero() {
				at = s.ProgramDateTime
			}
			record(m.MediaSequence+int64(i), at, s.Parts)
			at = at.Add(time.Duration(s.Duration * float64(time.Second)))
		}
		tail := m.MediaSequence + int64(len(m.Segments))
		record(tail, at, m.Parts)
		if len(m.Parts) > 0 {
			next = fmt.Sprintf("?_HLS_msn=%d&_HLS_part=%d", tail, len(m.Parts))
		} else {
			next = fmt.Sprintf("?_HLS_msn=%d&_HLS_part=0", tail)
		}
	}
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

// TestLowLatencyChain relays a live LL-HLS source made by an independent
// muxer into the origin: the origin's playlists carry the source's parts
// as they arrive, a player following them with blocking reloads sees every
// part in order, and ffmpeg decodes the origin's stream to the same frames
// as the source's. The latency from a part's last sample to the origin
// playlist listing it is logged (BENCHMARKS.md), not asserted.
func TestLowLatencyChain(t *testing.T) {
	testutil.RequireTool(t, "ffmpeg")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c := startLLChain(t, ctx, 1)
	u := c.videoPlaylist(t)
	stop := make(chan struct{})
	seenCh := make(chan []partSeen, 1)
	go func() { seenCh <- followLL(ctx, t, u, stop) }()
	select {
	case err := <-c.src.Done():
		if err != nil {
			t.Fatalf("source: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("source did not finish")
	}
	// The source's final playlists list the whole programme; the origin
	// has every segment once the relay pushed the last one.
	srcMV, err := hls.ParseMultivariant(mustGet(t, c.srcSrv.URL+"/index.m3u8"))
	if err != nil {
		t.Fatal(err)
	}
	srcVideo := mustMedia(t, c.srcSrv.URL+"/"+srcMV.Variants[0].URI)
	complete := 0 // gohlslib pads its first playlists with gap segments
	for _, s := range srcVideo.Segments {
		if !s.Gap {
			complete++
		}
	}
	var originVideo *hls.Media
	testutil.Eventually(t, 30*time.Second, func() bool {
		originVideo = mustMedia(t, u)
		return len(originVideo.Segments) >= complete
	}, "origin has the source's %d segments", complete)
	close(stop)
	seen := <-seenCh

	// Every part of the segments the follower saw in progress was listed,
	// in order, before its segment completed.
	if len(seen) < 20 {
		t.Fatalf("the follower saw %d parts, want the programme's (about 35)", len(seen))
	}
	var lat []time.Duration
	for i, p := range seen {
		if i > 0 {
			prev := seen[i-1]
			if p.seq < prev.seq || (p.seq == prev.seq && p.idx != prev.idx+1) || (p.seq > prev.seq && p.idx != 0) {
				t.Fatalf("part %d.%d seen after %d.%d", p.seq, p.idx, prev.seq, prev.idx)
			}
		}
		lat = append(lat, p.seen.Sub(p.end))
	}
	t.Logf("LL-HLS chain: %d parts; part end -> listed at the origin: p50 %s, p99 %s, max %s",
		len(lat), percentile(lat, 0.5).Round(time.Millisecond), percentile(lat, 0.99).Round(time.Millisecond), percentile(lat, 1).Round(time.Millisecond))

	// Same frames: the source's complete programme and the origin's window
	// over the same segments.
	first := originVideo.Segments[len(originVideo.Segments)-complete]
	if first.ProgramDateTime.IsZero() {
		t.Fatal("origin playlist lacks PROGRAM-DATE-TIME")
	}
	start := first.ProgramDateTime.Unix()
	end := time.Now().Unix() // after the last segment, not after the origin's clock: a closed (VOD) window
	origin := fmt.Sprintf("%s?start=%d&end=%d", u, start, end)
	base, _ := url.Parse(c.srcSrv.URL + "/" + srcMV.Variants[0].URI)
	vod, err := llsource.VODList(srcVideo, base)
	if err != nil {
		t.Fatal(err)
	}
	vodSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(vod) }))
	defer vodSrv.Close()
	want := frameHashes(t, vodSrv.URL+"/vod.m3u8", "")
	got := frameHashes(t, origin, "")
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Fatalf("origin decodes to %d frames, source to %d; first difference at %d", len(got), len(want), firstDiff(got, want))
	}
}

func mustGet(t *testing.T, u string) []byte {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", u, resp.StatusCode, err)
	}
	return b
}

func mustMedia(t *testing.T, u string) *hls.Media {
	t.Helper()
	m, err := hls.ParseMedia(mustGet(t, u))
	if err != nil {
		t.Fatalf("%s: %v", u, err)
	}
	return m
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
