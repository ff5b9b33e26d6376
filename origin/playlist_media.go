package origin

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"path"
	"slices"
	"strconv"
	"time"

	"github.com/pullpush/pullpush/origin/internal/index"

	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/origin/internal/media"
)

func (o *Origin) serveMedia(w http.ResponseWriter, r *http.Request, ch *channel, ep *endpoint, name string, sh shift, iframes bool) {
	var d llDirectives
	if !iframes {
		var err error
		if d, err = parseDirectives(r.URL.Query()); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		if err := o.awaitPlaylist(r.Context(), ch, ep, name, sh, d); err != nil {
			writeStatusErr(w, err)
			return
		}
	}
	ch.mu.Lock()
	key, vod := mediaCacheKey(ch, ep, name, sh, iframes, d.skip)
	ch.mu.Unlock()
	if key == "" {
		// An error (answered by renderMedia) or nothing to list yet.
		body, vod, err := o.renderMedia(r.Context(), ch, ep, name, sh, iframes, d.skip)
		if err != nil {
			writeStatusErr(w, err)
			return
		}
		servePlaylist(w, r, body, playlistCacheControl(vod))
		return
	}
	// A playlist is a function of its window's segments, which never
	// change once stored: render each window once, however many players
	// ask for it.
	p, err := o.playlists.get(r.Context(), key, func() (*product, error) {
		// Other requests may wait for this render: a client that goes
		// away does not fail theirs.
		body, _, err := o.renderMedia(context.WithoutCancel(r.Context()), ch, ep, name, sh, iframes, d.skip)
		if err != nil {
			return nil, err
		}
		return &product{data: body}, nil
	})
	if err != nil {
		writeStatusErr(w, err)
		return
	}
	servePlaylist(w, r, p.data, playlistCacheControl(vod))
}

// mediaCacheKey returns the cache key of a media or I-frame playlist and
// whether its window is closed (ENDLIST), or "" when there is nothing to
// list; caller holds ch.mu. The key names the channel's settings
// generation, the window's kind, the build of a joined timeline and the
// window's first and last sequence numbers and count: a live edge that moves, a window the startover
// pruning trims or a segment that arrives late inside it renders again.
// Low-latency playlists also name the parts' state of every rendition
// (their rendition reports) and whether the request asked for a delta
// update.
func mediaCacheKey(ch *channel, ep *endpoint, name string, sh shift, iframes, skip bool) (string, bool) {
	v := ch.view(ep, name)
	if v == nil {
		return "", false
	}
	win, es := ch.window(ep, v.rd, sh)
	if es != nil || win.hi <= win.lo {
		return "", false
	}
	segs := v.rd.Segs
	key := fmt.Sprintf("%s\x00%d\x00%s\x00%s\x00%t%t%t\x00%d\x00%d\x00%d\x00%d", ch.cfg.ID, ch.gen, ep.id, name, iframes, win.vod, win.event,
		v.rd.Rev, segs[win.lo].Seq, segs[win.hi-1].Seq, win.hi-win.lo)
	if !iframes && ch.lowLatency(v, sh) {
		key += ch.partsKey(skip)
	}
	return key, win.vod
}

