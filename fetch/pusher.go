package fetch

import (
	"context"
	"io"
	"math"
	"time"

	"github.com/pullpush/pullpush/fetch/internal/backoff"

	"github.com/pullpush/pullpush/fetch/internal/naming"

	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/logkey"
	"github.com/pullpush/pullpush/output"
)

// Cache-Control values for pushed files.
const (
	cacheSegment  = "public, max-age=86400"
	cachePlaylist = "max-age=1"
)

// push drives target ti for this rendition: segments strictly in order,
// each retried until it succeeds or is evicted from the spool, and the
// media playlist pushed after the segments it references.
func (r *rendition) push(ctx, pctx context.Context, ti int) {
	f := r.f
	t := r.tg[ti]
	dirty := false
	plBackoff := backoff.New(200*time.Millisecond, 5*time.Second)
	for {
		r.mu.Lock()
		next := t.pushed + 1
		e := r.entryLocked(next)
		pt, partDue := r.nextPartLocked(ti, next, e)
		hold := r.partHoldLocked()
		ended := r.ended && next >= r.num.Next
		wait := r.changed.wait()
		r.mu.Unlock()

		if partDue != nil && e != nil && e.isReady() && ctx.Err() == nil {
			// The segment is complete but the last of its parts is still
			// downloading: the parts go first, so that the playlist lists
			// them all; not for long.
			if !r.awaitPart(ctx, ti, next, partDue, hold) {
				return
			}
			continue
		}

		if pt != nil && ctx.Err() == nil {
			if !r.pushPart(ctx, pctx, ti, next, pt) {
				return
			}
			dirty = true
			continue
		}

		if e == nil || !e.isReady() {
			if (dirty || ended) && ctx.Err() != nil {
				return // stopping: only uploads already in flight finish
			}
			if dirty || ended {
				err := r.pushPlaylist(pctx, ti, ended)
				if err == nil {
					dirty = false
					plBackoff.Reset()
					if ended {
						return
					}
				} else {
					f.log.Warn("playlist push failed", "rendition", r.name, "target", f.targets[ti].Name(), logkey.Err, err)
					if !backoff.Sleep(ctx, plBackoff.Next()) {
						return
					}
					continue
				}
			}
			var ready <-chan struct{}
			if e != nil {
				ready = e.ready
			}
			select {
			case <-wait:
			case <-ready:
			case <-partDue:
			case <-ctx.Done():
				return
			}
			continue
		}
		if ctx.Err() != nil {
			return
		}
		pushed, ok := r.pushEntry(ctx, pctx, ti, e)
		if !ok {
			return
		}
		r.done(ti, e, pushed)
		dirty = true
	}
}

// pushEntry pushes the entry's aux files and the segment to target ti,
// retrying with backoff. pushed is false when the entry is a gap for this
// target; ok is false when ctx ended first.
func (r *rendition) pushEntry(ctx, pctx context.Context, ti int, e *entry) (pushed, ok bool) {
	f := r.f
	if e.missed || r.isDropped(e, ti) || e.file == nil {
		return false, true
	}
	// Persist the progress up to the previous segment first, so that
	// after a crash at most this upload is unsaved: at most one segment is
	// pushed again, and no other bytes get its name (see restore).
	r.mu.Lock()
	gen := r.tg[ti].saveGen
	r.mu.Unlock()
	if !f.save.waitSaved(ctx, gen) {
		return false, false
	}
	bo := backoff.New(100*time.Millisecond, 5*time.Second)
	auxes := e.keyAux
	if e.initMap != nil {
		auxes = append(auxes[:len(auxes):len(auxes)], e.initMap)
	}
	for _, a := range auxes {
		r.mu.Lock()
		done := r.tg[ti].auxPushed[a.name]
		r.mu.Unlock()
		if done || a.data == nil {
			continue
		}
		for {
			err := f.putBytes(pctx, ti, a.name, a.data, cacheSegment)
			if err == nil {
				break
			}
			if !backoff.Sleep(ctx, bo.Next()) {
				return false, false
			}
		}
		r.mu.Lock()
		r.tg[ti].auxPushed[a.name] = true
		r.mu.Unlock()
	}
	ext := e.name[len(e.name)-len(naming.SegmentExt(e.name, "")):]
	file := output.File{
		Name: e.name, ContentType: naming.ContentType(ext), CacheControl: cacheSegment, Size: e.size,
		Open: func() (io.ReadCloser, error) { return f.spool.Open(e.file) },
	}
	for {
		err := f.put(pctx, ti, file)
		if err == nil {
			f.segmentPushed(ti, e.size)
			f.targetOK(ti)
			return true, true
		}
		if r.isDropped(e, ti) {
			return false, true
		}
		f.log.Debug("segment push failed, retrying", "rendition", r.name, "segment", e.name, logkey.Err, err)
		if !backoff.Sleep(ctx, bo.Next()) {
			return false, false
		}
	}
}

