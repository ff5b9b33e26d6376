package origin

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

// tsPES is one PES packet of an elementary stream, as demuxed by astits.
type tsPES struct {
	off  int64 // offset of the TS packet that starts it (-1: unknown)
	pts  int64 // 33-bit PTS, -1 when absent
	dts  int64 // 33-bit DTS; equal to pts when the PES has none
	data []byte
}

// tsStream is one elementary stream of a TS segment.
type tsStream struct {
	pid uint16
	st  astits.StreamType
	pes []tsPES
}

// tsDemux is a demuxed TS segment: the elementary streams of its first
// PMT with their PES packets.
type tsDemux struct {
	streams []*tsStream
	pmtPID  int
	mapLen  int64 // bytes up to and including the first PMT packet
}

func (d *tsDemux) stream(pid uint16) *tsStream {
	for _, s := range d.streams {
		if s.pid == pid {
			return s
		}
	}
	return nil
}

// maxTSPES bounds the PES packets kept from one segment.
const maxTSPES = 1 << 16

// demuxTS splits a TS segment into elementary streams with astits. PES
// packets of PIDs missing from the first PMT are dropped. The byte offset
// of the packet starting each PES is found by counting payload unit starts
// per PID; when the counts disagree the offsets are -1.
func demuxTS(data []byte) (*tsDemux, error) {
	if len(data) < tsPacketSize || data[0] != 0x47 {
		return nil, errors.New("not a transport stream")
	}
	dmx := astits.NewDemuxer(context.Background(), bytes.NewReader(data), astits.DemuxerOptPacketSize(tsPacketSize))
	d := &tsDemux{pmtPID: -1}
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
				if d.stream(es.ElementaryPID) == nil {
					d.streams = append(d.streams, &tsStream{pid: es.ElementaryPID, st: es.StreamType})
				}
			}
		}
		if dd.PES == nil || d.pmtPID < 0 {
			continue
		}
		s := d.stream(dd.PID)
		if s == nil {
			continue
		}
		if n++; n > maxTSPES {
			return nil, fmt.Errorf("demux ts: more than %d PES packets", maxTSPES)
		}
		p := tsPES{off: -1, pts: -1, dts: -1, data: dd.PES.Data}
		if h := dd.PES.Header; h != nil && h.OptionalHeader != nil {
			if h.OptionalHeader.PTS != nil {
				p.pts = h.OptionalHeader.PTS.Base & (1<<33 - 1)
				p.dts = p.pts
			}
			if h.OptionalHeader.DTS != nil && p.pts >= 0 {
				p.dts = h.OptionalHeader.DTS.Base & (1<<33 - 1)
			}
		}
		s.pes = append(s.pes, p)
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
		if p[1]&0x40 != 0 && d.stream(pid) != nil {
			starts[pid] = append(starts[pid], int64(off))
		}
	}
	for _, s := range d.streams {
		if st := starts[s.pid]; len(st) == len(s.pes) {
			for i := range s.pes {
				s.pes[i].off = st[i]
			}
		}
	}
	return d, nil
}

// Codec sample entry names of repackaged tracks.
const (
	codecAVC  = "avc1"
	codecHEVC = "hvc1"
	codecAAC  = "mp4a"
)

// tsTrack is a TS elementary stream that can be repackaged as CMAF, with
// the codec configuration of its init segment.
type tsTrack struct {
	pid   uint16
	video bool
	codec string
	hash  string // of the codec configuration: names the init segment
	// video parameter sets (H.265 also has vps)
	vps, sps, pps [][]byte
	// audio
	objType    byte
	sampleRate int
	channels   byte
}

// tsInfo is what a CMAF endpoint needs to know of a TS segment at
// playlist time: its tracks and timing. It is computed on ingest.
type tsInfo struct {
	tracks []*tsTrack // the first video and the first audio stream
	dts0   int64      // first DTS of the timing track (video, else audio), 33-bit
	dur    int64      // duration of the timing track, 90 kHz
}

// track returns the track a view picks: pickMain is the video track (the
// audio track of an audio-only segment), pickAudio the audio track of a
// segment with video.
func (ti *tsInfo) track(p trackPick) *tsTrack {
	if ti == nil || len(ti.tracks) == 0 {
		return nil
	}
	if p == pickAudio {
		if len(ti.tracks) == 2 && ti.tracks[0].video {
			return ti.tracks[1]
		}
		return nil
	}
	return ti.tracks[0]
}

// muxed reports whether the segment has both video and audio.
func (ti *tsInfo) muxed() bool { return ti.track(pickAudio) != nil }

// hash returns the init name hash of the picked track ("" when the track
// is missing or has no codec configuration).
func (ti *tsInfo) hash(p trackPick) string {
	if t := ti.track(p); t != nil {
		return t.hash
	}
	return ""
}

// trackPick selects the track of a TS segment a CMAF rendition carries.
type trackPick uint8

const (
	pickMain trackPick = iota
	pickAudio
)

