package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/pullpush/pullpush/hls"
)

// rendition polls one source media playlist and holds its segments until
// every target has pushed them.
type rendition struct {
	f    *Fetcher
	name string // used in pushed names
	url  string // resolved source playlist URL
	ref  string // URI as written in the source multivariant (for rewriting)
	kind string
	ext  string // default segment extension

	changed notifier

	mu           sync.Mutex
	entries      []*entry // consecutive output seqs
	num          numbering
	liveFirst    int64 // first msn listed in the latest source playlist
	liveLast     int64
	ended        bool // source ENDLIST seen; no more entries
	grows        bool // EVENT or VOD source: no sliding window
	playlistType hls.PlaylistType
	version      int
	independent  bool
	td           int
	lastPDT      time.Time
	lastDur      float64
	auxes        map[string]*aux
	tg           []*renditionTarget
	st           RenditionStatus
	stallTold    bool // last stall state told to a StallObserver
	lastNew      time.Time
	bytesIn      int64
	secondsIn    float64
}

// renditionTarget is the per-target push state of a rendition.
type renditionTarget struct {
	pushed         int64 // last output seq done (pushed, missed or dropped)
	saveGen        int64 // save that records pushed, awaited before the next push
	winStart       int64 // first output seq in the pushed playlist
	discSeq        int64 // EXT-X-DISCONTINUITY-SEQUENCE of the window
	playlistPushed bool
	auxPushed      map[string]bool
	expired        []string // names that left the window, for deletion
}

func newRendition(f *Fetcher, name, u, ref, kind string) *rendition {
	r := &rendition{
		f: f, name: name, url: u, ref: ref, kind: kind, ext: ".ts",
		num: newNumbering(), auxes: map[string]*aux{}, td: 1,
	}
	if kind == "subtitles" {
		r.ext = ".vtt"
	}
	r.st = RenditionStatus{Name: name, URI: u, Type: kind}
	r.tg = make([]*renditionTarget, len(f.targets))
	for i := range r.tg {
		r.tg[i] = &renditionTarget{pushed: -1, winStart: 0, auxPushed: map[string]bool{}}
	}
	if doc := f.progress; doc != nil {
		if p := doc.Renditions[name]; p != nil {
			r.restore(p)
		}
	}
	return r
}

// restore applies saved progress: numbering continues and nothing already
// pushed everywhere is pushed again. Segments the source still lists after
// the last one saved as pushed get their old numbers again (the same names
// for the same bytes); the number after each target's saved Pushed is
// reserved, as a crash may have left it pushed unsaved (see skipReserved).
func (r *rendition) restore(p *renditionProgress) {
	ok := func(n int64) bool { return n >= -maxMediaSequence && n <= maxMediaSequence }
	valid := ok(p.Offset) && ok(p.NextSeq) && ok(p.HeadSrc)
	for _, tp := range p.Targets {
		valid = valid && (tp == nil || ok(tp.Pushed) && ok(tp.DiscSeq))
	}
	if !valid {
		r.f.log.Warn("ignoring saved progress with numbers out of range", "rendition", r.name)
		return
	}
	minPushed := int64(math.MaxInt64)
	for i, t := range r.f.targets {
		tp := p.Targets[t.Name()]
		if tp == nil {
			minPushed = -1
			continue
		}
		r.tg[i].pushed = tp.Pushed
		r.tg[i].winStart = tp.Pushed + 1
		r.tg[i].discSeq = tp.DiscSeq
		minPushed = min(minPushed, tp.Pushed)
	}
	if minPushed < 0 || minPushed == math.MaxInt64 {
		minPushed = p.NextSeq - 1
	}
	for i := range r.tg {
		if p.Targets[r.f.targets[i].Name()] == nil {
			r.tg[i].pushed = minPushed
			r.tg[i].winStart = minPushed + 1
		}
	}
	// A target pushes a segment only once the progress recording the one
	// before it is saved (pushEntry): it may hold one segment past its
	// saved Pushed, so that number must not name other content.
	maxPushed := int64(math.MinInt64)
	for _, t := range r.tg {
		maxPushed = max(maxPushed, t.pushed)
	}
	r.num.restore(p.Offset, minPushed, maxPushed, p.HeadSrc, p.HeadURI)
}

