package origin

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"

	"github.com/pullpush/pullpush/origin/internal/index"

	"github.com/Eyevinn/mp4ff/mp4"

	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/origin/internal/dash"
	"github.com/pullpush/pullpush/origin/internal/media"
)

// WebVTT subtitles in DASH: every EXT-X-MEDIA TYPE=SUBTITLES rendition of
// the ingest (WebVTT segments) is an AdaptationSet contentType="text",
// mimeType="application/mp4", codecs="wvtt" in every Period, with CMAF
// segments of ISO/IEC 14496-30 WebVTT samples: {rendition}/$Number$.m4s
// (the origin's sequence numbers) and {rendition}/wvtt.mp4. A segment
// covers its WebVTT segment's time on the CMAF timeline (90 kHz): where
// the TS segment of another rendition that starts with it is, plus the
// distance between their PROGRAM-DATE-TIMEs. Cue times go through the
// segment's X-TIMESTAMP-MAP (MPEGTS:0,LOCAL:0 without one) and the same
// source-to-CMAF offset as the video, so they stay on the pictures they
// belong to; a cue is cut to its segment, and the segment's samples
// cover it without gaps (vtte where no cue shows). The manifest filter's
// subtitle_language applies.

const (
	// wvttInitBase is the file name (without .mp4) of a text
	// rendition's init segment.
	wvttInitBase = "wvtt"
	// wvttCodecs is the codecs value of WebVTT in ISO BMFF.
	wvttCodecs = "wvtt"
)

// textRep is a subtitles rendition as a DASH text Representation.
type textRep struct {
	v           *rview
	lang, label string
	def, forced bool
	win         window
}

// dashTextReps lists the subtitles renditions of ep that the stream
// selection and the manifest filter f keep, with their windows. Caller
// holds c.mu.
func (c *channel) dashTextReps(ep *endpoint, f *manifestFilter, sh shift) []*textRep {
	if c.Master == nil {
		return nil
	}
	cp := *c.Master
	m := &cp
	selectStreams(m, ep.sel)
	if err := f.apply(m); err != nil {
		return nil
	}
	var out []*textRep
	for _, rn := range m.Renditions {
		if rn.Type != hls.MediaTypeSubtitles || rn.URI == "" {
			continue
		}
		k := playlistKey(rn.URI)
		if slices.ContainsFunc(out, func(t *textRep) bool { return t.v.name == k }) {
			continue
		}
		v := c.view(ep, k)
		if v == nil || !v.cues {
			continue
		}
		w, es := c.window(ep, v.rd, sh)
		if es != nil {
			continue
		}
		out = append(out, &textRep{v: v, lang: rn.Language, label: rn.Name, def: rn.Default, forced: rn.Forced, win: w})
	}
	return out
}

// textTime places subtitle segment s of rd on the TS timeline: the
// unwrapped TS time at its start, from the TS segment of another
// rendition that starts with it, and that segment's source-to-CMAF
// offset (90 kHz). ok is false when no TS segment starts with it.
func (c *channel) textTime(rd *index.Rendition, s *index.Rec) (ref, off int64, ok bool) {
	p := c.PeerTS(rd, s.Start, s.Dur/2)
	if p == nil {
		return 0, 0, false
	}
	return p.TSBase + (s.Start-p.Start)*9/100000, p.TSOff, true
}

// textSets returns the text AdaptationSets of Period pi, which starts at
// start (ns, the Period@start on the PROGRAM-DATE-TIME timeline) with its
// first segment at CMAF time p.media (90 kHz); IDs follow firstID. Caller
// holds c.mu.
func (c *channel) textSets(texts []*textRep, periods []dashPeriod, pi int, start int64, firstID int) []*dash.AdaptationSet {
	p := periods[pi]
	var out []*dash.AdaptationSet
	for _, tr := range texts {
		rd := tr.v.rd
		type seg struct {
			r   *index.Rec
			t   uint64
			dur uint64
		}
		var segs []seg
		end := periodEnd(periods, pi)
		for i := tr.win.lo; i < tr.win.hi; i++ {
			s := &rd.Segs[i]
			tol := s.Dur / 2
			if s.Start < p.start-tol || s.Start >= end-tol || s.File == nil {
				continue
			}
			ref, off, ok := c.textTime(rd, s)
			if !ok || ref+off < 0 {
				continue
			}
			segs = append(segs, seg{r: s, t: uint64(ref + off), dur: uint64(s.Dur * 9 / 100000)})
		}
		if len(segs) == 0 {
			continue
		}
		var tl []dash.S
		var at uint64
		for i, s := range segs {
			d := max(s.dur, 1)
			if i+1 < len(segs) {
				if n := segs[i+1].t; n > s.t && n-s.t < d+d/2 && n-s.t > d/2 {
					d = n - s.t
				}
			}
			if len(tl) > 0 && s.t == at {
				if last := &tl[len(tl)-1]; last.D == d {
					last.R++
				} else {
					tl = append(tl, dash.S{D: d})
				}
			} else {
				t := s.t
				tl = append(tl, dash.S{T: &t, D: d})
			}
			at = s.t + d
		}
		as := &dash.AdaptationSet{ID: firstID + len(out), ContentType: "text", MimeType: "application/mp4", Lang: tr.lang,
			SegmentAlignment: true, StartWithSAP: 1, Label: tr.label}
		role := "subtitle"
		switch {
		case tr.forced:
			role = "forced-subtitle"
		case tr.def:
			role = "main"
		}
		as.Role = &dash.Scheme{SchemeIDURI: dash.SchemeRole, Value: role}
		bw := 1000
		if rd.DurNS > 0 {
			bw = max(bw, int(float64(rd.Bytes*8)/(float64(rd.DurNS)/1e9)))
		}
		pto := p.media + (start-p.start)*9/100000
		as.Representations = []*dash.Representation{{
			ID: tr.v.name, Bandwidth: bw, Codecs: wvttCodecs,
			SegmentTemplate: &dash.SegmentTemplate{
				Timescale: media.VideoTimescale, PresentationTimeOffset: uint64(max(pto, 0)), StartNumber: segs[0].r.Seq,
				Initialization: tr.v.name + "/" + wvttInitBase + ".mp4", Media: tr.v.name + "/$Number$.m4s", Timeline: tl,
			},
		}}
		out = append(out, as)
	}
	return out
}

