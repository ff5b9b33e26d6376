package index

import (
	"time"

	"github.com/pullpush/pullpush/hls"
)

// Low-Latency HLS. An ingest media playlist with EXT-X-PART tags lists the
// partial segments of its newest segments and of the segment in progress
// (after the last EXTINF); the pusher PUTs every part file before the
// playlist that lists it. The active input's parts are kept on the output
// timeline: those of the newest complete segments by output sequence
// number, and those of the segment in progress, numbered as the next
// segment the timeline will append. Parts are not part of snapshots (shared
// storage serves whole segments only): they are a few seconds of state
// that the next ingested playlist rebuilds.

// partWindow is how far back from the live edge, in target durations,
// complete segments keep their parts (RFC 8216bis 6.2.2: parts older than
// three target durations should leave the playlist).
const partWindow = 3

// Part is one partial segment on the output timeline.
type Part struct {
	File        *StoredFile
	Dur         int64 // nanoseconds
	Independent bool
}

// PartSeg is the parts of one output segment.
type PartSeg struct {
	Seq   int64
	Parts []Part
}

// Parts is the Low-Latency HLS state of a rendition.
type Parts struct {
	Target time.Duration // EXT-X-PART-INF PART-TARGET of the ingest
	// Done holds the parts of the newest complete segments, oldest first.
	Done []PartSeg
	// Tail is the parts of the segment in progress, whose output sequence
	// number will be TailSeq; empty when none is in progress.
	Tail    []Part
	TailSeq int64
	// Rev counts changes, so rendered playlists can be cached per state.
	Rev uint64
}

// PartsOf returns the parts of output segment seq, nil for none.
func (p *Parts) PartsOf(seq int64) []Part {
	if p == nil {
		return nil
	}
	for i := len(p.Done) - 1; i >= 0; i-- {
		if p.Done[i].Seq == seq {
			return p.Done[i].Parts
		}
		if p.Done[i].Seq < seq {
			break
		}
	}
	return nil
}

// Changed returns a channel closed at the next change of the index's
// output timelines (a segment appended, parts added): what blocking
// playlist reloads and preloaded part requests wait on. Caller holds the
// channel lock.
func (c *Index) Changed() <-chan struct{} {
	if c.changed == nil {
		c.changed = make(chan struct{})
	}
	return c.changed
}

// signal wakes everyone waiting on Changed.
func (c *Index) signal() {
	if c.changed != nil {
		close(c.changed)
		c.changed = nil
	}
}

// indexParts takes the parts m lists into rendition key's output timeline,
// once every segment of m is indexed and in is the active input.
func (c *Index) indexParts(in *Input, key string, m *hls.Media) {
	r := c.Rends[key]
	if r == nil || len(r.Segs) == 0 || in.Name != c.Active {
		return
	}
	if m.PartInf == nil {
		if r.Parts != nil {
			c.dropParts(r)
		}
		return
	}
	p := r.Parts
	if p == nil {
		p = &Parts{}
		r.Parts = p
	}
	p.Target = time.Duration(durNS(m.PartInf.PartTarget))
	changed := false
	// Parts of complete segments, matched to the timeline by their file.
	for _, s := range m.Segments {
		if len(s.Parts) == 0 {
			continue
		}
		f := in.Files[FileName(s.URI)]
		if f == nil {
			continue
		}
		i := r.segOfFile(f)
		if i < 0 || p.PartsOf(r.Segs[i].Seq) != nil {
			continue
		}
		parts, ok := c.resolveParts(in, s.Parts)
		if !ok {
			c.releaseParts(parts)
			continue
		}
		c.addDone(p, PartSeg{Seq: r.Segs[i].Seq, Parts: parts})
		changed = true
	}
	// The segment in progress: it follows the timeline's last segment
	// only if m's last segment is that one.
	tailSeq := r.Segs[len(r.Segs)-1].Seq + 1
	var tail []Part
	if n := len(m.Segments); n > 0 && r.segOfFile(in.Files[FileName(m.Segments[n-1].URI)]) == len(r.Segs)-1 {
		tail, _ = c.resolveParts(in, m.Parts)
	}
	if tailSeq != p.TailSeq || len(tail) != len(p.Tail) {
		c.releaseParts(p.Tail)
		p.Tail, p.TailSeq = tail, tailSeq
		changed = true
	} else {
		c.releaseParts(tail)
	}
	c.trimParts(r)
	if changed {
		p.Rev++
		c.signal()
	}
}

// resolveParts returns the stored files of parts, in order, up to the
// first one that has not arrived (or is a gap); ok reports whether all
// did. Each returned part holds a reference to its file.
func (c *Index) resolveParts(in *Input, parts []*hls.Part) ([]Part, bool) {
	out := make([]Part, 0, len(parts))
	for _, hp := range parts {
		f := in.Files[FileName(hp.URI)]
		if f == nil || hp.Gap || hp.ByteRange != nil {
			return out, false
		}
		f.Refs++
		out = append(out, Part{File: f, Dur: durNS(hp.Duration), Independent: hp.Independent})
	}
	return out, true
}

// segOfFile is the index of the newest segment of r stored in f, -1 for
// none among the last few.
func (r *Rendition) segOfFile(f *StoredFile) int {
	if f == nil {
		return -1
	}
	for i := len(r.Segs) - 1; i >= 0 && i >= len(r.Segs)-16; i-- {
		if r.Segs[i].File == f {
			return i
		}
	}
	return -1
}

func (c *Index) addDone(p *Parts, ps PartSeg) {
	i := len(p.Done)
	for i > 0 && p.Done[i-1].Seq > ps.Seq {
		i--
	}
	p.Done = append(p.Done, PartSeg{})
	copy(p.Done[i+1:], p.Done[i:])
	p.Done[i] = ps
}

// trimParts drops the parts of segments more than partWindow target
// durations behind r's live edge.
func (c *Index) trimParts(r *Rendition) {
	p := r.Parts
	target := r.Target
	if target <= 0 {
		target = 2 * time.Second
	}
	edge := r.LastEnd() - int64(partWindow*target)
	first := r.FirstEndingAfter(edge)
	if first >= len(r.Segs) {
		first = len(r.Segs) - 1
	}
	minSeq := r.Segs[first].Seq
	n := 0
	for n < len(p.Done) && p.Done[n].Seq < minSeq {
		c.releaseParts(p.Done[n].Parts)
		n++
	}
	if n > 0 {
		p.Done = append(p.Done[:0], p.Done[n:]...)
		p.Rev++
	}
}

// dropParts forgets every part of r (the ingest stopped sending parts, or
// the active input changed).
func (c *Index) dropParts(r *Rendition) {
	if r.Parts == nil {
		return
	}
	for _, ps := range r.Parts.Done {
		c.releaseParts(ps.Parts)
	}
	c.releaseParts(r.Parts.Tail)
	r.Parts = nil
	c.signal()
}

func (c *Index) releaseParts(parts []Part) {
	for _, p := range parts {
		c.release(p.File)
	}
}
