package index

import (
	"path"
	"strings"
	"time"

	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/adcue"
	"github.com/pullpush/pullpush/origin/internal/media"
)

// Append adds rc to the timeline; a gap or overlap of more than tol, or a
// source discontinuity, becomes an output discontinuity. peer finds the
// segment another rendition has at a time (see appendTS); nil for none.
func (r *Rendition) Append(rc Rec, tol int64, peer func(start, tol int64) *Rec) {
	if len(r.Segs) == 0 {
		if r.nextSeq == 0 {
			r.nextSeq = rc.Start / int64(time.Second)
		}
		rc.Disc = false
	} else if d := rc.Start - r.LastEnd(); d > tol || d < -tol {
		rc.Disc = true
	}
	if rc.Disc {
		r.discN++
	}
	rc.DiscN = r.discN
	r.appendTS(&rc, peer)
	rc.Seq = r.nextSeq
	r.nextSeq++
	r.Segs = append(r.Segs, rc)
	if rc.File != nil && rc.Dur > 0 {
		r.Bytes += rc.File.Size
		r.DurNS += rc.Dur
		if bps := float64(rc.File.Size*8) / (float64(rc.Dur) / 1e9); bps > r.Peak {
			r.Peak = bps
		}
	}
}

// appendTS places rc on the rendition's TS timeline: its first DTS is
// unwrapped next to the end of the previous segment, and a jump of more
// than half a segment (a source that restarted its clock, as a VOD2Live
// channel does at every asset, or lost segments) is a discontinuity for
// CMAF endpoints.
//
// CMAF timestamps are the source's plus an offset that changes only at
// such jumps, so that they never go back: a decoder that keeps one fMP4
// demuxer across segments, as ffmpeg's HLS demuxer does, drops the samples
// of a fragment whose decode time is earlier than what it has read. The
// new offset continues the rendition's timeline, unless another rendition
// (found by peer) already has a segment at the same time: then its offset
// is taken, so that every rendition of the channel keeps the source's
// relation between audio and video times, and a rendition that starts
// late joins the others' timeline.
func (r *Rendition) appendTS(rc *Rec, peer func(start, tol int64) *Rec) {
	rc.CDisc = rc.Disc
	if rc.File != nil && rc.File.TS != nil {
		ti := rc.File.TS.WithConfigFrom(r.lastTS)
		base, off := ti.DTS0, r.tsOff
		tol := max(rc.Dur*9/200000, 9000) // half the segment, at least 0.1 s (90 kHz)
		jump := false
		if r.lastTS != nil {
			base = media.UnwrapNear(ti.DTS0, r.tsEnd)
			if d := base - r.tsEnd; len(r.Segs) > 0 && (d > tol || d < -tol) {
				rc.CDisc, jump = true, true
			}
		}
		if r.lastTS == nil || jump {
			var p *Rec
			if peer != nil {
				p = peer(rc.Start, rc.Dur/2)
			}
			switch {
			case p != nil:
				base, off = media.UnwrapNear(ti.DTS0, p.TSBase), p.TSOff
			case jump:
				off = r.tsEnd + r.tsOff - base
			}
		}
		rc.TS, rc.TSBase, rc.TSOff = ti, base, off
		r.tsEnd, r.tsOff, r.lastTS = base+ti.Dur, off, ti
	}
	if len(r.Segs) == 0 {
		rc.CDisc = false
	}
	if rc.CDisc {
		r.cdiscN++
	}
	rc.CDiscN = r.cdiscN
}

// PeerTS returns the segment with TS timing that a rendition other than
// self has starting within tol of start, or nil. Renditions are searched
// in order of first appearance, so every instance that builds the index
// from the same log finds the same one.
func (c *Index) PeerTS(self *Rendition, start, tol int64) *Rec {
	for _, key := range c.RendKeys {
		r := c.Rends[key]
		if r == self {
			continue
		}
		if s := r.tsAt(start, tol); s != nil {
			return s
		}
	}
	return nil
}

// StoreFile registers a received file under name, replacing (and
// releasing) an older file of the same name, and indexes playlists that
// were waiting for it.
func (c *Index) StoreFile(in *Input, name string, f *StoredFile) {
	c.fileSeq++
	f.ID = c.fileSeq
	f.Refs = 1
	if old := in.Files[name]; old != nil {
		c.release(old)
	}
	in.Files[name] = f
	c.retryPending(in, name)
}

// retryPending re-indexes the pending playlists of in that wait for name
// or have waited long enough to skip a missing file.
func (c *Index) retryPending(in *Input, name string) {
	now := c.clockNow()
	for _, key := range sortedKeys(in.Rends) {
		ir := in.Rends[key]
		if ir.Pending == nil {
			continue
		}
		if ir.waitName == name || now.Sub(ir.waitSince) > skipAfter(ir.target) {
			c.IndexPlaylist(in, key, ir.Pending, ir.pendRecv)
		}
	}
}

