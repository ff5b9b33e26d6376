package origin

import (
	"math"
	"sort"
	"time"

	"github.com/pullpush/pullpush/internal/adcue"
	"github.com/pullpush/pullpush/origin/internal/dash"
)

// SCTE-35 in DASH: the ad breaks the ingest signals (see admarkers.go)
// become Events of a Period-level EventStream (SCTE 214-1,
// urn:scte:scte35:2014:xml+bin): one Event per break, in the Period where
// the break starts, at its start relative to the Period, with its planned
// duration (or, without one, the time to the next CUE-IN or CUE-OUT), and
// the break's splice_info_section in base64. A break already running at
// the first Period's start is listed there at presentationTime 0 with
// what remains of it. Event@id is the origin's sequence number of the
// break's first segment, so it stays the same on every MPD update.

// eventTimescale is the timescale of the SCTE-35 EventStream.
const eventTimescale = 90000

// dashBreak is an ad break on the timing rendition.
type dashBreak struct {
	start int64 // PROGRAM-DATE-TIME of its first segment (ns)
	dur   int64 // ns; 0 unknown
	id    uint32
	b64   string
}

// adBreaks lists the breaks of the timing rendition r that start in its
// segments from the first one at or after from up to the window's end,
// and the one still running at from. Caller holds c.mu.
func (r *dashRep) adBreaks(from int64) []dashBreak {
	segs := r.v.rd.Segs
	i := sort.Search(r.win.hi, func(i int) bool { return segs[i].Start >= from })
	limit := from - int64(maxBreakLookback)
	for j := i - 1; j >= 0 && segs[j].Start >= limit; j-- {
		if c := segs[j].Cue(); c != nil {
			if c.Out {
				i = j
			}
			break
		}
	}
	var out []dashBreak
	open := -1
	for ; i < r.win.hi; i++ {
		s := &segs[i]
		c := s.Cue()
		if c == nil {
			continue
		}
		if open >= 0 && out[open].dur == 0 {
			out[open].dur = s.Start - out[open].start
		}
		open = -1
		if c.Out {
			b := adcue.NewBreak(c, time.Unix(0, s.Start).UTC(), s.Seq)
			out = append(out, dashBreak{start: s.Start, dur: int64(b.Duration), id: uint32(s.Seq), b64: b.Base64()})
			open = len(out) - 1
		}
	}
	// A break found by looking back that ended before from is not listed.
	if len(out) > 0 && out[0].start < from && out[0].dur > 0 && out[0].start+out[0].dur <= from {
		out = out[1:]
	}
	return out
}

// eventStream is the EventStream of the Period that starts at start (ns)
// and ends at end (math.MaxInt64: open): the breaks that start in it, and
// for the first Period the one running at its start. nil when none.
func eventStream(breaks []dashBreak, start, end int64, first bool) []*dash.EventStream {
	ticks := func(ns int64) uint64 { return uint64((ns*eventTimescale + 5e8) / 1e9) }
	var evs []*dash.Event
	for _, b := range breaks {
		at, dur := b.start, b.dur
		if at < start {
			if !first {
				continue
			}
			if dur > 0 {
				dur -= start - at
			}
			at = start
		}
		if at >= end {
			continue
		}
		ev := &dash.Event{PresentationTime: ticks(at - start), ID: b.id, Signal: dash.SCTE35Signal{Binary: b.b64}}
		if dur > 0 {
			ev.Duration = ticks(dur)
		}
		evs = append(evs, ev)
	}
	if len(evs) == 0 {
		return nil
	}
	return []*dash.EventStream{{SchemeIDURI: dash.SchemeSCTE35XMLBin, Timescale: eventTimescale, Events: evs}}
}

// periodEnd is the start of the Period after pi, or math.MaxInt64.
func periodEnd(periods []dashPeriod, pi int) int64 {
	if pi+1 < len(periods) {
		return periods[pi+1].start
	}
	return math.MaxInt64
}