// skipNumbers passes over output numbers from..to that a previous run may
// have pushed without saving it (see numbering.skipReserved). Called with
// r.mu held.
func (r *rendition) skipNumbers(from, to int64) {
	if len(r.entries) == 0 {
		// Nothing waits to be pushed: each target continues after the
		// reserved numbers, with a playlist window starting there.
		for _, t := range r.tg {
			if t.pushed < to {
				t.pushed, t.winStart = to, to+1
			}
		}
		return
	}
	// Entries wait: fill the reserved numbers with gaps so numbering stays
	// consecutive for the pushers.
	for seq := from; seq <= to; seq++ {
		e := &entry{r: r, seq: seq, src: -1, name: r.segmentName(seq, r.ext), missed: true,
			ready: make(chan struct{}), dropped: map[int]bool{}}
		close(e.ready)
		for _, t := range r.tg {
			if e.seq > t.pushed {
				e.pending++
			}
		}
		r.entries = append(r.entries, e)
	}
}

func (r *rendition) progress() *renditionProgress {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := &renditionProgress{Offset: r.num.offset, NextSeq: r.num.nextToSave(), HeadSrc: r.num.head, HeadURI: r.num.headKey(), Targets: map[string]*targetProgress{}}
	for i, t := range r.tg {
		disc := t.discSeq
		for _, e := range r.entries {
			if e.seq >= t.winStart && e.seq <= t.pushed && e.disc {
				disc++
			}
		}
		p.Targets[r.f.targets[i].Name()] = &targetProgress{Pushed: t.pushed, DiscSeq: disc}
	}
	// HeadSrc/HeadURI describe the newest segment pushed everywhere so a
	// restart resumes from there.
	minPushed := int64(math.MaxInt64)
	for _, t := range r.tg {
		minPushed = min(minPushed, t.pushed)
	}
	if minPushed >= 0 {
		if e := r.entryLocked(minPushed); e != nil {
			p.HeadSrc = e.src
			p.HeadURI = uriKey(e.srcURL) + rangeKey(e.rng)
		} else {
			p.HeadSrc = r.num.source(minPushed)
			p.HeadURI = ""
		}
	}
	return p
}

func (r *rendition) playlistName() string { return r.f.stem + "_" + r.name + ".m3u8" }

func (r *rendition) segmentName(seq int64, ext string) string {
	return fmt.Sprintf("%s_%s_%d%s", r.f.stem, r.name, seq, ext)
}

// bandwidth estimates the peak bitrate from pulled segments (bits/s).
func (r *rendition) bandwidth() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.secondsIn <= 0 {
		return 1000000
	}
	return int(float64(r.bytesIn*8)/r.secondsIn*1.1) + 1
}

func (r *rendition) entryLocked(seq int64) *entry {
	if len(r.entries) == 0 {
		return nil
	}
	i := seq - r.entries[0].seq
	if i < 0 || i >= int64(len(r.entries)) {
		return nil
	}
	return r.entries[i]
}

func (r *rendition) playlistPushed(ti int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.tg[ti].playlistPushed
}

// snapshot returns status, lag in seconds and pending files per target.
func (r *rendition) snapshot() (RenditionStatus, float64, []int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.st
	pending := make([]int, len(r.tg))
	lag := 0.0
	minPushed := int64(math.MaxInt64)
	for _, t := range r.tg {
		minPushed = min(minPushed, t.pushed)
	}
	for _, e := range r.entries {
		if e.seq > minPushed {
			lag += e.duration
		}
		for ti, t := range r.tg {
			if e.seq > t.pushed {
				pending[ti]++
			}
		}
	}
	return st, lag, pending
}

// uriKey identifies a source segment independent of query tokens.
func uriKey(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i]
	}
	return u
}

// segKey identifies a source segment by URI (without query) and byte range.
func segKey(s srcSeg) string { return uriKey(s.url) + rangeKey(s.rng) }

