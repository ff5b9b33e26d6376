package channel

import (
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/pullpush/pullpush/channel/internal/asset"
	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/adcue"
)

// forever is the end of the last piece of a timeline.
const forever = time.Duration(math.MaxInt64)

// timeline is what a channel plays from its epoch on: the loop, interrupted
// by schedule items. It is a list of pieces; the first is the loop from its
// start, each later one starts with EXT-X-DISCONTINUITY. A channel without a
// schedule has one piece, so its playlists are those of the plain loop.
type timeline struct {
	pieces []*piece
	assets map[string]*asset.Asset // assets of the schedule items, by id
	live   []int                   // indexes of the live pieces
}

// span is a schedule item on the timeline. An asset item is one piece; a
// break is one piece per ad, then the slate when the ads do not fill it.
type span struct {
	item       *ScheduleItem
	start, end time.Duration // from the epoch; end: where it ends as built (cut by the next item)
	planned    time.Duration // the asset's trimmed duration, or the break's
	brk        *adcue.Break  // breaks: what the ad markers signal
}

// piece is a span [start, end) of a timeline, from the channel's epoch. A
// loop piece plays the endless loop from loopPos, an entry boundary of it;
// an item piece plays the clip of a schedule item (or one part of a break).
// The segment that straddles end is cut there (its EXTINF ends at end),
// unless less than minSpan of it would be left: see holds.
type piece struct {
	start, end time.Duration
	loopPos    time.Duration // loop pieces
	item       *ScheduleItem // item pieces
	clip       *clip         // item pieces
	span       *span         // item pieces
	asset      string        // item pieces: the id of the asset that plays, "" for the slate filling a break
	// live is the feed of a live item piece; its clip holds the segments
	// placed so far (an empty clip in a timeline as built, see resolve).
	live *liveFeed
	// open is true for a live piece of a resolved timeline whose segments
	// do not reach its end yet.
	open bool
	part int // item pieces: index of the piece in its break
	// after is the break that ends where the piece starts (its first
	// segment carries the break's end markers), nil for none.
	after *span
	// seqBase and tagsBase are, per track, the segments and discontinuity
	// tags (counted as if the channel's first segment had one) before the
	// piece.
	seqBase, tagsBase []int64
	// loopSeq and loopTags are, per track, the segments and tags of the
	// endless loop before loopPos (loop pieces).
	loopSeq, loopTags []int64
}

// loopIndex addresses a segment of the endless loop: loop n, entry e,
// segment k of the entry's clip.
type loopIndex struct {
	n   int64
	lay *layout
	e   int
	k   int
}

// seekLoop returns the first segment of track t of the endless loop that
// starts at or after loop position x, normalised so k is a valid segment.
func (ch *channel) seekLoop(t int, x time.Duration) loopIndex {
	n := int64(x / ch.loop)
	q := x - time.Duration(n)*ch.loop
	lay := ch.layoutFor(n)
	entries := len(ch.clips)
	e := sort.Search(entries, func(i int) bool { return lay.start[i+1] > q })
	ct := &ch.clips[lay.order[e]].tracks[t]
	rel := q - lay.start[e]
	k := sort.Search(len(ct.segs), func(i int) bool { return ct.segs[i].start >= rel })
	li := loopIndex{n: n, lay: lay, e: e, k: k}
	ch.normalize(t, &li)
	return li
}

// normalize moves li past the end of its clip to the next entry.
func (ch *channel) normalize(t int, li *loopIndex) {
	for li.k >= len(ch.clips[li.lay.order[li.e]].tracks[t].segs) {
		li.k = 0
		if li.e++; li.e == len(ch.clips) {
			li.e = 0
			li.n++
			li.lay = ch.layoutFor(li.n)
		}
	}
}

// seq is the number of segments of track t before li in the endless loop.
func (ch *channel) seq(t int, li loopIndex) int64 {
	return li.n*li.lay.seqBefore[t][len(ch.clips)] + li.lay.seqBefore[t][li.e] + int64(li.k)
}

