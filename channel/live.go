package channel

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/pullpush/pullpush/channel/internal/asset"
	"github.com/pullpush/pullpush/hls"
)

// liveAssetPrefix starts the id of the pseudo asset whose resources are the
// segments of a live item (configured ids start with a letter or digit).
const liveAssetPrefix = "_live-"

// liveLead is how long before a live item starts the engine begins
// polling its source.
const liveLead = 10 * time.Second

// errSourceStale is the state of a live source that listed no new segment
// for 1.5 target durations.
var errSourceStale = errors.New("no new segment for 1.5 target durations")

// liveFeed is the state of one live schedule item on one engine: the
// source's latest playlists (kept fresh by a poller) and, per channel
// track, the segments the channel has placed on the item's span so far.
// Placed segments never change, so an engine's playlists only grow; with
// a schedule directory they are shared through the placement log
// (liveLog), so every engine places the same ones.
type liveFeed struct {
	e     *Engine
	ch    *channel
	item  string
	url   string // with credentials: never logged or returned (redact)
	start time.Duration
	asset *asset.Asset // "_live-{item}": the resources of the source segments
	slate *asset.Asset

	log *liveLog // nil: placements are this engine's own

	mu      sync.Mutex
	running bool
	master  bool // the source's renditions are known
	srcs    []*liveRendition
	tracks  []liveTrack       // per channel track
	res     map[int]asset.Loc // the source's segments and init sections, by urlID
	inits   map[string]*asset.InitSection
	td      time.Duration // the source's target duration
	err     error         // the last poll error, nil after a good poll
	errs    int           // poll errors so far
	lastNew time.Time     // engine clock: when the source last listed a new segment
	lastOK  time.Time     // engine clock: the last good poll
	polled  time.Time     // engine clock: when the last finished poll started
}

// liveRendition is one polled media playlist of a live source.
type liveRendition struct {
	at      asset.Loc
	subs    bool     // subtitles: WebVTT segments whatever the channel's format
	segs    []srcSeg // the latest listing
	last    int64    // newest media sequence number seen, -1 for none
	polls   int
	err     error     // the last poll's error, nil after a good poll
	lastOK  time.Time // engine clock: the last good poll
	lastNew time.Time // engine clock: when it last listed a new segment
}

// srcSeg is a segment of a live source listing.
type srcSeg struct {
	seq       int64
	disc      bool
	seg       *asset.Seg
	url       string // the source's URL of the segment
	init      string // and of its init section ("" for none)
	initRange *hls.ByteRange
}

// liveTrack is what one channel track placed on a live span.
type liveTrack struct {
	src      int    // index in srcs, -1: the source has no such rendition (slate)
	segs     []cseg // on the span's timeline
	tagsList []int64
	tags     int64
	next     time.Duration // where the next segment starts on the span
	nextSeq  int64         // the source segment that follows, -1: pick one at the live edge
	slateK   int           // next slate segment, -1 when not on the slate
	srcErr   error         // why this track cannot play the source
}

// feedFor returns the live feed of item it of ch, created on first use. A
// feed is found again by item id, start and URL, so the segments placed
// survive schedule changes that keep the item.
func (e *Engine) feedFor(ch *channel, it *ScheduleItem, start time.Duration) (*liveFeed, error) {
	key := it.ID + "\x00" + it.Start.UTC().Format(time.RFC3339Nano) + "\x00" + it.URL
	ch.feedMu.Lock()
	defer ch.feedMu.Unlock()
	if f := ch.feeds[key]; f != nil {
		return f, nil
	}
	s, err := e.slate(ch.template.Format)
	if err != nil {
		return nil, err
	}
	var log *liveLog
	if e.scheduleDir != "" {
		log = newLiveLog(e.scheduleDir, ch.id, it)
	}
	f := &liveFeed{
		log: log,
		e:   e, ch: ch, item: it.ID, url: it.URL, start: start,
		asset: &asset.Asset{ID: liveAssetPrefix + it.ID, URI: it.URL, Format: ch.template.Format, Version: 3},
		slate: s,
		res:   map[int]asset.Loc{},
		inits: map[string]*asset.InitSection{},
		td:    time.Second,
	}
	for range ch.tracks {
		f.tracks = append(f.tracks, liveTrack{src: -1, nextSeq: -1, slateK: -1})
	}
	if ch.feeds == nil {
		ch.feeds = map[string]*liveFeed{}
	}
	ch.feeds[key] = f
	return f, nil
}