// poll reloads the source media playlist following RFC 8216 reload rules
// until ctx ends or the source ends.
func (r *rendition) poll(ctx context.Context) {
	f := r.f
	bo := newBackoff(250*time.Millisecond, 15*time.Second)
	var edge edgeTracker
	for {
		start := time.Now()
		changed, err := r.reload(ctx)
		f.obs.PlaylistReloaded(f.cfg.ID, r.name, err)
		r.mu.Lock()
		r.st.Reloads++
		r.st.LastReload = f.now().UTC()
		ended, td := r.ended, r.td
		r.mu.Unlock()
		if ended {
			r.changed.notify()
			return
		}
		var wait time.Duration
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			f.recordError(fmt.Errorf("rendition %s: %w", r.name, err))
			f.log.Warn("playlist reload failed", "rendition", r.name, "err", err)
			// Back off, but never below the normal reload rate of once per
			// target duration: a longer wait lets the source window slide
			// past the last segment seen, losing segments that were listed
			// all along.
			wait = min(bo.next(), time.Duration(td)*time.Second)
			r.checkStall(time.Duration(td) * time.Second)
		} else {
			bo.reset()
			f.running()
			tdur := time.Duration(td) * time.Second
			if changed {
				wait = tdur
			} else {
				wait = tdur / 2
			}
			if !f.cfg.ReloadRFC {
				wait = r.edgeWait(&edge, start, changed, tdur)
			}
			if f.cfg.PollInterval > 0 {
				wait = f.cfg.PollInterval
			}
			wait -= time.Since(start)
			r.checkStall(tdur)
		}
		if !sleep(ctx, max(wait, 10*time.Millisecond)) {
			return
		}
	}
}

// edgeTracker schedules reloads near the moment the source publishes its
// next segment (see edgeWait).
type edgeTracker struct {
	lastUnchanged time.Time // start of the latest reload that found nothing new
	due           time.Time // when the next segment is expected
	locked        bool      // the publishing phase is known within one step
	sinceProbe    int
}

// edgeProbeEvery is how many segments pass between two early reloads that
// re-measure the publishing phase while locked.
const edgeProbeEvery = 8

// edgeWait returns how long to wait before the next reload. Once a change is
// seen within one step of a reload that saw none, the publishing phase is
// known: the next reload is one segment duration after the change was seen,
// so a regular source costs one request per segment and a discovery delay of
// at most one step (a target duration / 16, 50-500 ms), instead of up to a
// target duration with the RFC 8216 intervals. Without a known phase, or
// when a reload at the due time finds nothing, the playlist is reloaded
// every step until it changes; half a target duration past the due time (a
// stalled or irregular source) it falls back to every half target duration.
func (r *rendition) edgeWait(e *edgeTracker, start time.Time, changed bool, tdur time.Duration) time.Duration {
	step := min(max(tdur/16, 50*time.Millisecond), 500*time.Millisecond)
	r.mu.Lock()
	dur := time.Duration(r.lastDur * float64(time.Second))
	r.mu.Unlock()
	if dur <= 0 {
		dur = tdur
	}
	now := time.Now()
	if changed {
		if !e.lastUnchanged.IsZero() {
			e.locked = start.Sub(e.lastUnchanged) <= 2*step
		}
		switch {
		case !e.locked:
			e.due = start.Add(dur / 2) // look early to learn the phase
		case e.sinceProbe >= edgeProbeEvery:
			e.sinceProbe = 0
			e.due = start.Add(dur - step) // re-measure the phase
		default:
			e.sinceProbe++
			e.due = start.Add(dur)
		}
		e.lastUnchanged = time.Time{}
		return max(e.due.Sub(now), step)
	}
	e.lastUnchanged = start
	if !e.due.IsZero() && now.Before(e.due.Add(tdur/2)) {
		return max(min(e.due.Sub(now), tdur/2), step)
	}
	e.locked = false
	return tdur / 2
}

// checkStall marks the rendition stalled when no new segment came for
// three target durations (plus a second), whether the reloads succeed with
// an unchanged playlist or fail, and tells a StallObserver of changes.
func (r *rendition) checkStall(td time.Duration) {
	r.mu.Lock()
	if r.lastNew.IsZero() {
		r.mu.Unlock()
		return
	}
	stalled := time.Since(r.lastNew) > 3*td+time.Second
	if stalled && !r.st.Stalled {
		r.f.log.Warn("source stalled", "rendition", r.name, "since", r.lastNew)
		r.f.recordError(fmt.Errorf("rendition %s: source stalled: no new segment for %s", r.name, time.Since(r.lastNew).Round(time.Second)))
	}
	r.st.Stalled = stalled
	changed := stalled != r.stallTold
	r.stallTold = stalled
	r.mu.Unlock()
	if so, ok := r.f.obs.(StallObserver); ok && changed {
		so.SourceStalled(r.f.cfg.ID, r.name, stalled)
	}
}

