package fetch

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pullpush/pullpush/fetch/internal/backoff"

	"github.com/pullpush/pullpush/fetch/internal/naming"

	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/logkey"
	"github.com/pullpush/pullpush/output"
)

// Low-Latency HLS. A source media playlist with EXT-X-PART-INF and parts is
// followed with blocking reloads when it says CAN-BLOCK-RELOAD=YES: each
// reload asks for the next part (_HLS_msn, _HLS_part) and the server answers
// once it exists. The parts of the segment in progress are downloaded into
// memory as they appear and pushed, in order, to the targets that accept
// them (output.PartTarget), each followed by the media playlist listing it;
// the whole segment follows once complete, as for any source. Other targets
// see nothing of this. Parts are tracked only for segments first seen in
// progress, and only the newest few segments keep theirs.

// maxPartBytes bounds one downloaded part.
const maxPartBytes = 16 << 20

// partSegsKept is how many segments, counted back from the one in
// progress, keep their parts (listed in pushed playlists).
const partSegsKept = 4

// blockMissLimit is how many blocking reloads in a row may return without
// anything new (or fail) before the rendition goes back to normal polling.
const blockMissLimit = 3

// part is one partial segment of the source.
type part struct {
	idx         int
	name        string // pushed name
	srcURL      string
	rng         *hls.ByteRange // resolved absolute range, nil for the whole resource
	duration    float64
	independent bool
	seen        time.Time     // when a reload first listed it
	ready       chan struct{} // closed once data is set (or the part is unavailable)
	data        []byte        // nil: unavailable (gap or download failed)
}

func (p *part) isReady() bool {
	select {
	case <-p.ready:
		return true
	default:
		return false
	}
}

// partSeg holds the parts of one source segment.
type partSeg struct {
	msn      int64 // source media sequence number
	seq      int64 // output number, predicted when first seen in progress
	parts    []*part
	complete bool // the source lists the whole segment
}

// partProgress is how far a target got with the parts of one segment.
type partProgress struct {
	n       int  // parts pushed, in order from the first
	stopped bool // a part was unavailable or could not be pushed: no more
}

// pushedPart is a part on a target, deleted with its segment.
type pushedPart struct {
	seq  int64
	name string
}

// expirePartsLocked moves the parts of segments up to seq, which left the
// target's window, to its expired parts (deleted when the output deletes
// expired segments). Call with r.mu held.
func (t *renditionTarget) expirePartsLocked(seq int64) {
	n := 0
	for n < len(t.partFiles) && t.partFiles[n].seq <= seq {
		t.expiredParts = append(t.expiredParts, t.partFiles[n].name)
		n++
	}
	if n > 0 {
		t.partFiles = append(t.partFiles[:0], t.partFiles[n:]...)
	}
}

// llState is the Low-Latency HLS state of a rendition, guarded by its
// mutex.
type llState struct {
	active       bool // the latest playlist has EXT-X-PART-INF and parts
	canBlock     bool // EXT-X-SERVER-CONTROL CAN-BLOCK-RELOAD=YES
	blockOff     bool // blocking reloads did not block: normal polling
	misses       int  // blocking reloads in a row that brought nothing new
	partTarget   float64
	holdBack     float64
	partHoldBack float64
	edgeMSN      int64 // next part expected: source msn of the segment in progress
	edgePart     int   // and its part index
	segs         []*partSeg
	reports      []string // resolved source URLs of the EXT-X-RENDITION-REPORT tags
}

// blocking reports whether the next reload is a blocking one. Call with
// r.mu held.
func (r *rendition) blockingLocked() bool {
	return r.ll.active && r.ll.canBlock && !r.ll.blockOff
}

