package origin

import (
	"bytes"
	"testing"

	"github.com/Eyevinn/mp4ff/mp4"

	"github.com/pullpush/pullpush/keys"
	"github.com/pullpush/pullpush/origin/internal/media"
)

// FuzzTSDemux feeds arbitrary bytes through everything the origin does
// with an ingested TS segment: demux (astits), keyframe scan, track probe
// (mp4ff parameter set and ADTS parsing), and the packagers run on request
// (CMAF init + segment, cbcs encryption, SAMPLE-AES re-mux). None may
// panic; keyframe ranges stay inside the segment; what the CMAF packager
// writes must decode with mp4ff.
//
// The committed corpus (testdata/fuzz/FuzzTSDemux) holds real segments and
// heads of segments: H.264 video, ADTS audio, muxed H.264 with B-frames +
// AAC, H.265, a cut in the middle of a packet, audio starting mid-stream.
func FuzzTSDemux(f *testing.F) {
	f.Fuzz(fuzzTS)
}

func fuzzTS(t *testing.T, data []byte) {
	key, _ := keys.ParseSecret("000102030405060708090a0b0c0d0e0f")
	k := keys.Key{ID: keys.DeriveKID("fuzz", 0), Value: key}
	cbcs := &encSpec{method: MethodCBCS}
	{
		d, err := media.DemuxTS(data)
		if err != nil {
			return
		}
		if kf, err := media.TSKeyframes(d, int64(len(data))); err == nil && kf != nil {
			for _, fr := range kf.Frames {
				if fr.Off < 0 || fr.Len <= 0 || fr.Off+fr.Len > int64(len(data)) {
					t.Fatalf("keyframe range %d@%d outside %d bytes", fr.Len, fr.Off, len(data))
				}
			}
		}
		media.SampleAESTS(d, key, seqIV(1))
		ti := media.ProbeTS(d)
		if ti == nil {
			return
		}
		if ti.Dur < 0 {
			t.Fatalf("negative duration %d", ti.Dur)
		}
		for _, pick := range []media.TrackPick{media.PickMain, media.PickAudio} {
			tr := ti.Track(pick)
			if tr == nil || tr.Hash == "" {
				continue
			}
			init, err := media.BuildInit(tr)
			if err != nil {
				continue
			}
			seg, err := media.CMAFSegment(d, tr, 1, ti.DTS0, 0, ti.Dur)
			if err != nil {
				continue
			}
			var ib, sb bytes.Buffer
			if err := init.Encode(&ib); err != nil {
				t.Fatalf("encode init: %v", err)
			}
			if err := seg.Encode(&sb); err != nil {
				t.Fatalf("encode segment: %v", err)
			}
			if _, err := mp4.DecodeFile(bytes.NewReader(append(ib.Bytes(), sb.Bytes()...))); err != nil {
				t.Fatalf("repackaged CMAF does not decode: %v", err)
			}
			// Encrypt a fresh copy, as the packager does before encoding.
			if seg, err = media.CMAFSegment(d, tr, 1, ti.DTS0, 0, ti.Dur); err == nil {
				encryptCMAF(seg, &job{enc: cbcs, track: tr, seq: 1}, k)
			}
		}
	}
}
