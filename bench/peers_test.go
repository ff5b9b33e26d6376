package main

import (
	"context"
	"io"
	"os"
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

// TestFFmpegRelay runs the ffmpeg peer on one channel for a few seconds: the
// sink must see every segment of the window (markers recovered from the
// remuxed TS), through strict digest auth, and the CPU of the process must
// have been measured.
func TestFFmpegRelay(t *testing.T) {
	testutil.RequireTool(t, "ffmpeg")
	t.Setenv("PULLPUSH_BENCH_CHILD", "1")
	cfg := runConfig{Relay: relayFFmpeg, Channels: 1, Renditions: 2, Segment: time.Second, Bitrate: 200_000, Window: 5,
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