// srcSeg is a source segment with resolved URLs, range and inherited state.
type srcSeg struct {
	msn  int64
	seg  *hls.Segment
	url  string
	rng  *hls.ByteRange
	pdt  time.Time
	keys []*hls.Key // resolved source keys in effect
	mp   *hls.Map   // source map in effect
	mpR  *hls.ByteRange
}

// reload fetches and applies the media playlist once; changed reports new segments.
func (r *rendition) reload(ctx context.Context) (bool, error) {
	data, base, err := r.f.get(ctx, r.url, maxPlaylistBytes)
	if err != nil {
		return false, err
	}
	pl, err := hls.ParseMedia(data)
	if err != nil {
		return false, fmt.Errorf("parse %s: %w", r.url, err)
	}
	segs, err := resolveSegments(base, pl)
	if err != nil {
		return false, err
	}
	return r.apply(pl, segs), nil
}

// resolveSegments resolves URIs, byte ranges, PDT and key/map state.
func resolveSegments(base *url.URL, pl *hls.Media) ([]srcSeg, error) {
	if pl.MediaSequence < 0 || pl.MediaSequence > maxMediaSequence-int64(len(pl.Segments)) {
		return nil, fmt.Errorf("media sequence %d out of range", pl.MediaSequence)
	}
	out := make([]srcSeg, 0, len(pl.Segments))
	var keys []*hls.Key
	var mp *hls.Map
	var mpR *hls.ByteRange
	lastEnd := map[string]int64{}
	var pdt time.Time
	for i, s := range pl.Segments {
		u, err := base.Parse(s.URI)
		if err != nil {
			return nil, fmt.Errorf("segment uri %q: %w", s.URI, err)
		}
		if s.Keys != nil {
			keys = nil
			for _, k := range s.Keys {
				if k.Method == "" || k.Method == "NONE" {
					continue
				}
				kc := hls.Key{Method: strings.Clone(k.Method), URI: strings.Clone(k.URI), IV: strings.Clone(k.IV),
					KeyFormat: strings.Clone(k.KeyFormat), KeyFormatVersions: strings.Clone(k.KeyFormatVersions), Extra: cloneAttrs(k.Extra)}
				if k.URI != "" && isFetchableKey(k) {
					ku, err := base.Parse(k.URI)
					if err != nil {
						return nil, fmt.Errorf("key uri %q: %w", k.URI, err)
					}
					kc.URI = ku.String()
				}
				keys = append(keys, &kc)
			}
		}
		if s.Map != nil {
			mu, err := base.Parse(s.Map.URI)
			if err != nil {
				return nil, fmt.Errorf("map uri %q: %w", s.Map.URI, err)
			}
			mc := *s.Map
			mc.URI = mu.String()
			mp = &mc
			mpR = nil
			if s.Map.ByteRange != nil {
				off := int64(0)
				if s.Map.ByteRange.Offset != nil {
					off = *s.Map.ByteRange.Offset
				}
				mpR = &hls.ByteRange{Length: s.Map.ByteRange.Length, Offset: &off}
			}
		}
		us := u.String()
		var rng *hls.ByteRange
		if s.ByteRange != nil {
			off, ok := lastEnd[us]
			if s.ByteRange.Offset != nil {
				off, ok = *s.ByteRange.Offset, true
			}
			if !ok {
				return nil, fmt.Errorf("segment %q: BYTERANGE without offset and no previous range", s.URI)
			}
			o := off
			rng = &hls.ByteRange{Length: s.ByteRange.Length, Offset: &o}
			lastEnd[us] = off + s.ByteRange.Length
		}
		if !s.ProgramDateTime.IsZero() {
			pdt = s.ProgramDateTime
		} else if !pdt.IsZero() && i > 0 {
			pdt = pdt.Add(time.Duration(pl.Segments[i-1].Duration * float64(time.Second)))
		}
		out = append(out, srcSeg{msn: pl.MediaSequence + int64(i), seg: s, url: us, rng: rng, pdt: pdt, keys: keys, mp: mp, mpR: mpR})
	}
	return out, nil
}

// isFetchableKey reports whether a key is a plain key file we copy (not a
// DRM system URI such as skd:// or data:).
func isFetchableKey(k *hls.Key) bool {
	if k.KeyFormat != "" && k.KeyFormat != "identity" {
		return false
	}
	u := strings.ToLower(k.URI)
	return !strings.HasPrefix(u, "skd:") && !strings.HasPrefix(u, "data:")
}

