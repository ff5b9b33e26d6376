package origin

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/origin/internal/index"
)

// Low-Latency HLS playback. When the active input's media playlists list
// parts (EXT-X-PART), live media playlists of endpoints that serve segments
// as ingested (no repackaging, encryption, joined segments or time delay;
// local storage) carry them too:
//
//	#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=3×part,CAN-SKIP-UNTIL=6×target
//	#EXT-X-PART-INF:PART-TARGET=...
//	#EXT-X-PART:DURATION=..,URI="{rendition}/{seq}.{part}.ts"   (newest segments and the one in progress)
//	#EXT-X-PRELOAD-HINT:TYPE=PART,URI=...                       (the next part)
//	#EXT-X-RENDITION-REPORT:URI="other.m3u8",LAST-MSN=..,LAST-PART=..
//
// A request with _HLS_msn (and _HLS_part) is held until the playlist has
// that segment (part), for at most three target durations, as RFC 8216bis
// 6.2.5.2 asks; _HLS_skip=YES gets a delta update (EXT-X-SKIP) of the
// segments older than CAN-SKIP-UNTIL. A part named by the preload hint is
// held the same way until it arrives. Startover, time-shifted and delayed
// playlists are as before, without parts.

// llDirectives are the delivery directives of a playlist request.
type llDirectives struct {
	msn  int64 // _HLS_msn, -1 when absent
	part int   // _HLS_part, -1 when absent
	skip bool  // _HLS_skip=YES (or v2)
}

// parseDirectives reads _HLS_msn, _HLS_part and _HLS_skip.
func parseDirectives(q url.Values) (llDirectives, error) {
	d := llDirectives{msn: -1, part: -1}
	if s := q.Get("_HLS_msn"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return d, fmt.Errorf("_HLS_msn: %q is not a media sequence number", s)
		}
		d.msn = n
	}
	if s := q.Get("_HLS_part"); s != "" {
		if d.msn < 0 {
			return d, fmt.Errorf("_HLS_part without _HLS_msn")
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return d, fmt.Errorf("_HLS_part: %q is not a part index", s)
		}
		d.part = n
	}
	switch s := q.Get("_HLS_skip"); s {
	case "":
	case "YES", "v2":
		d.skip = true
	default:
		return d, fmt.Errorf("_HLS_skip: %q is not YES or v2", s)
	}
	return d, nil
}

// canLowLatency reports whether endpoint ep can carry parts: it serves
// segments as ingested, without delay, from local storage.
func (c *channel) canLowLatency(ep *endpoint) bool {
	return ep.ll && ep.delay == 0 && c.publishLag == 0
}

// lowLatency reports whether v's live playlists carry parts. Caller
// holds c.mu.
func (c *channel) lowLatency(v *rview, sh shift) bool {
	return c.canLowLatency(v.ep) && !sh.hasStart && !v.transformed() && v.rd.Parts != nil
}

// partURI names part i of segment seq of v, relative to dir.
func partURI(v *rview, dir string, seq int64, i int) string {
	return dir + strconv.FormatInt(seq, 10) + "." + strconv.Itoa(i) + v.ext()
}

func listParts(v *rview, dir string, seq int64, parts []index.Part) []*hls.Part {
	out := make([]*hls.Part, len(parts))
	for i, p := range parts {
		out[i] = &hls.Part{Duration: float64(p.Dur) / 1e9, URI: partURI(v, dir, seq, i), Independent: p.Independent}
	}
	return out
}

