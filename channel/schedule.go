package channel

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pullpush/pullpush/channel/internal/config"

	"github.com/pullpush/pullpush/channel/internal/asset"
	"github.com/pullpush/pullpush/hls"
)

// minSpan is the shortest segment the schedule keeps after cutting a
// rendition to the video timeline; shorter pieces are merged into a
// neighbour.
const minSpan = 100 * time.Millisecond

// errNotStarted is returned for instants before a channel's first segment
// is complete.
var errNotStarted = errors.New("channel has not started yet")

// trackRef names one rendition of a channel.
type trackRef struct {
	kind  hls.MediaType // VIDEO, AUDIO or SUBTITLES
	group int           // audio/subtitle group
	index int           // video rendition, or rendition in the group
	name  string        // playlist file name, e.g. "video_0.m3u8"
}

// clip is one entry of a channel's loop: an asset (or the slate that
// replaces it) cut to its offset, with one segment list per channel track.
type clip struct {
	asset  *asset.Asset
	failed error // non-nil: the configured asset failed and asset is the slate
	dur    time.Duration
	tracks []clipTrack
}

// clipTrack is the segments of one track in a clip, on the clip's (video)
// timeline.
type clipTrack struct {
	segs []cseg
	// tagsBefore[k] counts the EXT-X-DISCONTINUITY tags on segments 0..k-1
	// of the clip, the boundary tag on segment 0 included.
	tagsBefore []int64
	tags       int64 // all tags of the clip: the boundary plus internal ones
}

// cseg is a segment placed on the clip timeline.
type cseg struct {
	start, dur time.Duration
	disc       bool // internal discontinuity (never on segment 0)
	src        *asset.Seg
	asset      *asset.Asset // the asset of src when not the clip's (live items)
}

// layout is the cumulative index of one loop: where each entry starts and
// how many segments and discontinuity tags of each track come before it.
type layout struct {
	order      []int           // clip index of each entry
	start      []time.Duration // start of each entry in the loop; start[len] = loop duration
	seqBefore  [][]int64       // [track][entry] segments before the entry; [track][len] = per loop
	tagsBefore [][]int64       // [track][entry] discontinuity tags before the entry
}

// channel is a built channel: its ladder, its clips and precomputed index.
type channel struct {
	id      string
	session bool
	epoch   time.Time
	window  time.Duration
	order   config.Order
	seed    int64
	assetID []string // configured asset ids, in order
	ads     []string // ids of the ads that fill breaks naming none, in order

	template *asset.Asset // the asset whose ladder the channel has
	tracks   []trackRef
	clips    []*clip
	assets   map[string]*asset.Asset // assets whose resources the channel serves, slate included
	loop     time.Duration
	fixed    *layout // the layout of every loop when not shuffled

	targetDuration int
	version        int
	master         []byte

	tl atomic.Pointer[timeline] // what plays when: the loop and the schedule

	feedMu sync.Mutex
	feeds  map[string]*liveFeed // live items' feeds, by item id, start and URL

	created  int64        // sessions: creation order
	lastUsed atomic.Int64 // sessions: Unix nanoseconds of the last request
}

// channelSpec is what buildChannel needs to know about a channel.
type channelSpec struct {
	id      string
	session bool
	epoch   time.Time
	window  time.Duration
	order   config.Order
	seed    int64
	assets  []config.AssetConfig // ids filled in
}

// assetSource provides loaded assets and slates to buildChannel.
type assetSource interface {
	// asset returns a loaded asset, or the error that made it fail.
	asset(id string) (*asset.Asset, error)
	// slate returns the slate for a segment format.
	slate(format string) (*asset.Asset, error)
	// partial returns a failed asset whose playlists loaded (its segments
	// could not be read), or nil.
	partial(id string) *asset.Asset
}