// tags is the number of discontinuity tags of track t before li.
func (ch *channel) tags(t int, li loopIndex) int64 {
	ct := &ch.clips[li.lay.order[li.e]].tracks[t]
	return li.n*li.lay.tagsBefore[t][len(ch.clips)] + li.lay.tagsBefore[t][li.e] + ct.tagsBefore[li.k]
}

// start is the loop position of li's segment.
func (ch *channel) startOf(t int, li loopIndex) time.Duration {
	c := ch.clips[li.lay.order[li.e]]
	return time.Duration(li.n)*ch.loop + li.lay.start[li.e] + c.tracks[t].segs[li.k].start
}

// nextBoundary returns the first entry boundary of the loop at or after
// loop position x.
func (ch *channel) nextBoundary(x time.Duration) time.Duration {
	n := int64(x / ch.loop)
	q := x - time.Duration(n)*ch.loop
	lay := ch.layoutFor(n)
	e := sort.Search(len(ch.clips), func(i int) bool { return lay.start[i+1] > q })
	if lay.start[e] == q {
		return x
	}
	return time.Duration(n)*ch.loop + lay.start[e+1]
}

// timedClip is a schedule item (or a part of a break) placed on the
// timeline.
type timedClip struct {
	start time.Duration // from the epoch
	clip  *clip
	span  *span
	asset string        // id of the asset that plays
	limit time.Duration // the clip ends here at the latest (a break's end)
	part  int           // index in its break
	live  *liveFeed     // live items
}

// buildTimeline builds the timeline of the loop interrupted by items,
// sorted by start, all after the epoch. An item plays from its start until
// it ends or the next item starts; the loop resumes after it at the first
// entry boundary at or after where it was interrupted.
func (ch *channel) buildTimeline(items []timedClip, assets map[string]*asset.Asset) *timeline {
	tl := ch.buildPieces(items, assets)
	for _, pc := range tl.pieces {
		if pc.span != nil {
			pc.span.end = pc.end
		}
	}
	return tl
}

// breakBefore is the break that piece prev belongs to when it ends one
// (next is not part of it), else nil.
func breakBefore(prev, next *piece) *span {
	if prev.span != nil && prev.span.brk != nil && prev.span != next.span {
		return prev.span
	}
	return nil
}

func (ch *channel) buildPieces(items []timedClip, assets map[string]*asset.Asset) *timeline {
	tl := &timeline{assets: assets}
	nt := len(ch.tracks)
	first := &piece{start: 0, end: forever, seqBase: make([]int64, nt), tagsBase: make([]int64, nt),
		loopSeq: make([]int64, nt), loopTags: make([]int64, nt)}
	tl.pieces = append(tl.pieces, first)
	loopPos := time.Duration(0) // loop position where the loop resumes next
	for i, it := range items {
		last := tl.pieces[len(tl.pieces)-1]
		if it.start < last.end {
			last.end = it.start
		}
		if last.clip == nil {
			loopPos = last.loopPos + (last.end - last.start)
		}
		p := &piece{start: it.start, end: min(it.start+it.clip.dur, it.limit), item: it.span.item, clip: it.clip,
			span: it.span, asset: it.asset, part: it.part, live: it.live}
		if i+1 < len(items) && items[i+1].start < p.end {
			p.end = items[i+1].start
		}
		p.after = breakBefore(last, p)
		ch.chain(last, p)
		if p.live != nil {
			tl.live = append(tl.live, len(tl.pieces))
		}
		tl.pieces = append(tl.pieces, p)
		if i+1 < len(items) && items[i+1].start == p.end {
			continue
		}
		resume := &piece{start: p.end, end: forever, loopPos: ch.nextBoundary(loopPos)}
		resume.after = breakBefore(p, resume)
		ch.chain(p, resume)
		tl.pieces = append(tl.pieces, resume)
	}
	return tl
}

// chain sets the counters of next from those of prev, which ends where next
// starts.
func (ch *channel) chain(prev, next *piece) {
	nt := len(ch.tracks)
	next.seqBase, next.tagsBase = make([]int64, nt), make([]int64, nt)
	if next.clip == nil {
		next.loopSeq, next.loopTags = make([]int64, nt), make([]int64, nt)
	}
	for t := range nt {
		segs, tags := ch.countIn(t, prev)
		next.seqBase[t] = prev.seqBase[t] + segs
		next.tagsBase[t] = prev.tagsBase[t] + tags
		if next.clip == nil {
			li := ch.seekLoop(t, next.loopPos)
			next.loopSeq[t], next.loopTags[t] = ch.seq(t, li), ch.tags(t, li)
		}
	}
}

