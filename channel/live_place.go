package channel

import (
	"time"

	"github.com/pullpush/pullpush/channel/internal/asset"
)

// advance places the segments of every track of the feed on its span up to
// p (from the epoch) or the span's end: the source segment that follows
// the last one placed, or, when there is none, the slate. A track waits
// for a late source segment up to half a target duration while the source
// is not down; it never waits once the span has ended, so the segments of
// a past span are final. A segment another engine placed first (the
// placement log) is taken as it is.
func (f *liveFeed) advance(p, end time.Duration, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	limit := min(p, end) - f.start
	if limit <= 0 {
		return
	}
	over := p >= end
	for t := range f.tracks {
		lt := &f.tracks[t]
		down := f.downFor(f.trackSource(t), now)
		for lt.next < limit {
			if len(lt.segs) > 0 && end-f.start-lt.next < minSpan {
				break // a sliver the piece would not hold (piece.holds)
			}
			if f.adoptLogged(t, lt) {
				continue
			}
			le, ok := f.candidate(t, lt, limit, down, over)
			if !ok {
				break // wait for the source
			}
			if f.log != nil {
				got, err := f.log.create(t, len(lt.segs), le)
				if err != nil {
					f.e.logOnce("livelog/"+f.ch.id+"/"+err.Error(), "channel live placement log failed; this engine places on its own", logKeyChannel, f.ch.id, logKeyError, err)
				}
				le = got
			}
			f.apply(t, lt, le)
		}
	}
}

// candidate is what this engine would place next on track t: the next
// source segment, the slate, or nothing yet (false) while it waits.
func (f *liveFeed) candidate(t int, lt *liveTrack, limit time.Duration, down error, over bool) (liveEntry, bool) {
	r := f.trackSource(t)
	usable := r != nil
	if usable && down == nil {
		if s, ok := f.pick(lt, r, limit); ok {
			resumed := lt.slateK >= 0 || lt.nextSeq < 0 || s.seq != lt.nextSeq
			return liveEntry{Start: lt.next, Dur: s.seg.Dur, Disc: len(lt.segs) > 0 && (s.disc || resumed), Slate: -1,
				URL: s.url, Seq: s.seq, Init: s.init, InitRange: s.initRange, Tags: s.seg.Tags, Gap: s.seg.Gap}, true
		}
	}
	if !over && down == nil && (usable || !f.master) && limit-lt.next < f.td/2 {
		return liveEntry{}, false
	}
	base := f.slateTrack(t)
	k := max(lt.slateK, 0)
	bs := base.segs[k]
	// Every run of the slate, and every pass of it, starts with
	// EXT-X-DISCONTINUITY.
	disc := len(lt.segs) > 0 && (lt.slateK < 0 || k == 0 || bs.disc)
	return liveEntry{Start: lt.next, Dur: bs.dur, Disc: disc, Slate: k}, true
}

// adoptLogged takes segment len(lt.segs) of track t from the placement
// log, when an engine placed it.
func (f *liveFeed) adoptLogged(t int, lt *liveTrack) bool {
	if f.log == nil {
		return false
	}
	le, ok, err := f.log.load(t, len(lt.segs))
	if err != nil {
		f.e.logOnce("livelog/"+f.ch.id+"/"+err.Error(), "channel live placement log unreadable", logKeyChannel, f.ch.id, logKeyError, err)
	}
	if !ok {
		return false
	}
	f.apply(t, lt, le)
	return true
}

// apply appends a placed segment to track t.
func (f *liveFeed) apply(t int, lt *liveTrack, le liveEntry) {
	cs := cseg{start: lt.next, dur: le.Dur, disc: le.Disc && len(lt.segs) > 0}
	if le.Slate >= 0 {
		base := f.slateTrack(t)
		k := le.Slate % len(base.segs)
		cs.src, cs.asset = base.segs[k].src, f.slate
		lt.slateK = (k + 1) % len(base.segs)
	} else {
		cs.src = &asset.Seg{Dur: le.Dur, Res: -1, URL: f.addRes(asset.Loc{Name: le.URL}), Init: f.initFor(le.Init, le.InitRange), Tags: le.Tags, Gap: le.Gap}
		cs.asset = f.asset
		lt.nextSeq = le.Seq + 1
		lt.slateK = -1
	}
	if len(lt.segs) == 0 {
		lt.tagsList = append(lt.tagsList, 0)
		lt.tags = 1
	} else {
		lt.tagsList = append(lt.tagsList, lt.tags)
		if cs.disc {
			lt.tags++
		}
	}
	lt.segs = append(lt.segs, cs)
	lt.next += cs.dur
}