// liveClip places live item sp on ch: its feed, and an empty clip as long
// as the item (the segments come when the timeline is resolved). The slate
// fills in for a failing source, so its segments must fit the channel's
// target duration.
func (e *Engine) liveClip(ch *channel, sp *span) (timedClip, error) {
	f, err := e.feedFor(ch, sp.item, sp.start)
	if err != nil {
		return timedClip{}, err
	}
	for _, tr := range f.slate.Tracks() {
		for _, sg := range tr.Segs {
			if td := int(math.Round(sg.Dur.Seconds())); td > ch.targetDuration {
				return timedClip{}, fmt.Errorf("the slate, which fills in for a failing live source, has %ds segments; the channel's target duration is %ds", td, ch.targetDuration)
			}
		}
	}
	sp.planned = time.Duration(sp.item.Duration)
	dur := sp.planned
	if dur == 0 {
		dur = forever - sp.start
	}
	c := &clip{asset: f.asset, dur: dur, tracks: make([]clipTrack, len(ch.tracks))}
	return timedClip{start: sp.start, clip: c, span: sp, limit: forever, live: f}, nil
}

// liveResource returns resource i of the live asset id of ch.
func (ch *channel) liveResource(id string, i int) (asset.Loc, bool) {
	ch.feedMu.Lock()
	defer ch.feedMu.Unlock()
	for _, f := range ch.feeds {
		if f.asset.ID != id {
			continue
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		l, ok := f.res[i]
		return l, ok
	}
	return asset.Loc{}, false
}

// ensurePolling starts the poller of the feed unless it runs.
func (f *liveFeed) ensurePolling() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.running {
		return
	}
	f.running = true
	go f.poll(f.e.ctx)
}

// active reports whether the feed's item is in the channel's timeline and
// has not ended at p.
func (f *liveFeed) active(p time.Duration) bool {
	for _, pc := range f.ch.tl.Load().pieces {
		if pc.live == f {
			return p < pc.end
		}
	}
	return false
}

