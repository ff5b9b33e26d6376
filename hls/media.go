package hls

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// ParseMedia parses a media playlist. See Parse for how the result shares
// memory with the input.
func ParseMedia(data []byte) (*Media, error) {
	s, err := prepare(data)
	if err != nil {
		return nil, err
	}
	return parseMedia(s)
}

var errNoValue = errors.New("missing value")

// mediaParser holds the state of one parseMedia call.
type mediaParser struct {
	sc lineScanner
	m  *Media

	cur     *Segment // segment being collected, nil before its first tag
	hasInf  bool     // cur has its EXTINF
	infLine int      // line of that EXTINF
	raw     []string // verbatim tag lines of cur, kept as TrailingTags if no URI follows

	slab       []Segment // preallocated segments
	firstStart int       // offset of the first segment's first line

	// tags backs the Tags of all segments: each segment's Tags is a capped
	// sub-slice, so segments with unknown tags cost no allocation each.
	tags     []string
	tagStart int // index in tags of cur's first unknown tag
}

// segment returns the segment being collected, taking a new one from the
// slab. Segments are allocated in blocks sized from the average length of
// the segments read so far, so a long playlist needs two or three
// allocations rather than one per segment.
func (p *mediaParser) segment() *Segment {
	if p.cur != nil {
		return p.cur
	}
	n := len(p.m.Segments)
	if n == 0 {
		p.firstStart = p.sc.start
	}
	if len(p.slab) == 0 {
		want := 1
		if n > 0 {
			avg := max((p.sc.start-p.firstStart)/n, 1)
			want = (len(p.sc.s)-p.sc.start)/avg + 1
			want += want/8 + 2
		}
		p.slab = make([]Segment, want)
		if cap(p.m.Segments)-n < want {
			segs := make([]*Segment, n, n+want)
			copy(segs, p.m.Segments)
			p.m.Segments = segs
		}
	}
	p.cur = &p.slab[0]
	p.slab = p.slab[1:]
	p.tagStart = len(p.tags)
	return p.cur
}

