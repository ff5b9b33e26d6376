package hls

// parseSkip parses the attribute list of EXT-X-SKIP.
func parseSkip(list string) (*Skip, error) {
	s := &Skip{}
	seen := false
	sc := attrScanner{s: list}
	for {
		name, v, q, ok, err := sc.next()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		switch name {
		case "SKIPPED-SEGMENTS":
			if s.SkippedSegments, err = int64Attr(name, v); err != nil {
				return nil, err
			}
			seen = true
		case "RECENTLY-REMOVED-DATERANGES":
			s.RecentlyRemovedDateRanges = v
		default:
			s.Extra = append(s.Extra, Attr{Key: name, Value: v, Quoted: q})
		}
	}
	if !seen {
		return nil, missingAttr("SKIPPED-SEGMENTS")
	}
	return s, nil
}

// AppendAttrs appends the attribute list of s (without the tag name).
func (s *Skip) AppendAttrs(b []byte) []byte {
	w := attrWriter{b: b}
	w.int("SKIPPED-SEGMENTS", s.SkippedSegments)
	w.quoted("RECENTLY-REMOVED-DATERANGES", s.RecentlyRemovedDateRanges)
	w.extra(s.Extra)
	return w.b
}

// Encode returns s as an EXT-X-SKIP tag line (without newline).
func (s *Skip) Encode() string {
	return string(s.AppendAttrs([]byte("#EXT-X-SKIP:")))
}
