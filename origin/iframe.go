package origin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/asticode/go-astits"
)

// keyframe locates one keyframe inside a stored segment for I-frame-only
// playlists.
type keyframe struct {
	Off, Len int64   // byte range of the keyframe inside the segment
	At       float64 // position in the segment: seconds (TS) or fraction of the segment duration (fMP4, see keyframes.frac)
}

// keyframes is the cached result of scanning one segment.
type keyframes struct {
	frames []keyframe
	frac   bool  // At is a fraction of the segment duration
	mapLen int64 // TS: bytes at the segment start holding PAT+PMT (EXT-X-MAP)
}

const tsPacketSize = 188

// scanTS finds the access units of the first video stream that start with an
// IDR picture (H.264) or IRAP picture (H.265). Each range starts at the TS
// packet that begins the keyframe's PES and ends where the next PES of the
// video stream begins, so it holds the whole access unit. mapLen covers the
// packets up to and including the first PMT, to be used as EXT-X-MAP.
func scanTS(data []byte) (*keyframes, error) {
	if len(data) < tsPacketSize || data[0] != 0x47 {
		return nil, errors.New("not a transport stream")
	}
	dmx := astits.NewDemuxer(context.Background(), bytes.NewReader(data), astits.DemuxerOptPacketSize(tsPacketSize))
	var (
		videoPID   uint16
		streamType astits.StreamType
		pes        []*astits.PESData
		pmtPID     = -1
	)
	for {
		d, err := dmx.NextData()
		if err != nil {
			if errors.Is(err, astits.ErrNoMorePackets) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				break
			}
			return nil, fmt.Errorf("demux ts: %w", err)
		}
		if d.PMT != nil && videoPID == 0 {
			pmtPID = int(d.PID)
			for _, es := range d.PMT.ElementaryStreams {
				if es.StreamType == astits.StreamTypeH264Video || es.StreamType == astits.StreamTypeH265Video {
					videoPID, streamType = es.ElementaryPID, es.StreamType
					break
				}
			}
		}
		if d.PES != nil && videoPID != 0 && d.PID == videoPID {
			pes = append(pes, d.PES)
		}
	}
	if videoPID == 0 {
		return nil, nil // audio only
	}
	// Offsets of the packets that start a PES on the video PID, in order;
	// the n-th one starts the n-th PES the demuxer returned.
	var starts []int64
	var mapLen int64
	for off := 0; off+tsPacketSize <= len(data); off += tsPacketSize {
		p := data[off : off+tsPacketSize]
		if p[0] != 0x47 {
			return nil, fmt.Errorf("lost ts sync at byte %d", off)
		}
		pid := uint16(p[1]&0x1f)<<8 | uint16(p[2])
		pusi := p[1]&0x40 != 0
		if mapLen == 0 && pmtPID >= 0 && int(pid) == pmtPID {
			mapLen = int64(off + tsPacketSize)
		}
		if pid == videoPID && pusi {
			starts = append(starts, int64(off))
		}
	}
	kf := &keyframes{mapLen: mapLen}
	if len(starts) != len(pes) {
		return nil, fmt.Errorf("ts: %d video PES starts but %d PES demuxed", len(starts), len(pes))
	}
	var firstPTS int64 = -1
	for i, p := range pes {
		pts := int64(-1)
		if p.Header != nil && p.Header.OptionalHeader != nil && p.Header.OptionalHeader.PTS != nil {
			pts = p.Header.OptionalHeader.PTS.Base
		}
		if firstPTS < 0 && pts >= 0 {
			firstPTS = pts
		}
		if !isKeyframeAU(p.Data, streamType) {
			continue
		}
		end := int64(len(data))
		if i+1 < len(starts) {
			end = starts[i+1]
		}
		at := 0.0
		if pts >= 0 && firstPTS >= 0 {
			at = float64((pts-firstPTS)&(1<<33-1)) / 90000
		}
		kf.frames = append(kf.frames, keyframe{Off: starts[i], Len: end - starts[i], At: at})
	}
	if mapLen == 0 || (len(kf.frames) > 0 && mapLen > kf.frames[0].Off) {
		kf.mapLen = 0
	}
	return kf, nil
}