// renderMedia renders a media or I-frame playlist and reports whether it
// is closed (ENDLIST). Its errors are *errStatus values.
func (o *Origin) renderMedia(ctx context.Context, ch *channel, ep *endpoint, name string, sh shift, iframes, skip bool) ([]byte, bool, error) {
	ch.mu.Lock()
	v := ch.view(ep, name)
	if v == nil || (iframes && (!ep.iframes || v.pick != media.PickMain || !slices.Contains(ch.iframeKeys(), v.rd.Key))) {
		ch.mu.Unlock()
		return nil, false, &errStatus{http.StatusNotFound, fmt.Sprintf("no playlist %q", name)}
	}
	win, es := ch.window(ep, v.rd, sh)
	if es != nil {
		ch.mu.Unlock()
		return nil, false, es
	}
	var m *hls.Media
	var refs []keyRef
	switch {
	case !iframes:
		m, refs = ch.mediaPlaylist(v, win)
		if ch.lowLatency(v, sh) {
			ch.addLowLatency(v, m, win, skip)
		}
		ch.mu.Unlock()
	case !v.transformed():
		m, refs = ch.iframePlaylist(v, v.rd.Segs[win.lo:win.hi], nil, win)
		ch.mu.Unlock()
	default:
		// Packaged I-frames: the keyframes of each packaged segment are
		// known once it has been packaged; do that outside the lock.
		segs := append([]index.Rec(nil), v.rd.Segs[win.lo:win.hi]...)
		ch.mu.Unlock()
		kfs, err := o.derivedKeyframes(ctx, ch, v, segs)
		if err != nil {
			o.log.Warn("package I-frames", logChannel, ch.cfg.ID, logEndpoint, ep.id, logErr, err)
			return nil, false, &errStatus{http.StatusInternalServerError, "cannot package segments"}
		}
		m, refs = ch.iframePlaylist(v, segs, kfs, win)
	}
	if err := o.addKeyTags(ctx, ch, v, refs); err != nil {
		o.log.Warn("key for playlist", logChannel, ch.cfg.ID, logEndpoint, ep.id, logErr, err)
		return nil, false, &errStatus{http.StatusServiceUnavailable, "encryption key unavailable"}
	}
	return m.Encode(), win.vod, nil
}

func targetDuration(rd *index.Rendition, segs []index.Rec) int {
	t := int(math.Ceil(rd.Target.Seconds()))
	for i := range segs {
		if d := int(math.Round(float64(segs[i].Dur) / 1e9)); d > t {
			t = d
		}
	}
	return max(t, 1)
}

// header fills the header fields shared by media and I-frame playlists.
func (v *rview) header(segs []index.Rec, win window) *hls.Media {
	m := &hls.Media{
		Version:               3,
		TargetDuration:        targetDuration(v.rd, segs),
		MediaSequence:         segs[0].Seq,
		DiscontinuitySequence: segs[0].DiscN,
		Segments:              make([]*hls.Segment, 0, len(segs)),
	}
	if v.cmaf {
		m.DiscontinuitySequence = segs[0].CDiscN
	}
	if v.enc != nil {
		m.Version = 5 // KEYFORMAT
	}
	switch {
	case win.vod:
		m.PlaylistType, m.Endlist = hls.PlaylistTypeVOD, true
	case win.event:
		m.PlaylistType = hls.PlaylistTypeEvent
	}
	m.Start = v.ep.start
	return m
}

// keyRef asks for the EXT-X-KEY of a key period before a segment.
type keyRef struct {
	seg    *hls.Segment
	seq    int64
	period int64
	newKey bool // first segment of the key (or of the playlist)
}

// segState tracks, while listing segments, when EXT-X-MAP and EXT-X-KEY
// must be repeated.
type segState struct {
	first      bool
	prevInit   *index.StoredFile
	prevHash   string
	prevPeriod int64
}

// decorate sets the discontinuity, EXT-X-MAP (URI relative to dir, "" or
// "name/") and key request of segment s listed as seg. It reports false
// when the segment cannot be packaged (a gap).
func (v *rview) decorate(st *segState, s *index.Rec, seg *hls.Segment, dir string, refs *[]keyRef) bool {
	disc := s.Disc
	if v.cmaf {
		disc = s.CDisc
	}
	seg.Discontinuity = !st.first && disc
	var period int64
	newKey := false
	if v.enc != nil {
		period = v.enc.period(s.Start)
		newKey = st.first || period != st.prevPeriod
	}
	ok := true
	switch {
	case v.cmaf:
		h := s.TS.Hash(v.pick)
		if h == "" {
			ok = false
		} else if st.first || seg.Discontinuity || h != st.prevHash || (newKey && v.enc.keyedInit()) {
			u := dir + "cinit-" + h
			if v.enc.keyedInit() {
				u += "-k" + strconv.FormatInt(period, 10)
			}
			seg.Map = &hls.Map{URI: u + ".mp4"}
		}
		st.prevHash = h
	case s.Init != nil:
		if st.first || s.Init != st.prevInit || seg.Discontinuity || (newKey && v.enc.keyedInit()) {
			u := dir + "init-" + strconv.FormatUint(s.Init.ID, 10)
			if v.enc.keyedInit() {
				u += "-k" + strconv.FormatInt(period, 10)
			}
			seg.Map = &hls.Map{URI: u + path.Ext(s.Init.Path)}
		}
		st.prevInit = s.Init
	}
	if v.enc != nil && (newKey || v.enc.repeat || v.enc.method == MethodSampleAES) {
		*refs = append(*refs, keyRef{seg: seg, seq: s.Seq, period: period, newKey: newKey})
	}
	st.prevPeriod, st.first = period, false
	return ok
}

