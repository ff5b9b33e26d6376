package origin

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Eyevinn/mp4ff/avc"
	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/asticode/go-astits"

	"github.com/pullpush/pullpush/internal/testmedia"
	"github.com/pullpush/pullpush/keys"
	"github.com/pullpush/pullpush/origin/internal/media"
)

// removeEPB removes every emulation prevention byte, as SAMPLE-AES
// decryptors do before decrypting a NAL unit.
func removeEPB(d []byte) []byte {
	out := make([]byte, 0, len(d))
	for i := 0; i < len(d); i++ {
		if i+3 < len(d) && d[i] == 0 && d[i+1] == 0 && d[i+2] == 3 {
			out = append(out, 0, 0)
			i += 2
			continue
		}
		out = append(out, d[i])
	}
	return out
}

// decryptSampleAES undoes SAMPLE-AES on the PES payloads of one stream, as
// specified by Apple (and implemented by AOSP and FFmpeg): per NAL unit of
// type 1/5 longer than 48 bytes, remove emulation prevention, decrypt one
// block in ten after 32 clear bytes; per ADTS frame, decrypt the whole
// blocks after a 16-byte leader. CBC restarts with iv every time.
func decryptSampleAES(t *testing.T, s *media.TSStream, key keys.Secret, iv []byte) [][]byte {
	t.Helper()
	block, _ := aes.NewCipher(key.Bytes())
	var out [][]byte
	for _, p := range s.PES {
		switch s.StreamType {
		case media.StreamTypeH264SampleAES:
			var au []byte
			for _, n := range avc.ExtractNalusFromByteStream(p.Data) {
				if typ := n[0] & 0x1f; (typ == 1 || typ == 5) && len(n) > 48 {
					n = removeEPB(n)
					dec := cipher.NewCBCDecrypter(block, iv)
					for pos, rem := 32, len(n)-32; rem > 0; {
						if rem > 16 {
							dec.CryptBlocks(n[pos:pos+16], n[pos:pos+16])
							pos, rem = pos+16, rem-16
						}
						skip := min(144, rem)
						pos, rem = pos+skip, rem-skip
					}
				}
				au = append(append(au, 0, 0, 0, 1), n...)
			}
			out = append(out, au)
		case media.StreamTypeAACSampleAES:
			frame := append([]byte(nil), p.Data...)
			for _, f := range media.ADTSFrames(frame) {
				if f.Size-f.HdrLen > 31 {
					start := f.Off + f.HdrLen + 16
					n := (f.Off + f.Size - start) / 16 * 16
					cipher.NewCBCDecrypter(block, iv).CryptBlocks(frame[start:start+n], frame[start:start+n])
				}
			}
			out = append(out, frame)
		default:
			t.Fatalf("stream type %#x is not a SAMPLE-AES type", s.StreamType)
		}
	}
	return out
}

// nalus returns the NAL units of Annex B access units, concatenated per AU.
func nalus(aus [][]byte) []string {
	var out []string
	for _, au := range aus {
		var b []string
		for _, n := range avc.ExtractNalusFromByteStream(au) {
			b = append(b, hex.EncodeToString(n))
		}
		out = append(out, strings.Join(b, "|"))
	}
	return out
}

