package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// metric is one row of a report table.
type metric struct {
	label string
	val   func(r runResult) float64
	fmt   string // printf verb for the value
	ratio bool   // meaningful reference/pullpush ratio
}

var metrics = []metric{
	{"CPU s per channel-hour", func(r runResult) float64 { return r.CPUPerChannelHour }, "%.1f", true},
	{"CPU cores used (window avg)", func(r runResult) float64 { return r.CoresUsed }, "%.3f", true},
	{"CPU % of machine", func(r runResult) float64 { return r.MachinePct }, "%.1f", true},
	{"idle RSS MiB", func(r runResult) float64 { return r.IdleRSSMiB }, "%.1f", true},
	{"idle RSS anonymous MiB", func(r runResult) float64 { return r.IdleAnonMiB }, "%.1f", false},
	{"idle RSS file-backed MiB", func(r runResult) float64 { return r.IdleFileMiB }, "%.1f", false},
	{"peak RSS MiB", func(r runResult) float64 { return r.PeakRSSMiB }, "%.1f", true},
	{"steady RSS MiB", func(r runResult) float64 { return r.SteadyRSSMiB }, "%.1f", true},
	{"peak RSS per channel MiB (above idle)", func(r runResult) float64 { return r.PeakRSSPerChannelMiB }, "%.3f", true},
	{"steady RSS per channel MiB (above idle)", func(r runResult) float64 { return r.SteadyRSSPerChannelMiB }, "%.3f", true},
	{"added latency p50 ms", func(r runResult) float64 { return r.Latency.P50 }, "%.0f", true},
	{"added latency p99 ms", func(r runResult) float64 { return r.Latency.P99 }, "%.0f", true},
	{"added latency max ms", func(r runResult) float64 { return r.Latency.Max }, "%.0f", true},
	{"segments expected", func(r runResult) float64 { return float64(r.Expected) }, "%.0f", false},
	{"segments delivered", func(r runResult) float64 { return float64(r.Delivered) }, "%.0f", false},
	{"segments lost", func(r runResult) float64 { return float64(r.Lost) }, "%.0f", false},
	{"loss %", func(r runResult) float64 { return r.LossPct }, "%.2f", false},
	{"duplicate segment PUTs", func(r runResult) float64 { return float64(r.DupSegments) }, "%.0f", false},
	{"playlist PUTs", func(r runResult) float64 { return float64(r.Sink.PlaylistPuts) }, "%.0f", false},
	{"401 answers (all reasons)", func(r runResult) float64 { return float64(sumMap(r.Sink.Unauthorized)) }, "%.0f", false},
	{"MB relayed in window", func(r runResult) float64 { return float64(r.BytesRelayed) / 1e6 }, "%.1f", false},
	{"MB relayed per CPU-second (higher is better)", func(r runResult) float64 { return r.BytesPerCPUs / 1e6 }, "%.1f", true},
	{"harness: source cores", func(r runResult) float64 { return r.SourceCores }, "%.3f", false},
	{"harness: sink cores", func(r runResult) float64 { return r.SinkCores }, "%.3f", false},
	{"other processes' cores (noise)", func(r runResult) float64 { return r.OtherCores }, "%.3f", false},
}

