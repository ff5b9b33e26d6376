package hls

// parseStart parses the attribute list of EXT-X-START. Attributes other than
// TIME-OFFSET and PRECISE are ignored.
func parseStart(list string) (*Start, error) {
	st := &Start{}
	seen := false
	sc := attrScanner{s: list}
	for {
		name, v, _, ok, err := sc.next()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		switch name {
		case "TIME-OFFSET":
			f, ok := parseFloat(v, true)
			if !ok {
				return nil, attrError(name, v)
			}
			st.TimeOffset, seen = f, true
		case "PRECISE":
			b, ok := parseBool(v)
			if !ok {
				return nil, attrError(name, v)
			}
			st.Precise = b
		}
	}
	if !seen {
		return nil, missingAttr("TIME-OFFSET")
	}
	return st, nil
}

// AppendAttrs appends the attribute list of s (without the tag name).
func (s *Start) AppendAttrs(b []byte) []byte {
	w := attrWriter{b: b}
	w.key("TIME-OFFSET")
	w.b = appendFloat(w.b, s.TimeOffset)
	w.yes("PRECISE", s.Precise)
	return w.b
}

// Encode returns s as an EXT-X-START tag line (without newline).
func (s *Start) Encode() string {
	return string(s.AppendAttrs([]byte("#EXT-X-START:")))
}
