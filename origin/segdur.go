package origin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/Eyevinn/mp4ff/mp4"

	"github.com/pullpush/pullpush/internal/adcue"
	"github.com/pullpush/pullpush/keys"
	"github.com/pullpush/pullpush/origin/internal/media"
)

// MaxSegmentDuration is the longest endpoint segmentDuration (MediaPackage's
// limit).
const MaxSegmentDuration = 30 * time.Second

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

// joinView makes v show the joined timeline of its endpoint's segment
// duration; nil when no group is complete yet. Subtitles are not joined.
// Caller holds c.mu.
func (c *channel) joinView(v *rview) *rview {
	if v.ep.segdur <= 0 || isSubtitles(v.rd.ext) {
		return v
	}
	base := v.rd
	n := c.groupSize(v.ep.segdur)
	g := base.grouping(v.ep.segdur, n)
	if len(g.rd.segs) == 0 {
		return nil
	}
	j := g.rd
	j.bytes, j.durNS, j.peak = base.bytes, base.durNS, base.peak
	// ext and target are read by I-frame playlists built outside c.mu:
	// written only when they change.
	if j.ext != base.ext {
		j.ext = base.ext
	}
	if t := time.Duration(n) * base.target; j.target != t {
		j.target = t
	}
	v.base, v.rd = base, j
	return v
}

// joinedComplete reports whether a closed window of the joined timeline r
// ending at e (unix ns) is final: the group holding e is listed.
func joinedComplete(r *rendition, visible int, hi int, e int64) bool {
	if len(r.segs) == 0 || r.segs[0].grp == nil {
		return true
	}
	return hi < visible || (visible > 0 && r.segs[visible-1].end() >= e)
}

// jobPart is one member of a joined segment.
type jobPart struct {
	path, initPath string
	track          *media.Track
	tsBase, tsOff  int64
	seq, dur       int64
}

// joinParts fills j.parts with the members of joined segment s. Caller
// holds c.mu.
func joinParts(v *rview, s *rec, j *job) string {
	i, ok := v.base.bySeq(s.grp.first)
	if !ok || i+s.grp.n > len(v.base.segs) {
		return "segment not found (outside the startover window?)"
	}
	for _, m := range v.base.segs[i : i+s.grp.n] {
		if m.file == nil {
			return "segment not found"
		}
		p := jobPart{path: m.file.path, tsBase: m.tsBase, tsOff: m.tsOff, seq: m.seq, dur: m.dur}
		if m.init != nil {
			p.initPath = m.init.path
		}
		if v.cmaf {
			if p.track = m.ts.Track(v.pick); p.track == nil {
				return "segment cannot be repackaged"
			}
		}
		j.parts = append(j.parts, p)
	}
	return ""
}

// buildJoined packages a joined segment: its members packaged one by one
// as the endpoint would package them alone (CMAF fragments and Common
// Encryption per member, with the group's key) and put together: TS
// concatenated with continuous continuity counters, CMAF as one styp and
// the members' moof/mdat pairs. Whole-segment AES-128 encrypts the result.
func (o *Origin) buildJoined(ctx context.Context, j *job, k keys.Key) (*product, error) {
	var out []byte
	var cmafSeg *mp4.MediaSegment
	cc := map[uint16]byte{}
	for _, p := range j.parts {
		data, err := o.readStored(ctx, p.path)
		if err != nil {
			return nil, err
		}
		jj := *j
		jj.parts, jj.seq, jj.track, jj.dur = nil, p.seq, p.track, p.dur
		switch {
		case j.cmaf:
			d, err := media.DemuxTS(data)
			if err != nil {
				return nil, err
			}
			seg, err := media.CMAFSegment(d, p.track, p.seq, p.tsBase, p.tsOff, p.dur*9/100000)
			if err != nil {
				return nil, err
			}
			if j.enc != nil && j.enc.method != MethodAES128 {
				if err := encryptCMAF(seg, &jj, k); err != nil {
					return nil, err
				}
			}
			if cmafSeg == nil {
				cmafSeg = seg
			} else {
				cmafSeg.Fragments = append(cmafSeg.Fragments, seg.Fragments...)
			}
			continue
		case j.enc != nil && j.enc.method == MethodSampleAES:
			if j.ext != ".ts" {
				return nil, errors.New("SAMPLE-AES needs TS segments")
			}
			d, err := media.DemuxTS(data)
			if err != nil {
				return nil, err
			}
			iv, _ := j.enc.segmentIV(k, j.seq, j.period, false)
			if data, err = media.SampleAESTS(d, k.Value, iv); err != nil {
				return nil, err
			}
		case j.enc != nil && (j.enc.method == MethodCBCS || j.enc.method == MethodCENC):
			if p.initPath == "" {
				return nil, errors.New("fMP4 segment without an init section")
			}
			initData, err := o.readStored(ctx, p.initPath)
			if err != nil {
				return nil, err
			}
			pr, err := encryptStoredFMP4(data, initData, &jj, k)
			if err != nil {
				return nil, err
			}
			data = pr.data
		}
		at := len(out)
		out = append(out, data...)
		if j.ext == ".ts" {
			continueCC(out[at:], cc)
		}
	}
	var kf *media.Keyframes
	var err error
	switch {
	case cmafSeg != nil:
		var buf bytes.Buffer
		if err := cmafSeg.Encode(&buf); err != nil {
			return nil, fmt.Errorf("encode segment: %w", err)
		}
		out = buf.Bytes()
		if j.track.Video {
			if kf, err = media.ScanFMP4(out, nil); err != nil {
				return nil, err
			}
		}
	case j.ext == ".ts":
		if kf, err = media.ScanTS(out); err != nil {
			return nil, err
		}
	default:
		kf, _ = media.ScanFMP4(out, nil)
	}
	if j.enc != nil && j.enc.method == MethodSampleAES {
		return &product{data: out, kf: kf}, nil
	}
	return o.finishAES(j, k, out, kf)
}

// continueCC rewrites the continuity counters of the TS packets in data so
// that every PID continues from the counter last[pid] (updated), as one
// multiplex would: joined segments of different origins (or a source
// that restarts its counters) then decode without continuity errors.
func continueCC(data []byte, last map[uint16]byte) {
	const pkt = 188
	for off := 0; off+pkt <= len(data); off += pkt {
		p := data[off : off+pkt]
		if p[0] != 0x47 {
			return
		}
		pid := uint16(p[1]&0x1f)<<8 | uint16(p[2])
		if pid == 0x1fff {
			continue
		}
		cc := p[3] & 0x0f
		if p[3]&0x10 != 0 { // has payload: the counter advances
			if prev, ok := last[pid]; ok {
				cc = (prev + 1) & 0x0f
			}
		} else if prev, ok := last[pid]; ok {
			cc = prev
		}
		p[3] = p[3]&0xf0 | cc
		last[pid] = cc
	}
}