// holds reports whether a segment that starts at st (from the epoch)
// plays in piece p: it starts before the piece ends, and, unless it is
// the piece's first, not in its last minSpan. Audio segments do not end
// where video segments do, so the piece that follows an asset, a live
// item or a break cuts some track's last segment anywhere: a sliver
// shorter than minSpan is left out (the track is silent for it) instead
// of being listed with an EXTINF of a few milliseconds, and, above all,
// so that one rendition does not list one more segment, or one more
// discontinuity, than the others there (players match renditions by
// discontinuity sequence number).
func (p *piece) holds(st time.Duration) bool {
	return st < p.end && (p.end-st >= minSpan || st <= p.start)
}

// countIn counts the segments and discontinuity tags of track t in a
// bounded piece (those it holds).
func (ch *channel) countIn(t int, p *piece) (segs, tags int64) {
	length := p.end - p.start
	if p.clip != nil {
		ct := &p.clip.tracks[t]
		k := sort.Search(len(ct.segs), func(i int) bool { return !p.holds(p.start + ct.segs[i].start) })
		return int64(k), tagsBefore(ct, k)
	}
	b := ch.seekLoop(t, p.loopPos+max(length-minSpan, 0)+1)
	return ch.seq(t, b) - p.loopSeq[t], ch.tags(t, b) - p.loopTags[t]
}

// tagsBefore counts the discontinuity tags on segments 0..k-1 of a clip
// track.
func tagsBefore(ct *clipTrack, k int) int64 {
	if k >= len(ct.segs) {
		return ct.tags
	}
	return ct.tagsBefore[k]
}

// spans lists the schedule items of the timeline, in order.
func (tl *timeline) spans() []*span {
	var out []*span
	for _, pc := range tl.pieces {
		if pc.span != nil && (len(out) == 0 || out[len(out)-1] != pc.span) {
			out = append(out, pc.span)
		}
	}
	return out
}

// pieceAt returns the index of the piece that contains p.
func (tl *timeline) pieceAt(p time.Duration) int {
	return sort.Search(len(tl.pieces), func(i int) bool { return tl.pieces[i].start > p }) - 1
}

// cursor walks the segments of one track across the pieces of a timeline.
type cursor struct {
	ch *channel
	tl *timeline
	t  int
	pi int
	li loopIndex // loop pieces
	k  int       // item pieces
}

// placed is a segment where the cursor stands.
type placed struct {
	start, dur time.Duration // from the epoch; dur cut at the piece's end
	cs         cseg
	c          *clip
	k          int // index in its clip
	seq, tags  int64
	pc         *piece
	loop       int64 // loop number, loop pieces
	entry      int   // loop entry, loop pieces
}

// seek returns a cursor at the first segment of track t that starts at or
// after p.
func (tl *timeline) seek(ch *channel, t int, p time.Duration) *cursor {
	cur := &cursor{ch: ch, tl: tl, t: t, pi: tl.pieceAt(p)}
	pc := tl.pieces[cur.pi]
	rel := p - pc.start
	if pc.clip != nil {
		ct := &pc.clip.tracks[t]
		cur.k = sort.Search(len(ct.segs), func(i int) bool { return ct.segs[i].start >= rel })
	} else {
		cur.li = ch.seekLoop(t, pc.loopPos+rel)
	}
	cur.fix()
	return cur
}

// fix moves the cursor to the next piece when it is past its piece's end.
func (cur *cursor) fix() {
	for {
		pc := cur.tl.pieces[cur.pi]
		var st time.Duration
		if pc.clip != nil {
			if cur.k < len(pc.clip.tracks[cur.t].segs) {
				st = pc.start + pc.clip.tracks[cur.t].segs[cur.k].start
			} else if pc.open {
				return // the live segments placed so far end here
			} else {
				st = forever
			}
		} else {
			st = pc.start + cur.ch.startOf(cur.t, cur.li) - pc.loopPos
		}
		if pc.holds(st) || cur.pi == len(cur.tl.pieces)-1 {
			return
		}
		cur.pi++
		next := cur.tl.pieces[cur.pi]
		cur.k = 0
		if next.clip == nil {
			cur.li = cur.ch.seekLoop(cur.t, next.loopPos)
		}
	}
}