// buildChannel builds a channel over loaded assets. A failed asset is
// replaced by the slate; a ladder mismatch is an error naming the asset.
func buildChannel(spec channelSpec, src assetSource) (*channel, error) {
	ch := &channel{
		id:      spec.id,
		session: spec.session,
		epoch:   spec.epoch,
		window:  spec.window,
		order:   spec.order,
		seed:    spec.seed,
		assets:  map[string]*asset.Asset{},
	}
	loaded := make([]*asset.Asset, len(spec.assets))
	errs := make([]error, len(spec.assets))
	for i, ac := range spec.assets {
		ch.assetID = append(ch.assetID, ac.ID)
		loaded[i], errs[i] = src.asset(ac.ID)
		if ch.template == nil && loaded[i] != nil {
			ch.template = loaded[i]
		}
	}
	var slate *asset.Asset
	getSlate := func(format string) (*asset.Asset, error) {
		if slate != nil {
			return slate, nil
		}
		s, err := src.slate(format)
		if err != nil {
			return nil, err
		}
		if err := matchLadder(ch.template, s, true); err != nil {
			return nil, fmt.Errorf("slate %s: %w", s.URI, err)
		}
		slate = s
		return s, nil
	}
	if ch.template == nil {
		s, err := src.slate(asset.FormatTS)
		if err != nil {
			return nil, err
		}
		ch.template = s
	}
	ch.tracks = trackRefs(ch.template)
	for i, ac := range spec.assets {
		a, failed := loaded[i], errs[i]
		if a != nil {
			if err := matchLadder(ch.template, a, false); err != nil {
				return nil, fmt.Errorf("asset %q: %w (ladder of asset %q)", ac.ID, err, ch.template.ID)
			}
		} else {
			s, err := getSlate(ch.template.Format)
			if err != nil {
				return nil, err
			}
			a = s
		}
		var c *clip
		var err error
		if failed == nil {
			c, err = ch.buildClip(a, ac.Offset, ac.Out)
		} else {
			// The slate plays for as long as the asset would have, when its
			// playlists could be read (its segments could not).
			var dur time.Duration
			if p := src.partial(ac.ID); p != nil {
				if from, to, err := trimSpan(p, ac.Offset, ac.Out); err == nil {
					dur = to - from
				}
			}
			c, err = ch.slateClip(a, dur)
		}
		if err != nil {
			return nil, fmt.Errorf("asset %q: %w", ac.ID, err)
		}
		c.failed = failed
		ch.clips = append(ch.clips, c)
		ch.assets[a.ID] = a
		ch.loop += c.dur
	}
	ch.version = 3
	for _, c := range ch.clips {
		ch.version = max(ch.version, c.asset.Version)
		for _, ct := range c.tracks {
			for _, s := range ct.segs {
				ch.targetDuration = max(ch.targetDuration, int(math.Round(s.dur.Seconds())))
			}
		}
	}
	ch.targetDuration = max(ch.targetDuration, 1)
	// A window of W holds at least W minus two segments; five target
	// durations keep the three that RFC 8216 asks a live playlist to hold.
	if min5 := 5 * time.Duration(ch.targetDuration) * time.Second; ch.window < min5 {
		return nil, fmt.Errorf("window %s is shorter than five target durations (%s)", ch.window, min5)
	}
	if ch.order != config.OrderShuffle || len(ch.clips) == 1 {
		ch.fixed = ch.makeLayout(identity(len(ch.clips)))
	}
	ch.master = ch.buildMaster()
	ch.tl.Store(ch.buildTimeline(nil, nil))
	return ch, nil
}

// trackRefs lists the tracks of a ladder.
func trackRefs(a *asset.Asset) []trackRef {
	var ts []trackRef
	for j := range a.Video {
		ts = append(ts, trackRef{kind: hls.MediaTypeVideo, index: j, name: "video_" + strconv.Itoa(j) + ".m3u8"})
	}
	n := 0
	for g, grp := range a.Audio {
		for r := range grp {
			ts = append(ts, trackRef{kind: hls.MediaTypeAudio, group: g, index: r, name: "audio_" + strconv.Itoa(n) + ".m3u8"})
			n++
		}
	}
	n = 0
	for g, grp := range a.Subs {
		for r := range grp {
			ts = append(ts, trackRef{kind: hls.MediaTypeSubtitles, group: g, index: r, name: "subs_" + strconv.Itoa(n) + ".m3u8"})
			n++
		}
	}
	return ts
}

// matchLadder checks that asset a can play in a channel with the ladder of
// tmpl: the same segment format and the kinds of groups (audio, subtitles)
// the channel has. Ladders may differ otherwise: video renditions are mapped
// by nearest bandwidth and group renditions by language or index (see
// assetTrack). An asset with a group kind the channel lacks is refused
// (unless it is a slate), since that group would be lost.
func matchLadder(tmpl, a *asset.Asset, slate bool) error {
	if a.Format != tmpl.Format {
		return fmt.Errorf("%s segments, the channel has %s", a.Format, tmpl.Format)
	}
	if err := matchGroups("audio", tmpl.Audio, a.Audio, slate); err != nil {
		return err
	}
	return matchGroups("subtitles", tmpl.Subs, a.Subs, slate)
}

func matchGroups(kind string, want, got [][]*asset.Track, slate bool) error {
	switch {
	case len(want) > 0 && len(got) == 0:
		return fmt.Errorf("no %s group, the channel has %s group %q", kind, kind, want[0][0].Rendition.GroupID)
	case !slate && len(want) == 0 && len(got) > 0:
		return fmt.Errorf("%s group %q, the channel has none", kind, got[0][0].Rendition.GroupID)
	}
	return nil
}

