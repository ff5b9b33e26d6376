package media

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/Eyevinn/mp4ff/aac"
	"github.com/Eyevinn/mp4ff/avc"
	"github.com/Eyevinn/mp4ff/mp4"
)

// Timescale of repackaged video tracks: the TS clock, so that tfdt and
// composition times are the TS DTS and PTS (and WebVTT X-TIMESTAMP-MAP
// values keep their meaning).
const VideoTimescale = 90000

// BuildInit returns the CMAF init segment of track t (one track, ID 1).
func BuildInit(t *Track) (*mp4.InitSegment, error) {
	init := mp4.CreateEmptyInit()
	if t.Video {
		trak := init.AddEmptyTrack(VideoTimescale, "video", "und")
		var err error
		switch t.Codec {
		case CodecAVC:
			err = trak.SetAVCDescriptor("avc1", t.SPS, t.PPS, true)
		case CodecHEVC:
			err = trak.SetHEVCDescriptor("hvc1", t.VPS, t.SPS, t.PPS, nil, true)
		default:
			err = fmt.Errorf("unsupported video codec %s", t.Codec)
		}
		if err != nil {
			return nil, fmt.Errorf("init segment: %w", err)
		}
		// Odd parameter sets can give a decoder configuration record that
		// does not parse back; refuse those rather than serve them.
		var buf bytes.Buffer
		if err := init.Encode(&buf); err != nil {
			return nil, fmt.Errorf("init segment: %w", err)
		}
		if _, err := mp4.DecodeFile(bytes.NewReader(buf.Bytes())); err != nil {
			return nil, fmt.Errorf("init segment does not decode: %w", err)
		}
		return init, nil
	}
	trak := init.AddEmptyTrack(uint32(t.SampleRate), "audio", "und")
	asc := &aac.AudioSpecificConfig{ObjectType: t.ObjType, ChannelConfiguration: t.Channels, SamplingFrequency: t.SampleRate}
	var buf bytes.Buffer
	if err := asc.Encode(&buf); err != nil {
		return nil, fmt.Errorf("init segment: audio specific config: %w", err)
	}
	channels := uint16(t.Channels)
	if channels == 7 {
		channels = 8 // channel configuration 7 is 7.1
	}
	entry := mp4.CreateAudioSampleEntryBox("mp4a", channels, 16, uint16(t.SampleRate), mp4.CreateEsdsBox(buf.Bytes()))
	trak.Mdia.Minf.Stbl.Stsd.AddChild(entry)
	return init, nil
}

// VideoSamples turns the PES packets of a video stream into samples
// (length-prefixed NAL units without access unit delimiters and parameter
// sets, which live in the init segment). Times are 90 kHz, the first DTS
// unwrapped near base. fallbackDur (90 kHz) is the duration of a lone
// sample.
func VideoSamples(s *TSStream, t *Track, base, off, fallbackDur int64) ([]mp4.FullSample, error) {
	type au struct {
		dts, pts int64
		data     []byte
	}
	var aus []au
	prev := base
	for _, p := range s.PES {
		if p.PTS < 0 {
			if len(aus) > 0 { // continuation of the previous access unit
				aus[len(aus)-1].data = append(aus[len(aus)-1].data, p.Data...)
			}
			continue
		}
		dts := UnwrapNear(p.dts, prev)
		pts := UnwrapNear(p.PTS, dts)
		prev = dts
		aus = append(aus, au{dts: dts, pts: pts, data: p.Data})
	}
	out := make([]mp4.FullSample, 0, len(aus))
	for i, a := range aus {
		sample, sync := naluSample(a.data, t.Codec)
		if len(sample) == 0 {
			continue
		}
		if a.dts+off < 0 {
			return nil, errors.New("negative decode time")
		}
		fs := mp4.FullSample{DecodeTime: uint64(a.dts + off), Data: sample}
		fs.Flags = mp4.NonSyncSampleFlags
		if sync {
			fs.Flags = mp4.SyncSampleFlags
		}
		fs.Size = uint32(len(sample))
		cto := a.pts - a.dts
		if cto > 1<<30 || cto < -(1<<30) {
			cto = 0
		}
		fs.CompositionTimeOffset = int32(cto)
		var dur int64
		if i+1 < len(aus) {
			dur = aus[i+1].dts - a.dts
		}
		if dur <= 0 || dur > 10*VideoTimescale {
			dur = 0
			if n := len(out); n > 0 {
				dur = int64(out[n-1].Dur)
			}
		}
		if dur <= 0 {
			dur = max(fallbackDur, 1)
		}
		fs.Dur = uint32(dur)
		out = append(out, fs)
	}
	return out, nil
}