// valid reports whether the cursor stands on a segment: not past the
// segments of an open live piece (or of a timeline's last clip).
func (cur *cursor) valid() bool {
	pc := cur.tl.pieces[cur.pi]
	return pc.clip == nil || cur.k < len(pc.clip.tracks[cur.t].segs)
}

// at returns the segment where the cursor stands.
func (cur *cursor) at() placed {
	pc := cur.tl.pieces[cur.pi]
	var pl placed
	pl.pc = pc
	if pc.clip != nil {
		ct := &pc.clip.tracks[cur.t]
		pl.c, pl.k, pl.cs = pc.clip, cur.k, ct.segs[cur.k]
		pl.start = pc.start + pl.cs.start
		pl.seq = pc.seqBase[cur.t] + int64(cur.k)
		pl.tags = pc.tagsBase[cur.t] + ct.tagsBefore[cur.k]
	} else {
		ch, li := cur.ch, cur.li
		pl.c = ch.clips[li.lay.order[li.e]]
		pl.k, pl.cs = li.k, pl.c.tracks[cur.t].segs[li.k]
		pl.loop, pl.entry = li.n, li.e
		pl.start = pc.start + ch.startOf(cur.t, li) - pc.loopPos
		pl.seq = pc.seqBase[cur.t] + ch.seq(cur.t, li) - pc.loopSeq[cur.t]
		pl.tags = pc.tagsBase[cur.t] + ch.tags(cur.t, li) - pc.loopTags[cur.t]
	}
	pl.dur = min(pl.cs.dur, pc.end-pl.start)
	return pl
}

// next advances the cursor by one segment.
func (cur *cursor) next() {
	if cur.tl.pieces[cur.pi].clip != nil {
		cur.k++
	} else {
		cur.li.k++
		cur.ch.normalize(cur.t, &cur.li)
	}
	cur.fix()
}

// media renders the live media playlist of track t at instant now.
func (ch *channel) media(t int, now time.Time) (*hls.Media, error) {
	p := now.Sub(ch.epoch)
	if p <= 0 {
		return nil, errNotStarted
	}
	tl := ch.resolve(ch.tl.Load(), now)
	lo := max(p-ch.window, 0)
	cur := tl.seek(ch, t, lo)
	m := &hls.Media{
		Version:             ch.version,
		IndependentSegments: true,
		TargetDuration:      ch.targetDuration,
	}
	var (
		prevInit *asset.InitSection
		prevKeys *asset.KeyState
	)
	for ; cur.valid(); cur.next() {
		pl := cur.at()
		if pl.start+pl.dur > p {
			break
		}
		cs, c := pl.cs, pl.c
		a := c.asset
		if cs.asset != nil {
			a = cs.asset
		}
		first := len(m.Segments) == 0
		pieceStart := pl.start == pl.pc.start
		if first {
			m.MediaSequence = pl.seq
			tags := pl.tags
			if tags > 0 {
				tags-- // the very first segment of the channel has no tag
			}
			m.DiscontinuitySequence = tags
		}
		s := &hls.Segment{
			Discontinuity:   (pl.k == 0 && pl.start > 0) || cs.disc,
			ProgramDateTime: ch.epoch.Add(pl.start).UTC(),
			Tags:            cs.src.Tags,
			Gap:             cs.src.Gap,
			Bitrate:         cs.src.Bitrate,
			Duration:        pl.dur.Seconds(),
			Title:           cs.src.Title,
			URI:             cs.src.URL,
		}
		if init := cs.src.Init; init != nil && (first || pl.k == 0 || cs.disc || init != prevInit) {
			s.Map = &hls.Map{URI: init.URL, ByteRange: init.ByteRange}
			if init.URL == "" {
				s.Map.URI = resourceURL(a, init.Res)
			}
		}
		prevInit = cs.src.Init
		if ks := cs.src.Keys; (first && ks != nil) || (!first && ks != prevKeys) {
			s.Keys = renderKeys(a, ks)
		}
		prevKeys = cs.src.Keys
		if cs.src.ByteRange != nil {
			s.ByteRange = cs.src.ByteRange
		}
		sp := pl.pc.span
		if sp != nil && (first || pl.start == sp.start) {
			s.DateRanges = append(s.DateRanges, ch.itemDateRange(sp))
		}
		var suffix string
		switch {
		case len(cs.src.DateRanges) == 0:
		case sp != nil && sp.brk != nil:
			suffix = "-" + sp.item.ID + "-" + strconv.Itoa(pl.pc.part)
		case sp != nil:
			suffix = "-" + sp.item.ID
		default:
			suffix = "-" + strconv.FormatInt(pl.loop, 10) + "-" + strconv.Itoa(pl.entry)
		}
		for _, dr := range cs.src.DateRanges {
			s.DateRanges = append(s.DateRanges, moveDateRange(dr, cs.src.PDT, s.ProgramDateTime, suffix))
		}
		if s.URI == "" {
			s.URI = resourceURL(a, cs.src.Res)
		}
		markBreak(s, pl, pieceStart)
		m.Segments = append(m.Segments, s)
	}
	if len(m.Segments) == 0 {
		return nil, errNotStarted
	}
	return m, nil
}

