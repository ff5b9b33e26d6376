package main

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"
)

// sampleTimes lists the sampling instants: every step from start through
// end, plus exactly mStart and mEnd.
func sampleTimes(start, mStart, mEnd time.Time, step time.Duration) []time.Time {
	var ts []time.Time
	for t := start; t.Before(mEnd); t = t.Add(step) {
		ts = append(ts, t)
	}
	ts = append(ts, mStart, mEnd)
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	out := ts[:0]
	for i, t := range ts {
		if i > 0 && t.Sub(out[len(out)-1]) < 50*time.Millisecond {
			if t.Equal(mStart) || t.Equal(mEnd) {
				out[len(out)-1] = t
			}
			continue
		}
		out = append(out, t)
	}
	return out
}

// expectedSegments lists every segment first listed in [from, to).
func expectedSegments(sch schedule, from, to time.Time) map[segKey]int64 {
	exp := make(map[segKey]int64)
	for c := 0; c < sch.Channels; c++ {
		k, ok := sch.latest(c, from)
		if !ok {
			k = 0
		} else if sch.listed(c, k).Before(from) {
			k++
		}
		for ; sch.listed(c, k).Before(to); k++ {
			l := sch.listed(c, k).UnixNano()
			for r := 0; r < sch.Renditions; r++ {
				exp[segKey{uint32(c), uint16(r), k}] = l
			}
		}
	}
	return exp
}

func countDelivered(exp map[segKey]int64, recs []segRecord) int {
	n := 0
	for _, r := range recs {
		if _, ok := exp[segKey{r.C, r.R, r.Seq}]; ok {
			n++
		}
	}
	return n
}

// computeResult fills the derived numbers of res.
func computeResult(res *runResult, cfg runConfig, sch schedule, all []procSample, atStart, atEnd procSample,
	mStart, mEnd time.Time, exp map[segKey]int64, recs []segRecord) {
	n := float64(cfg.Channels)
	if !res.Died && !atEnd.At.IsZero() && !atStart.At.IsZero() {
		res.CPUSeconds = (atEnd.CPU - atStart.CPU).Seconds()
		win := atEnd.At.Sub(atStart.At).Seconds()
		res.CPUPerChannelHour = res.CPUSeconds / (n * win / 3600)
		res.CoresUsed = res.CPUSeconds / win
		res.MachinePct = 100 * res.CoresUsed / float64(runtime.NumCPU())
	}
	// Memory: peak over the whole run, steady = median of the second half of the window.
	var peak int64
	var steady []procSample
	half := mStart.Add(mEnd.Sub(mStart) / 2)
	for _, s := range all {
		peak = max(peak, s.RSS)
		if !s.At.Before(half) && !s.At.After(mEnd) {
			steady = append(steady, s)
		}
	}
	res.PeakRSSMiB = float64(peak) / mib
	if len(steady) > 0 {
		res.SteadyRSSMiB = medianRSS(steady) / mib
	}
	res.PeakRSSPerChannelMiB = (res.PeakRSSMiB - res.IdleRSSMiB) / n
	res.SteadyRSSPerChannelMiB = (res.SteadyRSSMiB - res.IdleRSSMiB) / n

	// Delivery and latency.
	size := int64(sch.segSize())
	var lat []float64
	res.Expected = len(exp)
	for _, r := range recs {
		if _, ok := exp[segKey{r.C, r.R, r.Seq}]; ok {
			res.Delivered++
			lat = append(lat, float64(r.Done-r.Listed)/1e6)
		} else {
			res.Extra++
		}
		if d := time.Unix(0, r.Done); !d.Before(mStart) && d.Before(mEnd) {
			res.BytesRelayed += size
		}
	}
	res.Lost = res.Expected - res.Delivered
	if res.Expected > 0 {
		res.LossPct = 100 * float64(res.Lost) / float64(res.Expected)
	}
	res.Latency = summarise(lat)
	res.DupSegments, res.DupPaths = res.Sink.DuplicateSegment, res.Sink.DuplicatePath
	if res.CPUSeconds > 0 {
		res.BytesPerCPUs = float64(res.BytesRelayed) / res.CPUSeconds
	}
	// Breaking point.
	var why []string
	if res.Died {
		why = append(why, "process died")
	}
	if res.LossPct > 1 {
		why = append(why, fmt.Sprintf("loss %.1f%% > 1%%", res.LossPct))
	}
	if limit := cfg.BreakP99; limit > 0 && res.Latency.P99 > float64(limit.Milliseconds()) {
		why = append(why, fmt.Sprintf("p99 %.0f ms > %s", res.Latency.P99, limit))
	}
	if res.FetchersFailed > 0 {
		why = append(why, fmt.Sprintf("%d fetchers not created", res.FetchersFailed))
	}
	res.Broken, res.BrokenReason = len(why) > 0, strings.Join(why, "; ")
}

// summarise returns latency percentiles (nearest rank).
func summarise(ms []float64) latencyStats {
	if len(ms) == 0 {
		return latencyStats{}
	}
	sort.Float64s(ms)
	var sum float64
	for _, v := range ms {
		sum += v
	}
	q := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(ms)))) - 1
		return round3(ms[max(0, min(i, len(ms)-1))])
	}
	return latencyStats{N: len(ms), Mean: round3(sum / float64(len(ms))), P50: q(0.50), P90: q(0.90), P99: q(0.99), Max: round3(ms[len(ms)-1])}
}

// medianSample returns the sample with the median RSS (the zero sample for
// none).
func medianSample(s []procSample) procSample {
	if len(s) == 0 {
		return procSample{}
	}
	v := slices.Clone(s)
	sort.Slice(v, func(i, j int) bool { return v[i].RSS < v[j].RSS })
	return v[len(v)/2]
}

func medianRSS(s []procSample) float64 {
	v := make([]int64, len(s))
	for i := range s {
		v[i] = s[i].RSS
	}
	sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
	if len(v) == 0 {
		return 0
	}
	return float64(v[len(v)/2])
}

func coresBetween(a, b procSample) float64 {
	if a.At.IsZero() || b.At.IsZero() || !b.At.After(a.At) {
		return 0
	}
	return round3((b.CPU - a.CPU).Seconds() / b.At.Sub(a.At).Seconds())
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }
