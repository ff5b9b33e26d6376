package hls

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ParseMultivariant parses a multivariant (master) playlist. See Parse for
// how the result shares memory with the input.
func ParseMultivariant(data []byte) (*Multivariant, error) {
	s, err := prepare(data)
	if err != nil {
		return nil, err
	}
	return parseMultivariant(s)
}

func parseMultivariant(s string) (*Multivariant, error) {
	sc := lineScanner{s: s}
	if err := readHeader(&sc); err != nil {
		return nil, err
	}
	m := &Multivariant{}
	var (
		pending   []string // unknown tags waiting for the rendition or variant they precede
		awaiting  *Variant // variant whose URI line comes next
		awaitLine int
	)
	take := func() []string {
		t := pending
		pending = nil
		return t
	}
	for {
		line, ok := sc.next()
		if !ok {
			break
		}
		if line[0] != '#' {
			if awaiting == nil {
				return nil, lineError(sc.line, "", fmt.Errorf("%w %q: no EXT-X-STREAM-INF before it", ErrUnexpectedURI, line))
			}
			awaiting.URI, awaiting = line, nil
			continue
		}
		if !strings.HasPrefix(line, "#EXT") {
			continue // comment
		}
		name, value, _ := splitTag(line)
		value = trimSpace(value)
		k := tagKind(name)
		if awaiting != nil && k != kindUnknown {
			return nil, lineError(awaitLine, "#EXT-X-STREAM-INF", ErrMissingURI)
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
		case "#EXT-X-MEDIA":
			var r *Rendition
			if r, err = parseRendition(value); err == nil {
				r.Tags = take()
				m.Renditions = append(m.Renditions, r)
			}
		case "#EXT-X-STREAM-INF":
			var v *Variant
			if v, err = parseVariant(value); err == nil {
				v.Tags = take()
				m.Variants = append(m.Variants, v)
				awaiting, awaitLine = v, sc.line
			}
		case "#EXT-X-I-FRAME-STREAM-INF":
			var v *IFrameVariant
			if v, err = parseIFrameVariant(value); err == nil {
				v.Tags = take()
				m.IFrameVariants = append(m.IFrameVariants, v)
			}
		case "#EXT-X-SESSION-DATA":
			var d *SessionData
			if d, err = parseSessionData(value); err == nil {
				m.SessionData = append(m.SessionData, d)
			}
		case "#EXT-X-SESSION-KEY":
			var key *Key
			if key, err = parseKey(value); err == nil {
				m.SessionKeys = append(m.SessionKeys, key)
			}
		default:
			switch {
			case k == kindMedia:
				err = ErrMediaTag
			case isHeaderTag(name):
				// Playlist-wide tags belong to the header wherever they
				// appear: Encode writes entries grouped by kind, so a
				// position between entries would not survive it.
				m.Tags = append(m.Tags, line)
			case awaiting != nil:
				awaiting.Tags = append(awaiting.Tags, line)
			default:
				pending = append(pending, line)
			}
		}
		if err != nil {
			return nil, lineError(sc.line, name, err)
		}
	}
	if sc.err != nil {
		return nil, sc.err
	}
	if awaiting != nil {
		return nil, lineError(awaitLine, "#EXT-X-STREAM-INF", ErrMissingURI)
	}
	m.TrailingTags = pending
	return m, nil
}

// Encode writes the playlist in canonical form: EXTM3U, EXT-X-VERSION,
// EXT-X-INDEPENDENT-SEGMENTS, EXT-X-START, EXT-X-SESSION-DATA,
// EXT-X-SESSION-KEY, Tags, then each rendition, variant (with its URI line)
// and I-frame variant preceded by its own Tags, then TrailingTags. It
// implements Playlist.
func (m *Multivariant) Encode() []byte {
	return m.Append(make([]byte, 0, m.sizeHint()))
}

// WriteTo writes m.Encode() to w. It implements io.WriterTo.
func (m *Multivariant) WriteTo(w io.Writer) (int64, error) {
	return writeTo(w, m.Encode())
}

// Append appends the encoded playlist to b and returns the extended buffer.
func (m *Multivariant) Append(b []byte) []byte {
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
	for _, d := range m.SessionData {
		if d != nil {
			b = d.AppendAttrs(append(b, "#EXT-X-SESSION-DATA:"...))
			b = append(b, '\n')
		}
	}
	for _, k := range m.SessionKeys {
		if k != nil {
			b = k.AppendAttrs(append(b, "#EXT-X-SESSION-KEY:"...))
			b = append(b, '\n')
		}
	}
	b = appendLines(b, m.Tags)
	for _, r := range m.Renditions {
		if r != nil {
			b = appendLines(b, r.Tags)
			b = r.AppendAttrs(append(b, "#EXT-X-MEDIA:"...))
			b = append(b, '\n')
		}
	}
	for _, v := range m.Variants {
		if v != nil {
			b = appendLines(b, v.Tags)
			b = v.AppendAttrs(append(b, "#EXT-X-STREAM-INF:"...))
			b = append(b, '\n')
			b = append(b, v.URI...)
			b = append(b, '\n')
		}
	}
	for _, v := range m.IFrameVariants {
		if v != nil {
			b = appendLines(b, v.Tags)
			b = v.AppendAttrs(append(b, "#EXT-X-I-FRAME-STREAM-INF:"...))
			b = append(b, '\n')
		}
	}
	return appendLines(b, m.TrailingTags)
}

func (m *Multivariant) sizeHint() int {
	return 256 + 160*(len(m.SessionData)+len(m.SessionKeys)+len(m.Tags)+len(m.TrailingTags)) +
		256*(len(m.Renditions)+len(m.Variants)+len(m.IFrameVariants))
}