// reloadRequest returns the URL of the next playlist reload, its timeout
// and whether it is a blocking reload: one asking for the next part, timed
// out after three target durations as the LL-HLS specification says.
func (r *rendition) reloadRequest() (string, time.Duration, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.blockingLocked() {
		return r.url, playlistTimeout, false
	}
	td := time.Duration(max(r.td, 1)) * time.Second
	return withDirectives(r.url, r.ll.edgeMSN, r.ll.edgePart), 3 * td, true
}

// withDirectives adds the blocking reload delivery directives to u.
func withDirectives(u string, msn int64, part int) string {
	frag := ""
	if i := strings.IndexByte(u, '#'); i >= 0 {
		u, frag = u[:i], u[i:]
	}
	sep := "?"
	if strings.IndexByte(u, '?') >= 0 {
		sep = "&"
	}
	return u + sep + "_HLS_msn=" + strconv.FormatInt(msn, 10) + "&_HLS_part=" + strconv.Itoa(part) + frag
}

// blockMissedLocked counts a blocking reload that failed or returned
// nothing new; after blockMissLimit in a row the rendition polls normally.
// Call with r.mu held.
func (r *rendition) blockMissedLocked(why string) {
	r.ll.misses++
	if r.ll.misses >= blockMissLimit && !r.ll.blockOff {
		r.ll.blockOff = true
		r.f.log.Warn("source does not block playlist reloads: polling normally", "rendition", r.name, "reason", why)
	}
}

// applyParts takes the parts of a loaded playlist (after apply numbered
// its segments): new parts of the segments being tracked are downloaded,
// the segment in progress starts being tracked. It reports whether the
// playlist's live edge (segment and part) advanced.
func (r *rendition) applyParts(pl *hls.Media, base *url.URL, blocking bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	ll := &r.ll
	hasParts := len(pl.Parts) > 0
	for _, s := range pl.Segments {
		hasParts = hasParts || len(s.Parts) > 0
	}
	if pl.PartInf == nil || !hasParts || pl.Endlist {
		if ll.active {
			ll.active = false
			ll.segs = nil
			for _, t := range r.tg {
				clear(t.partsPushed)
			}
		}
		if blocking {
			r.blockMissedLocked("no parts in the playlist")
		}
		return false
	}
	ll.active = true
	ll.partTarget = pl.PartInf.PartTarget
	ll.canBlock, ll.holdBack, ll.partHoldBack = false, 0, 0
	if sc := pl.ServerControl; sc != nil {
		ll.canBlock, ll.holdBack, ll.partHoldBack = sc.CanBlockReload, sc.HoldBack, sc.PartHoldBack
	}
	ll.reports = ll.reports[:0]
	for _, rep := range pl.RenditionReports {
		if u, err := base.Parse(rep.URI); err == nil {
			ll.reports = append(ll.reports, u.String())
		}
	}
	tail := pl.MediaSequence + int64(len(pl.Segments)) // the segment in progress
	advanced := tail > ll.edgeMSN || tail == ll.edgeMSN && len(pl.Parts) > ll.edgePart
	if advanced {
		ll.edgeMSN, ll.edgePart = tail, len(pl.Parts)
		ll.misses = 0
	} else if blocking {
		r.blockMissedLocked("reload returned before the next part")
	}
	if !r.f.anyParts {
		return advanced
	}
	now := time.Now()
	for i, s := range pl.Segments {
		msn := pl.MediaSequence + int64(i)
		ps := r.partSegLocked(msn)
		if ps == nil || ps.complete {
			continue
		}
		r.addPartsLocked(ps, base, s.Parts, now)
		ps.complete = true
		if e := r.entryBySourceLocked(msn); e == nil || e.seq != ps.seq {
			// Numbered otherwise than predicted (the source restarted or
			// renumbered): its parts are not listed.
			r.dropPartSegLocked(ps)
		}
	}
	if len(pl.Parts) > 0 {
		ps := r.partSegLocked(tail)
		if ps == nil && tail > r.num.Head && len(r.entries) > 0 {
			ps = &partSeg{msn: tail, seq: r.num.Next + (tail - r.num.Head - 1)}
			ll.segs = append(ll.segs, ps)
		}
		if ps != nil && !ps.complete {
			r.addPartsLocked(ps, base, pl.Parts, now)
		}
	}
	r.trimPartSegsLocked(tail)
	return advanced
}