// withConfigFrom returns ti with the codec configuration of tracks that
// have none (a segment without parameter sets) taken from prev.
func (ti *tsInfo) withConfigFrom(prev *tsInfo) *tsInfo {
	if ti == nil || prev == nil {
		return ti
	}
	var out *tsInfo
	for i, t := range ti.tracks {
		if t.hash != "" {
			continue
		}
		for _, p := range prev.tracks {
			if p.video == t.video && p.codec == t.codec && p.hash != "" {
				if out == nil {
					cp := *ti
					cp.tracks = append([]*tsTrack(nil), ti.tracks...)
					out = &cp
				}
				nt := *p
				nt.pid = t.pid
				out.tracks[i] = &nt
			}
		}
	}
	if out == nil {
		return ti
	}
	return out
}

// probeTS finds the repackageable tracks of a demuxed segment, their codec
// configuration and the segment's timing. It returns nil when the segment
// has neither H.264/H.265 video nor ADTS AAC audio.
func probeTS(d *tsDemux) *tsInfo {
	ti := &tsInfo{}
	var video, audio *tsStream
	for _, s := range d.streams {
		switch s.st {
		case astits.StreamTypeH264Video, astits.StreamTypeH265Video:
			if video == nil && len(s.pes) > 0 {
				video = s
			}
		case astits.StreamTypeAACAudio:
			if audio == nil && len(s.pes) > 0 {
				audio = s
			}
		}
	}
	if video != nil {
		ti.tracks = append(ti.tracks, videoTrack(video))
	}
	if audio != nil {
		if t := audioTrack(audio); t != nil {
			ti.tracks = append(ti.tracks, t)
		} else if video == nil {
			return nil
		}
	}
	if len(ti.tracks) == 0 {
		return nil
	}
	timing := video
	if timing == nil {
		timing = audio
	}
	first := -1
	for i, p := range timing.pes {
		if p.dts >= 0 {
			first = i
			break
		}
	}
	if first < 0 {
		return nil
	}
	ti.dts0 = timing.pes[first].dts
	var last, lastDur int64
	prev := ti.dts0
	for _, p := range timing.pes[first:] {
		if p.dts < 0 {
			continue
		}
		u := unwrapNear(p.dts, prev)
		if d := u - prev; d > 0 {
			lastDur = d
		}
		prev, last = u, u
	}
	if timing == audio {
		t := ti.tracks[len(ti.tracks)-1]
		lastDur = int64(countADTS(timing.pes[len(timing.pes)-1].data)) * 1024 * 90000 / int64(t.sampleRate)
	}
	ti.dur = max(last-ti.dts0+lastDur, 0)
	return ti
}

func videoTrack(s *tsStream) *tsTrack {
	t := &tsTrack{pid: s.pid, video: true, codec: codecAVC}
	if s.st == astits.StreamTypeH265Video {
		t.codec = codecHEVC
	}
	for _, p := range s.pes {
		if t.codec == codecAVC {
			sps, pps := avc.GetParameterSetsFromByteStream(p.data)
			if len(sps) > 0 && len(pps) > 0 {
				if _, err := avc.ParseSPSNALUnit(sps[0], false); err != nil {
					continue
				}
				t.sps, t.pps = sps, pps
				break
			}
		} else {
			vps, sps, pps := hevc.GetParameterSetsFromByteStream(p.data)
			if len(vps) > 0 && len(sps) > 0 && len(pps) > 0 {
				if _, err := hevc.ParseSPSNALUnit(sps[0]); err != nil {
					continue
				}
				t.vps, t.sps, t.pps = vps, sps, pps
				break
			}
		}
	}
	if len(t.sps) > 0 {
		t.hash = configHash(t.codec, t.vps, t.sps, t.pps)
	}
	return t
}

func audioTrack(s *tsStream) *tsTrack {
	for _, p := range s.pes {
		h, off, err := aac.DecodeADTSHeader(bytes.NewReader(p.data))
		if err != nil || off != 0 {
			continue
		}
		rate := aac.FrequencyTable[h.SamplingFrequencyIndex]
		if rate == 0 || h.ChannelConfig == 0 {
			return nil
		}
		t := &tsTrack{pid: s.pid, codec: codecAAC, objType: h.ObjectType, sampleRate: rate, channels: h.ChannelConfig}
		t.hash = configHash(codecAAC, [][]byte{{h.ObjectType, h.SamplingFrequencyIndex, h.ChannelConfig}})
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

// unwrapNear returns the value of 33-bit timestamp v closest to ref.
func unwrapNear(v, ref int64) int64 {
	const wrap = 1 << 33
	d := ((v-ref)%wrap+wrap+wrap/2)%wrap - wrap/2
	return ref + d
}

// adtsFrame is one AAC frame of an ADTS stream.
type adtsFrame struct {
	off, hdrLen, size int // frame offset, header length, total frame length
}

// adtsFrames splits ADTS data into frames with mp4ff's header decoder.
// It stops at the first byte that does not start a complete frame.
func adtsFrames(b []byte) []adtsFrame {
	var out []adtsFrame
	for off := 0; off+7 <= len(b); {
		h, skip, err := aac.DecodeADTSHeader(bytes.NewReader(b[off:]))
		if err != nil || skip != 0 {
			break
		}
		size := int(h.HeaderLength) + int(h.PayloadLength)
		if h.PayloadLength == 0 || size > 1<<13 || off+size > len(b) {
			break
		}
		out = append(out, adtsFrame{off: off, hdrLen: int(h.HeaderLength), size: size})
		off += size
	}
	return out
}

func countADTS(b []byte) int { return len(adtsFrames(b)) }