func parseMedia(s string) (*Media, error) {
	p := mediaParser{sc: lineScanner{s: s}, m: &Media{}}
	var rawBuf [8]string
	p.raw = rawBuf[:0]
	if err := readHeader(&p.sc); err != nil {
		return nil, err
	}
	m := p.m
	hasTarget := false
	for {
		line, ok := p.sc.next()
		if !ok {
			break
		}
		if line[0] != '#' {
			if !p.hasInf {
				return nil, lineError(p.sc.line, "", fmt.Errorf("%w %q: no EXTINF before it", ErrUnexpectedURI, line))
			}
			p.cur.URI = line
			m.Segments = append(m.Segments, p.cur)
			p.cur, p.hasInf, p.raw = nil, false, p.raw[:0]
			continue
		}
		if !strings.HasPrefix(line, "#EXT") {
			continue // comment
		}
		name, value, hasValue := splitTag(line)
		value = trimSpace(value)
		if !hasValue || value == "" {
			switch name {
			case "#EXT-X-VERSION", "#EXT-X-START", "#EXT-X-TARGETDURATION",
				"#EXT-X-MEDIA-SEQUENCE", "#EXT-X-DISCONTINUITY-SEQUENCE", "#EXT-X-PLAYLIST-TYPE",
				"#EXTINF", "#EXT-X-BYTERANGE", "#EXT-X-KEY", "#EXT-X-MAP",
				"#EXT-X-PROGRAM-DATE-TIME", "#EXT-X-DATERANGE", "#EXT-X-BITRATE":
				return nil, lineError(p.sc.line, name, errNoValue)
			}
		}
		var err error
		switch name {
		case "#EXTM3U":
		case "#EXT-X-VERSION":
			m.Version, err = intValue(value)
		case "#EXT-X-INDEPENDENT-SEGMENTS":
			m.IndependentSegments = true
		case "#EXT-X-START":
			m.Start, err = parseStart(value)
		case "#EXT-X-TARGETDURATION":
			m.TargetDuration, err = targetDuration(value)
			hasTarget = true
		case "#EXT-X-MEDIA-SEQUENCE":
			m.MediaSequence, err = int64Value(value)
		case "#EXT-X-DISCONTINUITY-SEQUENCE":
			m.DiscontinuitySequence, err = int64Value(value)
		case "#EXT-X-PLAYLIST-TYPE":
			switch t := PlaylistType(value); t {
			case PlaylistTypeEvent, PlaylistTypeVOD:
				m.PlaylistType = t
			default:
				err = fmt.Errorf("invalid value %q: want EVENT or VOD", value)
			}
		case "#EXT-X-I-FRAMES-ONLY":
			m.IFramesOnly = true
		case "#EXT-X-ENDLIST":
			m.Endlist = true
		case "#EXT-X-SERVER-CONTROL", "#EXT-X-PART-INF", "#EXT-X-SKIP", "#EXT-X-PRELOAD-HINT", "#EXT-X-RENDITION-REPORT":
			if p.lowLatencyTag(name, value) != nil {
				// Kept verbatim, as a tag without a field: a relay of
				// whole segments has no use for it.
				if len(m.Segments) == 0 && name != "#EXT-X-PRELOAD-HINT" && name != "#EXT-X-RENDITION-REPORT" {
					m.Tags = append(m.Tags, line)
				} else {
					err = p.segmentTag(line, "", value)
				}
			}
		case "#EXT-X-MEDIA", "#EXT-X-STREAM-INF", "#EXT-X-I-FRAME-STREAM-INF",
			"#EXT-X-SESSION-DATA", "#EXT-X-SESSION-KEY":
			err = ErrMultivariantTag
		default:
			if isHeaderTag(name) && len(m.Segments) == 0 {
				m.Tags = append(m.Tags, line)
				break
			}
			if name == "#EXTINF" && p.hasInf {
				return nil, lineError(p.infLine, name, ErrMissingURI)
			}
			err = p.segmentTag(line, name, value)
		}
		if err != nil {
			return nil, lineError(p.sc.line, name, err)
		}
	}
	if p.sc.err != nil {
		return nil, p.sc.err
	}
	if p.hasInf {
		return nil, lineError(p.infLine, "#EXTINF", ErrMissingURI)
	}
	if !hasTarget {
		return nil, &ParseError{Tag: "EXT-X-TARGETDURATION", Err: ErrMissingTag}
	}
	if len(m.Segments) == 0 {
		m.Segments = nil // allocated for tags that no URI followed
	}
	if len(p.raw) > 0 {
		// Tags after the last URI belong to no segment: keep them verbatim,
		// known ones included.
		m.TrailingTags = append([]string(nil), p.raw...)
	}
	if p.cur != nil && len(p.cur.Parts) > 0 {
		// The parts of the segment in progress.
		m.Parts = p.cur.Parts
	}
	return m, nil
}

// lowLatencyTag applies a playlist-wide LL-HLS tag.
func (p *mediaParser) lowLatencyTag(name, value string) error {
	m := p.m
	switch name {
	case "#EXT-X-SERVER-CONTROL":
		c, err := parseServerControl(value)
		if err != nil {
			return err
		}
		m.ServerControl = c
	case "#EXT-X-PART-INF":
		pi, err := parsePartInf(value)
		if err != nil {
			return err
		}
		m.PartInf = pi
	case "#EXT-X-SKIP":
		sk, err := parseSkip(value)
		if err != nil {
			return err
		}
		m.Skip = sk
	case "#EXT-X-PRELOAD-HINT":
		h, err := parsePreloadHint(value)
		if err != nil {
			return err
		}
		m.PreloadHints = append(m.PreloadHints, h)
	case "#EXT-X-RENDITION-REPORT":
		r, err := parseRenditionReport(value)
		if err != nil {
			return err
		}
		m.RenditionReports = append(m.RenditionReports, r)
	}
	return nil
}