// assetTrack returns the rendition of a that plays as channel track t of a
// channel with the ladder of tmpl. Video renditions are mapped by nearest
// bandwidth (on a log scale, so 1 and 4 Mbit/s are equally far from 2),
// which is the identity for tmpl itself; audio and subtitle renditions by
// group and language, else by index, clamped to what a has (a slate, or an
// asset with a smaller ladder).
func assetTrack(tmpl, a *asset.Asset, t trackRef) *asset.Track {
	pick := func(want, groups [][]*asset.Track) *asset.Track {
		g := groups[min(t.group, len(groups)-1)]
		if t.group < len(want) && t.index < len(want[t.group]) && a != tmpl {
			if w := want[t.group][t.index].Rendition; w != nil && w.Language != "" {
				for _, r := range g {
					if r.Rendition != nil && r.Rendition.Language == w.Language && r.Rendition.Name == w.Name {
						return r
					}
				}
				for _, r := range g {
					if r.Rendition != nil && r.Rendition.Language == w.Language {
						return r
					}
				}
			}
		}
		return g[min(t.index, len(g)-1)]
	}
	switch t.kind {
	case hls.MediaTypeAudio:
		return pick(tmpl.Audio, a.Audio)
	case hls.MediaTypeSubtitles:
		return pick(tmpl.Subs, a.Subs)
	}
	if a == tmpl || t.index >= len(tmpl.Video) {
		return a.Video[min(t.index, len(a.Video)-1)]
	}
	return a.Video[nearestBandwidth(a.Video, tmpl.Video[t.index].Variant.Bandwidth)]
}

// nearestBandwidth returns the index of the rendition whose bandwidth is
// nearest to bw on a log scale; the lower one on a tie.
func nearestBandwidth(video []*asset.Track, bw int) int {
	best, bestD := 0, math.Inf(1)
	for i, v := range video {
		d := math.Abs(math.Log(float64(max(v.Variant.Bandwidth, 1)) / float64(max(bw, 1))))
		if d < bestD-1e-12 {
			best, bestD = i, d
		}
	}
	return best
}

// trimSpan returns the span of asset a that plays with trim points in and
// out (zero out: the end): from the start of the video segment that contains
// in to the end of the video segment that contains out (an out on a segment
// boundary stays there), so a trimmed asset is whole segments of its first
// video rendition.
func trimSpan(a *asset.Asset, in, out time.Duration) (from, to time.Duration, err error) {
	v := a.Video[0]
	if in >= v.Dur {
		return 0, 0, fmt.Errorf("in point %s is not before the end of the asset (%s)", in, v.Dur)
	}
	if out != 0 && out <= in {
		return 0, 0, fmt.Errorf("out point %s is not after the in point %s", out, in)
	}
	if out > v.Dur {
		return 0, 0, fmt.Errorf("out point %s is after the end of the asset (%s)", out, v.Dur)
	}
	k0 := sort.Search(len(v.Segs), func(i int) bool { return v.Segs[i].Start > in }) - 1
	from, to = v.Segs[k0].Start, v.Dur
	if out != 0 {
		k1 := sort.Search(len(v.Segs), func(i int) bool { return v.Segs[i].Start >= out })
		to = v.Segs[k1-1].Start + v.Segs[k1-1].Dur
	}
	return from, to, nil
}

// buildClip cuts asset a for the channel to its trim points (see trimSpan),
// every track cut to the same span.
func (ch *channel) buildClip(a *asset.Asset, in, out time.Duration) (*clip, error) {
	from, to, err := trimSpan(a, in, out)
	if err != nil {
		return nil, err
	}
	c := &clip{asset: a, dur: to - from}
	for _, t := range ch.tracks {
		at := assetTrack(ch.template, a, t)
		ct, err := cutTrack(at, from, to)
		if err != nil {
			return nil, fmt.Errorf("%s rendition %d: %w", t.kind, t.index, err)
		}
		c.tracks = append(c.tracks, ct)
	}
	return c, nil
}