func (r *rendition) isDropped(e *entry, ti int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return e.dropped[ti]
}

// evicted marks an entry whose spool file was evicted: every target that
// had not pushed it gets a gap, counted by done once its pusher gets there
// (an upload already in flight may still succeed from the open file).
func (f *Fetcher) evicted(e *entry) {
	r := e.r
	r.mu.Lock()
	for ti, t := range r.tg {
		if e.seq > t.pushed {
			e.dropped[ti] = true
		}
	}
	e.released = true
	r.mu.Unlock()
	r.changed.notify()
}

// done records that target ti is past entry e, slides its window and trims
// entries every target is done with.
func (r *rendition) done(ti int, e *entry, pushed bool) {
	f := r.f
	r.mu.Lock()
	t := r.tg[ti]
	t.pushed = e.seq
	t.saveGen = f.save.nextGen()
	if pushed {
		e.dropped[ti] = false
	}
	dropped := !pushed && !e.missed && e.dropped[ti]
	e.pending--
	release := false
	if e.pending <= 0 && !e.released {
		e.released = true
		release = e.file != nil
		if !e.missed {
			f.mu.Lock()
			f.pushedAll++
			f.mu.Unlock()
		}
	}
	if !r.grows {
		window := f.cfg.Window.Seconds()
		total := 0.0
		for s := t.winStart; s <= t.pushed; s++ {
			if x := r.entryLocked(s); x != nil {
				total += x.duration
			}
		}
		for t.winStart < t.pushed && total > window {
			x := r.entryLocked(t.winStart)
			if x == nil {
				t.winStart++
				continue
			}
			total -= x.duration
			if x.disc {
				t.discSeq++
			}
			if !x.missed {
				t.expired = append(t.expired, x.name)
			}
			t.expirePartsLocked(x.seq)
			t.winStart++
		}
	}
	// Trim entries that every target has slid past.
	minStart := int64(math.MaxInt64)
	for _, x := range r.tg {
		minStart = min(minStart, x.winStart, x.pushed+1)
	}
	n := 0
	for n < len(r.entries) && r.entries[n].seq < minStart {
		n++
	}
	if n > 0 {
		clear(r.entries[:n])
		r.entries = r.entries[n:]
	}
	lag := 0.0
	minPushed := int64(math.MaxInt64)
	for _, x := range r.tg {
		minPushed = min(minPushed, x.pushed)
	}
	for _, x := range r.entries {
		if x.seq > minPushed {
			lag += x.duration
		}
	}
	r.mu.Unlock()
	if dropped {
		f.segmentDropped(ti)
		f.log.Warn("spool full: dropped oldest segment for a lagging target", "rendition", r.name, "segment", e.name, "target", f.targets[ti].Name())
	}
	if release {
		f.spool.Release(e.file)
	}
	f.obs.Lag(f.cfg.ID, lag)
	f.save.request()
}

// deleteLag is how many expired segments stay on a target before deletion,
// so players that loaded an older playlist can still fetch them.
const deleteLag = 10