// segmentTag applies a tag that belongs to the next segment. An empty
// name keeps the line verbatim in the segment's Tags.
func (p *mediaParser) segmentTag(line, name, value string) error {
	seg := p.segment()
	if name == "#EXT-X-PART" {
		if pt, err := parsePart(value); err == nil {
			seg.Parts = append(seg.Parts, pt)
			return nil
		}
		name = "" // kept verbatim, like an unknown tag
	}
	if name != "#EXTINF" {
		p.raw = append(p.raw, line)
	}
	var ok bool
	switch name {
	case "#EXTINF":
		dur, title, _ := strings.Cut(value, ",")
		dur = trimSpace(dur)
		if seg.Duration, ok = parseFixed(dur, 6); !ok {
			return fmt.Errorf("invalid duration %q", dur)
		}
		seg.Title = title
		p.hasInf, p.infLine = true, p.sc.line
	case "#EXT-X-BYTERANGE":
		if seg.ByteRange, ok = parseByteRange(value); !ok {
			return fmt.Errorf("invalid byte range %q", value)
		}
	case "#EXT-X-DISCONTINUITY":
		seg.Discontinuity = true
	case "#EXT-X-KEY":
		k, err := parseKey(value)
		if err != nil {
			return err
		}
		seg.Keys = append(seg.Keys, k)
	case "#EXT-X-MAP":
		mp, err := parseMap(value)
		if err != nil {
			return err
		}
		seg.Map = mp
	case "#EXT-X-PROGRAM-DATE-TIME":
		if seg.ProgramDateTime, ok = parseTime(value); !ok {
			return fmt.Errorf("invalid date-time %q", value)
		}
	case "#EXT-X-DATERANGE":
		d, err := parseDateRange(value)
		if err != nil {
			return err
		}
		seg.DateRanges = append(seg.DateRanges, d)
	case "#EXT-X-GAP":
		seg.Gap = true
	case "#EXT-X-BITRATE":
		n, err := intValue(value)
		if err != nil {
			return err
		}
		seg.Bitrate = n
	default:
		if p.tags == nil {
			p.tags = make([]string, 0, 32)
		}
		p.tags = append(p.tags, line)
		seg.Tags = p.tags[p.tagStart:len(p.tags):len(p.tags)]
	}
	return nil
}

func intValue(s string) (int, error) {
	n, ok := parseInt(s)
	if !ok {
		return 0, fmt.Errorf("invalid value %q", s)
	}
	return n, nil
}

func int64Value(s string) (int64, error) {
	n, ok := parseUint(s)
	if !ok {
		return 0, fmt.Errorf("invalid value %q", s)
	}
	return n, nil
}

// targetDuration reads a decimal-integer; a decimal such as "6.006", which
// some packagers write, is rounded up.
func targetDuration(s string) (int, error) {
	if n, ok := parseInt(s); ok {
		return n, nil
	}
	if f, ok := parseFixed(s, 6); ok {
		return int(math.Ceil(f)), nil
	}
	return 0, fmt.Errorf("invalid value %q", s)
}

// Encode writes the playlist in canonical form: header tags in a fixed
// order, then each segment's tags in a fixed order, then TrailingTags and
// EXT-X-ENDLIST. It implements Playlist.
func (m *Media) Encode() []byte {
	return m.Append(make([]byte, 0, m.sizeHint()))
}

// WriteTo writes m.Encode() to w. It implements io.WriterTo.
func (m *Media) WriteTo(w io.Writer) (int64, error) {
	return writeTo(w, m.Encode())
}

// Append appends the encoded playlist to b and returns the extended buffer.
func (m *Media) Append(b []byte) []byte {
	b = append(b, "#EXTM3U\n"...)
	if m.Version != 0 {
		b = append(b, "#EXT-X-VERSION:"...)
		b = strconv.AppendInt(b, int64(m.Version), 10)
		b = append(b, '\n')
	}
	if m.IndependentSegments {
		b = append(b, "#EXT-X-INDEPENDENT-SEGMENTS\n"...)
	}
	if m.Start != nil {
		b = m.Start.AppendAttrs(append(b, "#EXT-X-START:"...))
		b = append(b, '\n')
	}
	b = append(b, "#EXT-X-TARGETDURATION:"...)
	b = strconv.AppendInt(b, int64(m.TargetDuration), 10)
	b = append(b, "\n#EXT-X-MEDIA-SEQUENCE:"...)
	b = strconv.AppendInt(b, m.MediaSequence, 10)
	b = append(b, '\n')
	if m.DiscontinuitySequence != 0 {
		b = append(b, "#EXT-X-DISCONTINUITY-SEQUENCE:"...)
		b = strconv.AppendInt(b, m.DiscontinuitySequence, 10)
		b = append(b, '\n')
	}
	if m.PlaylistType != PlaylistTypeNone {
		b = append(b, "#EXT-X-PLAYLIST-TYPE:"...)
		b = append(b, m.PlaylistType...)
		b = append(b, '\n')
	}
	if m.IFramesOnly {
		b = append(b, "#EXT-X-I-FRAMES-ONLY\n"...)
	}
	if m.ServerControl != nil {
		b = m.ServerControl.AppendAttrs(append(b, "#EXT-X-SERVER-CONTROL:"...))
		b = append(b, '\n')
	}
	if m.PartInf != nil {
		b = m.PartInf.AppendAttrs(append(b, "#EXT-X-PART-INF:"...))
		b = append(b, '\n')
	}
	b = appendLines(b, m.Tags)
	if m.Skip != nil {
		b = m.Skip.AppendAttrs(append(b, "#EXT-X-SKIP:"...))
		b = append(b, '\n')
	}
	for _, s := range m.Segments {
		if s != nil {
			b = s.Append(b)
		}
	}
	b = appendLines(b, m.TrailingTags)
	b = appendParts(b, m.Parts)
	for _, h := range m.PreloadHints {
		if h != nil {
			b = h.AppendAttrs(append(b, "#EXT-X-PRELOAD-HINT:"...))
			b = append(b, '\n')
		}
	}
	for _, r := range m.RenditionReports {
		if r != nil {
			b = r.AppendAttrs(append(b, "#EXT-X-RENDITION-REPORT:"...))
			b = append(b, '\n')
		}
	}
	if m.Endlist {
		b = append(b, "#EXT-X-ENDLIST\n"...)
	}
	return b
}

