package adcue

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Comcast/scte35-go/pkg/scte35"

	"github.com/pullpush/pullpush/hls"
)

func section(out bool, d time.Duration, id uint32) *scte35.SpliceInfoSection {
	ins := &scte35.SpliceInsert{SpliceEventID: id, OutOfNetworkIndicator: out, SpliceImmediateFlag: true, Program: &scte35.SpliceInsertProgram{}}
	if d > 0 {
		ins.BreakDuration = &scte35.BreakDuration{AutoReturn: true, Duration: scte35.DurationToTicks(d)}
	}
	return &scte35.SpliceInfoSection{Tier: 4095, SAPType: 3, SpliceCommand: ins}
}

func TestRead(t *testing.T) {
	out30 := section(true, 30*time.Second, 12)
	for _, c := range []struct {
		name string
		tags []string
		drs  []*hls.DateRange
		want *Cue
	}{
		{"cue-out seconds", []string{"#EXT-X-CUE-OUT:30"}, nil, &Cue{Out: true, Duration: 30 * time.Second}},
		{"cue-out DURATION=", []string{"#EXT-X-CUE-OUT:DURATION=15.5"}, nil, &Cue{Out: true, Duration: 15500 * time.Millisecond}},
		{"cue-out bare", []string{"#EXT-X-CUE-OUT"}, nil, &Cue{Out: true}},
		{"cue-in", []string{"#EXT-X-CUE-IN"}, nil, &Cue{In: true}},
		{"cont is no cue", []string{"#EXT-X-CUE-OUT-CONT:ElapsedTime=5,Duration=30"}, nil, nil},
		{"oatcls", []string{"#EXT-OATCLS-SCTE35:" + out30.Base64(), "#EXT-X-CUE-OUT:30"}, nil, &Cue{Out: true, Duration: 30 * time.Second, ID: "12"}},
		{"oatcls return", []string{"#EXT-OATCLS-SCTE35:" + section(false, 0, 12).Base64()}, nil, &Cue{In: true, ID: "12"}},
		{"daterange out", nil, []*hls.DateRange{{ID: "b1", Extra: []hls.Attr{{Key: "SCTE35-OUT", Value: "0x" + out30.Hex()}}}}, &Cue{Out: true, Duration: 30 * time.Second, ID: "b1"}},
		{"daterange in", nil, []*hls.DateRange{{ID: "b1", Extra: []hls.Attr{{Key: "SCTE35-IN", Value: "0x" + section(false, 0, 12).Hex()}}}}, &Cue{In: true, ID: "b1"}},
		{"schedule daterange is no cue", nil, []*hls.DateRange{{ID: "item-1", Class: "com.pullpush.schedule"}}, nil},
		{"other tags", []string{"#EXT-X-FOO:1"}, nil, nil},
	} {
		got, err := Read(c.tags, c.drs)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if (got == nil) != (c.want == nil) || (got != nil && (got.Out != c.want.Out || got.In != c.want.In || got.Duration != c.want.Duration || got.ID != c.want.ID)) {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
	}
	// A broken section is an error; the tag beside it still gives a cue.
	c, err := Read([]string{"#EXT-OATCLS-SCTE35:not-base64!", "#EXT-X-CUE-OUT:10"}, nil)
	if err == nil || c == nil || !c.Out || c.Duration != 10*time.Second {
		t.Fatalf("broken section: %+v, %v", c, err)
	}
}

func TestWriteRoundTrip(t *testing.T) {
	b := NewBreak(&Cue{Out: true, Duration: 8 * time.Second}, time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC), 42)
	for _, mode := range []string{ModeSCTE35Enhanced, ModeDateRange} {
		seg := &hls.Segment{Tags: []string{"#EXT-X-CUE-OUT:99", "#EXT-X-KEEP:1"}}
		Write(mode, seg, &Mark{Break: b, First: true})
		if !strings.Contains(strings.Join(seg.Tags, " "), "#EXT-X-KEEP:1") || strings.Contains(strings.Join(seg.Tags, " "), ":99") {
			t.Fatalf("%s: tags %v", mode, seg.Tags)
		}
		// What was written reads back as the same break.
		c, err := Read(seg.Tags, seg.DateRanges)
		if err != nil || c == nil || !c.Out || c.Duration != 8*time.Second {
			t.Fatalf("%s: read back %+v, %v (tags %v, dateranges %+v)", mode, c, err, seg.Tags, seg.DateRanges)
		}
	}
	seg := &hls.Segment{}
	Write(ModeDateRange, seg, &Mark{Break: b, Elapsed: 8 * time.Second, End: true})
	if c, err := Read(seg.Tags, seg.DateRanges); err != nil || c == nil || !c.In {
		t.Fatalf("daterange end reads back as %+v, %v", c, err)
	}
}