// poll keeps the source's playlists fresh: every half target duration
// while the item has not ended.
func (f *liveFeed) poll(ctx context.Context) {
	defer func() {
		f.mu.Lock()
		f.running = false
		f.mu.Unlock()
	}()
	for {
		if !f.active(f.e.now().Sub(f.ch.epoch)) {
			return
		}
		f.pollOnce(ctx)
		f.mu.Lock()
		wait := max(f.td/2, 100*time.Millisecond)
		if f.e.livePoll > 0 {
			wait = f.e.livePoll
		}
		f.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// pollOnce reads the source's multivariant playlist (once) and its media
// playlists.
func (f *liveFeed) pollOnce(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, asset.FetchTimeout)
	defer cancel()
	at := f.e.now()
	err := f.readSource(ctx)
	now := f.e.now()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.polled = at
	if err != nil {
		if f.err == nil || f.err.Error() != err.Error() {
			f.e.log.Warn("channel live source failed", logKeyChannel, f.ch.id, logKeyItem, f.item, logKeyError, err)
		}
		f.err = err
		f.errs++
		f.e.metrics.assetErrors.WithLabelValues(f.asset.ID, "live").Inc()
		return
	}
	if f.err != nil {
		f.e.log.Info("channel live source is back", logKeyChannel, f.ch.id, logKeyItem, f.item)
	}
	f.err = nil
	f.lastOK = now
}

func (f *liveFeed) readSource(ctx context.Context) error {
	f.mu.Lock()
	known := f.master
	f.mu.Unlock()
	if !known {
		if err := f.readMaster(ctx); err != nil {
			return err
		}
	}
	f.mu.Lock()
	srcs := f.srcs
	f.mu.Unlock()
	var first error
	for _, r := range srcs {
		err := f.readRendition(ctx, r)
		now := f.e.now()
		f.mu.Lock()
		r.err = err
		if err == nil {
			r.lastOK = now
		}
		f.mu.Unlock()
		if first == nil {
			first = err
		}
	}
	return first
}

// readRendition polls one media playlist of the source.
func (f *liveFeed) readRendition(ctx context.Context, r *liveRendition) error {
	data, err := f.e.fetch.Get(ctx, r.at.Name)
	if err != nil {
		return err
	}
	m, err := hls.ParseMedia(data)
	if err != nil {
		return fmt.Errorf("parse %s: %w", r.at, err)
	}
	return f.update(r, m)
}

// readMaster reads the source's multivariant playlist and maps the
// channel's tracks onto its renditions.
func (f *liveFeed) readMaster(ctx context.Context) error {
	at, err := asset.Locate(f.url, nil)
	if err != nil {
		return err
	}
	data, err := f.e.fetch.Get(ctx, at.Name)
	if err != nil {
		return err
	}
	pl, err := hls.Parse(data)
	if err != nil {
		return fmt.Errorf("parse %s: %w", at, err)
	}
	var srcs []*liveRendition
	picks := make([]int, len(f.ch.tracks))
	add := func(ref string, subs bool) (int, error) {
		l, err := at.Resolve(ref)
		if err != nil {
			return 0, err
		}
		for i, r := range srcs {
			if r.at.Name == l.Name {
				return i, nil
			}
		}
		srcs = append(srcs, &liveRendition{at: l, subs: subs, last: -1})
		return len(srcs) - 1, nil
	}
	switch pl := pl.(type) {
	case *hls.Media:
		srcs = []*liveRendition{{at: at, last: -1}}
		for t, tr := range f.ch.tracks {
			picks[t] = -1
			if tr.kind == hls.MediaTypeVideo {
				picks[t] = 0
			}
		}
		if err := f.update(srcs[0], pl); err != nil {
			return err
		}
	case *hls.Multivariant:
		if len(pl.Variants) == 0 {
			return fmt.Errorf("%s lists no variant", at)
		}
		for t, tr := range f.ch.tracks {
			picks[t] = -1
			var ref string
			switch tr.kind {
			case hls.MediaTypeVideo:
				ref = pickVariant(pl.Variants, f.ch.template.Video[tr.index].Variant).URI
			default:
				if r := pickRendition(pl, tr.kind, f.ch.template, tr); r != nil {
					ref = r.URI
				}
			}
			if ref == "" {
				continue
			}
			i, err := add(ref, tr.kind == hls.MediaTypeSubtitles)
			if err != nil {
				return err
			}
			picks[t] = i
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.srcs = srcs
	for t := range f.tracks {
		f.tracks[t].src = picks[t]
		if picks[t] < 0 {
			f.tracks[t].srcErr = fmt.Errorf("the source has no %s rendition for %s", f.ch.tracks[t].kind, f.ch.tracks[t].name)
		}
	}
	f.master = true
	return nil
}

// pickVariant returns the variant nearest to want in bandwidth (on a log
// scale), the one nearest in resolution (in pixels) on a tie, else the
// lower one.
func pickVariant(vs []*hls.Variant, want *hls.Variant) *hls.Variant {
	best, bestD := vs[0], math.Inf(1)
	for _, v := range vs {
		d := math.Abs(math.Log(float64(max(v.Bandwidth, 1)) / float64(max(want.Bandwidth, 1))))
		if want.Resolution != nil && v.Resolution != nil {
			d += 1e-6 * math.Abs(math.Log(float64(max(v.Resolution.Width*v.Resolution.Height, 1))/float64(max(want.Resolution.Width*want.Resolution.Height, 1))))
		}
		if d < bestD-1e-12 || (d < bestD+1e-12 && v.Bandwidth < best.Bandwidth) {
			best, bestD = v, d
		}
	}
	return best
}

// pickRendition returns the source rendition of a kind (audio, subtitles)
// that plays as channel track tr: the same language and name, else the
// same language, else the default, else the first one with a URI.
func pickRendition(m *hls.Multivariant, kind hls.MediaType, tmpl *asset.Asset, tr trackRef) *hls.Rendition {
	var want *hls.Rendition
	if groups := tmpl.Audio; kind == hls.MediaTypeAudio && tr.group < len(groups) && tr.index < len(groups[tr.group]) {
		want = groups[tr.group][tr.index].Rendition
	} else if groups := tmpl.Subs; kind == hls.MediaTypeSubtitles && tr.group < len(groups) && tr.index < len(groups[tr.group]) {
		want = groups[tr.group][tr.index].Rendition
	}
	var cands []*hls.Rendition
	for _, r := range m.Renditions {
		if r.Type == kind && r.URI != "" {
			cands = append(cands, r)
		}
	}
	if len(cands) == 0 {
		return nil
	}
	if want != nil && want.Language != "" {
		for _, r := range cands {
			if r.Language == want.Language && r.Name == want.Name {
				return r
			}
		}
		for _, r := range cands {
			if r.Language == want.Language {
				return r
			}
		}
	}
	for _, r := range cands {
		if r.Default {
			return r
		}
	}
	return cands[0]
}

// update takes a new listing of rendition r.
func (f *liveFeed) update(r *liveRendition, m *hls.Media) error {
	if len(m.Segments) > 0 && m.Segments[0].Keys != nil {
		for _, k := range m.Segments[0].Keys {
			if k.Method != "NONE" {
				return fmt.Errorf("%s: encrypted live sources are not supported", r.at)
			}
		}
	}
	// Compared in seconds: a huge EXT-X-TARGETDURATION would overflow a
	// time.Duration into a negative one that passes.
	if tds := max(m.TargetDuration, 1); tds > f.ch.targetDuration {
		return fmt.Errorf("%s: target duration %ds is longer than the channel's %ds", r.at, tds, f.ch.targetDuration)
	}
	td := time.Duration(max(m.TargetDuration, 1)) * time.Second
	f.mu.Lock()
	defer f.mu.Unlock()
	f.td = td
	var segs []srcSeg
	var init *asset.InitSection
	var initURL string
	var initRange *hls.ByteRange
	for i, s := range m.Segments {
		if s.Map != nil {
			l, err := r.at.Resolve(s.Map.URI)
			if err != nil {
				return err
			}
			initURL, initRange = l.Name, s.Map.ByteRange
			init = f.initFor(initURL, initRange)
		}
		if !r.subs && (init != nil) != (f.asset.Format == asset.FormatFMP4) {
			want := "MPEG-TS"
			if f.asset.Format == asset.FormatFMP4 {
				want = "fMP4"
			}
			return fmt.Errorf("%s: the channel plays %s segments", r.at, want)
		}
		if s.ByteRange != nil {
			return fmt.Errorf("%s: EXT-X-BYTERANGE live sources are not supported", r.at)
		}
		l, err := r.at.Resolve(s.URI)
		if err != nil {
			return err
		}
		dur := time.Duration(math.Round(s.Duration * float64(time.Second)))
		if dur <= 0 {
			continue
		}
		segs = append(segs, srcSeg{
			seq:       m.MediaSequence + int64(i),
			disc:      s.Discontinuity,
			url:       l.Name,
			init:      initURL,
			initRange: initRange,
			seg:       &asset.Seg{Dur: dur, Res: -1, URL: f.addRes(l), Init: init, PDT: s.ProgramDateTime, Gap: s.Gap, Tags: asset.CloneStrings(s.Tags)},
		})
	}
	r.segs = segs
	r.polls++
	if n := len(segs); n > 0 && segs[n-1].seq > r.last {
		r.last = segs[n-1].seq
		r.lastNew = f.e.now()
		f.lastNew = r.lastNew
	}
	return nil
}

// initFor returns the init section at URL u (with byte range br), the same
// one for the same section. f.mu must be held.
func (f *liveFeed) initFor(u string, br *hls.ByteRange) *asset.InitSection {
	if u == "" {
		return nil
	}
	key := u
	if br != nil {
		key += fmt.Sprintf("@%d", br.Length)
		if br.Offset != nil {
			key += fmt.Sprintf(":%d", *br.Offset)
		}
	}
	init := f.inits[key]
	if init == nil {
		init = &asset.InitSection{Res: -1, URL: f.addRes(asset.Loc{Name: u}), ByteRange: br}
		f.inits[key] = init
	}
	return init
}

// addRes adds a resource of the live asset and returns its URI relative
// to the channel's media playlists. The URI is a hash of the source URL,
// so engines that list the same source segment list the same URI whatever
// order they saw the source's segments in. f.mu must be held.
func (f *liveFeed) addRes(l asset.Loc) string {
	id := urlID(l.Name)
	if _, ok := f.res[id]; !ok {
		f.res[id] = l
	}
	return "seg/" + f.asset.ID + "/" + strconv.Itoa(id) + asset.ResourceExt(l.Name)
}

// urlID is the resource number of a live source URL: 63 bits of its
// FNV-1a hash.
func urlID(u string) int {
	h := fnv.New64a()
	_, _ = h.Write([]byte(u))
	return int(h.Sum64() & math.MaxInt64)
}

// downFor reports whether source rendition r (nil: the source before its
// renditions are known) counts as failed at now: its polls failed for 1.5
// target durations, or it listed no new segment for as long. f.mu must be
// held.
func (f *liveFeed) downFor(r *liveRendition, now time.Time) error {
	limit := f.td * 3 / 2
	switch {
	case r == nil:
		if f.err != nil && now.Sub(f.lastOK) > limit {
			return f.err
		}
	case r.err != nil && now.Sub(r.lastOK) > limit:
		return r.err
	case !r.lastNew.IsZero() && now.Sub(r.lastNew) > limit:
		return fmt.Errorf("%s: %w", r.at, errSourceStale)
	}
	return nil
}

// trackSource returns the source rendition track t plays, nil when there
// is none (yet). f.mu must be held.
func (f *liveFeed) trackSource(t int) *liveRendition {
	lt := &f.tracks[t]
	if !f.master || lt.src < 0 || lt.src >= len(f.srcs) || lt.srcErr != nil {
		return nil
	}
	return f.srcs[lt.src]
}