// mediaPlaylist lists rd's segments in win. Caller holds c.mu.
func (c *channel) mediaPlaylist(v *rview, win window) (*hls.Media, []keyRef) {
	rd := v.rd
	m := v.header(rd.Segs[win.lo:win.hi], win)
	var refs []keyRef
	var lastPDT int64
	st := segState{first: true}
	ext := v.ext()
	for i := win.lo; i < win.hi; i++ {
		s := &rd.Segs[i]
		seg := &hls.Segment{
			Duration: float64(s.Dur) / 1e9,
			URI:      v.name + "/" + strconv.FormatInt(s.Seq, 10) + ext,
		}
		if !v.decorate(&st, s, seg, v.name+"/", &refs) {
			seg.Gap = true
			m.Version = max(m.Version, 8)
		}
		if seg.Map != nil {
			m.Version = max(m.Version, 6)
		}
		if i == win.lo || seg.Discontinuity || s.Start-lastPDT >= int64(v.ep.pdt) {
			seg.ProgramDateTime = time.Unix(0, s.Start).UTC()
			lastPDT = s.Start
		}
		if s.Extra != nil {
			seg.Tags = s.Extra.Tags
			seg.DateRanges = s.Extra.DateRanges
		}
		m.Segments = append(m.Segments, seg)
	}
	v.markAds(m, win)
	return m, refs
}

// iframePlaylist lists the keyframes of segs with their byte ranges: from
// kfs (packaged segments) when given, else from the stored files. It reads
// only segs and immutable file fields, so packaged playlists are built
// without c.mu.
func (c *channel) iframePlaylist(v *rview, segs []index.Rec, kfs []*media.Keyframes, win window) (*hls.Media, []keyRef) {
	m := v.header(segs, win)
	m.Version = max(m.Version, 6)
	m.IFramesOnly = true
	var refs []keyRef
	var lastPDT int64
	st := segState{first: true}
	ext := v.ext()
	for i := range segs {
		s := &segs[i]
		var kf *media.Keyframes
		if kfs != nil {
			kf = kfs[i]
		} else if s.File != nil {
			kf = s.File.KF
		}
		if kf == nil {
			continue
		}
		uri := strconv.FormatInt(s.Seq, 10) + ext
		segDur := float64(s.Dur) / 1e9
		for k, f := range kf.Frames {
			at := f.At
			next := segDur
			if kf.Frac {
				at *= segDur
				if k+1 < len(kf.Frames) {
					next = kf.Frames[k+1].At * segDur
				}
			} else if k+1 < len(kf.Frames) {
				next = kf.Frames[k+1].At
			}
			off := f.Off
			seg := &hls.Segment{
				Duration:  max(next-at, 0.001),
				URI:       uri,
				ByteRange: &hls.ByteRange{Length: f.Len, Offset: &off},
			}
			if k == 0 {
				v.decorate(&st, s, seg, "", &refs)
				if seg.Map == nil && kf.MapLen > 0 && (s.Init == nil && !v.cmaf) {
					var zero int64
					seg.Map = &hls.Map{URI: uri, ByteRange: &hls.ByteRange{Length: kf.MapLen, Offset: &zero}}
				}
				if i == 0 || seg.Discontinuity || s.Start-lastPDT >= int64(v.ep.pdt) {
					seg.ProgramDateTime = time.Unix(0, s.Start+int64(at*1e9)).UTC()
					lastPDT = s.Start
				}
			}
			m.Segments = append(m.Segments, seg)
		}
	}
	return m, refs
}
