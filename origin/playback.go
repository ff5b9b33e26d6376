package origin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/origin/internal/media"
)

// Content types and cache policies of playback responses.
const (
	playlistType   = "application/vnd.apple.mpegurl"
	cacheLive      = "max-age=1"
	cacheImmutable = "max-age=86400"
	// playlistCacheBytes bounds the rendered media playlists kept in
	// memory.
	playlistCacheBytes = 32 << 20
	iframesName        = "iframes.m3u8"
	indexName          = "index.m3u8"
)

// shift is a time-shift request: start and optional end.
type shift struct {
	hasStart, hasEnd bool
	start, end       time.Time
	query            string // "?start=..&end=.." to append to playlist URIs (query form)
}

// parseShift reads start/end from the path elements (already split off)
// or the query. An end without a start is ignored.
func parseShift(pathStart, pathEnd string, q url.Values) (shift, error) {
	var sh shift
	start, end := pathStart, pathEnd
	fromQuery := false
	if start == "" && end == "" {
		start, end = q.Get("start"), q.Get("end")
		fromQuery = true
	}
	if start == "" {
		return sh, nil
	}
	t, err := ParseTimeParam(start)
	if err != nil {
		return sh, fmt.Errorf("start: %w", err)
	}
	sh.start, sh.hasStart = t, true
	if end != "" {
		e, err := ParseTimeParam(end)
		if err != nil {
			return sh, fmt.Errorf("end: %w", err)
		}
		if !e.After(t) {
			return sh, fmt.Errorf("end must be after start")
		}
		if e.Sub(t) > MaxTimeShiftSpan {
			return sh, fmt.Errorf("requested span %s is longer than 24h", e.Sub(t))
		}
		sh.end, sh.hasEnd = e, true
	}
	if fromQuery {
		v := url.Values{}
		v.Set("start", strconv.FormatInt(sh.start.Unix(), 10))
		if sh.hasEnd {
			v.Set("end", strconv.FormatInt(sh.end.Unix(), 10))
		}
		sh.query = "?" + v.Encode()
	}
	return sh, nil
}

func setCORS(h http.Header) {
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Range, Origin, Accept, Content-Type")
	h.Set("Access-Control-Expose-Headers", "Content-Length, Content-Range, Content-Type, Date, Accept-Ranges")
	h.Set("Access-Control-Max-Age", "86400")
}

func (o *Origin) servePlayback(w http.ResponseWriter, r *http.Request) {
	setCORS(w.Header())
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	id := r.PathValue("channel")
	ch := o.lookup(id)
	if ch == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("unknown channel %q", id))
		return
	}
	if !ch.acc.playback(r) {
		writeError(w, http.StatusForbidden, "CDN authorization: missing or wrong "+ch.acc.cdnHeader+" header")
		return
	}
	rest := strings.TrimPrefix(r.URL.EscapedPath(), "/out/v1/"+id+"/")
	parts := strings.Split(rest, "/")
	var ps, pe string
	// Time-shift path elements may come before and after the endpoint:
	// /out/v1/{channel}[/start/T][/end/T][/{endpoint}][/start/T][/end/T]/...
	takeShift := func() bool {
		for len(parts) >= 3 && (parts[0] == "start" || parts[0] == "end") {
			v, err := url.PathUnescape(parts[1])
			if err != nil {
				return false
			}
			if parts[0] == "start" {
				ps = v
			} else {
				pe = v
			}
			parts = parts[2:]
		}
		return true
	}
	if !takeShift() {
		writeError(w, http.StatusBadRequest, "bad path element")
		return
	}
	ep := ch.eps[0]
	if len(parts) >= 2 {
		if e := ch.endpoint(parts[0]); e != nil {
			ep, parts = e, parts[1:]
			if !takeShift() {
				writeError(w, http.StatusBadRequest, "bad path element")
				return
			}
		}
	}
	for _, p := range parts {
		if !validName(p) {
			writeError(w, http.StatusNotFound, "not found")
			return
		}
	}
	sh, err := parseShift(ps, pe, r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	switch {
	case len(parts) == 1 && parts[0] == ep.manifest0:
		o.serveMultivariant(w, r, ch, ep, sh)
	case len(parts) == 1 && ep.dash && parts[0] == mpdName:
		o.serveMPD(w, r, ch, ep, sh)
	case len(parts) == 1 && ep.dash && parts[0] == timeName:
		o.serveDASHTime(w, r, ch, ep)
	case len(parts) == 1 && strings.HasSuffix(parts[0], ".m3u8"):
		o.serveMedia(w, r, ch, ep, strings.TrimSuffix(parts[0], ".m3u8"), sh, false)
	case len(parts) == 2 && parts[1] == iframesName:
		o.serveMedia(w, r, ch, ep, parts[0], sh, true)
	case len(parts) == 2:
		o.serveFile(w, r, ch, ep, parts[0], parts[1])
	default:
		writeError(w, http.StatusNotFound, "not found")
	}
}