// addPartsLocked starts the download of the parts of ps not seen before.
func (r *rendition) addPartsLocked(ps *partSeg, base *url.URL, parts []*hls.Part, now time.Time) {
	for j := len(ps.parts); j < len(parts); j++ {
		sp := parts[j]
		u, err := base.Parse(sp.URI)
		if err != nil {
			r.f.log.Warn("part uri unusable", "rendition", r.name, "uri", sp.URI, logkey.Err, err)
			return
		}
		us := u.String()
		var rng *hls.ByteRange
		if br := sp.ByteRange; br != nil {
			off := int64(0)
			switch {
			case br.Offset != nil:
				off = *br.Offset
			case j > 0 && ps.parts[j-1].srcURL == us && ps.parts[j-1].rng != nil:
				prev := ps.parts[j-1].rng
				off = *prev.Offset + prev.Length
			}
			rng = &hls.ByteRange{Length: br.Length, Offset: &off}
		}
		p := &part{
			idx: j, name: r.partName(ps.seq, j, naming.SegmentExt(us, r.ext)), srcURL: us, rng: rng,
			duration: sp.Duration, independent: sp.Independent, seen: now, ready: make(chan struct{}),
		}
		ps.parts = append(ps.parts, p)
		if sp.Gap {
			close(p.ready)
			continue
		}
		go r.downloadPart(p)
	}
}

// downloadPart fetches one part into memory, retrying briefly: a part is
// of use only while its segment is in progress.
func (r *rendition) downloadPart(p *part) {
	f := r.f
	defer r.changed.notify()
	defer close(p.ready)
	bo := backoff.New(50*time.Millisecond, 500*time.Millisecond)
	var err error
	for range 3 {
		var data []byte
		data, err = r.fetchBytes(f.dlCtx, p.srcURL, p.rng, maxPartBytes+1)
		if err == nil && len(data) > maxPartBytes {
			err = fmt.Errorf("part %s larger than %d bytes", p.srcURL, maxPartBytes)
		}
		if err == nil && p.rng != nil && int64(len(data)) != p.rng.Length {
			err = fmt.Errorf("part %s: got %d bytes, want %d", p.srcURL, len(data), p.rng.Length)
		}
		if err == nil {
			p.data = data
			return
		}
		if !backoff.Sleep(f.dlCtx, bo.Next()) {
			return
		}
	}
	f.log.Debug("part unavailable", "rendition", r.name, "url", p.srcURL, logkey.Err, err)
}

func (r *rendition) partName(seq int64, idx int, ext string) string {
	return fmt.Sprintf("%s_%s_%d_part%d%s", r.f.stem, r.name, seq, idx, ext)
}

func (r *rendition) partSegLocked(msn int64) *partSeg {
	for _, ps := range r.ll.segs {
		if ps.msn == msn {
			return ps
		}
	}
	return nil
}

func (r *rendition) partSegBySeqLocked(seq int64) *partSeg {
	for _, ps := range r.ll.segs {
		if ps.seq == seq {
			return ps
		}
	}
	return nil
}

func (r *rendition) entryBySourceLocked(msn int64) *entry {
	for i := len(r.entries) - 1; i >= 0; i-- {
		if e := r.entries[i]; e.src == msn {
			return e
		}
	}
	return nil
}

func (r *rendition) dropPartSegLocked(ps *partSeg) {
	for i, x := range r.ll.segs {
		if x == ps {
			r.ll.segs = append(r.ll.segs[:i], r.ll.segs[i+1:]...)
			break
		}
	}
	for _, t := range r.tg {
		delete(t.partsPushed, ps.seq)
	}
}