// ScheduleDateRangeClass is the CLASS of the EXT-X-DATERANGE that marks
// each schedule item in the media playlists.
const ScheduleDateRangeClass = "com.pullpush.schedule"

// itemDateRange is the EXT-X-DATERANGE of schedule item sp: ID is the
// item's id, START-DATE its start, PLANNED-DURATION its trimmed duration
// (it stays the same when a later item cuts it short), X-TITLE and
// X-ASSET-ID its title and asset; a break has X-TYPE="break" instead of
// X-ASSET-ID.
func (ch *channel) itemDateRange(sp *span) *hls.DateRange {
	it := sp.item
	planned := sp.planned.Seconds()
	dr := &hls.DateRange{
		ID:              it.ID,
		Class:           ScheduleDateRangeClass,
		StartDate:       ch.epoch.Add(sp.start).UTC(),
		PlannedDuration: &planned,
	}
	switch it.Type {
	case ItemBreak, ItemLive:
		dr.Extra = append(dr.Extra, hls.Attr{Key: "X-TYPE", Value: it.Type, Quoted: true})
		if it.Type == ItemLive && sp.planned == 0 {
			dr.PlannedDuration = nil // until switched back
		}
	default:
		dr.Extra = append(dr.Extra, hls.Attr{Key: "X-ASSET-ID", Value: it.Asset, Quoted: true})
	}
	if it.Title != "" {
		dr.Extra = append(dr.Extra, hls.Attr{Key: "X-TITLE", Value: it.Title, Quoted: true})
	}
	return dr
}

// markBreak writes the ad markers of segment s, placed at pl, in both of
// MediaPackage's enhanced forms (SCTE-35 enhanced tags and EXT-X-DATERANGE):
// the end of the break that ends where the segment starts, then the start
// of, or the position in, the break it belongs to. The assets' own ad
// markers are removed from the segments of a break and from the one after
// it; elsewhere they pass through.
func markBreak(s *hls.Segment, pl placed, pieceStart bool) {
	pc := pl.pc
	ended := pc.after
	if !pieceStart {
		ended = nil
	}
	in := pc.span
	if in != nil && in.brk == nil {
		in = nil
	}
	if ended == nil && in == nil {
		return
	}
	adcue.Strip(s)
	for _, mode := range []string{adcue.ModeSCTE35Enhanced, adcue.ModeDateRange} {
		if ended != nil {
			adcue.Append(mode, s, adcue.Mark{Break: *ended.brk, Elapsed: ended.end - ended.start, End: true})
		}
		if in != nil {
			adcue.Append(mode, s, adcue.Mark{Break: *in.brk, Elapsed: pl.start - in.start, First: pl.start == in.start})
		}
	}
}
