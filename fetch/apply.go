package fetch

import (
	"fmt"
	"math"
	"net/url"
	"strings"
	"time"

	"github.com/pullpush/pullpush/fetch/internal/naming"

	"github.com/pullpush/pullpush/fetch/internal/numbering"

	"github.com/pullpush/pullpush/hls"
)

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

// uriKey identifies a source segment independent of query tokens.
func uriKey(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i]
	}
	return u
}

// segKey identifies a source segment by URI (without query) and byte range.
func segKey(s srcSeg) string { return uriKey(s.url) + rangeKey(s.rng) }

// resolveSegments resolves URIs, byte ranges, PDT and key/map state.
func resolveSegments(base *url.URL, pl *hls.Media) ([]srcSeg, error) {
	if pl.MediaSequence < 0 || pl.MediaSequence > numbering.MaxMediaSequence-int64(len(pl.Segments)) {
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
	np := r.num.Plan(first, len(segs), func(i int) string { return segKey(segs[i]) }, len(r.entries) > 0)
	switch np.Event {
	case numbering.NumStale:
		return false // stale playlist (e.g. a lagging CDN edge): ignore
	case numbering.NumFirst:
		for _, t := range r.tg {
			t.pushed = first - 1
			t.winStart = first
		}
	case numbering.NumRealigned:
		f.log.Warn("source renumbered its segments: continuing after the newest segment seen", "rendition", r.name, "msn", np.PrevHead, "now", np.Realign)
	case numbering.NumWentBack:
		f.log.Warn("source media sequence went back: source restarted", "rendition", r.name, "from", np.PrevHead, "to", last)
	case numbering.NumChanged:
		f.log.Warn("source content changed under the same sequence numbers: source restarted", "rendition", r.name, "msn", np.PrevHead)
	case numbering.NumJumped:
		// More segments than a live source publishes between two
		// reloads: the source renumbered, nothing was lost.
		f.log.Warn("source media sequence jumped ahead: source restarted", "rendition", r.name, "from", np.PrevHead, "to", first)
	case numbering.NumMissed:
		r.st.SegmentsMissed += np.Missed
		for range np.Missed {
			f.obs.SegmentMissed(f.cfg.ID, r.name)
		}
		f.log.Warn("segments left the source before they were seen", "rendition", r.name, "count", np.Missed, "from", np.PrevHead+1)
		f.recordError(fmt.Errorf("rendition %s: %d segments missed (source moved past msn %d)", r.name, np.Missed, np.PrevHead+1))
	}
	if np.Skipped {
		r.skipNumbers(np.SkipFrom, np.SkipTo)
	}
	startIdx, disc := np.Start, np.Disc
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
			r: r, seq: r.num.Assign(s.msn, segKey(s)), src: s.msn, srcURL: s.url, rng: s.rng,
			duration: s.seg.Duration, title: strings.Clone(s.seg.Title),
			disc:    s.seg.Discontinuity || (disc && i == startIdx),
			tags:    filterTags(s.seg.Tags),
			dranges: cloneDateRanges(s.seg.DateRanges), bitrate: s.seg.Bitrate,
			ready: make(chan struct{}), dropped: map[int]bool{},
		}
		e.name = r.segmentName(e.seq, naming.SegmentExt(s.url, r.ext))
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
			a = &aux{name: fmt.Sprintf("%s_%s_init_%s%s", r.f.stem, r.name, naming.ShortHash(key), naming.SegmentExt(s.mp.URI, ".mp4")), srcURL: s.mp.URI, rng: s.mpR, ready: make(chan struct{})}
			r.auxes[key] = a
		}
		e.initMap = a
	}
	for _, k := range s.keys {
		kc := *k
		if k.URI != "" && isFetchableKey(k) {
			a := r.auxes[k.URI]
			if a == nil {
				a = &aux{name: fmt.Sprintf("%s_%s_key_%s.key", r.f.stem, r.name, naming.ShortHash(k.URI)), srcURL: k.URI, ready: make(chan struct{})}
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