// skipAfter is how long a playlist waits for a missing segment before the
// origin gives up on it (when later segments are present).
func skipAfter(target time.Duration) time.Duration {
	if target <= 0 {
		target = 2 * time.Second
	}
	return 3 * target
}

// DeleteFile handles a DELETE from the pusher: the name is forgotten, but a
// file still referenced by the index stays until retention removes it.
func (c *Index) DeleteFile(in *Input, name string) {
	if f := in.Files[name]; f != nil {
		delete(in.Files, name)
		c.release(f)
	}
}

// SetMaster records an ingested multivariant playlist.
func (c *Index) SetMaster(in *Input, m *hls.Multivariant) {
	in.master = m
	if c.Master == nil || in.Name == c.Active || c.Active == "" {
		c.Master = m
	}
}

// segmentTimes computes the start time (ns) of every segment of m: from
// PROGRAM-DATE-TIME where present (extrapolated by EXTINF), else anchored
// to the end of the last indexed segment, else to the receive time of the
// playlist (its last segment ends at recv).
func segmentTimes(m *hls.Media, ir *InRend, recv time.Time) []int64 {
	n := len(m.Segments)
	starts := make([]int64, n)
	known := make([]bool, n)
	anchor := -1
	for i, s := range m.Segments {
		if !s.ProgramDateTime.IsZero() {
			starts[i], known[i] = s.ProgramDateTime.UnixNano(), true
			if anchor < 0 {
				anchor = i
			}
		} else if i > 0 && known[i-1] {
			starts[i], known[i] = starts[i-1]+durNS(m.Segments[i-1].Duration), true
		}
	}
	if anchor < 0 {
		// No PDT: continue from what this input indexed before, else the
		// receive time.
		j := ir.lastSeq + 1 - m.MediaSequence
		if ir.lastSeq >= 0 && !ir.restart && j >= 0 && j < int64(n) {
			anchor = int(j)
			starts[anchor] = ir.lastEnd
		} else {
			anchor = n - 1
			starts[anchor] = recv.UnixNano() - durNS(m.Segments[n-1].Duration)
		}
		for i := anchor + 1; i < n; i++ {
			starts[i] = starts[i-1] + durNS(m.Segments[i-1].Duration)
		}
	}
	for i := anchor - 1; i >= 0; i-- {
		starts[i] = starts[i+1] - durNS(m.Segments[i].Duration)
	}
	return starts
}

func durNS(sec float64) int64 { return int64(sec * 1e9) }

// FileName maps a playlist URI to the file name in the input folder.
func FileName(uri string) string {
	if i := strings.IndexAny(uri, "?#"); i >= 0 {
		uri = uri[:i]
	}
	return path.Base(uri)
}

// IndexPlaylist indexes the segments of media playlist m of rendition key,
// in order, until one is missing (then m waits for it).
func (c *Index) IndexPlaylist(in *Input, key string, m *hls.Media, recv time.Time) {
	ir := in.Rend(key)
	ir.Pending = nil
	if len(m.Segments) == 0 {
		return
	}
	ir.target = time.Duration(m.TargetDuration) * time.Second
	lastSrc := m.MediaSequence + int64(len(m.Segments)) - 1
	if ir.lastSeq >= 0 && lastSrc < ir.lastSeq-int64(len(m.Segments)) {
		// The pusher restarted its numbering.
		c.Log.Info("input restarted sequence numbers", logChannel, c.ID, logInput, in.Name)
		ir.lastSeq, ir.restart = m.MediaSequence-1, true
	}
	starts := segmentTimes(m, ir, recv)
	var curMap *hls.Map
	now := c.clockNow()
	for i, s := range m.Segments {
		if s.Map != nil {
			curMap = s.Map
		}
		srcSeq := m.MediaSequence + int64(i)
		if srcSeq <= ir.lastSeq {
			continue
		}
		if s.Gap {
			// EXT-X-GAP: the pusher has no media for it (an LL-HLS muxer
			// pads its first playlists so); nothing to wait for.
			ir.lastSeq = srcSeq
			continue
		}
		f := in.Files[FileName(s.URI)]
		var init *StoredFile
		missing := ""
		if f == nil {
			missing = FileName(s.URI)
		}
		if curMap != nil {
			init = in.Files[FileName(curMap.URI)]
			if init == nil {
				missing = FileName(curMap.URI)
			}
		}
		if missing != "" {
			if ir.waitName != missing {
				ir.waitName, ir.waitSince = missing, now
			}
			if i < len(m.Segments)-1 && now.Sub(ir.waitSince) > skipAfter(ir.target) {
				c.Log.Warn("segment never arrived; skipping", logChannel, c.ID, logInput, in.Name, logFile, missing)
				ir.lastSeq, ir.waitName = srcSeq, ""
				continue
			}
			ir.Pending, ir.pendRecv = m, recv
			return
		}
		ir.waitName = ""
		rc := Rec{Start: starts[i] + ir.shift, Dur: durNS(s.Duration), Disc: s.Discontinuity || ir.restart, File: f, Init: init}
		if len(s.Tags) > 0 || len(s.DateRanges) > 0 {
			rc.Extra = cloneExtra(s)
		}
		f.Refs++
		if init != nil {
			init.Refs++
			if !init.init {
				init.init = true
				c.Inits[init.ID] = init
			}
		}
		// Only the input's own clock going back (a restarted source) is a
		// jump to re-time; a segment that is merely older than what the
		// other input already delivered is not.
		back := ir.lastEnd != 0 && starts[i] < ir.lastEnd-rc.Dur/2
		ir.restart = false
		ir.lastSeq, ir.lastEnd, ir.LastRecv = srcSeq, starts[i]+rc.Dur, now
		c.offer(in, key, rc, ir.target, path.Ext(FileName(s.URI)), back)
	}
	c.indexParts(in, key, m)
}