// apply turns a freshly loaded playlist into new entries; true when any.
func (r *rendition) apply(pl *hls.Media, segs []srcSeg) bool {
	f := r.f
	r.mu.Lock()
	defer r.mu.Unlock()
	if pl.Version > r.version {
		r.version = pl.Version
	}
	r.independent = pl.IndependentSegments
	r.playlistType = pl.PlaylistType
	r.grows = pl.PlaylistType == hls.PlaylistTypeEvent || pl.PlaylistType == hls.PlaylistTypeVOD
	if pl.TargetDuration > r.td {
		r.td = pl.TargetDuration
	}
	if len(segs) == 0 {
		if pl.Endlist {
			r.ended = true
		}
		return false
	}
	first, last := segs[0].msn, segs[len(segs)-1].msn
	r.liveFirst, r.liveLast = first, last
	r.st.MediaSequence = last
	np := r.num.plan(first, len(segs), func(i int) string { return segKey(segs[i]) }, len(r.entries) > 0)
	switch np.event {
	case numStale:
		return false // stale playlist (e.g. a lagging CDN edge): ignore
	case numFirst:
		for _, t := range r.tg {
			t.pushed = first - 1
			t.winStart = first
		}
	case numRealigned:
		f.log.Warn("source renumbered its segments: continuing after the newest segment seen", "rendition", r.name, "msn", np.prevHead, "now", np.realign)
	case numWentBack:
		f.log.Warn("source media sequence went back: source restarted", "rendition", r.name, "from", np.prevHead, "to", last)
	case numChanged:
		f.log.Warn("source content changed under the same sequence numbers: source restarted", "rendition", r.name, "msn", np.prevHead)
	case numJumped:
		// More segments than a live source publishes between two
		// reloads: the source renumbered, nothing was lost.
		f.log.Warn("source media sequence jumped ahead: source restarted", "rendition", r.name, "from", np.prevHead, "to", first)
	case numMissed:
		r.st.SegmentsMissed += np.missed
		for range np.missed {
			f.obs.SegmentMissed(f.cfg.ID, r.name)
		}
		f.log.Warn("segments left the source before they were seen", "rendition", r.name, "count", np.missed, "from", np.prevHead+1)
		f.recordError(fmt.Errorf("rendition %s: %d segments missed (source moved past msn %d)", r.name, np.missed, np.prevHead+1))
	}
	if np.skipped {
		r.skipNumbers(np.skipFrom, np.skipTo)
	}
	startIdx, disc := np.start, np.disc
	if startIdx >= len(segs) {
		if pl.Endlist {
			r.ended = true
		}
		return false
	}
	now := f.now().UTC()
	// PDT for sources without it: the live edge is now.
	var edge time.Time
	if segs[startIdx].pdt.IsZero() {
		rem := 0.0
		for _, s := range segs[startIdx:] {
			rem += s.seg.Duration
		}
		edge = now.Add(-time.Duration(rem * float64(time.Second)))
		if !r.lastPDT.IsZero() && !disc {
			cont := r.lastPDT.Add(time.Duration(r.lastDur * float64(time.Second)))
			if d := cont.Sub(edge); d < time.Duration(2*r.td)*time.Second && d > -time.Duration(2*r.td)*time.Second {
				edge = cont
			}
		}
	}
	added := 0
	for i := startIdx; i < len(segs); i++ {
		s := segs[i]
		e := &entry{
			r: r, seq: r.num.assign(s.msn, segKey(s)), src: s.msn, srcURL: s.url, rng: s.rng,
			duration: s.seg.Duration, title: strings.Clone(s.seg.Title),
			disc:    s.seg.Discontinuity || (disc && i == startIdx),
			tags:    filterTags(s.seg.Tags),
			dranges: cloneDateRanges(s.seg.DateRanges), bitrate: s.seg.Bitrate,
			ready: make(chan struct{}), dropped: map[int]bool{},
		}
		e.name = r.segmentName(e.seq, segmentExt(s.url, r.ext))
		if !s.pdt.IsZero() {
			e.pdt = s.pdt
		} else {
			e.pdt = edge
			edge = edge.Add(time.Duration(s.seg.Duration * float64(time.Second)))
		}
		if c := int(math.Ceil(s.seg.Duration - 0.001)); c > r.td {
			r.td = c
		}
		r.attachAux(e, s)
		if e.seq != e.src {
			// An absent IV means "the media sequence number": the pushed
			// playlist renumbers, so spell out the source's.
			for i, k := range e.keys {
				if k.IV == "" && (k.Method == "AES-128" || k.Method == "SAMPLE-AES") {
					kc := *k
					kc.IV = fmt.Sprintf("0x%032X", e.src)
					e.keys[i] = &kc
				}
			}
		}
		for ti, t := range r.tg {
			if e.seq > t.pushed {
				e.pending++
			} else {
				_ = ti
			}
		}
		r.lastPDT, r.lastDur = e.pdt, e.duration
		r.entries = append(r.entries, e)
		added++
		if s.seg.Gap || e.pending == 0 {
			e.missed = s.seg.Gap
			close(e.ready)
			continue
		}
		go r.download(e, s.seg.Gap)
	}
	r.lastNew = time.Now()
	r.st.Stalled = false
	if pl.Endlist {
		r.ended = true
	}
	r.changed.notify()
	return added > 0
}

