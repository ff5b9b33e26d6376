package media

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/Eyevinn/mp4ff/aac"
	"github.com/Eyevinn/mp4ff/avc"
	"github.com/Eyevinn/mp4ff/hevc"
	"github.com/asticode/go-astits"
)

// PES is one PES packet of an elementary stream, as demuxed by astits.
type PES struct {
	off  int64 // offset of the TS packet that starts it (-1: unknown)
	PTS  int64 // 33-bit PTS, -1 when absent
	dts  int64 // 33-bit DTS; equal to PTS when the PES has none
	Data []byte
}

// TSStream is one elementary stream of a TS segment.
type TSStream struct {
	pid        uint16
	StreamType astits.StreamType
	PES        []PES
}

// TSDemux is a demuxed TS segment: the elementary streams of its first
// PMT with their PES packets.
type TSDemux struct {
	Streams []*TSStream
	pmtPID  int
	mapLen  int64 // bytes up to and including the first PMT packet
}

// Stream returns the elementary stream with PID pid, or nil.
func (d *TSDemux) Stream(pid uint16) *TSStream {
	for _, s := range d.Streams {
		if s.pid == pid {
			return s
		}
	}
	return nil
}

// maxTSPES bounds the PES packets kept from one segment.
const maxTSPES = 1 << 16

// DemuxTS splits a TS segment into elementary streams with astits. PES
// packets of PIDs missing from the first PMT are dropped. The byte offset
// of the packet starting each PES is found by counting payload unit starts
// per PID; when the counts disagree the offsets are -1.
func DemuxTS(data []byte) (*TSDemux, error) {
	if len(data) < tsPacketSize || data[0] != 0x47 {
		return nil, errors.New("not a transport stream")
	}
	dmx := astits.NewDemuxer(context.Background(), bytes.NewReader(data), astits.DemuxerOptPacketSize(tsPacketSize))
	d := &TSDemux{pmtPID: -1}
	n := 0
	for {
		dd, err := dmx.NextData()
		if err != nil {
			if errors.Is(err, astits.ErrNoMorePackets) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				break
			}
			return nil, fmt.Errorf("demux ts: %w", err)
		}
		if dd.PMT != nil && d.pmtPID < 0 {
			d.pmtPID = int(dd.PID)
			for _, es := range dd.PMT.ElementaryStreams {
				if d.Stream(es.ElementaryPID) == nil {
					d.Streams = append(d.Streams, &TSStream{pid: es.ElementaryPID, StreamType: es.StreamType})
				}
			}
		}
		if dd.PES == nil || d.pmtPID < 0 {
			continue
		}
		s := d.Stream(dd.PID)
		if s == nil {
			continue
		}
		if n++; n > maxTSPES {
			return nil, fmt.Errorf("demux ts: more than %d PES packets", maxTSPES)
		}
		p := PES{off: -1, PTS: -1, dts: -1, Data: dd.PES.Data}
		if h := dd.PES.Header; h != nil && h.OptionalHeader != nil {
			if h.OptionalHeader.PTS != nil {
				p.PTS = h.OptionalHeader.PTS.Base & (1<<33 - 1)
				p.dts = p.PTS
			}
			if h.OptionalHeader.DTS != nil && p.PTS >= 0 {
				p.dts = h.OptionalHeader.DTS.Base & (1<<33 - 1)
			}
		}
		s.PES = append(s.PES, p)
	}
	if d.pmtPID < 0 {
		return d, nil
	}
	// Offsets of the packets starting a PES, per PID.
	starts := map[uint16][]int64{}
	for off := 0; off+tsPacketSize <= len(data); off += tsPacketSize {
		p := data[off : off+tsPacketSize]
		if p[0] != 0x47 {
			break
		}
		pid := uint16(p[1]&0x1f)<<8 | uint16(p[2])
		if d.mapLen == 0 && int(pid) == d.pmtPID {
			d.mapLen = int64(off + tsPacketSize)
		}
		if p[1]&0x40 != 0 && d.Stream(pid) != nil {
			starts[pid] = append(starts[pid], int64(off))
		}
	}
	for _, s := range d.Streams {
		if st := starts[s.pid]; len(st) == len(s.PES) {
			for i := range s.PES {
				s.PES[i].off = st[i]
			}
		}
	}
	return d, nil
}