// offer hands a newly indexed segment of input in to the channel: appended
// to the output timeline when in is active, buffered otherwise.
func (c *Index) offer(in *Input, key string, rc Rec, target time.Duration, ext string, back bool) {
	if c.Active == "" {
		c.Active, c.activeSince = in.Name, c.clockNow()
		c.Log.Info("input active", logChannel, c.ID, logInput, in.Name)
	}
	ir := in.Rend(key)
	if in.Name != c.Active {
		ir.buf = append(ir.buf, rc)
		if over := len(ir.buf) - maxPassiveBuffer; over > 0 {
			for i := range ir.buf[:over] {
				c.releaseRec(&ir.buf[i])
			}
			ir.buf = append(ir.buf[:0], ir.buf[over:]...)
		}
		c.checkPassive(in, key)
		return
	}
	r := c.Rend(key)
	r.Ext = ext
	if target > r.Target {
		r.Target = target
	}
	tol := rc.Dur / 2
	if len(r.Segs) > 0 {
		end := r.LastEnd()
		if rc.Disc && back && rc.Start < end-tol {
			// The source marked a discontinuity and its clock went back:
			// continue the timeline after what viewers already have, so
			// it stays sorted by time.
			delta := end - rc.Start
			ir.shift += delta
			rc.Start += delta
		}
		if rc.End() <= end+tol {
			c.releaseRec(&rc) // already have it (from the other input)
			return
		}
		if rc.Start > end+tol {
			if o := c.other(in); o != nil && o.covers(key, end, tol) {
				ir.buf = append(ir.buf, rc)
				c.switchTo(o, "active input missed segments")
				return
			}
		}
	}
	c.appendRec(r, rc, tol)
}

func (c *Index) appendRec(r *Rendition, rc Rec, tol int64) {
	now := c.clockNow().UnixNano()
	rc.Pub = now
	if r.sw != c.Switches {
		rc.sw, r.sw = len(r.Segs) > 0, c.Switches
	}
	r.Append(rc, tol, func(start, tol int64) *Rec { return c.PeerTS(r, start, tol) })
	r.setEpoch()
	c.extendGroups(r)
	c.signal()
	skew := rc.End() - now
	if !c.hasSkew || rc.End() > c.ingestMediaNow() {
		c.skew, c.hasSkew = skew, true
	}
	c.trim(r)
}

// cloneExtra copies the ad markers of s, so the index does not keep the
// whole playlist text alive (the parser's strings share one copy).
func cloneExtra(s *hls.Segment) *RecExtra {
	e := &RecExtra{}
	for _, t := range s.Tags {
		e.Tags = append(e.Tags, strings.Clone(t))
	}
	for _, d := range s.DateRanges {
		cp := *d
		cp.ID, cp.Class = strings.Clone(d.ID), strings.Clone(d.Class)
		cp.Extra = make([]hls.Attr, len(d.Extra))
		for i, a := range d.Extra {
			cp.Extra[i] = hls.Attr{Key: strings.Clone(a.Key), Value: strings.Clone(a.Value), Quoted: a.Quoted}
		}
		e.DateRanges = append(e.DateRanges, &cp)
	}
	e.Cue, _ = adcue.Read(e.Tags, e.DateRanges)
	return e
}