// endpoint returns the endpoint called id, or nil.
func (c *channel) endpoint(id string) *endpoint {
	for _, ep := range c.eps {
		if ep.id != "" && ep.id == id {
			return ep
		}
	}
	return nil
}

func servePlaylist(w http.ResponseWriter, r *http.Request, body []byte, cache string) {
	w.Header().Set("Content-Type", playlistType)
	w.Header().Set("Cache-Control", cache)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// serveFile serves a segment ({seq}.{ext}) or init section of rendition
// name: as stored, or packaged for the endpoint (repackaged to CMAF,
// encrypted).
func (o *Origin) serveFile(w http.ResponseWriter, r *http.Request, ch *channel, ep *endpoint, name, file string) {
	ext := path.Ext(file)
	base := strings.TrimSuffix(file, ext)
	ch.mu.Lock()
	v := ch.view(ep, name)
	if v != nil && v.transformed() {
		j, msg := ch.job(v, base, ext)
		ch.mu.Unlock()
		if j == nil {
			writeError(w, http.StatusNotFound, msg)
			return
		}
		p, err := o.produce(r.Context(), ch, j)
		if err != nil {
			o.log.Warn("package segment", logChannel, ch.cfg.ID, logEndpoint, ep.id, logFile, name+"/"+file, logErr, err)
			writeError(w, http.StatusInternalServerError, "cannot package segment")
			return
		}
		w.Header().Set("Content-Type", j.contentType())
		w.Header().Set("Cache-Control", cacheImmutable)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(p.data))
		return
	}
	var f *storedFile
	if id, ok := strings.CutPrefix(base, "init-"); ok {
		if n, err := strconv.ParseUint(id, 10, 64); err == nil {
			f = ch.inits[n]
		}
	} else if seq, err := strconv.ParseInt(base, 10, 64); err == nil && v != nil && v.rd.ext == ext {
		if i, ok := v.rd.bySeq(seq); ok {
			f = v.rd.segs[i].file
		}
	}
	var p string
	if f != nil {
		p = f.path
	}
	ch.mu.Unlock()
	if f == nil {
		writeError(w, http.StatusNotFound, "segment not found (outside the startover window?)")
		return
	}
	ct := segmentTypes[strings.ToLower(ext)]
	if ct == "" {
		ct = "application/octet-stream"
	}
	if o.shared != nil {
		data, err := o.shared.read(r.Context(), p)
		if err != nil {
			o.log.Warn("read segment", logChannel, ch.cfg.ID, logFile, p, logErr, err)
			writeError(w, http.StatusNotFound, "segment not found")
			return
		}
		w.Header().Set("Content-Type", ct)
		w.Header().Set("Cache-Control", cacheImmutable)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
		return
	}
	file2, err := os.Open(p)
	if err != nil {
		writeError(w, http.StatusNotFound, "segment not found")
		return
	}
	defer file2.Close()
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", cacheImmutable)
	http.ServeContent(w, r, "", time.Time{}, file2)
}

// published returns the number of segments of r that playlists may list:
// all of them, or on shared storage those appended at least the
// propagation delay ago by the ingest clock, so that every instance lists
// the same segments at the same time.
func (c *channel) published(r *rendition) int {
	if c.publishLag <= 0 {
		return len(r.segs)
	}
	limit := c.now().UnixNano() - c.publishLag
	return sort.Search(len(r.segs), func(i int) bool { return r.segs[i].pub > limit })
}