// pushPlaylist builds and pushes the media playlist for target ti.
func (r *rendition) pushPlaylist(ctx context.Context, ti int, final bool) error {
	f := r.f
	reports := r.renditionReports(ti)
	r.mu.Lock()
	data := r.buildPlaylist(ti, final, reports)
	r.mu.Unlock()
	if err := f.putBytes(ctx, ti, r.playlistName(), data, cachePlaylist); err != nil {
		return err
	}
	r.mu.Lock()
	t := r.tg[ti]
	t.playlistPushed = true
	var del []string
	if len(t.expired) > deleteLag {
		del = append(del, t.expired[:len(t.expired)-deleteLag]...)
		t.expired = append(t.expired[:0], t.expired[len(t.expired)-deleteLag:]...)
	}
	// Parts are listed only near the live edge: gone with their segment
	// from the window, they go at once.
	del = append(del, t.expiredParts...)
	t.expiredParts = t.expiredParts[:0]
	r.mu.Unlock()
	if err := f.masterReady(ctx, ti); err != nil {
		f.log.Warn("multivariant push failed", "target", f.targets[ti].Name(), logkey.Err, err)
	}
	if len(del) > 0 && f.deletesExpired() {
		for _, name := range del {
			dctx, cancel := context.WithTimeout(ctx, f.cfg.PushTimeout)
			if err := f.targets[ti].Delete(dctx, name); err != nil {
				f.log.Debug("delete expired segment", "segment", name, logkey.Err, err)
			}
			cancel()
		}
	}
	return nil
}

// buildPlaylist returns the media playlist of target ti: the window of
// segments done on that target. A target that accepts parts of a
// Low-Latency HLS source also gets the parts of the newest segments and of
// the one in progress, and reports (EXT-X-RENDITION-REPORT) on the other
// renditions. Call with r.mu held.
func (r *rendition) buildPlaylist(ti int, final bool, reports []*hls.RenditionReport) []byte {
	t := r.tg[ti]
	m := &hls.Media{
		Version:               max(r.version, 3),
		IndependentSegments:   r.independent,
		TargetDuration:        r.td,
		MediaSequence:         t.winStart,
		DiscontinuitySequence: t.discSeq,
		Endlist:               final,
	}
	if r.playlistType == hls.PlaylistTypeEvent || r.playlistType == hls.PlaylistTypeVOD {
		m.PlaylistType = r.playlistType
	}
	var prevKeys []*hls.Key
	var prevMap *aux
	first := true
	withParts := t.parts && r.ll.active && !final
	for seq := t.winStart; seq <= t.pushed; seq++ {
		e := r.entryLocked(seq)
		if e == nil {
			continue
		}
		s := &hls.Segment{
			Duration: e.duration, Title: e.title, URI: e.name,
			Discontinuity: e.disc, ProgramDateTime: e.pdt,
			Tags: e.tags, DateRanges: e.dranges, Bitrate: e.bitrate,
			Gap: e.missed || e.dropped[ti],
		}
		if e.initMap != nil && (first || e.disc || e.initMap != prevMap) {
			s.Map = &hls.Map{URI: e.initMap.name}
			m.Version = max(m.Version, 6)
		}
		if first || !keysEqual(e.keys, prevKeys) {
			if len(e.keys) > 0 {
				s.Keys = e.keys
				for _, k := range e.keys {
					if k.IV != "" {
						m.Version = max(m.Version, 2)
					}
				}
			} else if !first {
				s.Keys = []*hls.Key{{Method: "NONE"}}
			}
		}
		if withParts && seq > t.pushed-partSegsKept && !s.Gap {
			s.Parts = r.pushedPartsLocked(ti, e)
		}
		prevKeys, prevMap = e.keys, e.initMap
		first = false
		m.Segments = append(m.Segments, s)
	}
	if withParts {
		r.llHeaderLocked(m)
		m.Parts = r.trailingPartsLocked(ti)
		m.RenditionReports = reports
	}
	return m.Encode()
}

func keysEqual(a, b []*hls.Key) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Method != y.Method || x.URI != y.URI || x.IV != y.IV || x.KeyFormat != y.KeyFormat || x.KeyFormatVersions != y.KeyFormatVersions {
			return false
		}
	}
	return true
}
