package origin

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/pullpush/pullpush/origin/internal/media"
)

// webvttCases drive the parser test and seed its fuzzer.
var webvttCases = []struct {
	name, in string
	err      string // substring of the error; "" parses
	mpegts   int64
	local    time.Duration
	cues     []media.VTTCue
}{
	{name: "hls segment", in: "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:126000,LOCAL:00:00:00.000\n\n00:00:01.000 --> 00:00:01.900\nSegment 1\n",
		mpegts: 126000, cues: []media.VTTCue{{Start: time.Second, End: 1900 * time.Millisecond, Payload: "Segment 1"}}},
	{name: "crlf, bom, map reversed, id, settings, two lines, note and style",
		in: "\xef\xbb\xbfWEBVTT - title\r\nX-TIMESTAMP-MAP=LOCAL:00:00:10.500,MPEGTS:900000\r\n\r\nNOTE a comment\r\n\r\nSTYLE\r\n::cue { color: red }\r\n\r\n" +
			"c1\r\n00:11.000 --> 00:12.250 align:start line:0\r\n<v Bob>Hello\r\nworld\r\n\r\n01:00:00.000 --> 01:00:01.000\r\nlate\r\n",
		mpegts: 900000, local: 10500 * time.Millisecond, cues: []media.VTTCue{
			{ID: "c1", Start: 11 * time.Second, End: 12250 * time.Millisecond, Settings: "align:start line:0", Payload: "<v Bob>Hello\nworld"},
			{Start: time.Hour, End: time.Hour + time.Second, Payload: "late"}}},
	{name: "no map, no cues", in: "WEBVTT\n"},
	{name: "a block that is not a cue is skipped", in: "WEBVTT\n\nhello\nthere\n\n00:00.000 --> 00:01.000\nx",
		cues: []media.VTTCue{{End: time.Second, Payload: "x"}}},
	{name: "no signature", in: "WEBVTTX\n", err: "no WEBVTT signature"},
	{name: "empty", in: "", err: "no WEBVTT signature"},
	{name: "bad timestamp", in: "WEBVTT\n\n00:00.0 --> 00:01.000\nx", err: `line 3: timestamp "00:00.0"`},
	{name: "minutes out of range", in: "WEBVTT\n\n00:61:00.000 --> 01:01:01.000\nx", err: "timestamp"},
	{name: "end before start", in: "WEBVTT\n\n00:02.000 --> 00:01.000\nx", err: "not after its start"},
	{name: "bad map", in: "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:x,LOCAL:00:00:00.000\n", err: "line 2: X-TIMESTAMP-MAP MPEGTS"},
	{name: "map without local", in: "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:1\n", err: "needs MPEGTS and LOCAL"},
	{name: "huge hours", in: "WEBVTT\n\n999999:00:00.000 --> 999999:00:01.000\nx", err: "beyond"},
}

