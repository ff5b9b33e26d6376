package media

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
	"sort"

	"github.com/Eyevinn/mp4ff/aac"
	"github.com/Eyevinn/mp4ff/avc"
	"github.com/asticode/go-astits"

	"github.com/pullpush/pullpush/keys"
)

// Stream types and descriptors of Apple's "MPEG-2 Stream Encryption Format
// for HTTP Live Streaming" (SAMPLE-AES in TS).
const (
	StreamTypeH264SampleAES astits.StreamType = 0xdb
	StreamTypeAACSampleAES  astits.StreamType = 0xcf
	fourccZAVC                                = 0x7a617663 // 'zavc'
	fourccAACD                                = 0x61616364 // 'aacd'
	FourCCAPAD                                = 0x61706164 // 'apad'
	fourccZAAC                                = 0x7a616163 // 'zaac'
)

// SampleAESTS re-muxes a demuxed TS segment with SAMPLE-AES: H.264 slice
// NAL units are encrypted with the 1:9 pattern (32 clear bytes, then one
// encrypted 16-byte block in every 160), each ADTS AAC frame after a
// 16-byte clear leader; CBC restarts with iv for every NAL unit and every
// frame. Audio frames get a PES packet each. Timed ID3 metadata is copied
// in the clear; segments with other streams (H.265, AC-3, MPEG audio) are
// refused rather than served clear.
func SampleAESTS(d *TSDemux, key keys.Secret, iv []byte) ([]byte, error) {
	block, err := aes.NewCipher(key.Bytes())
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	type out struct {
		pid  uint16
		dts  int64 // unwrapped, for interleaving
		pes  *astits.PESData
		sync bool
	}
	var pkts []out
	var buf bytes.Buffer
	mux := astits.NewMuxer(context.Background(), &buf)
	pcrPID := uint16(0)
	var ref int64 = -1
	for _, s := range d.Streams {
		es := astits.PMTElementaryStream{ElementaryPID: s.pid, StreamType: s.StreamType}
		streamID := s.StreamType.ToPESStreamID()
		switch s.StreamType {
		case astits.StreamTypeH264Video:
			es.StreamType = StreamTypeH264SampleAES
			es.ElementaryStreamDescriptors = []*astits.Descriptor{privateDataIndicator(fourccZAVC)}
			streamID = 0xe0
		case astits.StreamTypeAACAudio:
			t := audioTrack(s)
			if t == nil {
				return nil, errors.New("sample-aes: audio stream without ADTS frames")
			}
			es.StreamType = StreamTypeAACSampleAES
			es.ElementaryStreamDescriptors = []*astits.Descriptor{privateDataIndicator(fourccAACD), audioSetup(t)}
			streamID = 0xc0
		case astits.StreamTypeH265Video:
			return nil, errors.New("sample-aes: H.265 is not covered by TS sample encryption (use cmaf with cbcs)")
		case astits.StreamTypeMetadata:
			// Timed ID3 metadata stays clear.
			if len(s.PES) == 0 {
				continue
			}
		default:
			if len(s.PES) == 0 {
				continue
			}
			// Never pass other audio or video in the clear on an
			// encrypted endpoint.
			return nil, fmt.Errorf("sample-aes: cannot encrypt stream type %#x (H.264 and ADTS AAC only)", uint8(s.StreamType))
		}
		if err := mux.AddElementaryStream(es); err != nil {
			return nil, fmt.Errorf("sample-aes: %w", err)
		}
		if pcrPID == 0 || s.StreamType == astits.StreamTypeH264Video {
			pcrPID = s.pid
		}
		prev := ref
		for _, p := range s.PES {
			if p.PTS < 0 {
				continue
			}
			if prev < 0 {
				prev = p.dts
			}
			dts := UnwrapNear(p.dts, prev)
			prev = dts
			if ref < 0 {
				ref = dts
			}
			switch s.StreamType {
			case astits.StreamTypeH264Video:
				data, sync, err := encryptH264AU(block, iv, p.Data)
				if err != nil {
					return nil, err
				}
				pkts = append(pkts, out{s.pid, dts, newPES(streamID, p.PTS, p.dts, data), sync})
			case astits.StreamTypeAACAudio:
				t := audioTrack(s)
				for i, f := range ADTSFrames(p.Data) {
					frame := append([]byte(nil), p.Data[f.Off:f.Off+f.Size]...)
					encryptADTSFrame(block, iv, frame, f.HdrLen)
					step := int64(i) * 1024 * 90000 / int64(t.SampleRate)
					pts := (p.PTS + step) & (1<<33 - 1)
					pkts = append(pkts, out{s.pid, dts + step, newPES(streamID, pts, pts, frame), false})
				}
			default:
				pkts = append(pkts, out{s.pid, dts, newPES(streamID, p.PTS, p.dts, p.Data), false})
			}
		}
	}
	if len(pkts) == 0 {
		return nil, errors.New("sample-aes: no PES packets")
	}
	mux.SetPCRPID(pcrPID)
	sort.SliceStable(pkts, func(i, j int) bool { return pkts[i].dts < pkts[j].dts })
	if _, err := mux.WriteTables(); err != nil {
		return nil, fmt.Errorf("sample-aes: %w", err)
	}
	for _, p := range pkts {
		md := &astits.MuxerData{PID: p.pid, PES: p.pes}
		if p.pid == pcrPID {
			oh := p.pes.Header.OptionalHeader
			t := oh.PTS.Base
			if oh.DTS != nil {
				t = oh.DTS.Base
			}
			pcr := (t - 9000) & (1<<33 - 1)
			md.AdaptationField = &astits.PacketAdaptationField{HasPCR: true, PCR: &astits.ClockReference{Base: pcr}, RandomAccessIndicator: p.sync}
		}
		if _, err := mux.WriteData(md); err != nil {
			return nil, fmt.Errorf("sample-aes: %w", err)
		}
	}
	ts := buf.Bytes()
	for _, s := range d.Streams {
		if s.StreamType == astits.StreamTypeH264Video && len(s.PES) > 0 {
			ts = appendAUDPES(ts, s.pid, startsWithIDR(s))
		}
	}
	return ts, nil
}