// trimPartSegsLocked forgets the parts of segments more than partSegsKept
// before the one in progress.
func (r *rendition) trimPartSegsLocked(tail int64) {
	n := 0
	for n < len(r.ll.segs) && r.ll.segs[n].msn <= tail-partSegsKept {
		for _, t := range r.tg {
			delete(t.partsPushed, r.ll.segs[n].seq)
		}
		n++
	}
	if n > 0 {
		clear(r.ll.segs[:n])
		r.ll.segs = r.ll.segs[n:]
	}
}

// nextPartLocked returns the next part target ti pushes of output segment
// seq (whose entry, if any, is e), or, when that part is still
// downloading, a channel closed once it is done. Parts are pushed strictly
// in order; once one is unavailable, the rest of its segment is not
// pushed. A segment that was complete before its first part was pushed
// gets none.
func (r *rendition) nextPartLocked(ti int, seq int64, e *entry) (*part, <-chan struct{}) {
	t := r.tg[ti]
	if !t.parts || !r.ll.active {
		return nil, nil
	}
	ps := r.partSegBySeqLocked(seq)
	if ps == nil {
		return nil, nil
	}
	pp := t.partsPushed[seq]
	if pp.stopped || pp.n >= len(ps.parts) || pp.n == 0 && e != nil && e.isReady() {
		return nil, nil
	}
	p := ps.parts[pp.n]
	if !p.isReady() {
		return nil, p.ready
	}
	if p.data == nil {
		pp.stopped = true
		t.partsPushed[seq] = pp
		return nil, nil
	}
	return p, nil
}

// partHoldLocked is how long a target waits for a part still downloading
// once its segment is complete: two part targets, 200 ms to 2 s.
func (r *rendition) partHoldLocked() time.Duration {
	d := time.Duration(2 * r.ll.partTarget * float64(time.Second))
	return min(max(d, 200*time.Millisecond), 2*time.Second)
}

// awaitPart waits up to hold for a part of output segment seq to be
// downloaded; past that, target ti pushes no more parts of seq. False when
// ctx ended first.
func (r *rendition) awaitPart(ctx context.Context, ti int, seq int64, due <-chan struct{}, hold time.Duration) bool {
	timer := time.NewTimer(hold)
	defer timer.Stop()
	select {
	case <-due:
	case <-timer.C:
		r.mu.Lock()
		t := r.tg[ti]
		pp := t.partsPushed[seq]
		pp.stopped = true
		t.partsPushed[seq] = pp
		r.mu.Unlock()
	case <-ctx.Done():
		return false
	}
	return true
}

// pushPart pushes one part to target ti, with a few quick retries; false
// when ctx ended first.
func (r *rendition) pushPart(ctx, pctx context.Context, ti int, seq int64, p *part) bool {
	f := r.f
	ext := p.name[len(p.name)-len(naming.SegmentExt(p.name, "")):]
	file := output.File{
		Name: p.name, ContentType: naming.ContentType(ext), CacheControl: cacheSegment, Size: int64(len(p.data)),
		Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(p.data)), nil },
	}
	bo := backoff.New(50*time.Millisecond, time.Second)
	for range 3 {
		err := f.put(pctx, ti, file)
		if err == nil {
			r.mu.Lock()
			t := r.tg[ti]
			pp := t.partsPushed[seq]
			pp.n = p.idx + 1
			t.partsPushed[seq] = pp
			if !r.grows && f.deletesExpired() {
				t.partFiles = append(t.partFiles, pushedPart{seq: seq, name: p.name})
			}
			r.mu.Unlock()
			f.log.Debug("part pushed", "rendition", r.name, "part", p.name, "target", f.targets[ti].Name(), "delay", time.Since(p.seen))
			return true
		}
		f.log.Debug("part push failed", "rendition", r.name, "part", p.name, logkey.Err, err)
		if !backoff.Sleep(ctx, bo.Next()) {
			return false
		}
	}
	r.mu.Lock()
	t := r.tg[ti]
	pp := t.partsPushed[seq]
	pp.stopped = true
	t.partsPushed[seq] = pp
	r.mu.Unlock()
	return true
}