// window is the range [lo, hi) of a rendition's segments a playlist shows.
type window struct {
	lo, hi int
	vod    bool // ENDLIST + PLAYLIST-TYPE:VOD
	event  bool // growing time-shift: PLAYLIST-TYPE:EVENT
}

// errStatus is an HTTP error from playlist generation.
type errStatus struct {
	code int
	msg  string
}

func (e *errStatus) Error() string { return e.msg }

// window selects the segments to list. Cost is O(log n): binary searches
// over the time-sorted index.
func (c *channel) window(ep *endpoint, r *rendition, sh shift) (window, *errStatus) {
	now := c.mediaNow()
	cutoff := now
	visible := c.published(r)
	if ep.delay > 0 {
		cutoff = now - int64(ep.delay)
		visible = min(visible, r.countEndingBy(cutoff))
	}
	if !sh.hasStart {
		if visible == 0 {
			return window{}, &errStatus{http.StatusNotFound, "no segments available yet"}
		}
		edge := r.segs[visible-1].end()
		lo := r.firstEndingAfter(edge - int64(ep.manifest))
		return window{lo: min(lo, visible-1), hi: visible}, nil
	}
	start := sh.start.UnixNano()
	if start > cutoff || start < now-int64(ep.startover) {
		return window{}, &errStatus{http.StatusNotFound, "requested start is outside the startover window"}
	}
	w := window{lo: r.firstEndingAfter(start), hi: visible}
	if sh.hasEnd {
		e := sh.end.UnixNano()
		w.hi = min(w.hi, r.countStartingBefore(e))
		w.vod = e <= cutoff && joinedComplete(r, visible, w.hi, e)
	}
	if n := r.countStartingBefore(start + int64(MaxTimeShiftSpan)); n < w.hi {
		w.hi, w.vod = n, true
	}
	if w.lo >= w.hi {
		return window{}, &errStatus{http.StatusNotFound, "no segments in the requested window"}
	}
	w.event = !w.vod
	return w, nil
}

