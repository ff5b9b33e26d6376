package hls

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testCase is one playlist. The same table drives the decode, encode, round
// trip and position tests and seeds FuzzParse.
type testCase struct {
	name  string
	input string
	// want is the expected parse result (nil: not checked). Encoding want
	// must also give output.
	want Playlist
	// output is the expected canonical encoding. For file cases it is empty
	// and the golden file testdata/golden/<file> is used instead.
	output string
	file   string                         // testdata file the input was read from
	check  func(t *testing.T, p Playlist) // further assertions on the parse result
}

func i64(v int64) *int64       { return &v }
func f64(v float64) *float64   { return &v }
func utc(s string) time.Time   { return mustTime(s) }
func utcp(s string) *time.Time { t := mustTime(s); return &t }

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// inlineCases are small playlists with the full expected model.
var inlineCases = []testCase{
	{
		name:  "minimal media",
		input: "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:9.009,\nfirst.ts\n",
		want: &Media{TargetDuration: 10, Segments: []*Segment{
			{Duration: 9.009, URI: "first.ts"},
		}},
		output: "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:9.009,\nfirst.ts\n",
	},
	{
		name: "media header tags in any order",
		input: `#EXTM3U
#EXT-X-ENDLIST
#EXT-X-PLAYLIST-TYPE:EVENT
#EXT-X-DISCONTINUITY-SEQUENCE:3
#EXT-X-MEDIA-SEQUENCE:42
#EXT-X-START:TIME-OFFSET=-18,PRECISE=YES
#EXT-X-I-FRAMES-ONLY
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-TARGETDURATION:4
#EXT-X-VERSION:7
#EXTINF:4,
a.ts
`,
		want: &Media{
			Version: 7, IndependentSegments: true, Start: &Start{TimeOffset: -18, Precise: true},
			TargetDuration: 4, MediaSequence: 42, DiscontinuitySequence: 3,
			PlaylistType: PlaylistTypeEvent, IFramesOnly: true, Endlist: true,
			Segments: []*Segment{{Duration: 4, URI: "a.ts"}},
		},
		output: `#EXTM3U
#EXT-X-VERSION:7
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-START:TIME-OFFSET=-18,PRECISE=YES
#EXT-X-TARGETDURATION:4
#EXT-X-MEDIA-SEQUENCE:42
#EXT-X-DISCONTINUITY-SEQUENCE:3
#EXT-X-PLAYLIST-TYPE:EVENT
#EXT-X-I-FRAMES-ONLY
#EXTINF:4.000,
a.ts
#EXT-X-ENDLIST
`,
	},
	{
		name: "segment tags in canonical order",
		input: `#EXTM3U
#EXT-X-TARGETDURATION:6
#EXT-X-MEDIA-SEQUENCE:0
#EXTINF:5.5,Title, with comma
#EXT-X-BYTERANGE:1000@200
#EXT-X-BITRATE:1200
#EXT-X-GAP
#EXT-X-CUE-OUT:30
#EXT-X-DATERANGE:ID="ad1",START-DATE="2026-11-26T10:00:00Z",DURATION=30
#EXT-X-PROGRAM-DATE-TIME:2026-11-26T12:00:00.25+02:00
#EXT-X-MAP:URI="init.mp4"
#EXT-X-KEY:METHOD=AES-128,URI="k1",IV=0xABCDEF
#EXT-X-KEY:METHOD=SAMPLE-AES,URI="skd://k",KEYFORMAT="com.apple.streamingkeydelivery",KEYFORMATVERSIONS="1"
#EXT-X-DISCONTINUITY
seg.mp4
`,
		want: &Media{TargetDuration: 6, Segments: []*Segment{{
			Discontinuity: true,
			Keys: []*Key{
				{Method: "AES-128", URI: "k1", IV: "0xABCDEF"},
				{Method: "SAMPLE-AES", URI: "skd://k", KeyFormat: "com.apple.streamingkeydelivery", KeyFormatVersions: "1"},
			},
			Map:             &Map{URI: "init.mp4"},
			ProgramDateTime: utc("2026-11-26T10:00:00.25Z"),
			DateRanges:      []*DateRange{{ID: "ad1", StartDate: utc("2026-11-26T10:00:00Z"), Duration: f64(30)}},
			Tags:            []string{"#EXT-X-CUE-OUT:30"},
			Gap:             true,
			Bitrate:         1200,
			ByteRange:       &ByteRange{Length: 1000, Offset: i64(200)},
			Duration:        5.5,
			Title:           "Title, with comma",
			URI:             "seg.mp4",
		}}},
		output: `#EXTM3U
#EXT-X-TARGETDURATION:6
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-DISCONTINUITY
#EXT-X-KEY:METHOD=AES-128,URI="k1",IV=0xABCDEF
#EXT-X-KEY:METHOD=SAMPLE-AES,URI="skd://k",KEYFORMAT="com.apple.streamingkeydelivery",KEYFORMATVERSIONS="1"
#EXT-X-MAP:URI="init.mp4"
#EXT-X-PROGRAM-DATE-TIME:2026-11-26T10:00:00.250Z
#EXT-X-DATERANGE:ID="ad1",START-DATE="2026-11-26T10:00:00.000Z",DURATION=30
#EXT-X-CUE-OUT:30
#EXT-X-GAP
#EXT-X-BITRATE:1200
#EXTINF:5.500,Title, with comma
#EXT-X-BYTERANGE:1000@200
seg.mp4
`,
	},
	{
		name: "unknown tags keep their position",
		input: `#EXTM3U
#EXT-X-TARGETDURATION:2
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES
#EXT-X-VENDOR-HEADER:1
#EXTINF:2,
s0.ts
#EXT-X-CUE-OUT:4
#EXTINF:2,
#EXT-X-SCTE35:CUE="/DAlAAAAAAAAAP/wFAUAAAPwf+//wpPA9f4AKTLgAAEAAAAAXODtsg=="
s1.ts
#EXT-X-CUE-IN
#EXT-X-DEFINE:NAME="late"
#EXTINF:2,
s2.ts
#EXT-X-DISCONTINUITY
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="p3.0.ts"
#EXT-X-PROGRAM-DATE-TIME:2026-11-26T10:00:00+01:00
# a comment, dropped
`,
		want: &Media{
			TargetDuration: 2,
			ServerControl:  &ServerControl{CanBlockReload: true},
			Segments: []*Segment{
				{Tags: []string{"#EXT-X-VENDOR-HEADER:1"}, Duration: 2, URI: "s0.ts"},
				{Tags: []string{"#EXT-X-CUE-OUT:4", `#EXT-X-SCTE35:CUE="/DAlAAAAAAAAAP/wFAUAAAPwf+//wpPA9f4AKTLgAAEAAAAAXODtsg=="`}, Duration: 2, URI: "s1.ts"},
				{Tags: []string{"#EXT-X-CUE-IN", `#EXT-X-DEFINE:NAME="late"`}, Duration: 2, URI: "s2.ts"},
			},
			TrailingTags: []string{
				"#EXT-X-DISCONTINUITY",
				"#EXT-X-PROGRAM-DATE-TIME:2026-11-26T10:00:00+01:00",
			},
			PreloadHints: []*PreloadHint{{Type: "PART", URI: "p3.0.ts"}},
		},
		output: `#EXTM3U
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES
#EXT-X-VENDOR-HEADER:1
#EXTINF:2.000,
s0.ts
#EXT-X-CUE-OUT:4
#EXT-X-SCTE35:CUE="/DAlAAAAAAAAAP/wFAUAAAPwf+//wpPA9f4AKTLgAAEAAAAAXODtsg=="
#EXTINF:2.000,
s1.ts
#EXT-X-CUE-IN
#EXT-X-DEFINE:NAME="late"
#EXTINF:2.000,
s2.ts
#EXT-X-DISCONTINUITY
#EXT-X-PROGRAM-DATE-TIME:2026-11-26T10:00:00+01:00
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="p3.0.ts"
`,
	},
	{
		name: "low-latency tags",
		input: `#EXTM3U
#EXT-X-TARGETDURATION:2
#EXT-X-VERSION:9
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.6,HOLD-BACK=6,CAN-SKIP-UNTIL=12,CAN-SKIP-DATERANGES=YES,X-VENDOR="a,b"
#EXT-X-PART-INF:PART-TARGET=0.2,X-P=1
#EXT-X-MEDIA-SEQUENCE:10
#EXT-X-SKIP:SKIPPED-SEGMENTS=3,RECENTLY-REMOVED-DATERANGES="ad1	ad2"
#EXT-X-VENDOR:1
#EXT-X-VENDOR-B
#EXTINF:2,
s13.mp4
#EXT-X-PART:DURATION=0.2,URI="p14.0.mp4",INDEPENDENT=YES
#EXT-X-CUE-OUT:2
#EXT-X-PART:DURATION=0.2000004,URI="r14.mp4",BYTERANGE="1000@0",GAP=YES,X-Q="z"
#EXT-X-VENDOR-PART:2
#EXT-X-PROGRAM-DATE-TIME:2026-11-26T10:00:00Z
#EXTINF:0.4,
s14.mp4
#EXT-X-PROGRAM-DATE-TIME:2026-11-26T10:00:00.400Z
#EXT-X-PART:DURATION=0.2,URI="p15.0.mp4",INDEPENDENT=NO
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="p15.1.mp4"
#EXT-X-PRELOAD-HINT:TYPE=MAP,URI="init.mp4",BYTERANGE-START=0,BYTERANGE-LENGTH=700
#EXT-X-RENDITION-REPORT:URI="../a/p.m3u8",LAST-MSN=15,LAST-PART=0
#EXT-X-RENDITION-REPORT:URI="../b/p.m3u8",LAST-MSN=0
#EXT-X-VENDOR-TRAILING:3
#EXT-X-VENDOR-TRAILING:4
`,
		want: &Media{
			Version: 9, TargetDuration: 2, MediaSequence: 10,
			ServerControl: &ServerControl{CanBlockReload: true, PartHoldBack: 0.6, HoldBack: 6, CanSkipUntil: 12, CanSkipDateRanges: true,
				Extra: []Attr{{Key: "X-VENDOR", Value: "a,b", Quoted: true}}},
			PartInf: &PartInf{PartTarget: 0.2, Extra: []Attr{{Key: "X-P", Value: "1"}}},
			Skip:    &Skip{SkippedSegments: 3, RecentlyRemovedDateRanges: "ad1\tad2"},
			Segments: []*Segment{
				{Tags: []string{"#EXT-X-VENDOR:1", "#EXT-X-VENDOR-B"}, Duration: 2, URI: "s13.mp4"},
				{
					Tags: []string{"#EXT-X-CUE-OUT:2", "#EXT-X-VENDOR-PART:2"}, ProgramDateTime: utc("2026-11-26T10:00:00Z"),
					Parts: []*Part{
						{Duration: 0.2, URI: "p14.0.mp4", Independent: true},
						{Duration: 0.2, URI: "r14.mp4", ByteRange: &ByteRange{Length: 1000, Offset: i64(0)}, Gap: true,
							Extra: []Attr{{Key: "X-Q", Value: "z", Quoted: true}}},
					},
					Duration: 0.4, URI: "s14.mp4",
				},
			},
			TrailingTags: []string{"#EXT-X-PROGRAM-DATE-TIME:2026-11-26T10:00:00.400Z", "#EXT-X-VENDOR-TRAILING:3", "#EXT-X-VENDOR-TRAILING:4"},
			Parts:        []*Part{{Duration: 0.2, URI: "p15.0.mp4"}},
			PreloadHints: []*PreloadHint{
				{Type: "PART", URI: "p15.1.mp4"},
				{Type: "MAP", URI: "init.mp4", ByteRangeLength: i64(700)},
			},
			RenditionReports: []*RenditionReport{
				{URI: "../a/p.m3u8", LastMSN: i64(15), LastPart: i64(0)},
				{URI: "../b/p.m3u8", LastMSN: i64(0)},
			},
		},
		output: `#EXTM3U
#EXT-X-VERSION:9
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:10
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=12.0,CAN-SKIP-DATERANGES=YES,HOLD-BACK=6.0,PART-HOLD-BACK=0.6,X-VENDOR="a,b"
#EXT-X-PART-INF:PART-TARGET=0.2,X-P=1
#EXT-X-SKIP:SKIPPED-SEGMENTS=3,RECENTLY-REMOVED-DATERANGES="ad1	ad2"
#EXT-X-VENDOR:1
#EXT-X-VENDOR-B
#EXTINF:2.000,
s13.mp4
#EXT-X-PROGRAM-DATE-TIME:2026-11-26T10:00:00.000Z
#EXT-X-CUE-OUT:2
#EXT-X-VENDOR-PART:2
#EXT-X-PART:DURATION=0.2,URI="p14.0.mp4",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.2,URI="r14.mp4",BYTERANGE="1000@0",GAP=YES,X-Q="z"
#EXTINF:0.400,
s14.mp4
#EXT-X-PROGRAM-DATE-TIME:2026-11-26T10:00:00.400Z
#EXT-X-VENDOR-TRAILING:3
#EXT-X-VENDOR-TRAILING:4
#EXT-X-PART:DURATION=0.2,URI="p15.0.mp4"
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="p15.1.mp4"
#EXT-X-PRELOAD-HINT:TYPE=MAP,URI="init.mp4",BYTERANGE-LENGTH=700
#EXT-X-RENDITION-REPORT:URI="../a/p.m3u8",LAST-MSN=15,LAST-PART=0
#EXT-X-RENDITION-REPORT:URI="../b/p.m3u8",LAST-MSN=0
`,
	},
	{
		name: "EXTINF durations are written exactly",
		input: `#EXTM3U
#EXT-X-TARGETDURATION:7
#EXTINF:1.92,
a.ts
#EXTINF:3.2,
b.ts
#EXTINF:6.006,
c.ts
#EXTINF:2,
d.ts
#EXTINF:10.0000004,
e.ts
#EXTINF:0.1234567,
f.ts
#EXTINF:4.00008
g.ts
#EXTINF:0.033333333333,
h.ts
`,
		want: &Media{TargetDuration: 7, Segments: []*Segment{
			{Duration: 1.92, URI: "a.ts"},
			{Duration: 3.2, URI: "b.ts"},
			{Duration: 6.006, URI: "c.ts"},
			{Duration: 2, URI: "d.ts"},
			{Duration: 10, URI: "e.ts"},
			{Duration: 0.123457, URI: "f.ts"},
			{Duration: 4.00008, URI: "g.ts"},
			{Duration: 0.033333, URI: "h.ts"},
		}},
		output: `#EXTM3U
#EXT-X-TARGETDURATION:7
#EXT-X-MEDIA-SEQUENCE:0
#EXTINF:1.920,
a.ts
#EXTINF:3.200,
b.ts
#EXTINF:6.006,
c.ts
#EXTINF:2.000,
d.ts
#EXTINF:10.000,
e.ts
#EXTINF:0.123457,
f.ts
#EXTINF:4.00008,
g.ts
#EXTINF:0.033333,
h.ts
`,
	},
	{
		name: "program date-time offsets and precision",
		input: `#EXTM3U
#EXT-X-TARGETDURATION:1
#EXT-X-PROGRAM-DATE-TIME:2026-11-26T15:30:00+05:30
#EXTINF:1,
a.ts
#EXT-X-PROGRAM-DATE-TIME:2026-11-26T02:00:01.123456789-0800
#EXTINF:1,
b.ts
#EXT-X-PROGRAM-DATE-TIME:2026-11-26t10:00:02.1z
#EXTINF:1,
c.ts
#EXT-X-PROGRAM-DATE-TIME:2026-11-26T10:00:03.000
#EXTINF:1,
d.ts
`,
		want: &Media{TargetDuration: 1, Segments: []*Segment{
			{ProgramDateTime: utc("2026-11-26T10:00:00Z"), Duration: 1, URI: "a.ts"},
			{ProgramDateTime: utc("2026-11-26T10:00:01.123Z"), Duration: 1, URI: "b.ts"},
			{ProgramDateTime: utc("2026-11-26T10:00:02.1Z"), Duration: 1, URI: "c.ts"},
			{ProgramDateTime: utc("2026-11-26T10:00:03Z"), Duration: 1, URI: "d.ts"},
		}},
		output: `#EXTM3U
#EXT-X-TARGETDURATION:1
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-PROGRAM-DATE-TIME:2026-11-26T10:00:00.000Z
#EXTINF:1.000,
a.ts
#EXT-X-PROGRAM-DATE-TIME:2026-11-26T10:00:01.123Z
#EXTINF:1.000,
b.ts
#EXT-X-PROGRAM-DATE-TIME:2026-11-26T10:00:02.100Z
#EXTINF:1.000,
c.ts
#EXT-X-PROGRAM-DATE-TIME:2026-11-26T10:00:03.000Z
#EXTINF:1.000,
d.ts
`,
	},
	{
		name: "lenient syntax: no EXTINF comma, decimal target duration, spaces, lowercase is a comment",
		input: `

#EXTM3U
#EXT-X-TARGETDURATION: 6.006
#ext-x-key:METHOD=AES-128
#EXT-X-KEY:METHOD=AES-128, URI = "k.bin" ,IV=0x01
#EXTINF:10
  a.ts
#EXT-X-MAP:URI=init.mp4,BYTERANGE=100@0
#EXTINF:6.006,  spaced title
b.ts
#EXTM3U
`,
		want: &Media{TargetDuration: 7, Segments: []*Segment{
			{Keys: []*Key{{Method: "AES-128", URI: "k.bin", IV: "0x01"}}, Duration: 10, URI: "a.ts"},
			{Map: &Map{URI: "init.mp4", ByteRange: &ByteRange{Length: 100, Offset: i64(0)}}, Duration: 6.006, Title: "  spaced title", URI: "b.ts"},
		}},
		output: `#EXTM3U
#EXT-X-TARGETDURATION:7
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-KEY:METHOD=AES-128,URI="k.bin",IV=0x01
#EXTINF:10.000,
a.ts
#EXT-X-MAP:URI="init.mp4",BYTERANGE="100@0"
#EXTINF:6.006,  spaced title
b.ts
`,
	},
	{
		name: "unmodelled attributes kept in order",
		input: `#EXTM3U
#EXT-X-TARGETDURATION:6
#EXT-X-KEY:METHOD=SAMPLE-AES-CTR,KEYID=0x0102,URI="data:x",X-EMPTY="",X-BARE=
#EXT-X-MAP:URI="i.mp4",X-LABEL="a,b"
#EXT-X-DATERANGE:ID="d",X-B=2,START-DATE="2026-01-01T00:00:00Z",SCTE35-CMD=0xFC,X-A="1",END-ON-NEXT=YES,CLASS="c",PLANNED-DURATION=1.5,END-DATE="2026-01-01T00:00:10.5Z"
#EXTINF:6,
s.m4s
`,
		want: &Media{TargetDuration: 6, Segments: []*Segment{{
			Keys: []*Key{{Method: "SAMPLE-AES-CTR", URI: "data:x", Extra: []Attr{
				{Key: "KEYID", Value: "0x0102"}, {Key: "X-EMPTY", Quoted: true}, {Key: "X-BARE"},
			}}},
			Map: &Map{URI: "i.mp4", Extra: []Attr{{Key: "X-LABEL", Value: "a,b", Quoted: true}}},
			DateRanges: []*DateRange{{
				ID: "d", Class: "c", StartDate: utc("2026-01-01T00:00:00Z"), EndDate: utcp("2026-01-01T00:00:10.5Z"),
				PlannedDuration: f64(1.5), EndOnNext: true,
				Extra: []Attr{{Key: "X-B", Value: "2"}, {Key: "SCTE35-CMD", Value: "0xFC"}, {Key: "X-A", Value: "1", Quoted: true}},
			}},
			Duration: 6, URI: "s.m4s",
		}}},
		output: `#EXTM3U
#EXT-X-TARGETDURATION:6
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-KEY:METHOD=SAMPLE-AES-CTR,URI="data:x",KEYID=0x0102,X-EMPTY="",X-BARE=
#EXT-X-MAP:URI="i.mp4",X-LABEL="a,b"
#EXT-X-DATERANGE:ID="d",CLASS="c",START-DATE="2026-01-01T00:00:00.000Z",END-DATE="2026-01-01T00:00:10.500Z",PLANNED-DURATION=1.5,END-ON-NEXT=YES,X-B=2,SCTE35-CMD=0xFC,X-A="1"
#EXTINF:6.000,
s.m4s
`,
	},
	{
		name:   "media playlist without segments",
		input:  "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-ENDLIST\n",
		want:   &Media{TargetDuration: 6, Endlist: true},
		output: "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-ENDLIST\n",
	},
	{
		name:   "minimal multivariant",
		input:  "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1280000\nlow.m3u8\n",
		want:   &Multivariant{Variants: []*Variant{{Bandwidth: 1280000, URI: "low.m3u8"}}},
		output: "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1280000\nlow.m3u8\n",
	},
	{
		name: "multivariant unknown tags attach to what follows",
		input: `#EXTM3U
#EXT-X-VERSION:7
#EXT-X-DEFINE:NAME="token",VALUE="abc"
#EXT-X-VENDOR-AUDIO-NOTE:1
#EXT-X-MEDIA:TYPE="AUDIO",GROUP-ID="a",NAME="Main",DEFAULT=YES,URI="a.m3u8"
#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,URI="skd://s",KEYFORMAT="com.apple.streamingkeydelivery"
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=100000,URI="i.m3u8"
#EXT-X-VENDOR-VARIANT-NOTE:2
#EXT-X-STREAM-INF:BANDWIDTH=500000, AUDIO="a",CLOSED-CAPTIONS="NONE",RESOLUTION=640X360,FRAME-RATE=23.976
#EXT-X-BETWEEN:3
v.m3u8?token={$token}
#EXT-X-SESSION-DATA:DATA-ID="com.example",VALUE="x"
#EXT-X-START:TIME-OFFSET=0
#EXT-X-VENDOR-TRAILER:4
`,
		want: &Multivariant{
			Version:     7,
			Start:       &Start{},
			SessionData: []*SessionData{{DataID: "com.example", Value: "x"}},
			SessionKeys: []*Key{{Method: "SAMPLE-AES", URI: "skd://s", KeyFormat: "com.apple.streamingkeydelivery"}},
			Renditions: []*Rendition{{
				Type: MediaTypeAudio, GroupID: "a", Name: "Main", Default: true, URI: "a.m3u8",
				Tags: []string{"#EXT-X-VENDOR-AUDIO-NOTE:1"},
			}},
			Variants: []*Variant{{
				Bandwidth: 500000, Resolution: &Resolution{640, 360}, FrameRate: 23.976, Audio: "a", ClosedCaptions: "NONE",
				URI: "v.m3u8?token={$token}", Tags: []string{"#EXT-X-VENDOR-VARIANT-NOTE:2", "#EXT-X-BETWEEN:3"},
			}},
			IFrameVariants: []*IFrameVariant{{Bandwidth: 100000, URI: "i.m3u8"}},
			Tags:           []string{`#EXT-X-DEFINE:NAME="token",VALUE="abc"`},
			TrailingTags:   []string{"#EXT-X-VENDOR-TRAILER:4"},
		},
		output: `#EXTM3U
#EXT-X-VERSION:7
#EXT-X-START:TIME-OFFSET=0
#EXT-X-SESSION-DATA:DATA-ID="com.example",VALUE="x"
#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,URI="skd://s",KEYFORMAT="com.apple.streamingkeydelivery"
#EXT-X-DEFINE:NAME="token",VALUE="abc"
#EXT-X-VENDOR-AUDIO-NOTE:1
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="Main",DEFAULT=YES,URI="a.m3u8"
#EXT-X-VENDOR-VARIANT-NOTE:2
#EXT-X-BETWEEN:3
#EXT-X-STREAM-INF:BANDWIDTH=500000,RESOLUTION=640x360,FRAME-RATE=23.976,AUDIO="a",CLOSED-CAPTIONS=NONE
v.m3u8?token={$token}
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=100000,URI="i.m3u8"
#EXT-X-VENDOR-TRAILER:4
`,
	},
}

// fileCases returns one case per testdata/*.m3u8 file; their canonical
// output is in testdata/golden.
func fileCases(t testing.TB) []testCase {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "*.m3u8"))
	if err != nil {
		t.Fatal(err)
	}
	var cs []testCase
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(f)
		cs = append(cs, testCase{
			name:  strings.TrimSuffix(name, ".m3u8"),
			input: string(data),
			file:  name,
			check: fileChecks[name],
		})
	}
	if len(cs) == 0 {
		t.Fatal("no testdata/*.m3u8 files")
	}
	return cs
}

// allCases is the one case table: inline cases and testdata files.
func allCases(t testing.TB) []testCase {
	return append(append([]testCase(nil), inlineCases...), fileCases(t)...)
}
