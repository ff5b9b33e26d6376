package hls

import (
	"reflect"
	"strconv"
	"testing"
)

// fileChecks holds assertions on the testdata playlists beyond the golden
// output, keyed by file name.
var fileChecks = map[string]func(t *testing.T, p Playlist){
	"apple_multivariant.m3u8": func(t *testing.T, p Playlist) {
		m := p.(*Multivariant)
		if m.Version != 6 || !m.IndependentSegments {
			t.Errorf("header: version %d independent %v", m.Version, m.IndependentSegments)
		}
		if len(m.Renditions) != 6 || len(m.Variants) != 4 || len(m.IFrameVariants) != 2 || len(m.SessionData) != 2 {
			t.Fatalf("counts: %d renditions %d variants %d i-frame %d session data",
				len(m.Renditions), len(m.Variants), len(m.IFrameVariants), len(m.SessionData))
		}
		want := []string{`#EXT-X-CONTENT-STEERING:SERVER-URI="/steering?video=00012",PATHWAY-ID="CDN-A"`}
		if !reflect.DeepEqual(m.Tags, want) {
			t.Errorf("Tags = %q", m.Tags)
		}
		fr := m.Renditions[1]
		if fr.Type != MediaTypeAudio || fr.GroupID != "aac-lc" || fr.Name != "Français" || fr.Default || !fr.Autoselect || fr.Channels != "2" {
			t.Errorf("french audio = %+v", fr)
		}
		if got := m.Renditions[2].Extra; !reflect.DeepEqual(got, []Attr{{Key: "STABLE-RENDITION-ID", Value: "en-atmos", Quoted: true}}) {
			t.Errorf("atmos Extra = %+v", got)
		}
		if de := m.Renditions[4]; !de.Forced || de.AssocLanguage != "de-AT" || de.Type != MediaTypeSubtitles {
			t.Errorf("forced subtitles = %+v", de)
		}
		if en := m.Renditions[3]; en.Characteristics != "public.accessibility.transcribes-spoken-dialog,public.accessibility.describes-music-and-sound" {
			t.Errorf("CHARACTERISTICS = %q", en.Characteristics)
		}
		if cc := m.Renditions[5]; cc.Type != MediaTypeClosedCaptions || cc.InstreamID != "CC1" || cc.URI != "" {
			t.Errorf("closed captions = %+v", cc)
		}
		v := m.Variants[1]
		if v.Bandwidth != 8001098 || v.AverageBandwidth != 7968416 || v.Codecs != "avc1.64002a,mp4a.40.2" ||
			*v.Resolution != (Resolution{1920, 1080}) || v.FrameRate != 60 || v.HDCPLevel != "TYPE-0" ||
			v.VideoRange != "SDR" || v.ClosedCaptions != "cc" || v.Audio != "aac-lc" || v.Subtitles != "subs" ||
			v.URI != "v9/prog_index.m3u8" || !reflect.DeepEqual(v.Extra, []Attr{{Key: "SCORE", Value: "2.0"}}) {
			t.Errorf("1080p variant = %+v", v)
		}
		if got := m.Variants[2].Extra; len(got) != 2 || got[0].Key != "SUPPLEMENTAL-CODECS" || got[1] != (Attr{Key: "PATHWAY-ID", Value: "CDN-A", Quoted: true}) {
			t.Errorf("ec-3 variant Extra = %+v", got)
		}
		if v := m.Variants[3]; v.ClosedCaptions != "NONE" || v.ProgramID != 1 || v.FrameRate != 29.97 {
			t.Errorf("legacy variant = %+v", v)
		}
		if i := m.IFrameVariants[1]; i.URI != "v9/iframe_index.m3u8" || i.HDCPLevel != "TYPE-0" || i.Bandwidth != 604755 {
			t.Errorf("i-frame variant = %+v", i)
		}
		if d := m.SessionData[1]; d.URI != "lyrics.json" || !reflect.DeepEqual(d.Extra, []Attr{{Key: "FORMAT", Value: "JSON"}}) {
			t.Errorf("session data = %+v", d)
		}
		for _, r := range m.Renditions {
			if r.Tags != nil {
				t.Errorf("comments kept as tags: %q", r.Tags)
			}
		}
	},
	"channel_engine_live.m3u8": func(t *testing.T, p Playlist) {
		m := p.(*Media)
		if m.MediaSequence != 8571 || m.DiscontinuitySequence != 12 || m.TargetDuration != 7 || m.Endlist {
			t.Errorf("header = %+v", m)
		}
		if len(m.Segments) != 7 {
			t.Fatalf("%d segments", len(m.Segments))
		}
		tags := [][]string{
			{"#EXT-X-CUE-OUT-CONT:ElapsedTime=18.018,Duration=30,SCTE35=/DAlAAAAAAAAAP/wFAUAAAPwf+//wpPA9f4AKTLgAAEAAAAAXODtsg=="},
			{"#EXT-X-CUE-OUT-CONT:ElapsedTime=24.024,Duration=30"},
			{"#EXT-X-CUE-IN"},
			nil,
			nil,
			{"#EXT-OATCLS-SCTE35:/DAlAAAAAAAAAP/wFAUAAAPwf+//wpPA9f4AKTLgAAEAAAAAXODtsg==", "#EXT-X-CUE-OUT:30.000"},
			{"#EXT-X-CUE-OUT-CONT:ElapsedTime=6.006,Duration=30"},
		}
		for i, s := range m.Segments {
			if !reflect.DeepEqual(s.Tags, tags[i]) {
				t.Errorf("segment %d Tags = %q, want %q", i, s.Tags, tags[i])
			}
			if s.Discontinuity != (i == 2 || i == 5) {
				t.Errorf("segment %d Discontinuity = %v", i, s.Discontinuity)
			}
		}
		if got := m.Segments[2].ProgramDateTime; !got.Equal(mustTime("2026-11-26T10:00:11.982Z")) {
			t.Errorf("PDT with offset = %v", got)
		}
		if !m.Segments[6].ProgramDateTime.IsZero() {
			t.Errorf("segment without PDT has %v", m.Segments[6].ProgramDateTime)
		}
		if got := m.Duration(); got != 35.12 {
			t.Errorf("Duration = %v", got)
		}
	},
	"scte35_daterange.m3u8": func(t *testing.T, p Playlist) {
		m := p.(*Media)
		d := m.Segments[1].DateRanges[0]
		if d.ID != "splice-6FFFFFF0" || d.Class != "urn:scte:scte35:2014:bin" || *d.PlannedDuration != 59.993 ||
			!d.StartDate.Equal(mustTime("2026-11-26T10:00:04Z")) || d.Duration != nil || d.EndDate != nil {
			t.Errorf("out daterange = %+v", d)
		}
		want := []Attr{
			{Key: "SCTE35-OUT", Value: "0xFC302000000000000000FFF00F05000000007FFFFE00527BD0000101010000F4EC2A3E"},
			{Key: "X-AD-ID", Value: "ad-123", Quoted: true},
			{Key: "X-COM-EXAMPLE-BEACON", Value: "1"},
		}
		if !reflect.DeepEqual(d.Extra, want) {
			t.Errorf("out Extra = %+v", d.Extra)
		}
		if got := m.Segments[1].Tags; !reflect.DeepEqual(got, []string{"#EXT-X-CUE-OUT:59.993"}) {
			t.Errorf("segment 1 Tags = %q", got)
		}
		in := m.Segments[3].DateRanges
		if len(in) != 2 || *in[0].Duration != 59.993 || !in[0].EndDate.Equal(mustTime("2026-11-26T10:01:03.993Z")) ||
			in[0].Extra[0].Key != "SCTE35-IN" || !in[1].EndOnNext || in[1].Extra[1] != (Attr{Key: "CUE", Value: "ONCE", Quoted: true}) ||
			!in[1].StartDate.Equal(mustTime("2026-11-26T10:01:03.993Z")) {
			t.Errorf("in dateranges = %s", dump(in))
		}
	},
	"fmp4_byterange.m3u8": func(t *testing.T, p Playlist) {
		m := p.(*Media)
		s := m.Segments
		if len(s) != 5 || m.PlaylistType != PlaylistTypeVOD || !m.Endlist || !m.IndependentSegments || m.Version != 7 {
			t.Fatalf("header/segments = %s", dump(m))
		}
		if s[0].Map == nil || s[0].Map.URI != "main.mp4" || s[0].Map.ByteRange.Length != 720 || *s[0].Map.ByteRange.Offset != 0 {
			t.Errorf("map = %+v", s[0].Map)
		}
		if s[1].Map != nil || *s[1].ByteRange.Offset != 327464 || s[2].ByteRange.Offset != nil || s[2].ByteRange.Length != 329800 {
			t.Errorf("byte ranges = %s", dump(s[:3]))
		}
		if !s[4].Discontinuity || s[4].Map.URI != "bumper.mp4" || s[4].Duration != 4.004 {
			t.Errorf("bumper = %s", dump(s[4]))
		}
	},
	"aes128_rotation.m3u8": func(t *testing.T, p Playlist) {
		m := p.(*Media)
		keys := make([]string, len(m.Segments))
		for i, s := range m.Segments {
			for _, k := range s.Keys {
				keys[i] += k.Method + " " + k.URI + " " + k.IV + ";"
			}
		}
		want := []string{
			"AES-128 https://priv.example.com/key.php?r=52 0x9c7db8778570d05c3177c349fd9236aa;",
			"",
			"AES-128 https://priv.example.com/key.php?r=53 0x0000000000000000000000000000001F;",
			"NONE  ;",
			"AES-128 key55.bin ;",
		}
		if !reflect.DeepEqual(keys, want) {
			t.Errorf("keys = %q", keys)
		}
	},
	"sample_aes.m3u8": func(t *testing.T, p Playlist) {
		k := p.(*Media).Segments[0].Keys
		if len(k) != 2 || k[0].KeyFormat != "com.apple.streamingkeydelivery" || k[0].KeyFormatVersions != "1" ||
			k[1].KeyFormat != "urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed" ||
			!reflect.DeepEqual(k[1].Extra, []Attr{{Key: "KEYID", Value: "0xeb676abbcb345e96bbcf616630f1a3da"}}) {
			t.Errorf("keys = %s", dump(k))
		}
		if p.(*Media).Segments[1].Keys != nil {
			t.Error("key repeated on segment 1")
		}
	},
	"llhls.m3u8": func(t *testing.T, p Playlist) {
		m := p.(*Media)
		if m.Tags != nil || !reflect.DeepEqual(m.ServerControl, &ServerControl{CanBlockReload: true, PartHoldBack: 1, CanSkipUntil: 12}) ||
			!reflect.DeepEqual(m.PartInf, &PartInf{PartTarget: 0.33334}) {
			t.Errorf("header = %q %s %s", m.Tags, dump(m.ServerControl), dump(m.PartInf))
		}
		if len(m.Segments) != 3 || len(m.Segments[2].Parts) != 3 || m.Segments[2].Tags != nil || m.Segments[0].Map.URI != "init.mp4" ||
			!reflect.DeepEqual(m.Segments[2].Parts[0], &Part{Duration: 0.33334, URI: "filePart268.0.mp4", Independent: true}) {
			t.Errorf("segments = %s", dump(m.Segments))
		}
		if m.TrailingTags != nil || len(m.Parts) != 2 || m.Parts[1].URI != "filePart269.1.mp4" ||
			!reflect.DeepEqual(m.PreloadHints, []*PreloadHint{{Type: "PART", URI: "filePart269.2.mp4"}}) {
			t.Errorf("trailing = %q %s %s", m.TrailingTags, dump(m.Parts), dump(m.PreloadHints))
		}
		if len(m.RenditionReports) != 2 || m.RenditionReports[1].URI != "../4M/waitForMSN.php" || *m.RenditionReports[1].LastMSN != 269 || *m.RenditionReports[1].LastPart != 1 {
			t.Errorf("reports = %s", dump(m.RenditionReports))
		}
		if m.Segments[0].Duration != 4.00008 {
			t.Errorf("duration = %v", m.Segments[0].Duration)
		}
	},
	"gap_bitrate.m3u8": func(t *testing.T, p Playlist) {
		var got []string
		for _, s := range p.(*Media).Segments {
			got = append(got, map[bool]string{true: "gap", false: "-"}[s.Gap]+" "+strconv.Itoa(s.Bitrate))
		}
		want := []string{"- 4500", "- 0", "gap 0", "gap 3800", "- 0"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("gap/bitrate = %q", got)
		}
	},
	"event.m3u8": func(t *testing.T, p Playlist) {
		m := p.(*Media)
		if m.PlaylistType != PlaylistTypeEvent || m.Endlist || *m.Start != (Start{TimeOffset: -12.5, Precise: true}) {
			t.Errorf("header = %s", dump(m))
		}
		if m.Segments[1].Title != "Keynote: part 1, with commas" || m.Segments[0].Title != "Opening" {
			t.Errorf("titles = %q %q", m.Segments[0].Title, m.Segments[1].Title)
		}
	},
	"vod.m3u8": func(t *testing.T, p Playlist) {
		m := p.(*Media)
		if m.PlaylistType != PlaylistTypeVOD || !m.Endlist || m.Duration() != 29.5 {
			t.Errorf("vod = %s", dump(m))
		}
	},
	"crlf_bom.m3u8": func(t *testing.T, p Playlist) {
		m := p.(*Media)
		if m.MediaSequence != 3 || len(m.Segments) != 2 || m.Segments[0].URI != "http://127.0.0.1:8080/live/seg3.ts" || m.Segments[0].Title != "" {
			t.Errorf("crlf = %s", dump(m))
		}
	},
	"iframes.m3u8": func(t *testing.T, p Playlist) {
		m := p.(*Media)
		if !m.IFramesOnly || len(m.Segments) != 3 || m.Segments[1].ByteRange.Length != 7144 || *m.Segments[1].ByteRange.Offset != 47000 {
			t.Errorf("i-frames = %s", dump(m))
		}
	},
}
