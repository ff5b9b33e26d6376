package media

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/asticode/go-astits"
)

// Keyframe locates one keyframe inside a stored segment for I-frame-only
// playlists.
type Keyframe struct {
	Off, Len int64   // byte range of the keyframe inside the segment
	At       float64 // position in the segment: seconds (TS) or fraction of the segment duration (fMP4, see Keyframes.Frac)
}

// Keyframes is the cached result of scanning one segment.
type Keyframes struct {
	Frames []Keyframe
	Frac   bool  // At is a fraction of the segment duration
	MapLen int64 // TS: bytes at the segment start holding PAT+PMT (EXT-X-MAP)
}

const tsPacketSize = 188

// ScanTS finds the access units of the first video stream that start with an
// IDR picture (H.264) or IRAP picture (H.265). Each range starts at the TS
// packet that begins the keyframe's PES and ends where the next PES of the
// video stream begins, so it holds the whole access unit. mapLen covers the
// packets up to and including the first PMT, to be used as EXT-X-MAP.
func ScanTS(data []byte) (*Keyframes, error) {
	d, err := DemuxTS(data)
	if err != nil {
		return nil, err
	}
	return TSKeyframes(d, int64(len(data)))
}

// TSKeyframes is ScanTS on a demuxed segment of size bytes.
func TSKeyframes(d *TSDemux, size int64) (*Keyframes, error) {
	var video *TSStream
	for _, s := range d.Streams {
		if s.StreamType == astits.StreamTypeH264Video || s.StreamType == astits.StreamTypeH265Video {
			video = s
			break
		}
	}
	if video == nil {
		return nil, nil // audio only
	}
	kf := &Keyframes{MapLen: d.mapLen}
	pes := video.PES
	for _, p := range pes {
		if p.off < 0 {
			return nil, fmt.Errorf("ts: PES starts of PID %d do not match the demuxed PES", video.pid)
		}
	}
	var firstPTS int64 = -1
	for i, p := range pes {
		if firstPTS < 0 && p.PTS >= 0 {
			firstPTS = p.PTS
		}
		if !isKeyframeAU(p.Data, video.StreamType) {
			continue
		}
		end := size
		if i+1 < len(pes) {
			end = pes[i+1].off
		}
		at := 0.0
		if p.PTS >= 0 && firstPTS >= 0 {
			at = float64((p.PTS-firstPTS)&(1<<33-1)) / 90000
		}
		kf.Frames = append(kf.Frames, Keyframe{Off: p.off, Len: end - p.off, At: at})
	}
	if kf.MapLen == 0 || (len(kf.Frames) > 0 && kf.MapLen > kf.Frames[0].Off) {
		kf.MapLen = 0
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

// ScanFMP4 finds the fragments of the video track of a CMAF/fMP4 segment
// that start with a sync sample. Each range runs from the start of the moof
// to the end of that sample's data, so it holds moof + mdat header + the
// keyframe (the mdat is cut short, as in Apple's I-frame playlists). init (may be
// nil) is the initialization segment, used to pick the video track.
func ScanFMP4(data, init []byte) (*Keyframes, error) {
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
	kf := &Keyframes{Frac: true}
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
		kf.Frames = append(kf.Frames, Keyframe{Off: s.off, Len: s.end - s.off, At: float64(s.t-first) / float64(last-first)})
	}
	return kf, nil
}