func sumMap(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// loadLine describes a run's load in one line.
func loadLine(r runResult) string {
	c := r.Config
	return fmt.Sprintf("%d channels x %d renditions, %s segments, %s per rendition, window %s after %s warm-up; %s, %d CPUs (%s); load avg %.2f -> %.2f",
		c.Channels, c.Renditions, c.Segment, fmtBitrate(c.Bitrate), c.Duration, c.Warmup,
		r.Date.Format(time.RFC3339), r.Machine.CPUs, r.Machine.CPU, r.LoadAvgStart, r.LoadAvgEnd)
}

func fmtBitrate(b int64) string {
	switch {
	case b >= 1e6 && b%1e5 == 0:
		return fmt.Sprintf("%gMbit/s", float64(b)/1e6)
	case b >= 1e3:
		return fmt.Sprintf("%gkbit/s", float64(b)/1e3)
	}
	return fmt.Sprintf("%dbit/s", b)
}

// writeRunTable prints one run as a Markdown table.
func writeRunTable(w io.Writer, r runResult) {
	fmt.Fprintf(w, "### %s (%s)\n\n%s\n\n", r.Relay, r.RelayVersion, loadLine(r))
	fmt.Fprintf(w, "| metric | %s |\n|---|---:|\n", r.Relay)
	for _, m := range metrics {
		fmt.Fprintf(w, "| %s | "+m.fmt+" |\n", m.label, m.val(r))
	}
	writeNotes(w, r)
}

func writeNotes(w io.Writer, rs ...runResult) {
	fmt.Fprintln(w)
	for _, r := range rs {
		var notes []string
		if r.RunError != "" {
			notes = append(notes, "RUN FAILED (numbers are empty): "+r.RunError)
		}
		if r.Broken {
			notes = append(notes, "BROKEN: "+r.BrokenReason)
		}
		if r.Died {
			notes = append(notes, "exit: "+r.ExitError)
		}
		if r.FetcherError != "" {
			notes = append(notes, "fetcher error: "+r.FetcherError)
		}
		if r.Sink.BadSize+r.Sink.Misrouted+r.Sink.ReadErrors > 0 {
			notes = append(notes, fmt.Sprintf("sink: %d bad sizes, %d misrouted, %d read errors", r.Sink.BadSize, r.Sink.Misrouted, r.Sink.ReadErrors))
		}
		if r.Sink.RemuxedPuts > 0 {
			notes = append(notes, fmt.Sprintf("%d remuxed segment PUTs carrying %d source segments (markers read from the H.264 SEI; sizes are the relay's)", r.Sink.RemuxedPuts, r.Sink.RemuxedSegments))
		}
		if r.Relay == relayFFmpeg {
			notes = append(notes, fmt.Sprintf("CPU and RSS summed over %d ffmpeg processes (shared library pages counted in each)", r.FetchersCreated))
		}
		if len(r.Sink.Unauthorized) > 0 {
			notes = append(notes, fmt.Sprintf("sink auth %s, 401s: %v", r.Sink.Auth, r.Sink.Unauthorized))
		} else {
			notes = append(notes, "sink auth "+r.Sink.Auth)
		}
		notes = append(notes, fmt.Sprintf("%d extra segments (listed before the window, e.g. initial backfill)", r.Extra))
		fmt.Fprintf(w, "- %s: %s\n", r.Relay, strings.Join(notes, "; "))
	}
}

// writeCompareTable prints the relays side by side, with the ratio of each
// later relay to the first (pullpush).
func writeCompareTable(w io.Writer, rs []runResult) {
	if len(rs) == 0 {
		return
	}
	base := rs[0]
	var names []string
	for _, r := range rs {
		names = append(names, r.Relay)
	}
	fmt.Fprintf(w, "### %s\n\n%s\n\n", strings.Join(names, " vs "), loadLine(base))
	for _, r := range rs {
		fmt.Fprintf(w, "- %s: %s\n", r.Relay, r.RelayVersion)
	}
	fmt.Fprintf(w, "\n| metric |")
	for _, r := range rs {
		fmt.Fprintf(w, " %s |", r.Relay)
	}
	for _, r := range rs[1:] {
		fmt.Fprintf(w, " %s / %s |", r.Relay, base.Relay)
	}
	fmt.Fprintf(w, "\n|---|%s%s\n", strings.Repeat("---:|", len(rs)), strings.Repeat("---:|", len(rs)-1))
	for _, m := range metrics {
		fmt.Fprintf(w, "| %s |", m.label)
		for _, r := range rs {
			fmt.Fprintf(w, " "+m.fmt+" |", m.val(r))
		}
		a := m.val(base)
		for _, r := range rs[1:] {
			b := m.val(r)
			ratio := ""
			switch {
			case m.ratio && strings.Contains(m.label, "higher is better") && b != 0:
				ratio = fmt.Sprintf("%s %.1fx", base.Relay, a/b)
			case m.ratio && a != 0:
				ratio = fmt.Sprintf("%.1fx", b/a)
			}
			fmt.Fprintf(w, " %s |", ratio)
		}
		fmt.Fprintln(w)
	}
	writeNotes(w, rs...)
}