// wvttJob resolves the DASH files of a subtitles view: its init segment
// and its segments as CMAF WebVTT. ok is false for any other file (the
// HLS WebVTT segments). Caller holds c.mu.
func (c *channel) wvttJob(v *rview, base, ext string) (j *job, msg string, ok bool) {
	j = &job{ep: v.ep, name: v.name, ext: ext}
	switch {
	case base == wvttInitBase && ext == ".mp4":
		j.kind, j.lang = jobWVTTInit, "und"
		if c.Master != nil {
			for _, rn := range c.Master.Renditions {
				if rn.Type == hls.MediaTypeSubtitles && playlistKey(rn.URI) == v.rd.Key && rn.Language != "" {
					j.lang = rn.Language
					break
				}
			}
		}
		return j, "", true
	case ext != ".m4s":
		return nil, "", false
	}
	seq, err := strconv.ParseInt(base, 10, 64)
	if err != nil {
		return nil, "not found", true
	}
	i, found := v.rd.BySeq(seq)
	if !found || v.rd.Segs[i].File == nil {
		return nil, "segment not found (outside the startover window?)", true
	}
	s := &v.rd.Segs[i]
	ref, off, placed := c.textTime(v.rd, s)
	if !placed || ref+off < 0 {
		return nil, "segment has no place on the media timeline", true
	}
	j.kind, j.path, j.fileID, j.seq, j.dur, j.tsBase, j.tsOff = jobWVTT, s.File.Path, s.File.ID, s.Seq, s.Dur, ref, off
	return j, "", true
}

// wvttInit is the init segment of a WebVTT track (90 kHz) in language
// lang.
func wvttInit(lang string) (*product, error) {
	init := mp4.CreateEmptyInit()
	trak := init.AddEmptyTrack(media.VideoTimescale, "wvtt", lang)
	if err := trak.SetWvttDescriptor("WEBVTT"); err != nil {
		return nil, fmt.Errorf("wvtt init: %w", err)
	}
	var buf bytes.Buffer
	if err := init.Encode(&buf); err != nil {
		return nil, fmt.Errorf("encode wvtt init: %w", err)
	}
	return &product{data: buf.Bytes()}, nil
}

// wvttSegment packages the WebVTT segment data of job j (tsBase: the TS
// time at the segment's start, tsOff: the CMAF offset, dur: its
// duration) as a CMAF WebVTT segment.
func wvttSegment(data []byte, j *job) (*product, error) {
	doc, err := media.ParseWebVTT(data)
	if err != nil {
		return nil, err
	}
	from := j.tsBase + j.tsOff
	to := from + max(j.dur*9/100000, 1)
	base := media.UnwrapNear(doc.MPEGTS, j.tsBase) - doc.MPEGTS
	type span struct {
		s, e int64
		c    *media.VTTCue
	}
	var spans []span
	cuts := []int64{from, to}
	for i := range doc.Cues {
		c := &doc.Cues[i]
		s := max(base+doc.MPEGTime(c.Start)+j.tsOff, from)
		e := min(base+doc.MPEGTime(c.End)+j.tsOff, to)
		if e <= s {
			continue
		}
		spans = append(spans, span{s, e, c})
		cuts = append(cuts, s, e)
	}
	slices.Sort(cuts)
	cuts = slices.Compact(cuts)
	seg := mp4.NewMediaSegment()
	frag, err := mp4.CreateFragment(uint32(j.seq), 1)
	if err != nil {
		return nil, err
	}
	seg.AddFragment(frag)
	for k := 0; k+1 < len(cuts); k++ {
		a, b := cuts[k], cuts[k+1]
		var buf bytes.Buffer
		for _, sp := range spans {
			if sp.s <= a && sp.e >= b {
				if err := vttcBox(sp.c).Encode(&buf); err != nil {
					return nil, fmt.Errorf("encode vttc: %w", err)
				}
			}
		}
		if buf.Len() == 0 {
			if err := (&mp4.VtteBox{}).Encode(&buf); err != nil {
				return nil, fmt.Errorf("encode vtte: %w", err)
			}
		}
		fs := mp4.FullSample{DecodeTime: uint64(a), Data: buf.Bytes()}
		fs.Flags, fs.Dur, fs.Size = mp4.SyncSampleFlags, uint32(b-a), uint32(buf.Len())
		frag.AddFullSample(fs)
	}
	var out bytes.Buffer
	if err := seg.Encode(&out); err != nil {
		return nil, fmt.Errorf("encode wvtt segment: %w", err)
	}
	return &product{data: out.Bytes()}, nil
}

// vttcBox is the VTTCueBox of cue c: its ID, settings and payload.
func vttcBox(c *media.VTTCue) *mp4.VttcBox {
	b := &mp4.VttcBox{}
	if c.ID != "" {
		b.AddChild(&mp4.IdenBox{CueID: c.ID})
	}
	if c.Settings != "" {
		b.AddChild(&mp4.SttgBox{Settings: c.Settings})
	}
	b.AddChild(&mp4.PaylBox{CueText: c.Payload})
	return b
}
