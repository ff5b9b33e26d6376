package hls

// parseMap parses the attribute list of EXT-X-MAP.
func parseMap(list string) (*Map, error) {
	m := &Map{}
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
		case "URI":
			m.URI = v
		case "BYTERANGE":
			br, ok := parseByteRange(v)
			if !ok {
				return nil, attrError(name, v)
			}
			m.ByteRange = br
		default:
			m.Extra = append(m.Extra, Attr{Key: name, Value: v, Quoted: q})
		}
	}
	if m.URI == "" {
		return nil, missingAttr("URI")
	}
	return m, nil
}

// AppendAttrs appends the attribute list of m (without the tag name).
func (m *Map) AppendAttrs(b []byte) []byte {
	w := attrWriter{b: b}
	w.quoted("URI", m.URI)
	if m.ByteRange != nil {
		w.key("BYTERANGE")
		w.b = append(w.b, '"')
		w.b = m.ByteRange.append(w.b)
		w.b = append(w.b, '"')
	}
	w.extra(m.Extra)
	return w.b
}

// Encode returns m as an EXT-X-MAP tag line (without newline).
func (m *Map) Encode() string {
	return string(m.AppendAttrs([]byte("#EXT-X-MAP:")))
}
