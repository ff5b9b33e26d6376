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

var (
	errNoValue = errors.New("missing value")
)

func parseMedia(s string) (*Media, error) {
	sc := lineScanner{s: s}
	if err := readHeader(&sc); err != nil {
		return nil, err
	}
	m := &Media{}
	// One allocation for all segments; the count is exact for valid input.
	var slab []Segment
	if n := strings.Count(s, "#EXTINF"); n > 0 {
		slab = make([]Segment, n)
		m.Segments = make([]*Segment, 0, n)
	}
	var (
		seg       Segment // the segment being collected
		hasInf    bool    // seg has its EXTINF
		infLine   int     // line of that EXTINF
		hasTarget bool
		rawBuf    [8]string
		raw       = rawBuf[:0] // verbatim tag lines of seg, for TrailingTags
	)
	for {
		line, ok := sc.next()
		if !ok {
			break
		}
		if line[0] != '#' {
			if !hasInf {
				return nil, lineError(sc.line, "", fmt.Errorf("%w %q: no EXTINF before it", ErrUnexpectedURI, line))
			}
			if len(slab) == 0 {
				slab = make([]Segment, 16)
			}
			p := &slab[0]
			slab = slab[1:]
			seg.URI = line
			*p = seg
			m.Segments = append(m.Segments, p)
			seg, hasInf, raw = Segment{}, false, raw[:0]
			continue
		}
		if !strings.HasPrefix(line, "#EXT") {
			continue // comment
		}
		name, value, hasValue := splitTag(line)
		value = trimSpace(value)
		var err error
		if !hasValue || value == "" {
			switch name {
			case "#EXT-X-VERSION", "#EXT-X-START", "#EXT-X-TARGETDURATION",
				"#EXT-X-MEDIA-SEQUENCE", "#EXT-X-DISCONTINUITY-SEQUENCE", "#EXT-X-PLAYLIST-TYPE",
				"#EXTINF", "#EXT-X-BYTERANGE", "#EXT-X-KEY", "#EXT-X-MAP",
				"#EXT-X-PROGRAM-DATE-TIME", "#EXT-X-DATERANGE", "#EXT-X-BITRATE":
				return nil, lineError(sc.line, name, errNoValue)
			}
		}
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

		case "#EXTINF":
			if hasInf {
				return nil, lineError(infLine, name, ErrMissingURI)
			}
			dur, title, _ := strings.Cut(value, ",")
			dur = trimSpace(dur)
			var ok bool
			if seg.Duration, ok = parseFixed(dur, 6); !ok {
				err = fmt.Errorf("invalid duration %q", dur)
			}
			seg.Title = title
			hasInf, infLine = true, sc.line
		case "#EXT-X-BYTERANGE":
			var ok bool
			if seg.ByteRange, ok = parseByteRange(value); !ok {
				err = fmt.Errorf("invalid byte range %q", value)
			}
			raw = append(raw, line)
		case "#EXT-X-DISCONTINUITY":
			seg.Discontinuity = true
			raw = append(raw, line)
		case "#EXT-X-KEY":
			var k *Key
			if k, err = parseKey(value); err == nil {
				seg.Keys = append(seg.Keys, k)
			}
			raw = append(raw, line)
		case "#EXT-X-MAP":
			seg.Map, err = parseMap(value)
			raw = append(raw, line)
		case "#EXT-X-PROGRAM-DATE-TIME":
			var ok bool
			if seg.ProgramDateTime, ok = parseTime(value); !ok {
				err = fmt.Errorf("invalid date-time %q", value)
			}
			raw = append(raw, line)
		case "#EXT-X-DATERANGE":
			var d *DateRange
			if d, err = parseDateRange(value); err == nil {
				seg.DateRanges = append(seg.DateRanges, d)
			}
			raw = append(raw, line)
		case "#EXT-X-GAP":
			seg.Gap = true
			raw = append(raw, line)
		case "#EXT-X-BITRATE":
			seg.Bitrate, err = intValue(value)
			raw = append(raw, line)

		case "#EXT-X-MEDIA", "#EXT-X-STREAM-INF", "#EXT-X-I-FRAME-STREAM-INF",
			"#EXT-X-SESSION-DATA", "#EXT-X-SESSION-KEY":
			err = ErrMultivariantTag
		default:
			if len(m.Segments) == 0 && isHeaderTag(name) {
				m.Tags = append(m.Tags, line)
				break
			}
			seg.Tags = append(seg.Tags, line)
			raw = append(raw, line)
		}
		if err != nil {
			return nil, lineError(sc.line, name, err)
		}
	}
	if sc.err != nil {
		return nil, sc.err
	}
	if hasInf {
		return nil, lineError(infLine, "#EXTINF", ErrMissingURI)
	}
	if !hasTarget {
		return nil, &ParseError{Tag: "EXT-X-TARGETDURATION", Err: ErrMissingTag}
	}
	if len(raw) > 0 {
		// Tags after the last URI belong to no segment: keep them verbatim,
		// known ones included.
		m.TrailingTags = append([]string(nil), raw...)
	}
	return m, nil
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
	b = appendLines(b, m.Tags)
	for _, s := range m.Segments {
		if s != nil {
			b = s.Append(b)
		}
	}
	b = appendLines(b, m.TrailingTags)
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
		if s.Map != nil {
			n += 32 + len(s.Map.URI)
		}
	}
	return n
}

// Append appends the segment's tags and URI line to b in canonical order:
// EXT-X-DISCONTINUITY, EXT-X-KEY, EXT-X-MAP, EXT-X-PROGRAM-DATE-TIME,
// EXT-X-DATERANGE, unknown tags, EXT-X-GAP, EXT-X-BITRATE, EXTINF,
// EXT-X-BYTERANGE, URI.
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
