package origin

import (
	"time"

	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/adcue"
)

// maxBreakLookback bounds how far before a playlist's first segment the
// start of a break still running is looked for.
const maxBreakLookback = 6 * time.Hour

// markAds rewrites the ad markers of the segments of m, which lists
// rd.segs[win.lo:win.hi] one to one, in the endpoint's ad-marker mode.
// Breaks are followed from before the window, so elapsed times are right
// on every playlist in a break. Caller holds c.mu (or owns the segments).
func (v *rview) markAds(m *hls.Media, win window) {
	mode := v.ep.ads
	if mode == "" || mode == adcue.ModePassthrough {
		return
	}
	segs := v.rd.Segs
	from := win.lo
	if mode != adcue.ModeNone && win.lo < len(segs) {
		limit := segs[win.lo].Start - int64(maxBreakLookback)
		for j := win.lo - 1; j >= 0 && segs[j].Start >= limit; j-- {
			if c := segs[j].Cue(); c != nil {
				if c.Out {
					from = j
				}
				break
			}
		}
	}
	var cur *adcue.Break
	for i := from; i < win.hi; i++ {
		s := &segs[i]
		start := time.Unix(0, s.Start).UTC()
		c := s.Cue()
		var mark *adcue.Mark
		if cur != nil {
			tol := time.Duration(s.Dur / 2)
			if (c != nil && c.In) || (cur.Duration > 0 && start.Add(tol).After(cur.Start.Add(cur.Duration))) {
				mark = &adcue.Mark{Break: *cur, Elapsed: start.Sub(cur.Start), End: true}
				cur = nil
			}
		}
		if c != nil && c.Out {
			b := adcue.NewBreak(c, start, s.Seq)
			cur = &b
			mark = &adcue.Mark{Break: b, First: true}
		} else if cur != nil {
			mark = &adcue.Mark{Break: *cur, Elapsed: start.Sub(cur.Start)}
		}
		if i >= win.lo {
			adcue.Write(mode, m.Segments[i-win.lo], mark)
		}
	}
}
