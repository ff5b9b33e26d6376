// Package adcue reads the ad-break signals an HLS ingest carries and
// writes them in one of MediaPackage's ad-marker modes.
//
// Signals read, per segment: #EXT-OATCLS-SCTE35 (base64 SCTE-35),
// #EXT-X-CUE-OUT (with or without a duration), #EXT-X-CUE-IN, and
// EXT-X-DATERANGE with SCTE35-OUT / SCTE35-IN / SCTE35-CMD (hex SCTE-35).
// SCTE-35 sections are decoded with github.com/Comcast/scte35-go; a break
// signalled without one gets a splice_insert built with the same library,
// so every output mode can carry SCTE-35.
package adcue

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/Comcast/scte35-go/pkg/scte35"

	"github.com/pullpush/pullpush/hls"
)

// Ad-marker modes of an endpoint.
const (
	// ModePassthrough keeps the ingest's tags as they are (the default).
	ModePassthrough = "passthrough"
	// ModeNone removes every ad marker.
	ModeNone = "none"
	// ModeSCTE35Enhanced writes #EXT-X-CUE-OUT with #EXT-OATCLS-SCTE35 at
	// a break's start, #EXT-X-CUE-OUT-CONT on every segment of the break
	// and #EXT-X-CUE-IN after it.
	ModeSCTE35Enhanced = "scte35_enhanced"
	// ModeDateRange writes EXT-X-DATERANGE with SCTE35-OUT at a break's
	// start and one with SCTE35-IN and its END-DATE after it.
	ModeDateRange = "daterange"
)

// ValidMode reports whether m is one of the modes ("" is passthrough).
func ValidMode(m string) bool {
	switch m {
	case "", ModePassthrough, ModeNone, ModeSCTE35Enhanced, ModeDateRange:
		return true
	}
	return false
}

// Cue is the ad signal of one segment: the start of a break (Out) or its
// end (In).
type Cue struct {
	Out, In bool
	// Duration is the break's planned duration (0: unknown).
	Duration time.Duration
	// ID names the break: the DATERANGE ID or the splice event ID.
	ID string
	// Splice is the SCTE-35 section of the signal, nil when it had none.
	Splice *scte35.SpliceInfoSection

	// b64 and hex are the encodings of Splice, made by Read: encoding a
	// section writes to it (scte35-go sets its command's JSONType), so a
	// cue shared by concurrent requests is encoded once, up front.
	b64, hex string
}

// Tag names of ad markers.
const (
	tagCueOut     = "#EXT-X-CUE-OUT"
	tagCueOutCont = "#EXT-X-CUE-OUT-CONT"
	tagCueIn      = "#EXT-X-CUE-IN"
	tagOATCLS     = "#EXT-OATCLS-SCTE35"
)

// IsAdTag reports whether a tag line is an ad marker.
func IsAdTag(tag string) bool {
	name, _, _ := strings.Cut(tag, ":")
	switch name {
	case tagCueOut, tagCueOutCont, tagCueIn, tagOATCLS, "#EXT-X-SCTE35", "#EXT-X-SPLICEPOINT-SCTE35":
		return true
	}
	return false
}

// IsAdDateRange reports whether an EXT-X-DATERANGE carries SCTE-35.
func IsAdDateRange(d *hls.DateRange) bool {
	for _, a := range d.Extra {
		switch a.Key {
		case "SCTE35-OUT", "SCTE35-IN", "SCTE35-CMD":
			return true
		}
	}
	return false
}

// Read returns the cue of a segment with tags and date ranges, nil when it
// carries none. #EXT-X-CUE-OUT-CONT is not a cue: the position in a break
// is computed from its start. A malformed SCTE-35 section is an error;
// the tags around it still give the cue.
func Read(tags []string, drs []*hls.DateRange) (*Cue, error) {
	var c *Cue
	var firstErr error
	keep := func(err error) {
		if firstErr == nil {
			firstErr = err
		}
	}
	get := func() *Cue {
		if c == nil {
			c = &Cue{}
		}
		return c
	}
	for _, t := range tags {
		name, val, _ := strings.Cut(t, ":")
		switch name {
		case tagCueOut:
			cu := get()
			cu.Out = true
			if d, ok := cueOutDuration(val); ok {
				cu.Duration = d
			}
		case tagCueIn:
			get().In = true
		case tagOATCLS:
			sis, err := scte35.DecodeBase64(strings.TrimSpace(val))
			if err != nil {
				keep(fmt.Errorf("%s: %w", tagOATCLS, err))
				continue
			}
			cu := get()
			cu.Splice = sis
			applySplice(cu, sis)
		}
	}
	for _, d := range drs {
		for _, a := range d.Extra {
			if a.Key != "SCTE35-OUT" && a.Key != "SCTE35-IN" && a.Key != "SCTE35-CMD" {
				continue
			}
			cu := get()
			if cu.ID == "" {
				cu.ID = d.ID
			}
			sis, err := decodeHex(a.Value)
			if err != nil {
				keep(fmt.Errorf("DATERANGE %s %s: %w", d.ID, a.Key, err))
			} else {
				cu.Splice = sis
			}
			switch a.Key {
			case "SCTE35-OUT":
				cu.Out = true
				for _, dur := range []*float64{d.Duration, d.PlannedDuration} {
					if dur != nil && *dur > 0 && cu.Duration == 0 {
						cu.Duration = time.Duration(*dur * float64(time.Second))
					}
				}
			case "SCTE35-IN":
				cu.In = true
			}
			if sis != nil && a.Key == "SCTE35-CMD" {
				applySplice(cu, sis)
			} else if sis != nil && cu.Duration == 0 {
				cu.Duration = sis.Duration()
			}
		}
	}
	if c != nil && c.Out && c.In {
		c.In = false // a break start wins over a stray end on the same segment
	}
	if c != nil && !c.Out && !c.In {
		return nil, firstErr // a section that is neither (e.g. splice_null)
	}
	if c != nil && c.Splice != nil {
		c.b64, c.hex = c.Splice.Base64(), c.Splice.Hex()
	}
	return c, firstErr
}