func TestParseWebVTT(t *testing.T) {
	for _, c := range webvttCases {
		t.Run(c.name, func(t *testing.T) {
			d, err := media.ParseWebVTT([]byte(c.in))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || !errors.Is(err, media.ErrWebVTT) {
					t.Fatalf("error %v, want one with %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.MPEGTS != c.mpegts || d.Local != c.local || len(d.Cues) != len(c.cues) {
				t.Fatalf("parsed %+v", d)
			}
			for i, cue := range c.cues {
				if d.Cues[i] != cue {
					t.Errorf("cue %d: %+v, want %+v", i, d.Cues[i], cue)
				}
			}
		})
	}
}

// wvttSamples decodes a CMAF WebVTT segment: per sample its decode time,
// duration and cue payloads (none: vtte).
type wvttSample struct {
	t, d uint64
	cues []string
}

func decodeWVTT(t *testing.T, seg []byte) []wvttSample {
	t.Helper()
	f, err := mp4.DecodeFile(bytes.NewReader(seg))
	if err != nil {
		t.Fatalf("decode wvtt segment: %v", err)
	}
	var out []wvttSample
	for _, s := range f.Segments {
		for _, frag := range s.Fragments {
			fs, err := frag.GetFullSamples(nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range fs {
				ws := wvttSample{t: x.DecodeTime, d: uint64(x.Dur)}
				for pos := 0; pos < len(x.Data); {
					b, err := mp4.DecodeBox(0, bytes.NewReader(x.Data[pos:]))
					if err != nil {
						t.Fatalf("sample at %d: %v", x.DecodeTime, err)
					}
					pos += int(b.Size())
					switch b := b.(type) {
					case *mp4.VttcBox:
						for _, ch := range b.Children {
							if p, ok := ch.(*mp4.PaylBox); ok {
								ws.cues = append(ws.cues, p.CueText)
							}
						}
					case *mp4.VtteBox:
					default:
						t.Fatalf("sample at %d holds a %s box", x.DecodeTime, b.Type())
					}
				}
				out = append(out, ws)
			}
		}
	}
	return out
}

// TestWVTTSegment: cues are cut to the segment, overlapping cues share
// samples, gaps are vtte, and a segment without X-TIMESTAMP-MAP maps cue
// time 0 to MPEG-TS 0; the samples cover the segment exactly.
func TestWVTTSegment(t *testing.T) {
	// The segment: TS 90000..180000 (1 s to 2 s), CMAF offset 1000.
	j := &job{tsBase: 90000, tsOff: 1000, dur: int64(time.Second), seq: 7}
	in := "WEBVTT\n\n00:00.500 --> 00:01.500\nA\n\n00:01.200 --> 00:01.400\nB\n\n00:01.800 --> 00:03.000\nC\n\n00:05.000 --> 00:06.000\nlater\n"
	p, err := wvttSegment([]byte(in), j)
	if err != nil {
		t.Fatal(err)
	}
	got := decodeWVTT(t, p.data)
	at := func(ms int) uint64 { return uint64(ms*90) + 1000 }
	want := []wvttSample{
		{t: at(1000), d: 18000, cues: []string{"A"}},
		{t: at(1200), d: 18000, cues: []string{"A", "B"}},
		{t: at(1400), d: 9000, cues: []string{"A"}},
		{t: at(1500), d: 27000},
		{t: at(1800), d: 18000, cues: []string{"C"}},
	}
	if len(got) != len(want) {
		t.Fatalf("samples %+v", got)
	}
	for i := range want {
		if got[i].t != want[i].t || got[i].d != want[i].d || strings.Join(got[i].cues, ",") != strings.Join(want[i].cues, ",") {
			t.Errorf("sample %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	// Near the 33-bit wrap: the map's MPEGTS is unwrapped near the segment.
	j = &job{tsBase: 1<<33 + 90000, dur: int64(time.Second), seq: 8}
	p, err = wvttSegment([]byte("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:90000,LOCAL:00:00:00.000\n\n00:00.000 --> 00:00.500\nW\n"), j)
	if err != nil {
		t.Fatal(err)
	}
	if got := decodeWVTT(t, p.data); len(got) != 2 || got[0].t != 1<<33+90000 || got[0].d != 45000 || got[0].cues[0] != "W" {
		t.Fatalf("across the wrap: %+v", got)
	}
	if _, err := wvttSegment([]byte("not webvtt"), j); err == nil {
		t.Fatal("not WebVTT packaged")
	}
}

// FuzzParseWebVTT: pushed WebVTT never panics the parser or the packager;
// what parses has cues that end after they start, and packages to a
// segment mp4ff decodes whose samples cover it.
func FuzzParseWebVTT(f *testing.F) {
	for _, c := range webvttCases {
		f.Add([]byte(c.in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := media.ParseWebVTT(data)
		if err != nil {
			return
		}
		for _, c := range d.Cues {
			if c.End <= c.Start {
				t.Fatalf("cue %+v", c)
			}
		}
		j := &job{tsBase: 126000, tsOff: 5, dur: int64(2 * time.Second), seq: 1}
		p, err := wvttSegment(data, j)
		if err != nil {
			t.Fatalf("parsed but not packaged: %v", err)
		}
		f, err := mp4.DecodeFile(bytes.NewReader(p.data))
		if err != nil || len(f.Segments) != 1 {
			t.Fatalf("packaged segment does not decode: %v", err)
		}
		fs, err := f.Segments[0].Fragments[0].GetFullSamples(nil)
		if err != nil || len(fs) == 0 || fs[0].DecodeTime != 126005 {
			t.Fatalf("samples %v", err)
		}
		var sum uint64
		for _, s := range fs {
			sum += uint64(s.Dur)
		}
		if sum != 180000 {
			t.Fatalf("samples cover %d ticks, want 180000", sum)
		}
	})
}