// filterTags drops LL-HLS tags that make no sense once parts are not relayed.
func filterTags(tags []string) []string {
	var out []string
	for _, t := range tags {
		switch {
		case strings.HasPrefix(t, "#EXT-X-PART:"), strings.HasPrefix(t, "#EXT-X-PRELOAD-HINT"),
			strings.HasPrefix(t, "#EXT-X-RENDITION-REPORT"), strings.HasPrefix(t, "#EXT-X-SKIP"):
			continue
		}
		out = append(out, strings.Clone(t))
	}
	return out
}

// cloneDateRanges deep-copies date ranges so entries do not pin the parsed
// playlist's buffer (parsed strings share one copy of the input).
func cloneDateRanges(in []*hls.DateRange) []*hls.DateRange {
	if len(in) == 0 {
		return nil
	}
	out := make([]*hls.DateRange, len(in))
	for i, d := range in {
		c := *d
		c.ID, c.Class = strings.Clone(d.ID), strings.Clone(d.Class)
		c.Extra = cloneAttrs(d.Extra)
		out[i] = &c
	}
	return out
}

func cloneAttrs(in []hls.Attr) []hls.Attr {
	if len(in) == 0 {
		return nil
	}
	out := make([]hls.Attr, len(in))
	for i, a := range in {
		out[i] = hls.Attr{Key: strings.Clone(a.Key), Value: strings.Clone(a.Value), Quoted: a.Quoted}
	}
	return out
}

// attachAux sets the entry's init segment and keys, rewriting their URIs to
// pushed copies.
func (r *rendition) attachAux(e *entry, s srcSeg) {
	if s.mp != nil {
		key := s.mp.URI + rangeKey(s.mpR)
		a := r.auxes[key]
		if a == nil {
			a = &aux{name: fmt.Sprintf("%s_%s_init_%s%s", r.f.stem, r.name, shortHash(key), segmentExt(s.mp.URI, ".mp4")), srcURL: s.mp.URI, rng: s.mpR, ready: make(chan struct{})}
			r.auxes[key] = a
		}
		e.initMap = a
	}
	for _, k := range s.keys {
		kc := *k
		if k.URI != "" && isFetchableKey(k) {
			a := r.auxes[k.URI]
			if a == nil {
				a = &aux{name: fmt.Sprintf("%s_%s_key_%s.key", r.f.stem, r.name, shortHash(k.URI)), srcURL: k.URI, ready: make(chan struct{})}
				r.auxes[k.URI] = a
			}
			kc.URI = a.name
			e.keyAux = append(e.keyAux, a)
		}
		e.keys = append(e.keys, &kc)
	}
}

func rangeKey(b *hls.ByteRange) string {
	if b == nil || b.Offset == nil {
		return ""
	}
	return fmt.Sprintf("@%d-%d", *b.Offset, b.Length)
}

// inSource reports whether source msn is still listed by the source.
func (r *rendition) inSource(msn int64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return msn >= r.liveFirst || r.grows
}