// startsWithIDR reports whether the first access unit of H.264 stream s
// holds an IDR picture.
func startsWithIDR(s *TSStream) bool {
	var au []byte
	for i, p := range s.PES {
		if i > 0 && p.PTS >= 0 {
			break
		}
		au = append(au, p.Data...)
	}
	_, idr := naluSample(au, CodecAVC)
	return idr
}

// appendAUDPES ends a segment's H.264 stream on pid with a bounded PES
// holding a lone access unit delimiter, in two TS packets; with eos, an
// end of sequence NAL unit follows the delimiter.
//
// A demuxer learns that a video PES of unbounded length is complete only
// from the next PES on its PID, and an H.264 parser that an access unit is
// complete only from the start of the next one; so without this PES the
// last access unit of a segment leaves the demuxer after it has begun
// reading the next segment. ffmpeg's HLS demuxer decrypts each packet with
// the IV and key of the segment it is reading at that moment: the last two
// frames of every segment were decrypted with the next segment's IV (and
// those of the last segment not at all). The first packet (the PES header)
// completes the last access unit's PES; the second completes the bounded
// delimiter PES (ffmpeg emits a bounded PES as soon as it is complete, but
// at most one PES per TS packet), and the delimiter ends the access unit
// before it. So every encrypted access unit leaves the demuxer while its
// segment is current. The delimiter is never encrypted and joins the next
// segment's first access unit.
//
// At the end of a closed playlist the delimiter is an access unit without
// a picture: ffmpeg's parser notes "missing picture", and its decoder
// fails on it ("no frame!") unless it holds an end of sequence, which the
// decoder takes as the end of the stream. An end of sequence must be
// followed by an IDR picture, so it is added only when the segment itself
// starts with one: a source whose segments start with IDR pictures (as
// HLS asks) starts the next one with an IDR too.
func appendAUDPES(ts []byte, pid uint16, eos bool) []byte {
	cc := byte(0)
	for off := len(ts) - tsPacketSize; off >= 0; off -= tsPacketSize {
		if p := ts[off:]; p[0] == 0x47 && (uint16(p[1]&0x1f)<<8|uint16(p[2])) == pid && p[3]&0x10 != 0 {
			cc = p[3] + 1
			break
		}
	}
	// The delimiter (primary_pic_type 7, stop bit), then end of sequence.
	nalus := []byte{0, 0, 0, 1, 0x09, 0xf0}
	if eos {
		nalus = append(nalus, 0, 0, 0, 1, 0x0a)
	}
	// Start code, stream_id 0xe0, PES_packet_length (3 header bytes, no
	// PTS, then the NAL units).
	header := []byte{0, 0, 1, 0xe0, 0, byte(3 + len(nalus)), 0x80, 0, 0}
	ts = appendStuffedPacket(ts, pid, true, cc, header)
	return appendStuffedPacket(ts, pid, false, cc+1, nalus)
}

