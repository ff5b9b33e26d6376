package main

import (
	"cmp"
	"fmt"
	"io"
	"time"
)

// writeOriginTable prints the origin load results.
func writeOriginTable(w io.Writer, r originResult) {
	c := r.Config
	fmt.Fprintf(w, "### origin load (%s)\n\n", r.Version)
	fmt.Fprintf(w, "%d keep-alive clients, %s per scenario; startover window %s pre-filled (%d segments x %d renditions of %s, %d bytes each, in %.0f s); time-shift span %s, %s; %s, %d CPUs (%s); origin RSS %.0f MiB idle, %.0f MiB filled\n\n",
		c.Clients, c.Duration, c.Window, r.Segments, c.Renditions, c.Segment, cmp.Or(r.SegmentBody, c.SegmentBytes), r.PrefillSecs, c.ShiftSpan, shiftWindowsNote(c.ShiftWindows),
		r.Date.Format(time.RFC3339), r.Machine.CPUs, r.Machine.CPU, r.IdleRSSMiB, r.FilledRSSMiB)
	if c.Media == mediaH264 {
		fmt.Fprintf(w, "Segments are %s media (%d bytes); the origin has endpoints ts and %s (live MPD %d bytes).\n\n", c.Media, r.SegmentBody, dashEndpoint, r.MPDBytes)
	}
	fmt.Fprintf(w, "| scenario | GETs/s | p50 ms | p99 ms | max ms | avg bytes | MB/s | errors | origin cores | client cores | other cores |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, s := range r.Scenarios {
		fmt.Fprintf(w, "| %s | %.0f | %.2f | %.2f | %.1f | %.0f | %.1f | %d | %.2f | %.2f | %.2f |\n",
			s.Name, s.PerSecond, s.Latency.P50, s.Latency.P99, s.Latency.Max, s.AvgBytes, s.MBPerSecond, s.Errors, s.OriginCores, s.ClientCores, s.OtherCores)
	}
	fmt.Fprintln(w)
	for _, s := range r.Scenarios {
		if s.FirstError != "" {
			fmt.Fprintf(w, "- %s first error: %s\n", s.Name, s.FirstError)
		}
	}
	if r.Peer != "" {
		writePeerTable(w, r)
	}
}

// cpuPer1k is CPU milliseconds per 1,000 GETs.
func cpuPer1k(s originScenario) float64 {
	if s.PerSecond == 0 {
		return 0
	}
	return s.OriginCores / s.PerSecond * 1e6
}

func ratio(a, b float64) string {
	if b == 0 {
		return ""
	}
	return fmt.Sprintf("%.2fx", a/b)
}

// writePeerTable prints the origin and its peer side by side, scenario by
// scenario (peer / pullpush ratios).
func writePeerTable(w io.Writer, r originResult) {
	fmt.Fprintf(w, "\n### pullpush origin vs %s (%s)\n\n", r.Peer, r.PeerVersion)
	if len(r.PeerScenarios) == 0 {
		fmt.Fprintf(w, "%s did not run: %s\n", r.Peer, r.PeerNote)
		return
	}
	fmt.Fprintf(w, "%s: %s. Each scenario ran on pullpush, then on %s, with the same clients.\n\n", r.Peer, r.PeerNote, r.Peer)
	p := r.Peer
	fmt.Fprintf(w, "| scenario | pullpush GETs/s | %s GETs/s | %s / pullpush | pullpush p50 / p99 ms | %s p50 / p99 ms | pullpush cores | %s cores | pullpush CPU ms per 1k GETs | %s CPU ms per 1k GETs | %s / pullpush CPU per GET | pullpush RSS MiB | %s RSS MiB | errors | client cores |\n",
		p, p, p, p, p, p, p)
	fmt.Fprintf(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for i, a := range r.Scenarios {
		if i >= len(r.PeerScenarios) {
			break
		}
		b := r.PeerScenarios[i]
		fmt.Fprintf(w, "| %s | %.0f | %.0f | %s | %.2f / %.2f | %.2f / %.2f | %.2f | %.2f | %.1f | %.1f | %s | %.0f | %.0f | %d / %d | %.2f / %.2f |\n",
			a.Name, a.PerSecond, b.PerSecond, ratio(b.PerSecond, a.PerSecond), a.Latency.P50, a.Latency.P99, b.Latency.P50, b.Latency.P99,
			a.OriginCores, b.OriginCores, cpuPer1k(a), cpuPer1k(b), ratio(cpuPer1k(b), cpuPer1k(a)), a.RSSMiB, b.RSSMiB, a.Errors, b.Errors, a.ClientCores, b.ClientCores)
	}
	fmt.Fprintln(w)
	for _, s := range r.PeerScenarios {
		if s.FirstError != "" {
			fmt.Fprintf(w, "- %s %s first error: %s\n", r.Peer, s.Name, s.FirstError)
		}
	}
}

// shiftWindowsNote describes the time-shifted windows asked for.
func shiftWindowsNote(n int) string {
	if n > 0 {
		return fmt.Sprintf("%d fixed windows per rendition", n)
	}
	return "a random window per request"
}