// addLowLatency adds the LL-HLS tags to m, the live playlist of v over
// win, and applies a delta update when skip is set. Caller holds c.mu.
func (c *channel) addLowLatency(v *rview, m *hls.Media, win window, skip bool) {
	rd, p := v.rd, v.rd.Parts
	dir := v.name + "/"
	partTarget := p.Target.Seconds()
	target := float64(m.TargetDuration)
	m.Version = max(m.Version, 6)
	m.ServerControl = &hls.ServerControl{CanBlockReload: true, PartHoldBack: 3 * partTarget, CanSkipUntil: 6 * target}
	m.PartInf = &hls.PartInf{PartTarget: partTarget}
	for i := win.lo; i < win.hi; i++ {
		if parts := p.PartsOf(rd.Segs[i].Seq); parts != nil {
			m.Segments[i-win.lo].Parts = listParts(v, dir, rd.Segs[i].Seq, parts)
		}
	}
	if win.hi == len(rd.Segs) && p.TailSeq == rd.Segs[win.hi-1].Seq+1 {
		m.Parts = listParts(v, dir, p.TailSeq, p.Tail)
		m.PreloadHints = []*hls.PreloadHint{{Type: "PART", URI: partURI(v, dir, p.TailSeq, len(p.Tail))}}
	}
	m.RenditionReports = c.renditionReports(v)
	if v.ep.pdt == 0 {
		// PROGRAM-DATE-TIME on the first segment and at discontinuities
		// only: hls.js 1.5 in low-latency mode places the parts of an
		// audio rendition by the PROGRAM-DATE-TIME of every segment when
		// each carries one, while AAC segments never last exactly their
		// EXTINF, and stalls (TestLowLatencyHLSJS). A set pdtInterval is
		// kept.
		for i, seg := range m.Segments {
			if i > 0 && !seg.Discontinuity {
				seg.ProgramDateTime = time.Time{}
			}
		}
	}
	if skip {
		skipOld(m, rd.Segs[win.lo:win.hi], 6*time.Duration(m.TargetDuration)*time.Second)
	}
}

// skipOld replaces the segments of m (listing segs one to one) that end
// more than until before the last one with EXT-X-SKIP.
func skipOld(m *hls.Media, segs []index.Rec, until time.Duration) {
	limit := segs[len(segs)-1].End() - int64(until)
	n := 0
	for n < len(segs)-1 && segs[n].End() <= limit {
		n++
	}
	if n == 0 {
		return
	}
	m.Version = max(m.Version, 9)
	m.Skip = &hls.Skip{SkippedSegments: int64(n)}
	m.Segments = m.Segments[n:]
	if m.Segments[0].ProgramDateTime.IsZero() {
		m.Segments[0].ProgramDateTime = time.Unix(0, segs[n].Start).UTC()
	}
}

// renditionReports reports the live edge of the other renditions of v's
// endpoint that carry parts. Caller holds c.mu.
func (c *channel) renditionReports(v *rview) []*hls.RenditionReport {
	var out []*hls.RenditionReport
	for _, key := range c.RendKeys {
		if key == v.name {
			continue
		}
		o := c.view(v.ep, key)
		if o == nil || o.transformed() || o.rd.Parts == nil {
			continue
		}
		msn, part := lastPart(o.rd)
		rr := &hls.RenditionReport{URI: key + ".m3u8", LastMSN: &msn}
		if part >= 0 {
			lp := int64(part)
			rr.LastPart = &lp
		}
		out = append(out, rr)
	}
	return out
}

// lastPart is the live edge of rd: the sequence number of the segment
// with the newest part and that part's index (-1: the newest segment is
// complete and its parts unknown).
func lastPart(rd *index.Rendition) (int64, int) {
	p := rd.Parts
	last := rd.Segs[len(rd.Segs)-1].Seq
	if p != nil && p.TailSeq == last+1 && len(p.Tail) > 0 {
		return p.TailSeq, len(p.Tail) - 1
	}
	if parts := p.PartsOf(last); len(parts) > 0 {
		return last, len(parts) - 1
	}
	return last, -1
}