func (o *Origin) serveMedia(w http.ResponseWriter, r *http.Request, ch *channel, ep *endpoint, name string, sh shift, iframes bool) {
	ch.mu.Lock()
	key, vod := mediaCacheKey(ch, ep, name, sh, iframes)
	ch.mu.Unlock()
	if key == "" {
		// An error (answered by renderMedia) or nothing to list yet.
		body, vod, err := o.renderMedia(r.Context(), ch, ep, name, sh, iframes)
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
		body, _, err := o.renderMedia(context.WithoutCancel(r.Context()), ch, ep, name, sh, iframes)
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

// playlistCacheControl is the Cache-Control of a live or closed playlist.
func playlistCacheControl(vod bool) string {
	if vod {
		return cacheImmutable
	}
	return cacheLive
}

// writeStatusErr answers an *errStatus with its code, anything else (a
// cancelled request) with 503.
func writeStatusErr(w http.ResponseWriter, err error) {
	var es *errStatus
	if errors.As(err, &es) {
		writeError(w, es.code, es.msg)
		return
	}
	writeError(w, http.StatusServiceUnavailable, err.Error())
}

// mediaCacheKey returns the cache key of a media or I-frame playlist and
// whether its window is closed (ENDLIST), or "" when there is nothing to
// list; caller holds ch.mu. The key names the channel's settings
// generation, the window's kind, the build of a joined timeline and the
// window's first and last sequence numbers and count: a live edge that moves, a window the startover
// pruning trims or a segment that arrives late inside it renders again.
func mediaCacheKey(ch *channel, ep *endpoint, name string, sh shift, iframes bool) (string, bool) {
	v := ch.view(ep, name)
	if v == nil {
		return "", false
	}
	win, es := ch.window(ep, v.rd, sh)
	if es != nil || win.hi <= win.lo {
		return "", false
	}
	segs := v.rd.segs
	return fmt.Sprintf("%s\x00%d\x00%s\x00%s\x00%t%t%t\x00%d\x00%d\x00%d\x00%d", ch.cfg.ID, ch.gen, ep.id, name, iframes, win.vod, win.event,
		v.rd.rev, segs[win.lo].seq, segs[win.hi-1].seq, win.hi-win.lo), win.vod
}

// renderMedia renders a media or I-frame playlist and reports whether it
// is closed (ENDLIST). Its errors are *errStatus values.
func (o *Origin) renderMedia(ctx context.Context, ch *channel, ep *endpoint, name string, sh shift, iframes bool) ([]byte, bool, error) {
	ch.mu.Lock()
	v := ch.view(ep, name)
	if v == nil || (iframes && (!ep.iframes || v.pick != media.PickMain || !slices.Contains(ch.iframeKeys(), v.rd.key))) {
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
		ch.mu.Unlock()
	case !v.transformed():
		m, refs = ch.iframePlaylist(v, v.rd.segs[win.lo:win.hi], nil, win)
		ch.mu.Unlock()
	default:
		// Packaged I-frames: the keyframes of each packaged segment are
		// known once it has been packaged; do that outside the lock.
		segs := append([]rec(nil), v.rd.segs[win.lo:win.hi]...)
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

func targetDuration(rd *rendition, segs []rec) int {
	t := int(math.Ceil(rd.target.Seconds()))
	for i := range segs {
		if d := int(math.Round(float64(segs[i].dur) / 1e9)); d > t {
			t = d
		}
	}
	return max(t, 1)
}

// header fills the header fields shared by media and I-frame playlists.
func (v *rview) header(segs []rec, win window) *hls.Media {
	m := &hls.Media{
		Version:               3,
		TargetDuration:        targetDuration(v.rd, segs),
		MediaSequence:         segs[0].seq,
		DiscontinuitySequence: segs[0].discN,
		Segments:              make([]*hls.Segment, 0, len(segs)),
	}
	if v.cmaf {
		m.DiscontinuitySequence = segs[0].cdiscN
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
	prevInit   *storedFile
	prevHash   string
	prevPeriod int64
}

// decorate sets the discontinuity, EXT-X-MAP (URI relative to dir, "" or
// "name/") and key request of segment s listed as seg. It reports false
// when the segment cannot be packaged (a gap).
func (v *rview) decorate(st *segState, s *rec, seg *hls.Segment, dir string, refs *[]keyRef) bool {
	disc := s.disc
	if v.cmaf {
		disc = s.cdisc
	}
	seg.Discontinuity = !st.first && disc
	var period int64
	newKey := false
	if v.enc != nil {
		period = v.enc.period(s.start)
		newKey = st.first || period != st.prevPeriod
	}
	ok := true
	switch {
	case v.cmaf:
		h := s.ts.Hash(v.pick)
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
	case s.init != nil:
		if st.first || s.init != st.prevInit || seg.Discontinuity || (newKey && v.enc.keyedInit()) {
			u := dir + "init-" + strconv.FormatUint(s.init.id, 10)
			if v.enc.keyedInit() {
				u += "-k" + strconv.FormatInt(period, 10)
			}
			seg.Map = &hls.Map{URI: u + path.Ext(s.init.path)}
		}
		st.prevInit = s.init
	}
	if v.enc != nil && (newKey || v.enc.repeat || v.enc.method == MethodSampleAES) {
		*refs = append(*refs, keyRef{seg: seg, seq: s.seq, period: period, newKey: newKey})
	}
	st.prevPeriod, st.first = period, false
	return ok
}

// mediaPlaylist lists rd's segments in win. Caller holds c.mu.
func (c *channel) mediaPlaylist(v *rview, win window) (*hls.Media, []keyRef) {
	rd := v.rd
	m := v.header(rd.segs[win.lo:win.hi], win)
	var refs []keyRef
	var lastPDT int64
	st := segState{first: true}
	ext := v.ext()
	for i := win.lo; i < win.hi; i++ {
		s := &rd.segs[i]
		seg := &hls.Segment{
			Duration: float64(s.dur) / 1e9,
			URI:      v.name + "/" + strconv.FormatInt(s.seq, 10) + ext,
		}
		if !v.decorate(&st, s, seg, v.name+"/", &refs) {
			seg.Gap = true
			m.Version = max(m.Version, 8)
		}
		if seg.Map != nil {
			m.Version = max(m.Version, 6)
		}
		if i == win.lo || seg.Discontinuity || s.start-lastPDT >= int64(v.ep.pdt) {
			seg.ProgramDateTime = time.Unix(0, s.start).UTC()
			lastPDT = s.start
		}
		if s.extra != nil {
			seg.Tags = s.extra.tags
			seg.DateRanges = s.extra.dateRanges
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
func (c *channel) iframePlaylist(v *rview, segs []rec, kfs []*media.Keyframes, win window) (*hls.Media, []keyRef) {
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
		} else if s.file != nil {
			kf = s.file.kf
		}
		if kf == nil {
			continue
		}
		uri := strconv.FormatInt(s.seq, 10) + ext
		segDur := float64(s.dur) / 1e9
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
				if seg.Map == nil && kf.MapLen > 0 && (s.init == nil && !v.cmaf) {
					var zero int64
					seg.Map = &hls.Map{URI: uri, ByteRange: &hls.ByteRange{Length: kf.MapLen, Offset: &zero}}
				}
				if i == 0 || seg.Discontinuity || s.start-lastPDT >= int64(v.ep.pdt) {
					seg.ProgramDateTime = time.Unix(0, s.start+int64(at*1e9)).UTC()
					lastPDT = s.start
				}
			}
			m.Segments = append(m.Segments, seg)
		}
	}
	return m, refs
}

// iframeKeys returns the renditions that have an I-frame playlist, in the
// order of the master's variants (of the renditions received without a
// master): every video variant whose segments have keyframes.
func (c *channel) iframeKeys() []string {
	hasKF := func(key string) bool {
		rd := c.rends[key]
		if rd == nil || len(rd.segs) == 0 {
			return false
		}
		f := rd.segs[len(rd.segs)-1].file
		return f != nil && f.kf != nil && len(f.kf.Frames) > 0
	}
	var keys []string
	add := func(k string) {
		if hasKF(k) && !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	if c.master != nil {
		for _, v := range c.master.Variants {
			add(playlistKey(v.URI))
		}
		return keys
	}
	for _, k := range c.rendKeys {
		add(k)
	}
	return keys
}

// playlistKey maps a playlist URI or ingested file name to a rendition key:
// the file name without .m3u8 ("index" is renamed, as index.m3u8 is the
// playback multivariant).
func playlistKey(uri string) string {
	k := strings.TrimSuffix(fileName(uri), ".m3u8")
	if k == "index" {
		k = "index-media"
	}
	return k
}

// videoCodecs keeps the video entries of a CODECS attribute.
func videoCodecs(codecs string) string {
	var out []string
	for _, c := range strings.Split(codecs, ",") {
		c = strings.TrimSpace(c)
		for _, p := range []string{"avc", "hvc", "hev", "dvh", "dva", "av01", "vp09", "vp8"} {
			if strings.HasPrefix(c, p) {
				out = append(out, c)
				break
			}
		}
	}
	return strings.Join(out, ",")
}

func (o *Origin) serveMultivariant(w http.ResponseWriter, r *http.Request, ch *channel, ep *endpoint, sh shift) {
	filter, err := manifestFilterFromQuery(r.URL.RawQuery)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	ch.mu.Lock()
	mv, es := ch.multivariant(ep, sh)
	cutoff := ch.mediaNow() - int64(ep.delay)
	ch.mu.Unlock()
	if es != nil {
		writeError(w, es.code, es.msg)
		return
	}
	mv.Start = ep.start
	selectStreams(mv, ep.sel)
	if len(mv.Variants) == 0 {
		writeError(w, http.StatusNotFound, "no variant within the endpoint's stream selection")
		return
	}
	if err := filter.apply(mv); err != nil {
		writeError(w, http.StatusNotFound, err.Error())
		return
	}
	cache := cacheLive
	if sh.hasEnd && sh.end.UnixNano() <= cutoff {
		cache = cacheImmutable
	}
	servePlaylist(w, r, mv.Encode(), cache)
}

// cmafAudioGroup is the audio group a CMAF endpoint adds for the audio of
// muxed TS variants.
const cmafAudioGroup = "cmaf-audio"

// multivariant builds the playback multivariant playlist from the ingested
// one (or, without one, from the renditions received). Caller holds c.mu.
func (c *channel) multivariant(ep *endpoint, sh shift) (*hls.Multivariant, *errStatus) {
	if len(c.rendKeys) == 0 {
		return nil, &errStatus{http.StatusNotFound, "channel has no content yet"}
	}
	if sh.hasStart {
		// 404 when the requested window is outside what is retained.
		probe := c.rends[c.rendKeys[0]]
		if ks := c.iframeKeys(); len(ks) > 0 {
			probe = c.rends[ks[0]]
		}
		if _, es := c.window(ep, probe, sh); es != nil {
			return nil, es
		}
	}
	mv := &hls.Multivariant{Version: 3}
	src := c.master
	if src == nil {
		for _, k := range c.rendKeys {
			rd := c.rends[k]
			avg := 0
			if rd.durNS > 0 {
				avg = int(float64(rd.bytes*8) / (float64(rd.durNS) / 1e9))
			}
			mv.Variants = append(mv.Variants, &hls.Variant{Bandwidth: max(int(rd.peak), avg, 1), AverageBandwidth: avg, URI: k + ".m3u8" + sh.query})
		}
	} else {
		mv.Version = src.Version
		mv.IndependentSegments = src.IndependentSegments
		mv.SessionData = src.SessionData
		mv.Tags = src.Tags
		for _, rn := range src.Renditions {
			cp := *rn
			if cp.URI != "" {
				cp.URI = playlistKey(cp.URI) + ".m3u8" + sh.query
			}
			mv.Renditions = append(mv.Renditions, &cp)
		}
		for _, v := range src.Variants {
			cp := *v
			cp.URI = playlistKey(v.URI) + ".m3u8" + sh.query
			mv.Variants = append(mv.Variants, &cp)
		}
	}
	if ep.cmaf {
		c.splitMuxedAudio(mv, sh)
	}
	if ep.iframes {
		// One I-frame playlist per video rendition, so that a player can
		// scrub on the rendition it plays.
		for _, k := range c.iframeKeys() {
			iv := &hls.IFrameVariant{URI: k + "/" + iframesName + sh.query, Bandwidth: c.iframeBandwidth(c.rends[k])}
			for _, v := range mv.Variants {
				if strings.HasPrefix(v.URI, k+".m3u8") {
					iv.Codecs = videoCodecs(v.Codecs)
					iv.Resolution = v.Resolution
					iv.VideoRange = v.VideoRange
					iv.HDCPLevel = v.HDCPLevel
					break
				}
			}
			mv.IFrameVariants = append(mv.IFrameVariants, iv)
			mv.Version = max(mv.Version, 4)
		}
	}
	return mv, nil
}

// splitMuxedAudio makes the audio of muxed TS variants an audio rendition
// of its own, as CMAF carries one track per segment: variants whose TS has
// video and audio and that name no audio group get the group
// cmafAudioGroup, whose one rendition is the audio of the first of them
// ({key}.audio.m3u8).
func (c *channel) splitMuxedAudio(mv *hls.Multivariant, sh shift) {
	var from string
	for _, v := range mv.Variants {
		k := playlistKey(strings.SplitN(v.URI, "?", 2)[0])
		rd := c.rends[k]
		if rd == nil || rd.ext != ".ts" || !rd.muxed() || v.Audio != "" {
			continue
		}
		if from == "" {
			from = k
		}
		v.Audio = cmafAudioGroup
	}
	if from == "" {
		return
	}
	mv.Renditions = append(mv.Renditions, &hls.Rendition{
		Type: hls.MediaTypeAudio, GroupID: cmafAudioGroup, Name: "audio", Default: true, Autoselect: true,
		URI: from + audioSuffix + ".m3u8" + sh.query,
	})
}

// iframeBandwidth estimates the peak bit rate of the I-frame playlist from
// the newest segments.
func (c *channel) iframeBandwidth(rd *rendition) int {
	best := 0.0
	n := c.published(rd)
	for i := max(0, n-10); i < n; i++ {
		s := &rd.segs[i]
		if s.file == nil || s.file.kf == nil || len(s.file.kf.Frames) == 0 || s.dur <= 0 {
			continue
		}
		var n int64
		for _, f := range s.file.kf.Frames {
			n += f.Len
		}
		per := float64(s.dur) / 1e9 / float64(len(s.file.kf.Frames))
		if bps := float64(n*8) / float64(len(s.file.kf.Frames)) / per; bps > best {
			best = bps
		}
	}
	return max(int(best), 1)
}