// applySplice takes the direction, duration and event ID of a section.
func applySplice(c *Cue, sis *scte35.SpliceInfoSection) {
	switch cmd := sis.SpliceCommand.(type) {
	case *scte35.SpliceInsert:
		if cmd.SpliceEventCancelIndicator {
			return
		}
		if cmd.OutOfNetworkIndicator {
			c.Out = true
		} else {
			c.In = true
		}
		if c.ID == "" {
			c.ID = strconv.FormatUint(uint64(cmd.SpliceEventID), 10)
		}
	case *scte35.TimeSignal:
		for _, d := range sis.SpliceDescriptors {
			sd, ok := d.(*scte35.SegmentationDescriptor)
			if !ok {
				continue
			}
			switch sd.SegmentationTypeID {
			case scte35.SegmentationTypeProviderAdStart, scte35.SegmentationTypeDistributorAdStart,
				scte35.SegmentationTypeProviderPOStart, scte35.SegmentationTypeDistributorPOStart,
				scte35.SegmentationTypeBreakStart:
				c.Out = true
			case scte35.SegmentationTypeProviderAdEnd, scte35.SegmentationTypeDistributorAdEnd,
				scte35.SegmentationTypeProviderPOEnd, scte35.SegmentationTypeDistributorPOEnd,
				scte35.SegmentationTypeBreakEnd:
				c.In = true
			}
			if c.ID == "" {
				c.ID = strconv.FormatUint(uint64(sd.SegmentationEventID), 10)
			}
		}
	}
	if d := sis.Duration(); d > 0 && c.Duration == 0 {
		c.Duration = d
	}
}

// cueOutDuration reads "30", "30.5" or "DURATION=30" of #EXT-X-CUE-OUT.
func cueOutDuration(v string) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	for _, part := range strings.Split(v, ",") {
		k, val, ok := strings.Cut(part, "=")
		if !ok {
			val = k
		} else if !strings.EqualFold(strings.TrimSpace(k), "DURATION") {
			continue
		}
		f, err := strconv.ParseFloat(strings.Trim(strings.TrimSpace(val), `"`), 64)
		if err == nil && f > 0 && f < 86400 {
			return time.Duration(f * float64(time.Second)), true
		}
	}
	return 0, false
}

func decodeHex(v string) (*scte35.SpliceInfoSection, error) {
	v = strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(v), "0x"), "0X")
	if _, err := hex.DecodeString(v); err != nil {
		return nil, fmt.Errorf("not hex: %w", err)
	}
	return scte35.DecodeHex(v)
}

// Break is an ad break on the output timeline. Build it with NewBreak;
// Write and Append only read it, so one Break may serve concurrent
// requests.
type Break struct {
	Start    time.Time
	Duration time.Duration // planned; 0 unknown (ends at the next In)
	ID       string
	Splice   *scte35.SpliceInfoSection // the section to write, never nil

	// Encodings of Splice and of the section that ends the break, made
	// once by NewBreak (encoding writes to a section).
	b64, hex, inHex string
}

// NewBreak returns the break a cue starts at start, with the cue's SCTE-35
// section or, without one, a splice_insert built for it. The sections are
// encoded here, once: a cue from Read is not written to, so cues shared
// by concurrent callers are safe.
func NewBreak(c *Cue, start time.Time, seq int64) Break {
	b := Break{Start: start, Duration: c.Duration, ID: c.ID, Splice: c.Splice, b64: c.b64, hex: c.hex}
	if b.ID == "" {
		b.ID = strconv.FormatInt(seq, 10)
	}
	if b.Splice == nil {
		ins := &scte35.SpliceInsert{
			SpliceEventID:         uint32(seq),
			OutOfNetworkIndicator: true,
			SpliceImmediateFlag:   true,
			Program:               &scte35.SpliceInsertProgram{},
		}
		if c.Duration > 0 {
			ins.BreakDuration = &scte35.BreakDuration{AutoReturn: true, Duration: scte35.DurationToTicks(c.Duration)}
		}
		b.Splice = &scte35.SpliceInfoSection{SpliceCommand: ins, Tier: 4095, SAPType: 3}
	}
	if b.b64 == "" {
		b.b64, b.hex = b.Splice.Base64(), b.Splice.Hex()
	}
	b.inHex = returnSection(b).Hex()
	return b
}