// slateClip loops the slate for dur (one pass when dur is zero): every
// pass of the slate's first video rendition starts with EXT-X-DISCONTINUITY
// (the slate's timestamps start over), and the last pass is cut at dur.
func (ch *channel) slateClip(s *asset.Asset, dur time.Duration) (*clip, error) {
	period := s.Video[0].Dur
	if dur <= 0 {
		dur = period
	}
	c := &clip{asset: s, dur: dur}
	for _, t := range ch.tracks {
		base, err := cutTrack(assetTrack(ch.template, s, t), 0, period)
		if err != nil {
			return nil, fmt.Errorf("slate %s rendition %d: %w", t.kind, t.index, err)
		}
		ct := clipTrack{tags: 1}
	passes:
		for r := time.Duration(0); ; r++ {
			for k, bs := range base.segs {
				st := r*period + bs.start
				if st >= dur {
					break passes
				}
				cs := cseg{start: st, dur: min(bs.dur, dur-st), disc: bs.disc || (k == 0 && r > 0), src: bs.src}
				if cs.dur < minSpan && len(ct.segs) > 0 {
					ct.segs[len(ct.segs)-1].dur += cs.dur
					continue
				}
				ct.tagsBefore = append(ct.tagsBefore, ct.tags)
				if len(ct.segs) == 0 {
					ct.tagsBefore[0] = 0
				}
				if cs.disc {
					ct.tags++
				}
				ct.segs = append(ct.segs, cs)
			}
		}
		c.tracks = append(c.tracks, ct)
	}
	return c, nil
}

// cutTrack places the segments of t that overlap [from, to) on a timeline
// starting at 0 and ending exactly at to-from: the first and last segments
// are shortened or stretched to the span, pieces shorter than minSpan are
// merged into a neighbour.
func cutTrack(t *asset.Track, from, to time.Duration) (clipTrack, error) {
	type span struct {
		st, en time.Duration
		src    *asset.Seg
	}
	var spans []span
	for _, s := range t.Segs {
		if s.Start >= to {
			break
		}
		st, en := max(s.Start, from), min(s.Start+s.Dur, to)
		if en <= st {
			continue
		}
		spans = append(spans, span{st, en, s})
	}
	if len(spans) == 0 {
		return clipTrack{}, fmt.Errorf("no segments between %s and %s", from, to)
	}
	spans[0].st = from
	spans[len(spans)-1].en = to
	merged := spans[:1]
	for _, sp := range spans[1:] {
		if sp.en-sp.st < minSpan {
			merged[len(merged)-1].en = sp.en
			continue
		}
		if last := &merged[len(merged)-1]; len(merged) == 1 && last.en-last.st < minSpan {
			sp.st = last.st
			*last = sp
			continue
		}
		merged = append(merged, sp)
	}
	ct := clipTrack{tags: 1}
	for k, sp := range merged {
		cs := cseg{start: sp.st - from, dur: sp.en - sp.st, disc: sp.src.Disc && k > 0, src: sp.src}
		if k == 0 {
			ct.tagsBefore = append(ct.tagsBefore, 0)
		} else {
			ct.tagsBefore = append(ct.tagsBefore, ct.tags)
		}
		if cs.disc {
			ct.tags++
		}
		ct.segs = append(ct.segs, cs)
	}
	return ct, nil
}

func identity(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	return p
}

// permutation returns the deterministic play order of loop n of a shuffled
// channel: a Fisher-Yates shuffle driven by splitmix64 over (seed, n).
func permutation(k int, seed, n int64) []int {
	p := identity(k)
	x := uint64(seed) ^ uint64(n)*0x9e3779b97f4a7c15
	next := func() uint64 {
		x += 0x9e3779b97f4a7c15
		z := x
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		return z ^ (z >> 31)
	}
	for i := k - 1; i > 0; i-- {
		j := int(next() % uint64(i+1))
		p[i], p[j] = p[j], p[i]
	}
	return p
}

// makeLayout builds the cumulative index of a loop played in order.
func (ch *channel) makeLayout(order []int) *layout {
	n := len(order)
	l := &layout{order: order, start: make([]time.Duration, n+1)}
	l.seqBefore = make([][]int64, len(ch.tracks))
	l.tagsBefore = make([][]int64, len(ch.tracks))
	for t := range ch.tracks {
		l.seqBefore[t] = make([]int64, n+1)
		l.tagsBefore[t] = make([]int64, n+1)
	}
	for e, ci := range order {
		c := ch.clips[ci]
		l.start[e+1] = l.start[e] + c.dur
		for t, ct := range c.tracks {
			l.seqBefore[t][e+1] = l.seqBefore[t][e] + int64(len(ct.segs))
			l.tagsBefore[t][e+1] = l.tagsBefore[t][e] + ct.tags
		}
	}
	return l
}

// layoutFor returns the layout of loop n.
func (ch *channel) layoutFor(n int64) *layout {
	if ch.fixed != nil {
		return ch.fixed
	}
	return ch.makeLayout(permutation(len(ch.clips), ch.seed, n))
}

// track returns the index of the track with a playlist name, or -1.
func (ch *channel) track(name string) int {
	for i, t := range ch.tracks {
		if t.name == name {
			return i
		}
	}
	return -1
}