// isKeyframeAU reports whether an Annex B access unit holds an IDR (H.264)
// or IRAP (H.265) picture.
func isKeyframeAU(b []byte, st astits.StreamType) bool {
	for i := 0; i+3 < len(b); i++ {
		if b[i] != 0 || b[i+1] != 0 || b[i+2] != 1 {
			continue
		}
		h := b[i+3]
		if st == astits.StreamTypeH265Video {
			if t := (h >> 1) & 0x3f; t >= 16 && t <= 21 {
				return true
			}
		} else if h&0x1f == 5 {
			return true
		}
		i += 2
	}
	return false
}

// scanFMP4 finds the fragments of the video track of a CMAF/fMP4 segment
// that start with a sync sample. Each range runs from the start of the moof
// to the end of that sample's data, so it holds moof + mdat header + the
// keyframe (the mdat is cut short, as in Apple's I-frame playlists). init (may be
// nil) is the initialization segment, used to pick the video track.
func scanFMP4(data, init []byte) (*keyframes, error) {
	var trackID uint32
	var trex *mp4.TrexBox
	if len(init) > 0 {
		f, err := mp4.DecodeFile(bytes.NewReader(init))
		if err != nil {
			return nil, fmt.Errorf("decode init: %w", err)
		}
		if f.Moov == nil {
			return nil, errors.New("init segment has no moov")
		}
		for _, trak := range f.Moov.Traks {
			if trak.Mdia != nil && trak.Mdia.Hdlr != nil && trak.Mdia.Hdlr.HandlerType == "vide" {
				trackID = trak.Tkhd.TrackID
				break
			}
		}
		if trackID == 0 {
			return nil, nil // no video
		}
		if f.Moov.Mvex != nil {
			for _, t := range f.Moov.Mvex.Trexs {
				if t.TrackID == trackID {
					trex = t
				}
			}
		}
	}
	f, err := mp4.DecodeFile(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("decode fmp4 segment: %w", err)
	}
	kf := &keyframes{frac: true}
	type sync struct {
		off, end int64
		t        uint64
	}
	var syncs []sync
	var first, last uint64
	haveFirst := false
	for _, seg := range f.Segments {
		for _, frag := range seg.Fragments {
			if frag.Moof == nil {
				continue
			}
			moof := frag.Moof
			for _, traf := range moof.Trafs {
				if trackID != 0 && traf.Tfhd.TrackID != trackID {
					continue
				}
				tfhd := traf.Tfhd
				var t uint64
				if traf.Tfdt != nil {
					t = traf.Tfdt.BaseMediaDecodeTime()
				}
				for _, trun := range traf.Truns {
					trun.AddSampleDefaultValues(tfhd, trex)
					base := moof.StartPos
					if tfhd.HasBaseDataOffset() {
						base = tfhd.BaseDataOffset
					}
					off := int64(base)
					if trun.HasDataOffset() {
						off += int64(trun.DataOffset)
					}
					for k, s := range trun.Samples {
						if !haveFirst {
							first, haveFirst = t, true
						}
						// A range must start at a moof, so only a sync
						// sample that opens its fragment can be listed.
						if k == 0 && trun == traf.Truns[0] && !mp4.DecodeSampleFlags(s.Flags).SampleIsNonSync {
							syncs = append(syncs, sync{off: int64(moof.StartPos), end: off + int64(s.Size), t: t})
						}
						off += int64(s.Size)
						t += uint64(s.Dur)
					}
					last = t
				}
				if trackID == 0 {
					break // first track only when we do not know which is video
				}
			}
		}
	}
	if last <= first {
		return kf, nil
	}
	for _, s := range syncs {
		if s.end > int64(len(data)) || s.off < 0 || s.end <= s.off {
			continue
		}
		kf.frames = append(kf.frames, keyframe{Off: s.off, Len: s.end - s.off, At: float64(s.t-first) / float64(last-first)})
	}
	return kf, nil
}