// naluSample converts an Annex B access unit to a length-prefixed sample,
// dropping access unit delimiters and parameter sets, and reports whether
// it holds an IDR (H.264) or IRAP (H.265) picture.
func naluSample(au []byte, codec string) ([]byte, bool) {
	var out []byte
	sync := false
	for _, n := range avc.ExtractNalusFromByteStream(au) {
		if len(n) == 0 {
			continue
		}
		if codec == CodecHEVC {
			typ := (n[0] >> 1) & 0x3f
			switch {
			case typ == 32 || typ == 33 || typ == 34 || typ == 35: // VPS, SPS, PPS, AUD
				continue
			case typ >= 16 && typ <= 23:
				sync = true
			}
		} else {
			switch n[0] & 0x1f {
			case 7, 8, 9: // SPS, PPS, AUD
				continue
			case 5:
				sync = true
			}
		}
		out = append(out, byte(len(n)>>24), byte(len(n)>>16), byte(len(n)>>8), byte(len(n)))
		out = append(out, n...)
	}
	return out, sync
}

// audioSamples turns the ADTS frames of an audio stream into raw AAC
// samples of 1024 ticks at the sample rate. The first PTS is unwrapped
// near base (90 kHz) and converted to the sample rate.
func audioSamples(s *TSStream, t *Track, base, off int64) ([]mp4.FullSample, error) {
	var out []mp4.FullSample
	var next uint64
	for _, p := range s.PES {
		frames := ADTSFrames(p.Data)
		if len(frames) == 0 {
			continue
		}
		if len(out) == 0 {
			if p.PTS < 0 {
				continue
			}
			pts := UnwrapNear(p.PTS, base) + off
			if pts < 0 {
				return nil, errors.New("negative presentation time")
			}
			next = uint64((pts*int64(t.SampleRate) + VideoTimescale/2) / VideoTimescale)
		}
		for _, f := range frames {
			data := p.Data[f.Off+f.HdrLen : f.Off+f.Size]
			fs := mp4.FullSample{DecodeTime: next, Data: data}
			fs.Flags = mp4.SyncSampleFlags
			fs.Dur = 1024
			fs.Size = uint32(len(data))
			out = append(out, fs)
			next += 1024
		}
	}
	return out, nil
}

// CMAFSegment repackages the track t of a demuxed TS segment as a CMAF
// media segment: styp, then two fragments per GOP, the first holding only
// its keyframe, so that an I-frame playlist's byte range is one whole
// fragment a demuxer reads as exactly that frame (one fragment for audio). seq
// numbers the fragments; base is the unwrapped first DTS of the segment's
// timing track and off is added to every timestamp (90 kHz, see
// rendition.appendTS); fallbackDur is the segment duration (90 kHz).
func CMAFSegment(d *TSDemux, t *Track, seq, base, off, fallbackDur int64) (*mp4.MediaSegment, error) {
	s := d.Stream(t.PID)
	if s == nil {
		return nil, fmt.Errorf("segment has no stream on PID %d", t.PID)
	}
	var samples []mp4.FullSample
	var err error
	if t.Video {
		samples, err = VideoSamples(s, t, base, off, fallbackDur)
	} else {
		samples, err = audioSamples(s, t, base, off)
	}
	if err != nil {
		return nil, err
	}
	if len(samples) == 0 {
		return nil, errors.New("segment has no samples")
	}
	seg := mp4.NewMediaSegment()
	var frag *mp4.Fragment
	n := uint32(0)
	for i, fs := range samples {
		if frag == nil || (t.Video && i > 0 && (fs.Flags == mp4.SyncSampleFlags || samples[i-1].Flags == mp4.SyncSampleFlags)) {
			frag, err = mp4.CreateFragment(uint32(seq)*64+n, 1)
			if err != nil {
				return nil, err
			}
			n++
			seg.AddFragment(frag)
		}
		frag.AddFullSample(fs)
	}
	return seg, nil
}