// pick returns the source segment that follows the last one placed on lt,
// or, after the slate or when that one left the source's window, one at
// the live edge: the second newest, so a poll can be late by a segment.
func (f *liveFeed) pick(lt *liveTrack, r *liveRendition, limit time.Duration) (srcSeg, bool) {
	n := len(r.segs)
	if n == 0 {
		return srcSeg{}, false
	}
	first, newest := r.segs[0].seq, r.segs[n-1].seq
	switch {
	case lt.nextSeq > newest:
		if lt.slateK < 0 || lt.nextSeq <= newest+3 {
			return srcSeg{}, false // not listed yet
		}
		// Far behind what was played, on the slate: the source restarted
		// its media sequence; rejoin its live edge.
	case lt.nextSeq >= first:
		if k := int(lt.nextSeq - first); lt.slateK < 0 || k >= n-2 {
			return r.segs[k], true
		}
	}
	// Starting, resuming after the slate, or the next segment left the
	// window: the live edge, once the span has caught up with it (a long
	// gap plays the slate first).
	if limit-lt.next > 2*f.td {
		return srcSeg{}, false
	}
	return r.segs[max(n-2, 0)], true
}

// slateTrack is one pass of the slate for channel track t.
func (f *liveFeed) slateTrack(t int) clipTrack {
	ct, err := cutTrack(assetTrack(f.ch.template, f.slate, f.ch.tracks[t]), 0, f.slate.Video[0].Dur)
	if err != nil || len(ct.segs) == 0 {
		// The slate was cut for every track when the channel was built.
		panic("channel: slate has no segments: " + err.Error())
	}
	return ct
}

// snapshot returns the segments placed so far as a clip of duration dur.
// The slices are append-only, so the copies stay valid.
func (f *liveFeed) snapshot(dur time.Duration) *clip {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := &clip{asset: f.asset, dur: dur, tracks: make([]clipTrack, len(f.tracks))}
	for t := range f.tracks {
		lt := &f.tracks[t]
		c.tracks[t] = clipTrack{segs: lt.segs[:len(lt.segs):len(lt.segs)], tagsBefore: lt.tagsList[:len(lt.tagsList):len(lt.tagsList)], tags: lt.tags}
	}
	return c
}

// resolve returns tl with its live pieces filled with the segments placed
// up to now, and the counters of the pieces after each live piece moved
// by the segments and discontinuities it holds. It starts the pollers of
// live items that start within liveLead.
func (ch *channel) resolve(tl *timeline, now time.Time) *timeline {
	if len(tl.live) == 0 {
		return tl
	}
	p := now.Sub(ch.epoch)
	out := &timeline{assets: tl.assets, live: tl.live, pieces: make([]*piece, len(tl.pieces))}
	copy(out.pieces, tl.pieces)
	nt := len(ch.tracks)
	segOff, tagOff := make([]int64, nt), make([]int64, nt)
	moved := false
	for i := tl.live[0]; i < len(tl.pieces); i++ {
		pc := *tl.pieces[i]
		if moved {
			pc.seqBase, pc.tagsBase = addOffsets(pc.seqBase, segOff), addOffsets(pc.tagsBase, tagOff)
		}
		if f := pc.live; f != nil {
			if p >= pc.start-liveLead && p < pc.end {
				f.ensurePolling()
			}
			if p > pc.start {
				f.advance(p, pc.end, now)
			}
			pc.clip = f.snapshot(pc.clip.dur)
			pc.open = p < pc.end
			for _, ct := range pc.clip.tracks {
				if n := len(ct.segs); n == 0 || pc.end-(pc.start+ct.segs[n-1].start+ct.segs[n-1].dur) >= minSpan {
					pc.open = true
				}
			}
			for t := range nt {
				segs, tags := ch.countIn(t, &pc)
				segOff[t] += segs
				tagOff[t] += tags
			}
			moved = true
		}
		out.pieces[i] = &pc
	}
	return out
}

func addOffsets(base, off []int64) []int64 {
	out := make([]int64, len(base))
	for t := range base {
		out[t] = base[t] + off[t]
	}
	return out
}