// TestSampleAESDecrypts fetches SAMPLE-AES segments (per-segment IV: the
// media sequence number) and the key from the key URI, decrypts them with
// the format's algorithm and compares the elementary streams with the
// clear segments; the PMT carries the SAMPLE-AES stream types and
// descriptors.
func TestSampleAESDecrypts(t *testing.T) {
	k := newKeyEnv(t, "tok")
	e := newEnv(t, func(c *Config) {
		c.KeyProvider = k.speke(t)
		c.Channels[0].Endpoints = []EndpointConfig{{ID: "ts"}, {ID: "sa", Encryption: enc(MethodSampleAES, 0)}}
	})
	l := newLive(t, testmedia.TS, e.clock.Now())
	e.pushSteps(l, e.pusher("a"), 0, 3)
	for _, r := range []string{"channel_video_hi", "channel_audio"} {
		m := e.media("/out/v1/live/sa/" + r + ".m3u8")
		tag := m.Segments[0].Keys[0]
		key := k.fetchKey(t, tag.URI)
		for i, s := range m.Segments {
			_, encData := e.get("/out/v1/live/sa/" + s.URI)
			_, clearData := e.get("/out/v1/live/ts/" + s.URI)
			ed, err := media.DemuxTS(encData)
			if err != nil {
				t.Fatal(err)
			}
			cd, _ := media.DemuxTS(clearData)
			es := ed.Streams[0]
			if len(es.PES[0].Data) == 0 {
				t.Fatal("empty PES")
			}
			if r == "channel_video_hi" {
				// The segment ends with a clear delimiter PES (see
				// appendAUDPES); the media starts with IDR pictures.
				last := es.PES[len(es.PES)-1]
				if want := []byte{0, 0, 0, 1, 9, 0xf0, 0, 0, 0, 1, 0x0a}; !bytes.Equal(last.Data, want) || last.PTS >= 0 {
					t.Fatalf("%s segment %d: last PES %x, want the closing delimiter %x", r, i, last.Data, want)
				}
				es.PES = es.PES[:len(es.PES)-1]
			}
			got := decryptSampleAES(t, es, key, seqIV(m.MediaSequence+int64(i)))
			if r == "channel_audio" {
				// One ADTS frame per PES; compare the concatenations.
				var a, b []byte
				for _, g := range got {
					a = append(a, g...)
				}
				for _, p := range cd.Streams[0].PES {
					b = append(b, p.Data...)
				}
				if !bytes.Equal(a, b) || len(got) != len(media.ADTSFrames(b)) {
					t.Fatalf("%s segment %d: audio differs after decryption (%d PES)", r, i, len(got))
				}
				if bytes.Equal(encData, clearData) {
					t.Fatal("not encrypted")
				}
				continue
			}
			var clearAUs [][]byte
			for _, p := range cd.Streams[0].PES {
				clearAUs = append(clearAUs, p.Data)
			}
			if a, b := nalus(got), nalus(clearAUs); strings.Join(a, ",") != strings.Join(b, ",") {
				t.Fatalf("%s segment %d: video differs after decryption", r, i)
			}
			if strings.Join(nalus(clearAUs), ",") == strings.Join(nalus(decryptSampleAES(t, es, key, seqIV(0))), ",") {
				t.Fatal("wrong IV decrypts too")
			}
		}
		// PMT: stream types 0xdb / 0xcf with Apple's descriptors.
		_, data := e.get("/out/v1/live/sa/" + m.Segments[0].URI)
		dmx := astits.NewDemuxer(t.Context(), bytes.NewReader(data))
		for {
			d, err := dmx.NextData()
			if err != nil {
				t.Fatalf("no PMT: %v", err)
			}
			if d.PMT == nil {
				continue
			}
			es := d.PMT.ElementaryStreams[0]
			want := map[string]astits.StreamType{"channel_video_hi": media.StreamTypeH264SampleAES, "channel_audio": media.StreamTypeAACSampleAES}[r]
			if es.StreamType != want || es.ElementaryStreamDescriptors[0].PrivateDataIndicator == nil {
				t.Fatalf("%s PMT: %+v", r, es)
			}
			if r == "channel_audio" {
				reg := es.ElementaryStreamDescriptors[1].Registration
				if reg == nil || reg.FormatIdentifier != media.FourCCAPAD || !bytes.HasPrefix(reg.AdditionalIdentificationInfo, []byte("zaac")) {
					t.Fatalf("audio setup descriptor: %+v", es.ElementaryStreamDescriptors[1])
				}
			}
			break
		}
	}
}