// Codec sample entry names of repackaged tracks.
const (
	CodecAVC  = "avc1"
	CodecHEVC = "hvc1"
	CodecAAC  = "mp4a"
)

// Track is a TS elementary stream that can be repackaged as CMAF, with
// the codec configuration of its init segment.
type Track struct {
	PID   uint16
	Video bool
	Codec string
	Hash  string // of the codec configuration: names the init segment
	// video parameter sets (H.265 also has vps)
	VPS, SPS, PPS [][]byte
	// audio
	ObjType    byte
	SampleRate int
	Channels   byte
}

// TSInfo is what a CMAF endpoint needs to know of a TS segment at
// playlist time: its tracks and timing. It is computed on ingest.
type TSInfo struct {
	Tracks []*Track // the first video and the first audio stream
	DTS0   int64    // first DTS of the timing track (video, else audio), 33-bit
	Dur    int64    // duration of the timing track, 90 kHz
}

// Track returns the track a view picks: PickMain is the video track (the
// audio track of an audio-only segment), PickAudio the audio track of a
// segment with video.
func (ti *TSInfo) Track(p TrackPick) *Track {
	if ti == nil || len(ti.Tracks) == 0 {
		return nil
	}
	if p == PickAudio {
		if len(ti.Tracks) == 2 && ti.Tracks[0].Video {
			return ti.Tracks[1]
		}
		return nil
	}
	return ti.Tracks[0]
}

// Muxed reports whether the segment has both video and audio.
func (ti *TSInfo) Muxed() bool { return ti.Track(PickAudio) != nil }

// Hash returns the init name hash of the picked track ("" when the track
// is missing or has no codec configuration).
func (ti *TSInfo) Hash(p TrackPick) string {
	if t := ti.Track(p); t != nil {
		return t.Hash
	}
	return ""
}

// TrackPick selects the track of a TS segment a CMAF rendition carries.
type TrackPick uint8

// Tracks a CMAF rendition can carry (see TSInfo.Track).
const (
	PickMain  TrackPick = iota // the video track, or the audio of an audio-only segment
	PickAudio                  // the audio track of a segment with video
)

// WithConfigFrom returns ti with the codec configuration of tracks that
// have none (a segment without parameter sets) taken from prev.
func (ti *TSInfo) WithConfigFrom(prev *TSInfo) *TSInfo {
	if ti == nil || prev == nil {
		return ti
	}
	var out *TSInfo
	for i, t := range ti.Tracks {
		if t.Hash != "" {
			continue
		}
		for _, p := range prev.Tracks {
			if p.Video == t.Video && p.Codec == t.Codec && p.Hash != "" {
				if out == nil {
					cp := *ti
					cp.Tracks = append([]*Track(nil), ti.Tracks...)
					out = &cp
				}
				nt := *p
				nt.PID = t.PID
				out.Tracks[i] = &nt
			}
		}
	}
	if out == nil {
		return ti
	}
	return out
}

// ProbeTS finds the repackageable tracks of a demuxed segment, their codec
// configuration and the segment's timing. It returns nil when the segment
// has neither H.264/H.265 video nor ADTS AAC audio.
func ProbeTS(d *TSDemux) *TSInfo {
	ti := &TSInfo{}
	var video, audio *TSStream
	for _, s := range d.Streams {
		switch s.StreamType {
		case astits.StreamTypeH264Video, astits.StreamTypeH265Video:
			if video == nil && len(s.PES) > 0 {
				video = s
			}
		case astits.StreamTypeAACAudio:
			if audio == nil && len(s.PES) > 0 {
				audio = s
			}
		}
	}
	if video != nil {
		ti.Tracks = append(ti.Tracks, videoTrack(video))
	}
	if audio != nil {
		if t := audioTrack(audio); t != nil {
			ti.Tracks = append(ti.Tracks, t)
		} else if video == nil {
			return nil
		}
	}
	if len(ti.Tracks) == 0 {
		return nil
	}
	timing := video
	if timing == nil {
		timing = audio
	}
	first := -1
	for i, p := range timing.PES {
		if p.dts >= 0 {
			first = i
			break
		}
	}
	if first < 0 {
		return nil
	}
	ti.DTS0 = timing.PES[first].dts
	var last, lastDur int64
	prev := ti.DTS0
	for _, p := range timing.PES[first:] {
		if p.dts < 0 {
			continue
		}
		u := UnwrapNear(p.dts, prev)
		if d := u - prev; d > 0 {
			lastDur = d
		}
		prev, last = u, u
	}
	if timing == audio {
		t := ti.Tracks[len(ti.Tracks)-1]
		lastDur = int64(countADTS(timing.PES[len(timing.PES)-1].Data)) * 1024 * 90000 / int64(t.SampleRate)
	}
	ti.Dur = max(last-ti.DTS0+lastDur, 0)
	return ti
}