// pushedParts returns the parts of entry e listed in target ti's
// playlist: all of them once every one was pushed there, none otherwise.
// Call with r.mu held.
func (r *rendition) pushedPartsLocked(ti int, e *entry) []*hls.Part {
	ps := r.partSegBySeqLocked(e.seq)
	if ps == nil || !ps.complete || ps.msn != e.src || len(ps.parts) == 0 || r.tg[ti].partsPushed[e.seq].n != len(ps.parts) {
		return nil
	}
	return listParts(ps.parts)
}

// trailingPartsLocked returns the parts of the segment after the last one
// target ti pushed that were pushed there. Call with r.mu held.
func (r *rendition) trailingPartsLocked(ti int) []*hls.Part {
	t := r.tg[ti]
	ps := r.partSegBySeqLocked(t.pushed + 1)
	if ps == nil {
		return nil
	}
	k := min(t.partsPushed[t.pushed+1].n, len(ps.parts))
	if k <= 0 {
		return nil
	}
	return listParts(ps.parts[:k])
}

func listParts(ps []*part) []*hls.Part {
	out := make([]*hls.Part, len(ps))
	for i, p := range ps {
		out[i] = &hls.Part{Duration: p.duration, URI: p.name, Independent: p.independent}
	}
	return out
}

// llHeaderLocked sets the LL-HLS header tags of a pushed playlist. The
// target is plain storage, so it claims neither blocking reloads nor delta
// updates; PART-HOLD-BACK is the source's, at least three part targets
// when the source gives less than the specification's minimum of two.
func (r *rendition) llHeaderLocked(m *hls.Media) {
	ll := &r.ll
	phb := ll.partHoldBack
	if phb < 2*ll.partTarget {
		phb = 3 * ll.partTarget
	}
	m.PartInf = &hls.PartInf{PartTarget: ll.partTarget}
	m.ServerControl = &hls.ServerControl{HoldBack: ll.holdBack, PartHoldBack: phb}
}

// partEdge returns where target ti's copy of this rendition ends, for
// another rendition's EXT-X-RENDITION-REPORT: the last segment pushed, or
// the segment after it and the last of its parts pushed.
func (r *rendition) partEdge(ti int) (msn int64, lastPart int64, hasPart, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.tg[ti]
	if t.pushed < 0 {
		return 0, 0, false, false
	}
	if k := t.partsPushed[t.pushed+1].n; k > 0 && t.parts && r.ll.active {
		return t.pushed + 1, int64(k - 1), true, true
	}
	return t.pushed, 0, false, true
}

// renditionReports returns the EXT-X-RENDITION-REPORT tags of target ti's
// playlist of r: one for each rendition the source reports on that this
// fetcher relays, with the URI of its pushed playlist and where its copy
// on that target ends. It takes the renditions' locks one at a time, so
// call it without r.mu held.
func (r *rendition) renditionReports(ti int) []*hls.RenditionReport {
	r.mu.Lock()
	want := !r.ended && r.ll.active && r.tg[ti].parts && len(r.ll.reports) > 0
	reported := make(map[string]bool, len(r.ll.reports))
	for _, u := range r.ll.reports {
		reported[u] = true
	}
	r.mu.Unlock()
	if !want {
		return nil
	}
	var out []*hls.RenditionReport
	for _, o := range r.f.renditions {
		if o == r || !reported[o.url] {
			continue
		}
		msn, lastPart, hasPart, ok := o.partEdge(ti)
		if !ok {
			continue
		}
		rep := &hls.RenditionReport{URI: o.playlistName(), LastMSN: &msn}
		if hasPart {
			rep.LastPart = &lastPart
		}
		out = append(out, rep)
	}
	return out
}