// decryptCMAF decrypts a fetched init + segment with mp4ff and returns the
// samples and the init's default KID.
func decryptCMAF(t *testing.T, init, seg []byte, key keys.Secret) ([]mp4.FullSample, string) {
	t.Helper()
	f, err := mp4.DecodeFile(bytes.NewReader(init))
	if err != nil {
		t.Fatal(err)
	}
	di, err := mp4.DecryptInit(f.Init)
	if err != nil {
		t.Fatal(err)
	}
	kid := ""
	if sinf := di.TrackInfos[0].Sinf; sinf != nil {
		kid = hex.EncodeToString(sinf.Schi.Tenc.DefaultKID)
	}
	sf, err := mp4.DecodeFile(bytes.NewReader(seg))
	if err != nil {
		t.Fatal(err)
	}
	var out []mp4.FullSample
	for _, s := range sf.Segments {
		if err := mp4.DecryptSegment(s, di, key.Bytes()); err != nil {
			t.Fatal(err)
		}
		for _, fr := range s.Fragments {
			ss, err := fr.GetFullSamples(f.Init.Moov.Mvex.Trex)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, ss...)
		}
	}
	return out, kid
}

func clearCMAF(t *testing.T, init, seg []byte) []mp4.FullSample {
	t.Helper()
	f, err := mp4.DecodeFile(bytes.NewReader(append(append([]byte{}, init...), seg...)))
	if err != nil {
		t.Fatal(err)
	}
	var out []mp4.FullSample
	for _, s := range f.Segments {
		for _, fr := range s.Fragments {
			ss, err := fr.GetFullSamples(f.Init.Moov.Mvex.Trex)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, ss...)
		}
	}
	return out
}

// TestCBCSAndCENCDecryptWithMP4ff decrypts cbcs and cenc segments with
// mp4ff and the key from the key URI: every sample matches the clear CMAF
// endpoint's, and the init's tenc names the key's ID.
func TestCBCSAndCENCDecryptWithMP4ff(t *testing.T) {
	k := newKeyEnv(t, "tok")
	e := newEnv(t, allEndpoints(k.speke(t)))
	l := newLive(t, testmedia.TS, e.clock.Now())
	e.pushSteps(l, e.pusher("a"), 0, 3)
	for _, ep := range []string{"cbcs", "cenc"} {
		for _, r := range []string{"channel_video_hi", "channel_audio"} {
			m := e.media("/out/v1/live/" + ep + "/" + r + ".m3u8")
			cm := e.media("/out/v1/live/cmaf/" + r + ".m3u8" + vod(l, 0, 3))
			tag := m.Segments[0].Keys[0]
			key := k.fetchKey(t, tag.URI)
			_, init := e.get("/out/v1/live/" + ep + "/" + m.Segments[0].Map.URI)
			_, clearInit := e.get("/out/v1/live/cmaf/" + cm.Segments[0].Map.URI)
			if bytes.Equal(init, clearInit) {
				t.Fatalf("%s: init not protected", ep)
			}
			for i, s := range m.Segments {
				_, seg := e.get("/out/v1/live/" + ep + "/" + s.URI)
				_, clearSeg := e.get("/out/v1/live/cmaf/" + s.URI)
				got, kid := decryptCMAF(t, init, seg, key)
				want := clearCMAF(t, clearInit, clearSeg)
				if !strings.HasSuffix(tag.URI, "/"+kid) {
					t.Fatalf("%s: tenc KID %s, key URI %s", ep, kid, tag.URI)
				}
				if len(got) != len(want) || len(got) == 0 {
					t.Fatalf("%s %s %d: %d samples, want %d", ep, r, i, len(got), len(want))
				}
				for j := range got {
					if !bytes.Equal(got[j].Data, want[j].Data) || got[j].DecodeTime != want[j].DecodeTime {
						t.Fatalf("%s %s segment %d sample %d differs after decryption", ep, r, i, j)
					}
				}
				if bytes.Equal(seg, clearSeg) {
					t.Fatalf("%s: segment not encrypted", ep)
				}
			}
		}
	}
}