// TestAppendBothModes: a segment can carry the markers of both enhanced
// modes, and one that ends a break and starts the next carries both
// marks; each reads back as the start of the new break.
func TestAppendBothModes(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	b1 := NewBreak(&Cue{Out: true, Duration: 20 * time.Second, ID: "b1"}, t0, 1)
	b2 := NewBreak(&Cue{Out: true, Duration: 8 * time.Second, ID: "b2"}, t0.Add(20*time.Second), 2)
	shared := []string{"#EXT-X-KEEP:1", "#EXT-X-CUE-OUT:99"}
	seg := &hls.Segment{Tags: shared[:1]}
	Strip(seg)
	for _, mode := range []string{ModeSCTE35Enhanced, ModeDateRange} {
		Append(mode, seg, Mark{Break: b1, Elapsed: 20 * time.Second, End: true})
		Append(mode, seg, Mark{Break: b2, First: true})
	}
	if shared[1] != "#EXT-X-CUE-OUT:99" {
		t.Fatalf("Append wrote into a shared slice: %v", shared)
	}
	var tags []string
	for _, tg := range seg.Tags {
		name, _, _ := strings.Cut(tg, ":")
		tags = append(tags, name)
	}
	if got := strings.Join(tags, " "); got != "#EXT-X-KEEP #EXT-X-CUE-IN #EXT-X-CUE-OUT #EXT-OATCLS-SCTE35" {
		t.Errorf("tags %s", got)
	}
	if len(seg.DateRanges) != 2 || seg.DateRanges[0].ID != "b1" || seg.DateRanges[0].EndDate == nil || seg.DateRanges[1].ID != "b2" || *seg.DateRanges[1].PlannedDuration != 8 {
		t.Errorf("date ranges %+v", seg.DateRanges)
	}
	c, err := Read(seg.Tags, seg.DateRanges)
	if err != nil || c == nil || !c.Out || c.In || c.Duration != 8*time.Second {
		t.Errorf("read back %+v, %v", c, err)
	}
}

// TestConcurrentWrite: scte35-go writes to a section when encoding it, so
// a cue read once and breaks made from it are encoded up front: Write from
// many goroutines at once is race-free (go test -race).
func TestConcurrentWrite(t *testing.T) {
	c, err := Read([]string{"#EXT-OATCLS-SCTE35:" + section(true, 30*time.Second, 9).Base64()}, nil)
	if err != nil || c == nil {
		t.Fatal(c, err)
	}
	own := NewBreak(&Cue{Out: true, Duration: 5 * time.Second}, time.Unix(0, 0), 3)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := NewBreak(c, time.Unix(0, 0), int64(i))
			for _, mode := range []string{ModeSCTE35Enhanced, ModeDateRange} {
				for _, m := range []Mark{{Break: b, First: true}, {Break: b, Elapsed: time.Second}, {Break: own, End: true, Elapsed: 5 * time.Second}} {
					Write(mode, &hls.Segment{}, &m)
				}
			}
		}()
	}
	wg.Wait()
}

func FuzzRead(f *testing.F) {
	f.Add("#EXT-OATCLS-SCTE35:"+section(true, 30*time.Second, 1).Base64(), "0x"+section(false, 0, 1).Hex())
	f.Add("#EXT-X-CUE-OUT:DURATION=abc", "0xfc")
	f.Add("#EXT-X-CUE-IN", "zz")
	f.Fuzz(func(t *testing.T, tag, hexv string) {
		c, _ := Read([]string{tag}, []*hls.DateRange{{ID: "x", Extra: []hls.Attr{{Key: "SCTE35-CMD", Value: hexv}}}})
		if c != nil && c.Out && c.In {
			t.Fatalf("cue both out and in: %+v", c)
		}
		if c != nil && c.Out {
			b := NewBreak(c, time.Unix(0, 0), 1)
			seg := &hls.Segment{}
			Write(ModeSCTE35Enhanced, seg, &Mark{Break: b, First: true})
			Write(ModeDateRange, seg, &Mark{Break: b, First: true})
		}
	})
}