func videoTrack(s *TSStream) *Track {
	t := &Track{PID: s.pid, Video: true, Codec: CodecAVC}
	if s.StreamType == astits.StreamTypeH265Video {
		t.Codec = CodecHEVC
	}
	for _, p := range s.PES {
		if t.Codec == CodecAVC {
			sps, pps := avc.GetParameterSetsFromByteStream(p.Data)
			if len(sps) > 0 && len(pps) > 0 {
				if _, err := avc.ParseSPSNALUnit(sps[0], false); err != nil {
					continue
				}
				t.SPS, t.PPS = sps, pps
				break
			}
		} else {
			vps, sps, pps := hevc.GetParameterSetsFromByteStream(p.Data)
			if len(vps) > 0 && len(sps) > 0 && len(pps) > 0 {
				if _, err := hevc.ParseSPSNALUnit(sps[0]); err != nil {
					continue
				}
				t.VPS, t.SPS, t.PPS = vps, sps, pps
				break
			}
		}
	}
	if len(t.SPS) > 0 {
		t.Hash = configHash(t.Codec, t.VPS, t.SPS, t.PPS)
	}
	return t
}

func audioTrack(s *TSStream) *Track {
	for _, p := range s.PES {
		h, off, err := aac.DecodeADTSHeader(bytes.NewReader(p.Data))
		if err != nil || off != 0 {
			continue
		}
		rate := aac.FrequencyTable[h.SamplingFrequencyIndex]
		if rate == 0 || h.ChannelConfig == 0 {
			return nil
		}
		t := &Track{PID: s.pid, Codec: CodecAAC, ObjType: h.ObjectType, SampleRate: rate, Channels: h.ChannelConfig}
		t.Hash = configHash(CodecAAC, [][]byte{{h.ObjectType, h.SamplingFrequencyIndex, h.ChannelConfig}})
		return t
	}
	return nil
}

func configHash(codec string, sets ...[][]byte) string {
	h := sha256.New()
	h.Write([]byte(codec))
	var n [4]byte
	for _, set := range sets {
		binary.BigEndian.PutUint32(n[:], uint32(len(set)))
		h.Write(n[:])
		for _, b := range set {
			binary.BigEndian.PutUint32(n[:], uint32(len(b)))
			h.Write(n[:])
			h.Write(b)
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// UnwrapNear returns the value of 33-bit timestamp v closest to ref.
func UnwrapNear(v, ref int64) int64 {
	const wrap = 1 << 33
	d := ((v-ref)%wrap+wrap+wrap/2)%wrap - wrap/2
	return ref + d
}

// ADTSFrame is one AAC frame of an ADTS stream.
type ADTSFrame struct {
	Off, HdrLen, Size int // frame offset, header length, total frame length
}

// ADTSFrames splits ADTS data into frames with mp4ff's header decoder.
// It stops at the first byte that does not start a complete frame.
func ADTSFrames(b []byte) []ADTSFrame {
	var out []ADTSFrame
	for off := 0; off+7 <= len(b); {
		h, skip, err := aac.DecodeADTSHeader(bytes.NewReader(b[off:]))
		if err != nil || skip != 0 {
			break
		}
		size := int(h.HeaderLength) + int(h.PayloadLength)
		if h.PayloadLength == 0 || size > 1<<13 || off+size > len(b) {
			break
		}
		out = append(out, ADTSFrame{Off: off, HdrLen: int(h.HeaderLength), Size: size})
		off += size
	}
	return out
}

func countADTS(b []byte) int { return len(ADTSFrames(b)) }