// TestKeyRotation: with a 3 s rotation interval, EXT-X-KEY changes every
// third 1 s segment (injected clock), each period's key decrypts its
// segments, and CMAF endpoints repeat EXT-X-MAP at each key change.
func TestKeyRotation(t *testing.T) {
	k := newKeyEnv(t, "tok")
	e := newEnv(t, func(c *Config) {
		c.KeyProvider = k.speke(t)
		c.Channels[0].Endpoints = []EndpointConfig{
			{ID: "ts"},
			{ID: "aes", Encryption: enc(MethodAES128, 3*time.Second)},
			{ID: "cbcs", Packaging: PackagingCMAF, Encryption: enc(MethodCBCS, 3*time.Second)},
			{ID: "repeat", Encryption: &EncryptionConfig{Method: MethodAES128, RepeatKey: true, ConstantIV: "000102030405060708090a0b0c0d0e0f"}},
		}
	})
	// Segment n starts at epoch+n s; pick an epoch on a 3 s boundary.
	epoch := time.Unix(e.clock.Now().Unix()/3*3+3, 0).UTC()
	e.clock.Add(epoch.Sub(e.clock.Now()))
	l := newLive(t, testmedia.TS, epoch)
	e.pushSteps(l, e.pusher("a"), 0, 10)
	q := vod(l, 0, 10)
	for _, ep := range []string{"aes", "cbcs"} {
		m := e.media("/out/v1/live/" + ep + "/channel_video_hi.m3u8" + q)
		if len(m.Segments) != 10 {
			t.Fatalf("%s: %d segments", ep, len(m.Segments))
		}
		var uris []string
		for i, s := range m.Segments {
			if (len(s.Keys) == 1) != (i%3 == 0) {
				t.Fatalf("%s: segment %d has %d EXT-X-KEY, want one every 3 segments:\n%s", ep, i, len(s.Keys), m.Encode())
			}
			// (The test media's timestamps restart at segment 8: a
			// discontinuity, with its own EXT-X-MAP, on CMAF endpoints.)
			if ep == "cbcs" && (s.Map != nil) != (i%3 == 0 || i == 8) {
				t.Fatalf("cbcs: segment %d EXT-X-MAP %v, want one per key", i, s.Map)
			}
			if len(s.Keys) == 1 {
				uris = append(uris, s.Keys[0].URI)
			}
		}
		if len(uris) != 4 || uris[0] == uris[1] || uris[1] == uris[2] || uris[2] == uris[3] {
			t.Fatalf("%s: key URIs %v, want 4 different", ep, uris)
		}
		if ep != "aes" {
			continue
		}
		// Segment 4 (second period) decrypts with the second key and IV
		// = its media sequence number.
		s := m.Segments[4]
		_, data := e.get("/out/v1/live/aes/" + s.URI)
		_, clear := e.get("/out/v1/live/ts/" + s.URI)
		if got := aesDecrypt(t, k.fetchKey(t, uris[1]), seqIV(m.MediaSequence+4), data); !bytes.Equal(got, clear) {
			t.Fatal("segment 4 does not decrypt with the second period's key")
		}
		if got := aesDecrypt(t, k.fetchKey(t, uris[0]), seqIV(m.MediaSequence+4), data); bytes.Equal(got, clear) {
			t.Fatal("segment 4 decrypts with the first period's key")
		}
	}
	// The clock decides the period: the live playlist's first key is the
	// one of the period of its first segment.
	m := e.media("/out/v1/live/aes/channel_video_hi.m3u8")
	if want := k.keyURI(e, "live", (m.Segments[0].ProgramDateTime.Unix())/3); m.Segments[0].Keys[0].URI != want {
		t.Fatalf("live first key %s, want %s", m.Segments[0].Keys[0].URI, want)
	}
	// RepeatKey: one EXT-X-KEY per segment, with the constant IV.
	rm := e.media("/out/v1/live/repeat/channel_audio.m3u8")
	for i, s := range rm.Segments {
		if len(s.Keys) != 1 || s.Keys[0].IV != "0x000102030405060708090a0b0c0d0e0f" {
			t.Fatalf("repeat: segment %d keys %+v", i, s.Keys)
		}
	}
	_, data := e.get("/out/v1/live/repeat/" + rm.Segments[1].URI)
	_, clear := e.get("/out/v1/live/ts/" + rm.Segments[1].URI)
	iv, _ := hex.DecodeString("000102030405060708090a0b0c0d0e0f")
	if !bytes.Equal(aesDecrypt(t, k.fetchKey(t, rm.Segments[1].Keys[0].URI), iv, data), clear) {
		t.Fatal("constant IV segment does not decrypt")
	}
}

