package origin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pullpush/pullpush/origin/internal/index"

	"github.com/Eyevinn/mp4ff/mp4"

	"github.com/pullpush/pullpush/keys"
	"github.com/pullpush/pullpush/origin/internal/media"
)

// MaxSegmentDuration is the longest endpoint segmentDuration (MediaPackage's
// limit).
const MaxSegmentDuration = index.MaxSegmentDuration

// joinView makes v show the joined timeline of its endpoint's segment
// duration; nil when no group is complete yet. Subtitles are not joined.
// Caller holds c.mu.
func (c *channel) joinView(v *rview) *rview {
	if v.ep.segdur <= 0 || index.IsSubtitles(v.rd.Ext) {
		return v
	}
	base := v.rd
	n := c.GroupSize(v.ep.segdur)
	g := base.Grouping(v.ep.segdur, n)
	if len(g.Joined.Segs) == 0 {
		return nil
	}
	j := g.Joined
	j.Bytes, j.DurNS, j.Peak = base.Bytes, base.DurNS, base.Peak
	// ext and target are read by I-frame playlists built outside c.mu:
	// written only when they change.
	if j.Ext != base.Ext {
		j.Ext = base.Ext
	}
	if t := time.Duration(n) * base.Target; j.Target != t {
		j.Target = t
	}
	v.base, v.rd = base, j
	return v
}

// joinedComplete reports whether a closed window of the joined timeline r
// ending at e (unix ns) is final: the group holding e is listed.
func joinedComplete(r *index.Rendition, visible int, hi int, e int64) bool {
	if len(r.Segs) == 0 || r.Segs[0].Grp == nil {
		return true
	}
	return hi < visible || (visible > 0 && r.Segs[visible-1].End() >= e)
}

// jobPart is one member of a joined segment.
type jobPart struct {
	path, initPath string
	track          *media.Track
	tsBase, tsOff  int64
	seq, dur       int64
}

// joinParts fills j.parts with the members of joined segment s. Caller
// holds c.mu.
func joinParts(v *rview, s *index.Rec, j *job) string {
	i, ok := v.base.BySeq(s.Grp.First)
	if !ok || i+s.Grp.N > len(v.base.Segs) {
		return "segment not found (outside the startover window?)"
	}
	for _, m := range v.base.Segs[i : i+s.Grp.N] {
		if m.File == nil {
			return "segment not found"
		}
		p := jobPart{path: m.File.Path, tsBase: m.TSBase, tsOff: m.TSOff, seq: m.Seq, dur: m.Dur}
		if m.Init != nil {
			p.initPath = m.Init.Path
		}
		if v.cmaf {
			if p.track = m.TS.Track(v.pick); p.track == nil {
				return "segment cannot be repackaged"
			}
		}
		j.parts = append(j.parts, p)
	}
	return ""
}

// buildJoined packages a joined segment: its members packaged one by one
// as the endpoint would package them alone (CMAF fragments and Common
// Encryption per member, with the group's key) and put together: TS
// concatenated with continuous continuity counters, CMAF as one styp and
// the members' moof/mdat pairs. Whole-segment AES-128 encrypts the result.
func (o *Origin) buildJoined(ctx context.Context, j *job, k keys.Key) (*product, error) {
	var out []byte
	var cmafSeg *mp4.MediaSegment
	cc := map[uint16]byte{}
	for _, p := range j.parts {
		data, err := o.readStored(ctx, p.path)
		if err != nil {
			return nil, err
		}
		jj := *j
		jj.parts, jj.seq, jj.track, jj.dur = nil, p.seq, p.track, p.dur
		switch {
		case j.cmaf:
			d, err := media.DemuxTS(data)
			if err != nil {
				return nil, err
			}
			seg, err := media.CMAFSegment(d, p.track, p.seq, p.tsBase, p.tsOff, p.dur*9/100000)
			if err != nil {
				return nil, err
			}
			if j.enc != nil && j.enc.method != MethodAES128 {
				if err := encryptCMAF(seg, &jj, k); err != nil {
					return nil, err
				}
			}
			if cmafSeg == nil {
				cmafSeg = seg
			} else {
				cmafSeg.Fragments = append(cmafSeg.Fragments, seg.Fragments...)
			}
			continue
		case j.enc != nil && j.enc.method == MethodSampleAES:
			if j.ext != ".ts" {
				return nil, errors.New("SAMPLE-AES needs TS segments")
			}
			d, err := media.DemuxTS(data)
			if err != nil {
				return nil, err
			}
			iv, _ := j.enc.segmentIV(k, j.seq, j.period, false)
			if data, err = media.SampleAESTS(d, k.Value, iv); err != nil {
				return nil, err
			}
		case j.enc != nil && (j.enc.method == MethodCBCS || j.enc.method == MethodCENC):
			if p.initPath == "" {
				return nil, errors.New("fMP4 segment without an init section")
			}
			initData, err := o.readStored(ctx, p.initPath)
			if err != nil {
				return nil, err
			}
			pr, err := encryptStoredFMP4(data, initData, &jj, k)
			if err != nil {
				return nil, err
			}
			data = pr.data
		}
		at := len(out)
		out = append(out, data...)
		if j.ext == ".ts" {
			continueCC(out[at:], cc)
		}
	}
	var kf *media.Keyframes
	var err error
	switch {
	case cmafSeg != nil:
		var buf bytes.Buffer
		if err := cmafSeg.Encode(&buf); err != nil {
			return nil, fmt.Errorf("encode segment: %w", err)
		}
		out = buf.Bytes()
		if j.track.Video {
			if kf, err = media.ScanFMP4(out, nil); err != nil {
				return nil, err
			}
		}
	case j.ext == ".ts":
		if kf, err = media.ScanTS(out); err != nil {
			return nil, err
		}
	default:
		kf, _ = media.ScanFMP4(out, nil)
	}
	if j.enc != nil && j.enc.method == MethodSampleAES {
		return &product{data: out, kf: kf}, nil
	}
	return o.finishAES(j, k, out, kf)
}

// continueCC rewrites the continuity counters of the TS packets in data so
// that every PID continues from the counter last[pid] (updated), as one
// multiplex would: joined segments of different origins (or a source
// that restarts its counters) then decode without continuity errors.
func continueCC(data []byte, last map[uint16]byte) {
	const pkt = 188
	for off := 0; off+pkt <= len(data); off += pkt {
		p := data[off : off+pkt]
		if p[0] != 0x47 {
			return
		}
		pid := uint16(p[1]&0x1f)<<8 | uint16(p[2])
		if pid == 0x1fff {
			continue
		}
		cc := p[3] & 0x0f
		if p[3]&0x10 != 0 { // has payload: the counter advances
			if prev, ok := last[pid]; ok {
				cc = (prev + 1) & 0x0f
			}
		} else if prev, ok := last[pid]; ok {
			cc = prev
		}
		p[3] = p[3]&0xf0 | cc
		last[pid] = cc
	}
}
