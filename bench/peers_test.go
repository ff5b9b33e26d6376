package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pullpush/pullpush/internal/testutil"
)

// TestMain lets the test binary stand in for the bench binary: benchRun
// starts its source and sink as 'os.Executable() source|sink ...'.
func TestMain(m *testing.M) {
	if os.Getenv("PULLPUSH_BENCH_CHILD") == "1" && len(os.Args) > 1 && (os.Args[1] == "source" || os.Args[1] == "sink") {
		ctx, stop := context.WithCancel(context.Background())
		defer stop()
		if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestFFmpegRelay runs the ffmpeg peer on two channels (the second goes live
// half a segment after the first) for a few seconds: the
// sink must see every segment of the window (markers recovered from the
// remuxed TS), through strict digest auth, and the CPU of the process must
// have been measured.
func TestFFmpegRelay(t *testing.T) {
	testutil.RequireTool(t, "ffmpeg")
	t.Setenv("PULLPUSH_BENCH_CHILD", "1")
	cfg := runConfig{Relay: relayFFmpeg, Channels: 2, Renditions: 2, Segment: time.Second, Bitrate: 200_000, Window: 5,
		Duration: 5 * time.Second, Grace: 10 * time.Second, SinkAuth: "auto", Media: "auto", Progress: io.Discard, WorkDir: t.TempDir()}
	if err := cfg.finish(); err != nil {
		t.Fatal(err)
	}
	if cfg.Media != mediaH264 || cfg.SinkAuth != authStrict {
		t.Fatalf("media %s, auth %s", cfg.Media, cfg.SinkAuth)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := benchRun(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Died || res.Expected == 0 || res.Lost != 0 || res.CPUSeconds <= 0 || res.SteadyRSSMiB <= 0 {
		t.Fatalf("died %v (%s), expected %d, lost %d, cpu %.3f s, rss %.1f MiB", res.Died, res.ExitError, res.Expected, res.Lost, res.CPUSeconds, res.SteadyRSSMiB)
	}
	if res.Sink.RemuxedSegments == 0 || res.Sink.Misrouted != 0 || res.Sink.Unauthorized["replay"] != 0 || res.DupSegments != 0 {
		t.Fatalf("sink %+v", res.Sink)
	}
	t.Logf("%s: %d/%d segments, cpu %.2f s, p99 %.0f ms, rss %.1f MiB", res.RelayVersion, res.Delivered, res.Expected, res.CPUSeconds, res.Latency.P99, res.SteadyRSSMiB)
}

// TestNginxPeer mirrors a small stand-in origin into nginx and loads nginx
// with two clients for a second: every request answered, the copies served
// byte for byte, and the CPU of its master and workers measured.
func TestNginxPeer(t *testing.T) {
	if _, err := nginxBin(); err != nil {
		if os.Getenv("PULLPUSH_REQUIRE_TOOLS") == "1" {
			t.Fatalf("required tool missing (PULLPUSH_REQUIRE_TOOLS=1): %v", err)
		}
		t.Skip(err)
	}
	seg := segmentBody(10 * tsPacket)
	mux := http.NewServeMux()
	mux.HandleFunc("/out/v1/bench/index.m3u8", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000\nr0/index.m3u8\n")
	})
	mux.HandleFunc("/out/v1/bench/r0/index.m3u8", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:"+r.URL.Query().Get("start")+"\n#EXTINF:2,\n9.ts\n")
	})
	mux.HandleFunc("/out/v1/bench/r0/", func(w http.ResponseWriter, r *http.Request) { w.Write(seg) })
	origin := httptest.NewServer(mux)
	defer origin.Close()
	tg := &targets{base: origin.URL, master: origin.URL + "/out/v1/bench/index.m3u8", media: []string{origin.URL + "/out/v1/bench/r0/index.m3u8"},
		segPrefix: []string{origin.URL + "/out/v1/bench/r0/"}, segExt: ".ts", firstSeq: []int64{0}, lastSeq: []int64{9}, oldest: time.Now().Add(-time.Hour)}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir, err := newNginxDir()
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ng, err := startNginx(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ng.stop()
	cl := &http.Client{Timeout: 10 * time.Second}
	nt, err := mirrorForNginx(ctx, cl, tg, seg, ng.root, "http://"+ng.addr, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := get(ctx, cl, nt.segPrefix[0]+"7.ts"); err != nil || !bytes.Equal(b, seg) {
		t.Fatalf("segment from nginx: %v (%d bytes)", err, len(b))
	}
	if b, err := get(ctx, cl, nt.shift[0][3]); err != nil || !strings.Contains(string(b), "#EXT-X-MEDIA-SEQUENCE:1") {
		t.Fatalf("time-shifted copy from nginx: %v\n%s", err, b)
	}
	if pids := ng.pids(); len(pids) < 2 {
		t.Fatalf("nginx pids %v: want the master and its workers", pids)
	}
	for _, name := range []string{"live-playlist", "segment"} {
		sc := loadScenario(ctx, cl, name, nt, originConfig{Clients: 2, Duration: time.Second, ShiftSpan: time.Minute}, ng.pids())
		if sc.Requests == 0 || sc.Errors != 0 || sc.OriginCores <= 0 || sc.RSSMiB <= 0 {
			t.Fatalf("%s on nginx: %+v", name, sc)
		}
		t.Logf("%s: %.0f GETs/s, p99 %.2f ms, nginx %.2f cores", name, sc.PerSecond, sc.Latency.P99, sc.OriginCores)
	}
}