// keyURI is the key URI the key server gives for a period's key.
func (k *keyEnv) keyURI(e *env, resource string, period int64) string {
	return k.hs.URL + "/keys/" + resource + "/" + keys.DeriveKID(resource, period).String()
}

func aesDecrypt(t *testing.T, key keys.Secret, iv, data []byte) []byte {
	t.Helper()
	block, _ := aes.NewCipher(key.Bytes())
	if len(data)%16 != 0 || len(data) == 0 {
		t.Fatalf("ciphertext of %d bytes", len(data))
	}
	out := make([]byte, len(data))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(out, data)
	pad := int(out[len(out)-1])
	if pad < 1 || pad > 16 {
		return nil
	}
	return out[:len(out)-pad]
}

// TestCMAFAES128InitEncrypted: with AES-128 on CMAF, the init section
// follows EXT-X-KEY, so it is encrypted with the key and the explicit IV.
func TestCMAFAES128InitEncrypted(t *testing.T) {
	k := newKeyEnv(t, "tok")
	e := newEnv(t, allEndpoints(k.speke(t)))
	l := newLive(t, testmedia.TS, e.clock.Now())
	e.pushSteps(l, e.pusher("a"), 0, 2)
	m := e.media("/out/v1/live/cmaf-aes/channel_video_hi.m3u8")
	cm := e.media("/out/v1/live/cmaf/channel_video_hi.m3u8")
	tag := m.Segments[0].Keys[0]
	key := k.fetchKey(t, tag.URI)
	iv, _ := hex.DecodeString(strings.TrimPrefix(tag.IV, "0x"))
	_, init := e.get("/out/v1/live/cmaf-aes/" + m.Segments[0].Map.URI)
	_, clearInit := e.get("/out/v1/live/cmaf/" + cm.Segments[0].Map.URI)
	if !bytes.Equal(aesDecrypt(t, key, iv, init), clearInit) {
		t.Fatal("init section does not decrypt to the clear one")
	}
	_, seg := e.get("/out/v1/live/cmaf-aes/" + m.Segments[1].URI)
	_, clearSeg := e.get("/out/v1/live/cmaf/" + m.Segments[1].URI)
	if !bytes.Equal(aesDecrypt(t, key, iv, seg), clearSeg) {
		t.Fatal("segment does not decrypt with the playlist IV")
	}
}

// TestEncryptionErrors: without a key the playlist is 503 and nothing
// clear is served on an encrypted endpoint.
func TestEncryptionErrors(t *testing.T) {
	k := newKeyEnv(t, "tok")
	e := newEnv(t, func(c *Config) {
		c.KeyProvider = k.speke(t)
		c.Channels[0].Endpoints = []EndpointConfig{{ID: "aes", Encryption: enc(MethodAES128, 0)}}
	})
	l := newLive(t, testmedia.TS, e.clock.Now())
	e.pushSteps(l, e.pusher("a"), 0, 2)
	m := e.media("/out/v1/live/aes/channel_audio.m3u8")
	k.hs.Close() // key server gone: the key is cached, playback goes on
	if code, _ := e.get("/out/v1/live/aes/" + m.Segments[0].URI); code != http.StatusOK {
		t.Fatalf("cached key: %d", code)
	}
	e2 := newEnv(t, func(c *Config) {
		c.KeyProvider = k.speke(t)
		c.Channels[0].Endpoints = []EndpointConfig{{ID: "aes", Encryption: enc(MethodAES128, 0)}}
	})
	e2.pushSteps(newLive(t, testmedia.TS, e2.clock.Now()), e2.pusher("a"), 0, 2)
	if code, _ := e2.get("/out/v1/live/aes/channel_audio.m3u8"); code != http.StatusServiceUnavailable {
		t.Fatalf("playlist without key server: %d", code)
	}
	if code, body := e2.get("/out/v1/live/aes/channel_audio/" + strings.TrimPrefix(m.Segments[0].URI, "channel_audio/")); code == http.StatusOK {
		t.Fatalf("segment served without a key: %d %x", code, body[:8])
	}
}
