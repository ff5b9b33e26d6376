package origin

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pullpush/pullpush/origin/internal/index"
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
	if seq, idx, ok := parsePartName(base); ok {
		f := o.awaitPart(r.Context(), ch, ep, name, ext, seq, idx)
		if f == nil {
			writeError(w, http.StatusNotFound, "part not found (left the playlist, or never arrived)")
			return
		}
		o.serveStored(w, r, ch, f.Path, ext)
		return
	}
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
	var f *index.StoredFile
	if id, ok := strings.CutPrefix(base, "init-"); ok {
		if n, err := strconv.ParseUint(id, 10, 64); err == nil {
			f = ch.Inits[n]
		}
	} else if seq, err := strconv.ParseInt(base, 10, 64); err == nil && v != nil && v.rd.Ext == ext {
		if i, ok := v.rd.BySeq(seq); ok {
			f = v.rd.Segs[i].File
		}
	}
	var p string
	if f != nil {
		p = f.Path
	}
	ch.mu.Unlock()
	if f == nil {
		writeError(w, http.StatusNotFound, "segment not found (outside the startover window?)")
		return
	}
	o.serveStored(w, r, ch, p, ext)
}

// serveStored serves the stored file at p (a segment, init section or
// part with extension ext) as it is.
func (o *Origin) serveStored(w http.ResponseWriter, r *http.Request, ch *channel, p, ext string) {
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
func (c *channel) published(r *index.Rendition) int {
	if c.publishLag <= 0 {
		return len(r.Segs)
	}
	limit := c.now().UnixNano() - c.publishLag
	return sort.Search(len(r.Segs), func(i int) bool { return r.Segs[i].Pub > limit })
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
func (c *channel) window(ep *endpoint, r *index.Rendition, sh shift) (window, *errStatus) {
	now := c.MediaNow()
	cutoff := now
	visible := c.published(r)
	if ep.delay > 0 {
		cutoff = now - int64(ep.delay)
		visible = min(visible, r.CountEndingBy(cutoff))
	}
	if !sh.hasStart {
		if visible == 0 {
			return window{}, &errStatus{http.StatusNotFound, "no segments available yet"}
		}
		edge := r.Segs[visible-1].End()
		lo := r.FirstEndingAfter(edge - int64(ep.manifest))
		return window{lo: min(lo, visible-1), hi: visible}, nil
	}
	start := sh.start.UnixNano()
	if start > cutoff || start < now-int64(ep.startover) {
		return window{}, &errStatus{http.StatusNotFound, "requested start is outside the startover window"}
	}
	w := window{lo: r.FirstEndingAfter(start), hi: visible}
	if sh.hasEnd {
		e := sh.end.UnixNano()
		w.hi = min(w.hi, r.CountStartingBefore(e))
		w.vod = e <= cutoff && joinedComplete(r, visible, w.hi, e)
	}
	if n := r.CountStartingBefore(start + int64(MaxTimeShiftSpan)); n < w.hi {
		w.hi, w.vod = n, true
	}
	if w.lo >= w.hi {
		return window{}, &errStatus{http.StatusNotFound, "no segments in the requested window"}
	}
	w.event = !w.vod
	return w, nil
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
