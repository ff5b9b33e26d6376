package origin

import (
	"math"
	"sort"
	"time"

	"github.com/pullpush/pullpush/internal/adcue"
	"github.com/pullpush/pullpush/origin/internal/media"
)

// Joined segments (an endpoint's segmentDuration).
//
// An endpoint with a segment duration D serves, for every audio and video
// rendition, a timeline of joined segments: N = round(D / target)
// consecutive ingest segments each (target: the channel's ingest target
// duration, see groupSize), so a joined segment is about D long. Where
// groups start depends only on the ingest segments: every N-th segment
// from the last break of the timeline (a discontinuity, also a jump of the
// source's timestamps, an input switch, an init section or codec
// configuration change; see setEpoch), so a group never spans a break and
// only the group before one may be shorter. A group is listed once it is
// complete: it has N members or the next group has started. Closed
// time-shift windows list the groups that overlap them, so their URLs keep
// listing the same segments.
//
// Joined segments are numbered consecutively (HLS media sequence numbers,
// DASH $Number$), the number carried from group to group as segments
// arrive; the first group a rendition has gets floor(seq/N) plus its
// discontinuity count (timestamp jumps included). The numbering therefore
// depends on history; snapshots carry it, so an instance on shared
// storage that starts from a snapshot numbers as the others. An endpoint
// added at run time (or a change of N) numbers from the segments retained
// then: instances that apply the change at different moments may number
// differently when a break lies between the oldest segments they retained.
//
// The joined timeline is kept per segment duration in the rendition
// (rendition.groups), extended on every append and trimmed with the
// ingest timeline; its entries are recs whose grp names the members, so the
// playlist, I-frame and DASH code serve it like any rendition.

// recGroup names the members of a joined segment: n ingest segments from
// sequence number first.
type recGroup struct {
	first int64
	n     int
}

// grouping is the joined timeline of one rendition for one segment
// duration.
type grouping struct {
	d       time.Duration
	n       int        // ingest segments per group
	rd      *rendition // joined segments, seq numbering them
	started bool       // a group start has been seen
	open    int        // members of the incomplete group at the end of the ingest timeline
	next    int64      // number of the next group
	hasNext bool
}

// groupSize is N for segment duration d: d over the channel's ingest
// target duration, the smallest target of its audio and video renditions
// (so that renditions whose playlists round their target up, as audio of
// 2.005 s segments with a target of 3, are joined alike). Until every
// rendition has arrived, the first groups of one may be joined by the
// renditions present. Caller holds c.mu.
func (c *chIndex) groupSize(d time.Duration) int {
	var target time.Duration
	for _, r := range c.rends {
		if r.target > 0 && !isSubtitles(r.ext) && (target == 0 || r.target < target) {
			target = r.target
		}
	}
	if target <= 0 {
		return 1
	}
	return max(1, int(math.Round(float64(d)/float64(target))))
}

// setEpoch sets the epoch of r's newest segment: its own sequence number
// at the rendition's first segment and after a break (a discontinuity,
// also of the timestamps, an input switch, an init section or codec
// configuration change), else its predecessor's.
func (r *rendition) setEpoch() {
	i := len(r.segs) - 1
	s := &r.segs[i]
	s.epoch = s.seq
	if i == 0 || s.disc || s.cdisc || s.sw {
		return
	}
	p := &r.segs[i-1]
	if p.init != s.init || p.ts.Hash(media.PickMain) != s.ts.Hash(media.PickMain) || p.ts.Hash(media.PickAudio) != s.ts.Hash(media.PickAudio) {
		return
	}
	s.epoch = p.epoch
}

// groupStart reports whether ingest segment i starts a group of n: every
// n-th segment from its epoch.
func groupStart(segs []rec, i, n int) bool {
	s := &segs[i]
	return (s.seq-s.epoch)%int64(n) == 0
}

// add extends g with ingest segment i of base, joined by n.
func (g *grouping) add(base *rendition, i, n int) {
	s := &base.segs[i]
	if groupStart(base.segs, i, n) {
		if g.open > 0 {
			g.emit(base, i-g.open, g.open, n, s.pub)
		}
		g.open, g.started = 0, true
	}
	if !g.started {
		return
	}
	g.open++
	if (s.seq+1-s.epoch)%int64(n) == 0 {
		g.emit(base, i-g.open+1, g.open, n, s.pub)
		g.open = 0
	}
}