// download fetches the entry (and its aux files) into the spool, retrying
// with backoff while the segment is still listed by the source.
func (r *rendition) download(e *entry, _ bool) {
	f := r.f
	ctx := f.dlCtx
	bo := newBackoff(200*time.Millisecond, 5*time.Second)
	attempts := 0
	defer close(e.ready)
	for _, a := range e.keyAux {
		r.fetchAux(ctx, a)
	}
	if e.initMap != nil {
		r.fetchAux(ctx, e.initMap)
	}
	for {
		attempts++
		f.sem <- struct{}{}
		w, sf, err := r.fetchSegment(ctx, e)
		<-f.sem
		if err == nil {
			evicted := f.spool.commit(sf, w)
			size := sf.size
			r.mu.Lock()
			e.file, e.size = sf, size
			r.bytesIn += size
			r.secondsIn += e.duration
			r.st.SegmentsPulled++
			r.mu.Unlock()
			f.mu.Lock()
			f.pulled++
			f.bytesPulled += size
			f.mu.Unlock()
			f.obs.SegmentPulled(f.cfg.ID, r.name, size)
			for _, ev := range evicted {
				f.evicted(ev)
			}
			return
		}
		var he *httpError
		gone := !r.inSource(e.src) || (errors.As(err, &he) && (he.status == http.StatusNotFound || he.status == http.StatusGone) && attempts >= 8)
		r.mu.Lock()
		grows, td := r.grows, time.Duration(r.td)*time.Second
		r.mu.Unlock()
		if grows && attempts >= 10 {
			gone = true
		}
		if gone {
			r.mu.Lock()
			e.missed = true
			r.st.SegmentsMissed++
			r.mu.Unlock()
			f.obs.SegmentMissed(f.cfg.ID, r.name)
			f.recordError(fmt.Errorf("rendition %s: segment %d lost (gone from source): %w", r.name, e.src, err))
			f.log.Warn("segment lost: gone from the source before it could be downloaded", "rendition", r.name, "msn", e.src, "err", err)
			return
		}
		// Back off, but retry at least once per target duration: a live
		// source lists a segment for only a few of them.
		if !sleep(ctx, min(bo.next(), td)) {
			e.missed = true // shutting down: nobody will push it
			return
		}
	}
}

func (r *rendition) fetchAux(ctx context.Context, a *aux) {
	a.once.Do(func() {
		defer close(a.ready)
		bo := newBackoff(200*time.Millisecond, 3*time.Second)
		for attempt := 0; attempt < 8; attempt++ {
			data, err := r.fetchBytes(ctx, a.srcURL, a.rng, 16<<20)
			if err == nil {
				a.data = data
				return
			}
			a.err = err
			if !sleep(ctx, bo.next()) {
				break
			}
		}
		r.f.log.Warn("auxiliary file unavailable", "rendition", r.name, "url", a.srcURL, "err", a.err)
	})
}

func (r *rendition) fetchBytes(ctx context.Context, u string, rng *hls.ByteRange, limit int64) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	resp, err := r.rangeGet(ctx, u, rng)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", u, err)
	}
	return data, nil
}

func (r *rendition) rangeGet(ctx context.Context, u string, rng *hls.ByteRange) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", u, err)
	}
	if rng != nil && rng.Offset != nil {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", *rng.Offset, *rng.Offset+rng.Length-1))
	}
	resp, err := r.f.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", u, err)
	}
	ok := resp.StatusCode == http.StatusOK
	if rng != nil {
		ok = resp.StatusCode == http.StatusPartialContent
	}
	if !ok {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		return nil, &httpError{url: u, status: resp.StatusCode}
	}
	return resp, nil
}

// fetchSegment streams one segment into a spool file.
func (r *rendition) fetchSegment(ctx context.Context, e *entry) (*segmentWriter, *spoolFile, error) {
	timeout := time.Duration(max(4*e.duration, 10)*float64(time.Second)) + 5*time.Second
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := r.rangeGet(ctx, e.srcURL, e.rng)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	w, sf := r.f.spool.create(e)
	n, err := w.ReadFrom(resp.Body)
	if err == nil && resp.ContentLength >= 0 && n != resp.ContentLength {
		err = io.ErrUnexpectedEOF
	}
	if err == nil && e.rng != nil && n != e.rng.Length {
		err = fmt.Errorf("byte range: got %d bytes, want %d", n, e.rng.Length)
	}
	if err != nil {
		r.f.spool.discard(w)
		return nil, nil, fmt.Errorf("download %s: %w", e.srcURL, err)
	}
	return w, sf, nil
}
