package index

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

// RecGroup names the members of a joined segment: n ingest segments from
// sequence number first.
type RecGroup struct {
	First int64
	N     int
}

// Grouping is the joined timeline of one rendition for one segment
// duration.
type Grouping struct {
	d       time.Duration
	n       int        // ingest segments per group
	Joined  *Rendition // joined segments, seq numbering them
	started bool       // a group start has been seen
	open    int        // members of the incomplete group at the end of the ingest timeline
	next    int64      // number of the next group
	hasNext bool
}

// GroupSize is N for segment duration d: d over the channel's ingest
// target duration, the smallest target of its audio and video renditions
// (so that renditions whose playlists round their target up, as audio of
// 2.005 s segments with a target of 3, are joined alike). Until every
// rendition has arrived, the first groups of one may be joined by the
// renditions present. Caller holds the channel lock.
func (c *Index) GroupSize(d time.Duration) int {
	var target time.Duration
	for _, r := range c.Rends {
		if r.Target > 0 && !IsSubtitles(r.Ext) && (target == 0 || r.Target < target) {
			target = r.Target
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
func (r *Rendition) setEpoch() {
	i := len(r.Segs) - 1
	s := &r.Segs[i]
	s.epoch = s.Seq
	if i == 0 || s.Disc || s.CDisc || s.sw {
		return
	}
	p := &r.Segs[i-1]
	if p.Init != s.Init || p.TS.Hash(media.PickMain) != s.TS.Hash(media.PickMain) || p.TS.Hash(media.PickAudio) != s.TS.Hash(media.PickAudio) {
		return
	}
	s.epoch = p.epoch
}

// groupStart reports whether ingest segment i starts a group of n: every
// n-th segment from its epoch.
func groupStart(segs []Rec, i, n int) bool {
	s := &segs[i]
	return (s.Seq-s.epoch)%int64(n) == 0
}

// add extends g with ingest segment i of base, joined by n.
func (g *Grouping) add(base *Rendition, i, n int) {
	s := &base.Segs[i]
	if groupStart(base.Segs, i, n) {
		if g.open > 0 {
			g.emit(base, i-g.open, g.open, n, s.Pub)
		}
		g.open, g.started = 0, true
	}
	if !g.started {
		return
	}
	g.open++
	if (s.Seq+1-s.epoch)%int64(n) == 0 {
		g.emit(base, i-g.open+1, g.open, n, s.Pub)
		g.open = 0
	}
}

// emit appends the group of base.segs[lo:lo+cnt], complete at pub.
func (g *Grouping) emit(base *Rendition, lo, cnt, n int, pub int64) {
	ms := base.Segs[lo : lo+cnt]
	f := &ms[0]
	gr := Rec{
		Start: f.Start, DiscN: f.DiscN, Disc: f.Disc, File: f.File, Init: f.Init,
		TS: f.TS, TSBase: f.TSBase, TSOff: f.TSOff, CDisc: f.CDisc, CDiscN: f.CDiscN,
		Pub: pub, sw: f.sw, Grp: &RecGroup{First: f.Seq, N: cnt},
	}
	var ex *RecExtra
	for i := range ms {
		gr.Dur += ms[i].Dur
		if e := ms[i].Extra; e != nil {
			if ex == nil {
				ex = &RecExtra{}
			}
			ex.Tags = append(ex.Tags, e.Tags...)
			ex.DateRanges = append(ex.DateRanges, e.DateRanges...)
		}
	}
	if l := &ms[len(ms)-1]; f.TS != nil && l.TS != nil {
		// The TS duration of the group: to the end of its last member
		// (the members continue one TS timeline, see groupStart).
		ti := *f.TS
		ti.Dur = l.TSBase + l.TS.Dur - f.TSBase
		gr.TS = &ti
	}
	if ex != nil {
		ex.Cue, _ = adcue.Read(ex.Tags, ex.DateRanges)
		gr.Extra = ex
	}
	if !g.hasNext {
		g.next, g.hasNext = f.Seq/int64(n)+f.CDiscN, true
	}
	gr.Seq = g.next
	g.next++
	g.Joined.Segs = append(g.Joined.Segs, gr)
}

// Grouping returns the joined timeline of r for segment duration d, built
// from the retained ingest segments (joined by n) when r has none yet or
// its groups have another size (the channel's target changed, as when
// its first renditions arrive one after the other).
func (r *Rendition) Grouping(d time.Duration, n int) *Grouping {
	if g := r.Groups[d]; g != nil && g.n == n {
		return g
	}
	r.builds++
	g := &Grouping{d: d, n: n, Joined: &Rendition{Key: r.Key, Rev: r.builds}}
	for i := range r.Segs {
		g.add(r, i, n)
	}
	if r.Groups == nil {
		r.Groups = make(map[time.Duration]*Grouping)
	}
	r.Groups[d] = g
	return g
}

// trimGroups drops the joined segments whose first member was trimmed.
func (r *Rendition) trimGroups() {
	for _, g := range r.Groups {
		if len(r.Segs) == 0 {
			clear(g.Joined.Segs)
			g.Joined.Segs, g.open, g.started = g.Joined.Segs[:0], 0, false
			continue
		}
		front := r.Segs[0].Seq
		k := sort.Search(len(g.Joined.Segs), func(i int) bool { return g.Joined.Segs[i].Grp.First >= front })
		clear(g.Joined.Segs[:k])
		g.Joined.Segs = g.Joined.Segs[k:]
		if g.open > len(r.Segs) {
			g.open, g.started = 0, false
		}
	}
}

// extendGroups adds the newest segment of r to its joined timelines, one
// per segment duration of the channel's endpoints (made from the retained
// segments when new, so that the index, and a snapshot of it, does not
// depend on which playlists were requested), and drops those no endpoint
// uses any more. Caller holds the channel lock.
func (c *Index) extendGroups(r *Rendition) {
	if IsSubtitles(r.Ext) {
		return
	}
	for d, g := range r.Groups {
		used := false
		for _, sd := range c.SegDurs {
			used = used || sd == d
		}
		if !used {
			delete(r.Groups, d)
			continue
		}
		if n := c.GroupSize(d); n == g.n {
			g.add(r, len(r.Segs)-1, n)
		} else {
			r.Grouping(d, n) // rebuilt, the newest segment included
		}
	}
	for _, sd := range c.SegDurs {
		if sd > 0 && r.Groups[sd] == nil {
			r.Grouping(sd, c.GroupSize(sd))
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
func (r *Rendition) groupDTOs() []groupDTO {
	var out []groupDTO
	for d, g := range r.Groups {
		if n := len(g.Joined.Segs); n > 0 {
			last := &g.Joined.Segs[n-1]
			out = append(out, groupDTO{D: d, First: last.Grp.First, Num: last.Seq})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].D < out[j].D })
	return out
}

// restoreGroups rebuilds r's joined timelines from its (restored) segments
// and numbers them as the snapshot says. Caller holds the channel lock.
func (c *Index) restoreGroups(r *Rendition, ds []groupDTO) {
	for _, d := range ds {
		if d.D <= 0 || d.D > MaxSegmentDuration || IsSubtitles(r.Ext) {
			continue
		}
		delete(r.Groups, d.D)
		g := r.Grouping(d.D, c.GroupSize(d.D))
		segs := g.Joined.Segs
		k := sort.Search(len(segs), func(i int) bool { return segs[i].Grp.First >= d.First })
		if k == len(segs) || segs[k].Grp.First != d.First {
			continue
		}
		for i := range segs {
			segs[i].Seq = d.Num - int64(k-i)
		}
		g.next, g.hasNext = segs[len(segs)-1].Seq+1, true
	}
}