func (m *Media) sizeHint() int {
	n := 256
	for _, l := range m.Tags {
		n += len(l) + 1
	}
	for _, l := range m.TrailingTags {
		n += len(l) + 1
	}
	n += 96 * (len(m.Parts) + len(m.PreloadHints) + len(m.RenditionReports))
	for _, s := range m.Segments {
		if s == nil {
			continue
		}
		n += len(s.URI) + len(s.Title) + 24
		if s.ByteRange != nil {
			n += 48
		}
		if !s.ProgramDateTime.IsZero() {
			n += 51
		}
		for _, l := range s.Tags {
			n += len(l) + 1
		}
		n += 160 * (len(s.Keys) + len(s.DateRanges))
		n += 96 * len(s.Parts)
		if s.Map != nil {
			n += 32 + len(s.Map.URI)
		}
	}
	return n
}

// Append appends the segment's tags and URI line to b in canonical order:
// EXT-X-DISCONTINUITY, EXT-X-KEY, EXT-X-MAP, EXT-X-PROGRAM-DATE-TIME,
// EXT-X-DATERANGE, unknown tags, EXT-X-GAP, EXT-X-BITRATE, EXT-X-PART,
// EXTINF, EXT-X-BYTERANGE, URI.
func (s *Segment) Append(b []byte) []byte {
	if s.Discontinuity {
		b = append(b, "#EXT-X-DISCONTINUITY\n"...)
	}
	for _, k := range s.Keys {
		if k != nil {
			b = k.AppendAttrs(append(b, "#EXT-X-KEY:"...))
			b = append(b, '\n')
		}
	}
	if s.Map != nil {
		b = s.Map.AppendAttrs(append(b, "#EXT-X-MAP:"...))
		b = append(b, '\n')
	}
	if !s.ProgramDateTime.IsZero() {
		b = appendTime(append(b, "#EXT-X-PROGRAM-DATE-TIME:"...), s.ProgramDateTime)
		b = append(b, '\n')
	}
	for _, d := range s.DateRanges {
		if d != nil {
			b = d.AppendAttrs(append(b, "#EXT-X-DATERANGE:"...))
			b = append(b, '\n')
		}
	}
	b = appendLines(b, s.Tags)
	if s.Gap {
		b = append(b, "#EXT-X-GAP\n"...)
	}
	if s.Bitrate != 0 {
		b = append(b, "#EXT-X-BITRATE:"...)
		b = strconv.AppendInt(b, int64(s.Bitrate), 10)
		b = append(b, '\n')
	}
	b = appendParts(b, s.Parts)
	b = appendFixed(append(b, "#EXTINF:"...), s.Duration, 6, 3)
	b = append(b, ',')
	b = append(b, s.Title...)
	b = append(b, '\n')
	if s.ByteRange != nil {
		b = s.ByteRange.append(append(b, "#EXT-X-BYTERANGE:"...))
		b = append(b, '\n')
	}
	b = append(b, s.URI...)
	return append(b, '\n')
}

// Duration returns the sum of the segments' EXTINF durations in seconds. The
// sum is taken in microseconds, so it has no accumulated rounding error for
// durations read from a playlist.
func (m *Media) Duration() float64 {
	var us int64
	for _, s := range m.Segments {
		if s != nil {
			us += int64(math.Round(s.Duration * 1e6))
		}
	}
	return float64(us) / 1e6
}
