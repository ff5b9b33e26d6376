package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// runCompare implements 'bench compare': pullpush, then each peer (the
// reference, ffmpeg), one after the other on the same load, printed side by
// side with the ratio of each peer to the first relay.
func runCompare(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("compare", stderr)
	cfg, out, md := runFlags(fs)
	pause := fs.Duration("pause", 5*time.Second, "pause between the runs")
	relayList := fs.String("relays", relayPullpush+","+relayReference, "relays to run, in order; ratios are against the first (pullpush, reference, ffmpeg)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg.Progress = stderr
	relays, err := parseRelays(*relayList)
	if err != nil {
		return err
	}
	if len(relays) < 2 {
		return fmt.Errorf("%w: -relays: compare needs at least two relays", errUsage)
	}
	sameMedia(cfg, relays)
	cleanup, err := prebuild(ctx, cfg, relays...)
	if err != nil {
		return err
	}
	defer cleanup()
	auth := cfg.SinkAuth
	res := make([]runResult, len(relays))
	var errs []error
	for i, relay := range relays {
		c := *cfg
		c.Relay, c.SinkAuth = relay, auth
		if err := c.finish(); err != nil {
			return err
		}
		if i > 0 && !sleepCtx(ctx, *pause) {
			return ctx.Err()
		}
		r, err := benchRun(ctx, c)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", relay, err))
			fmt.Fprintf(stderr, "%s run failed: %v\n", relay, err)
			r.RunError = err.Error()
		}
		res[i] = r
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if len(errs) == len(relays) {
		return errors.Join(errs...)
	}
	byName := make(map[string]runResult, len(res))
	for _, r := range res {
		byName[r.Relay] = r
	}
	werr := emit(stdout, *out, *md, byName, func(w io.Writer) { writeCompareTable(w, res) })
	return errors.Join(append(errs, werr)...)
}

// parseRelays splits and checks a -relays list.
func parseRelays(list string) ([]string, error) {
	var out []string
	for _, r := range strings.Split(list, ",") {
		r = strings.TrimSpace(r)
		switch r {
		case relayPullpush, relayReference, relayFFmpeg:
		default:
			return nil, fmt.Errorf("%w: -relays: unknown relay %q (pullpush, reference, ffmpeg)", errUsage, r)
		}
		if slices.Contains(out, r) {
			return nil, fmt.Errorf("%w: -relays: %s twice", errUsage, r)
		}
		out = append(out, r)
	}
	return out, nil
}

// sameMedia resolves -media auto for a set of relays run on the same load:
// h264 for all of them when ffmpeg is among them (it needs real media).
func sameMedia(cfg *runConfig, relays []string) {
	if (cfg.Media == "" || cfg.Media == "auto") && slices.Contains(relays, relayFFmpeg) {
		cfg.Media = mediaH264
	}
}

// runScale implements 'bench scale': pullpush at every size and the reference
// at every size up to the first one where it breaks.
func runScale(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("scale", stderr)
	cfg, out, md := runFlags(fs)
	sizes := fs.String("sizes", "10,100,500,1000", "comma-separated channel counts")
	relays := fs.String("relays", "pullpush,reference", "relays to run, in order (pullpush, reference, ffmpeg)")
	pause := fs.Duration("pause", 5*time.Second, "pause between runs")
	stopOn := fs.String("stop-after-break", relayReference, "relays not run at larger sizes once they broke (comma-separated)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg.Progress = stderr
	var ns []int
	for _, f := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return fmt.Errorf("%w: -sizes: bad size %q", errUsage, f)
		}
		ns = append(ns, n)
	}
	relayNames, err := parseRelays(*relays)
	if err != nil {
		return err
	}
	sameMedia(cfg, relayNames)
	cleanup, err := prebuild(ctx, cfg, relayNames...)
	if err != nil {
		return err
	}
	defer cleanup()
	var results []runResult
	first := true
	for _, relay := range relayNames {
		broken := false
		for _, n := range ns {
			c := *cfg
			c.Relay, c.Channels = relay, n
			if err := c.finish(); err != nil {
				return err
			}
			if broken {
				results = append(results, runResult{Relay: relay, Config: c, Broken: true, BrokenReason: "skipped: broke at a smaller size"})
				continue
			}
			if !first && !sleepCtx(ctx, *pause) {
				return ctx.Err()
			}
			first = false
			r, err := benchRun(ctx, c)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil {
				fmt.Fprintf(stderr, "%s at %d channels failed: %v\n", relay, n, err)
				r.Broken, r.BrokenReason, r.RunError = true, "run failed: "+err.Error(), err.Error()
			}
			broken = r.Broken && slices.Contains(strings.Split(*stopOn, ","), relay)
			results = append(results, r)
			// Keep partial results: a long curve may be interrupted.
			if *out != "" {
				writeJSONFile(*out, results)
			}
		}
	}
	return emit(stdout, *out, *md, results, func(w io.Writer) { writeScaleTable(w, results) })
}

// writeScaleTable prints the scaling curve.
func writeScaleTable(w io.Writer, rs []runResult) {
	fmt.Fprintf(w, "### scaling curve\n\n")
	if len(rs) > 0 {
		c := rs[0].Config
		fmt.Fprintf(w, "%d renditions, %s segments, %s per rendition, %s window; %s, %d CPUs (%s)\n\n",
			c.Renditions, c.Segment, fmtBitrate(c.Bitrate), c.Duration, rs[0].Date.Format(time.RFC3339), rs[0].Machine.CPUs, rs[0].Machine.CPU)
	}
	fmt.Fprintf(w, "| relay | channels | CPU s/channel-hour | cores | %% of machine | steady RSS MiB | RSS/channel MiB | p50 ms | p99 ms | loss %% | dup | harness cores (src+sink) | other cores | verdict |\n")
	fmt.Fprintf(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, r := range rs {
		verdict := "ok"
		if r.Broken {
			verdict = "BROKEN: " + r.BrokenReason
		}
		if r.Date.IsZero() {
			fmt.Fprintf(w, "| %s | %d | | | | | | | | | | | | %s |\n", r.Relay, r.Config.Channels, verdict)
			continue
		}
		fmt.Fprintf(w, "| %s | %d | %.1f | %.3f | %.1f | %.1f | %.3f | %.0f | %.0f | %.2f | %d | %.2f | %.2f | %s |\n",
			r.Relay, r.Config.Channels, r.CPUPerChannelHour, r.CoresUsed, r.MachinePct, r.SteadyRSSMiB,
			r.SteadyRSSPerChannelMiB, r.Latency.P50, r.Latency.P99, r.LossPct, r.DupSegments, r.SourceCores+r.SinkCores, r.OtherCores, verdict)
	}
}