// appendStuffedPacket appends one TS packet on pid carrying payload after
// an adaptation field of stuffing bytes.
func appendStuffedPacket(ts []byte, pid uint16, start bool, cc byte, payload []byte) []byte {
	pkt := make([]byte, tsPacketSize)
	pkt[0] = 0x47
	pkt[1] = byte(pid>>8) & 0x1f
	if start {
		pkt[1] |= 0x40 // payload_unit_start_indicator
	}
	pkt[2] = byte(pid)
	pkt[3] = 0x30 | cc&0x0f // adaptation field, then payload
	afLen := tsPacketSize - 5 - len(payload)
	pkt[4] = byte(afLen)
	if afLen > 0 {
		pkt[5] = 0 // no adaptation field flags
		for i := 6; i < 5+afLen; i++ {
			pkt[i] = 0xff
		}
	}
	copy(pkt[5+afLen:], payload)
	return append(ts, pkt...)
}

func newPES(streamID uint8, pts, dts int64, data []byte) *astits.PESData {
	oh := &astits.PESOptionalHeader{MarkerBits: 2, DataAlignmentIndicator: true, PTSDTSIndicator: astits.PTSDTSIndicatorOnlyPTS,
		PTS: &astits.ClockReference{Base: pts}}
	if dts != pts {
		oh.PTSDTSIndicator = astits.PTSDTSIndicatorBothPresent
		oh.DTS = &astits.ClockReference{Base: dts}
	}
	return &astits.PESData{Header: &astits.PESHeader{StreamID: streamID, OptionalHeader: oh}, Data: data}
}

func privateDataIndicator(fourcc uint32) *astits.Descriptor {
	return &astits.Descriptor{Tag: astits.DescriptorTagPrivateDataIndicator, Length: 4,
		PrivateDataIndicator: &astits.DescriptorPrivateDataIndicator{Indicator: fourcc}}
}

// audioSetup is the registration descriptor 'apad' with the
// audio_setup_information of an AAC stream: 'zaac', priming 0, version 1,
// and the AudioSpecificConfig.
func audioSetup(t *Track) *astits.Descriptor {
	var asc bytes.Buffer
	(&aac.AudioSpecificConfig{ObjectType: t.ObjType, ChannelConfiguration: t.Channels, SamplingFrequency: t.SampleRate}).Encode(&asc)
	info := []byte{'z', 'a', 'a', 'c', 0, 0, 1, byte(asc.Len())}
	info = append(info, asc.Bytes()...)
	return &astits.Descriptor{Tag: astits.DescriptorTagRegistration, Length: uint8(4 + len(info)),
		Registration: &astits.DescriptorRegistration{FormatIdentifier: FourCCAPAD, AdditionalIdentificationInfo: info}}
}

// encryptH264AU encrypts the slice NAL units (types 1 and 5) longer than
// 48 bytes of an Annex B access unit: the 1:9 pattern after 32 clear
// bytes, then emulation prevention over the whole result. It reports
// whether the AU holds an IDR picture.
func encryptH264AU(block cipher.Block, iv, au []byte) ([]byte, bool, error) {
	nalus := avc.ExtractNalusFromByteStream(au)
	out := make([]byte, 0, len(au)+len(au)/64+16)
	sync := false
	for _, n := range nalus {
		if len(n) == 0 {
			continue
		}
		typ := n[0] & 0x1f
		if typ == 5 {
			sync = true
		}
		if (typ == 1 || typ == 5) && len(n) > 48 {
			// The NAL unit as stored (with its emulation prevention
			// bytes) is encrypted, then escaped: a decryptor removes
			// every emulation prevention byte, decrypts, and has the
			// original NAL unit back.
			raw := append([]byte(nil), n...)
			enc := cipher.NewCBCEncrypter(block, iv)
			for pos, rem := 32, len(raw)-32; rem > 0; {
				if rem > 16 {
					enc.CryptBlocks(raw[pos:pos+16], raw[pos:pos+16])
					pos, rem = pos+16, rem-16
				}
				skip := min(144, rem)
				pos, rem = pos+skip, rem-skip
			}
			n = escapeRBSP(raw)
		}
		out = append(out, 0, 0, 0, 1)
		out = append(out, n...)
	}
	return out, sync, nil
}

// encryptADTSFrame encrypts one ADTS frame in place: after the header and
// a 16-byte clear leader, every whole 16-byte block, CBC from iv.
func encryptADTSFrame(block cipher.Block, iv, frame []byte, hdrLen int) {
	payload := len(frame) - hdrLen
	if payload <= 31 {
		return
	}
	start := hdrLen + 16
	n := (len(frame) - start) / 16 * 16
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(frame[start:start+n], frame[start:start+n])
}

// escapeRBSP inserts emulation prevention bytes where two zero bytes are
// followed by a byte <= 3, and after a trailing zero.
func escapeRBSP(raw []byte) []byte {
	out := make([]byte, 0, len(raw)+len(raw)/128+4)
	zeros := 0
	for _, b := range raw {
		if zeros >= 2 && b <= 3 {
			out = append(out, 3)
			zeros = 0
		}
		out = append(out, b)
		if b == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	if zeros > 0 {
		out = append(out, 3)
	}
	return out
}