// emit appends the group of base.segs[lo:lo+cnt], complete at pub.
func (g *grouping) emit(base *rendition, lo, cnt, n int, pub int64) {
	ms := base.segs[lo : lo+cnt]
	f := &ms[0]
	gr := rec{
		start: f.start, discN: f.discN, disc: f.disc, file: f.file, init: f.init,
		ts: f.ts, tsBase: f.tsBase, tsOff: f.tsOff, cdisc: f.cdisc, cdiscN: f.cdiscN,
		pub: pub, sw: f.sw, grp: &recGroup{first: f.seq, n: cnt},
	}
	var ex *recExtra
	for i := range ms {
		gr.dur += ms[i].dur
		if e := ms[i].extra; e != nil {
			if ex == nil {
				ex = &recExtra{}
			}
			ex.tags = append(ex.tags, e.tags...)
			ex.dateRanges = append(ex.dateRanges, e.dateRanges...)
		}
	}
	if l := &ms[len(ms)-1]; f.ts != nil && l.ts != nil {
		// The TS duration of the group: to the end of its last member
		// (the members continue one TS timeline, see groupStart).
		ti := *f.ts
		ti.Dur = l.tsBase + l.ts.Dur - f.tsBase
		gr.ts = &ti
	}
	if ex != nil {
		ex.cue, _ = adcue.Read(ex.tags, ex.dateRanges)
		gr.extra = ex
	}
	if !g.hasNext {
		g.next, g.hasNext = f.seq/int64(n)+f.cdiscN, true
	}
	gr.seq = g.next
	g.next++
	g.rd.segs = append(g.rd.segs, gr)
}

// grouping returns the joined timeline of r for segment duration d, built
// from the retained ingest segments (joined by n) when r has none yet or
// its groups have another size (the channel's target changed, as when
// its first renditions arrive one after the other).
func (r *rendition) grouping(d time.Duration, n int) *grouping {
	if g := r.groups[d]; g != nil && g.n == n {
		return g
	}
	r.builds++
	g := &grouping{d: d, n: n, rd: &rendition{key: r.key, rev: r.builds}}
	for i := range r.segs {
		g.add(r, i, n)
	}
	if r.groups == nil {
		r.groups = make(map[time.Duration]*grouping)
	}
	r.groups[d] = g
	return g
}

// trimGroups drops the joined segments whose first member was trimmed.
func (r *rendition) trimGroups() {
	for _, g := range r.groups {
		if len(r.segs) == 0 {
			clear(g.rd.segs)
			g.rd.segs, g.open, g.started = g.rd.segs[:0], 0, false
			continue
		}
		front := r.segs[0].seq
		k := sort.Search(len(g.rd.segs), func(i int) bool { return g.rd.segs[i].grp.first >= front })
		clear(g.rd.segs[:k])
		g.rd.segs = g.rd.segs[k:]
		if g.open > len(r.segs) {
			g.open, g.started = 0, false
		}
	}
}

// extendGroups adds the newest segment of r to its joined timelines, one
// per segment duration of the channel's endpoints (made from the retained
// segments when new, so that the index, and a snapshot of it, does not
// depend on which playlists were requested), and drops those no endpoint
// uses any more. Caller holds c.mu.
func (c *chIndex) extendGroups(r *rendition) {
	if isSubtitles(r.ext) {
		return
	}
	for d, g := range r.groups {
		used := false
		for _, sd := range c.segdurs {
			used = used || sd == d
		}
		if !used {
			delete(r.groups, d)
			continue
		}
		if n := c.groupSize(d); n == g.n {
			g.add(r, len(r.segs)-1, n)
		} else {
			r.grouping(d, n) // rebuilt, the newest segment included
		}
	}
	for _, sd := range c.segdurs {
		if sd > 0 && r.groups[sd] == nil {
			r.grouping(sd, c.groupSize(sd))
		}
	}
}

// groupDTO is the numbering of one joined timeline in a snapshot: the
// number of its newest joined segment, named by its first member.
type groupDTO struct {
	D     time.Duration `json:"d"`
	First int64         `json:"first"`
	Num   int64         `json:"num"`
}

// groupDTOs returns the numbering of r's joined timelines, by duration.
func (r *rendition) groupDTOs() []groupDTO {
	var out []groupDTO
	for d, g := range r.groups {
		if n := len(g.rd.segs); n > 0 {
			last := &g.rd.segs[n-1]
			out = append(out, groupDTO{D: d, First: last.grp.first, Num: last.seq})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].D < out[j].D })
	return out
}

// restoreGroups rebuilds r's joined timelines from its (restored) segments
// and numbers them as the snapshot says. Caller holds c.mu.
func (c *chIndex) restoreGroups(r *rendition, ds []groupDTO) {
	for _, d := range ds {
		if d.D <= 0 || d.D > MaxSegmentDuration || isSubtitles(r.ext) {
			continue
		}
		delete(r.groups, d.D)
		g := r.grouping(d.D, c.groupSize(d.D))
		segs := g.rd.segs
		k := sort.Search(len(segs), func(i int) bool { return segs[i].grp.first >= d.First })
		if k == len(segs) || segs[k].grp.first != d.First {
			continue
		}
		for i := range segs {
			segs[i].seq = d.Num - int64(k-i)
		}
		g.next, g.hasNext = segs[len(segs)-1].seq+1, true
	}
}