// returnSection is the splice_insert that ends break b (out of network
// off), for the SCTE35-IN of daterange mode.
func returnSection(b Break) *scte35.SpliceInfoSection {
	id := uint32(0)
	if ins, ok := b.Splice.SpliceCommand.(*scte35.SpliceInsert); ok {
		id = ins.SpliceEventID
	}
	return &scte35.SpliceInfoSection{Tier: 4095, SAPType: 3, SpliceCommand: &scte35.SpliceInsert{
		SpliceEventID: id, SpliceImmediateFlag: true, Program: &scte35.SpliceInsertProgram{}}}
}

// Mark is where a segment stands in a break, for Write.
type Mark struct {
	Break   Break
	Elapsed time.Duration // from the break's start to this segment's start
	First   bool          // the segment starts the break
	End     bool          // the segment is the first after the break
}

// Write removes the ad markers of seg and, for an enhanced mode, writes
// those of mark (nil: the segment is outside any break).
func Write(mode string, seg *hls.Segment, mark *Mark) {
	Strip(seg)
	if mark != nil {
		Append(mode, seg, *mark)
	}
}

// Strip removes the ad markers (tags and SCTE-35 date ranges) of seg. It
// builds new slices, so the segment's old ones may be shared.
func Strip(seg *hls.Segment) {
	var tags []string
	for _, t := range seg.Tags {
		if !IsAdTag(t) {
			tags = append(tags, t)
		}
	}
	var drs []*hls.DateRange
	for _, d := range seg.DateRanges {
		if !IsAdDateRange(d) {
			drs = append(drs, d)
		}
	}
	seg.Tags, seg.DateRanges = tags, drs
}

// Append adds the markers of mark in an enhanced mode (ModeSCTE35Enhanced
// or ModeDateRange) to seg, after those it has. A segment that both ends a
// break and starts the next one takes the End mark, then the First one.
// Append may grow seg's slices in place: Strip or copy shared ones first.
func Append(mode string, seg *hls.Segment, mark Mark) {
	b := mark.Break
	secs := func(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) }
	switch mode {
	case ModeSCTE35Enhanced:
		switch {
		case mark.End:
			seg.Tags = append(seg.Tags, tagCueIn)
		case mark.First:
			out := tagCueOut
			if b.Duration > 0 {
				out += ":" + secs(b.Duration)
			}
			seg.Tags = append(seg.Tags, out, tagOATCLS+":"+b.base64())
		default:
			cont := tagCueOutCont + ":ElapsedTime=" + secs(mark.Elapsed)
			if b.Duration > 0 {
				cont += ",Duration=" + secs(b.Duration)
			}
			seg.Tags = append(seg.Tags, cont+",SCTE35="+b.base64())
		}
	case ModeDateRange:
		switch {
		case mark.First:
			d := &hls.DateRange{ID: b.ID, StartDate: b.Start, Extra: []hls.Attr{{Key: "SCTE35-OUT", Value: "0x" + b.hexOut()}}}
			if b.Duration > 0 {
				pd := b.Duration.Seconds()
				d.PlannedDuration = &pd
			}
			seg.DateRanges = append(seg.DateRanges, d)
		case mark.End:
			end := b.Start.Add(mark.Elapsed)
			dur := mark.Elapsed.Seconds()
			seg.DateRanges = append(seg.DateRanges, &hls.DateRange{ID: b.ID, StartDate: b.Start, EndDate: &end, Duration: &dur,
				Extra: []hls.Attr{{Key: "SCTE35-IN", Value: "0x" + b.hexIn()}}})
		}
	}
}

// Base64 is the break's SCTE-35 section in base64, as NewBreak encoded
// it (safe for concurrent callers of a Break from NewBreak).
func (b Break) Base64() string { return b.base64() }

// base64, hexOut and hexIn are the encodings of the break's sections,
// those NewBreak made or, for a Break built otherwise, made now.
func (b Break) base64() string {
	if b.b64 != "" {
		return b.b64
	}
	return b.Splice.Base64()
}

func (b Break) hexOut() string {
	if b.hex != "" {
		return b.hex
	}
	return b.Splice.Hex()
}

func (b Break) hexIn() string {
	if b.inHex != "" {
		return b.inHex
	}
	return returnSection(b).Hex()
}