// awaitPlaylist holds a blocking playlist reload until rendition name of
// ep has what d asks for, the wait times out (three target durations) or
// the client goes away; playlists without parts are answered at once. Its
// error is an *errStatus (a request too far ahead of the live edge) or the
// context's.
func (o *Origin) awaitPlaylist(ctx context.Context, ch *channel, ep *endpoint, name string, sh shift, d llDirectives) error {
	if d.msn < 0 {
		return nil
	}
	var timeout <-chan time.Time
	for {
		ch.mu.Lock()
		v := ch.view(ep, name)
		if v == nil || !ch.lowLatency(v, sh) {
			ch.mu.Unlock()
			return nil
		}
		rd := v.rd
		last := rd.Segs[len(rd.Segs)-1].Seq
		have := d.msn <= last
		if d.msn == last+1 && d.part >= 0 && rd.Parts.TailSeq == d.msn {
			have = d.part < len(rd.Parts.Tail)
		}
		if have {
			ch.mu.Unlock()
			return nil
		}
		if d.msn > last+2 {
			ch.mu.Unlock()
			return &errStatus{http.StatusBadRequest, fmt.Sprintf("_HLS_msn %d is more than two segments after the live edge (%d)", d.msn, last)}
		}
		wake := ch.Changed()
		if timeout == nil {
			t := time.NewTimer(3 * max(rd.Target, time.Second))
			defer t.Stop()
			timeout = t.C
		}
		ch.mu.Unlock()
		if woke, err := o.hold(ctx, wake, timeout); !woke {
			return err // timed out (nil: answer with what there is) or gone
		}
	}
}

// parsePartName splits "{seq}.{part}" into its numbers.
func parsePartName(base string) (seq int64, part int, ok bool) {
	s, p, found := strings.Cut(base, ".")
	if !found {
		return 0, 0, false
	}
	seq, err1 := strconv.ParseInt(s, 10, 64)
	part, err2 := strconv.Atoi(p)
	return seq, part, err1 == nil && err2 == nil && seq >= 0 && part >= 0
}

// awaitPart returns the stored file of part idx of segment seq of
// rendition name: at once when known, else (a preloaded part: the next
// one) once it arrives, nil when it never will (the segment completed
// without it, the wait timed out, or it left the playlist).
func (o *Origin) awaitPart(ctx context.Context, ch *channel, ep *endpoint, name, ext string, seq int64, idx int) *index.StoredFile {
	var timeout <-chan time.Time
	for {
		ch.mu.Lock()
		v := ch.view(ep, name)
		if v == nil || !ch.lowLatency(v, shift{}) || v.ext() != ext {
			ch.mu.Unlock()
			return nil
		}
		p := v.rd.Parts
		if parts := p.PartsOf(seq); parts != nil {
			ch.mu.Unlock()
			if idx < len(parts) {
				return parts[idx].File
			}
			return nil
		}
		if seq != p.TailSeq {
			ch.mu.Unlock()
			return nil
		}
		if idx < len(p.Tail) {
			f := p.Tail[idx].File
			ch.mu.Unlock()
			return f
		}
		if idx > len(p.Tail) {
			ch.mu.Unlock()
			return nil // only the next part is waited for
		}
		wake := ch.Changed()
		if timeout == nil {
			t := time.NewTimer(3 * max(p.Target, 500*time.Millisecond))
			defer t.Stop()
			timeout = t.C
		}
		ch.mu.Unlock()
		if woke, _ := o.hold(ctx, wake, timeout); !woke {
			return nil
		}
	}
}

// partsKey adds to a low-latency playlist's cache key the parts' state
// of every rendition (the playlist's own parts and its rendition
// reports) and the delta-update request. Caller holds c.mu.
func (c *channel) partsKey(skip bool) string {
	b := make([]byte, 0, 64)
	b = append(b, 0, 'L')
	if skip {
		b = append(b, 'S')
	}
	for _, key := range c.RendKeys {
		if p := c.Rends[key].Parts; p != nil {
			b = append(b, 0)
			b = strconv.AppendUint(b, p.Rev, 10)
			b = append(b, '.')
			b = strconv.AppendInt(b, p.TailSeq, 10)
			b = append(b, '.')
			b = strconv.AppendInt(b, int64(len(p.Tail)), 10)
		}
	}
	return string(b)
}

// hold waits, counted as a held request, for wake, the timeout or the
// client going away; it reports whether wake fired, and ctx's error when
// the client went.
func (o *Origin) hold(ctx context.Context, wake <-chan struct{}, timeout <-chan time.Time) (bool, error) {
	o.waiting.Add(1)
	defer o.waiting.Add(-1)
	select {
	case <-wake:
		return true, nil
	case <-timeout:
		return false, nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}
