package hls

// parsePreloadHint parses the attribute list of EXT-X-PRELOAD-HINT.
func parsePreloadHint(list string) (*PreloadHint, error) {
	h := &PreloadHint{}
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
		case "TYPE":
			h.Type = v
		case "URI":
			h.URI = v
		case "BYTERANGE-START":
			h.ByteRangeStart, err = int64Attr(name, v)
		case "BYTERANGE-LENGTH":
			var n int64
			n, err = int64Attr(name, v)
			h.ByteRangeLength = &n
		default:
			h.Extra = append(h.Extra, Attr{Key: name, Value: v, Quoted: q})
		}
		if err != nil {
			return nil, err
		}
	}
	if h.Type == "" {
		return nil, missingAttr("TYPE")
	}
	if h.URI == "" {
		return nil, missingAttr("URI")
	}
	return h, nil
}

// AppendAttrs appends the attribute list of h (without the tag name).
func (h *PreloadHint) AppendAttrs(b []byte) []byte {
	w := attrWriter{b: b}
	w.enum("TYPE", h.Type)
	w.quoted("URI", h.URI)
	if h.ByteRangeStart != 0 {
		w.int("BYTERANGE-START", h.ByteRangeStart)
	}
	if h.ByteRangeLength != nil {
		w.int("BYTERANGE-LENGTH", *h.ByteRangeLength)
	}
	w.extra(h.Extra)
	return w.b
}

// Encode returns h as an EXT-X-PRELOAD-HINT tag line (without newline).
func (h *PreloadHint) Encode() string {
	return string(h.AppendAttrs([]byte("#EXT-X-PRELOAD-HINT:")))
}
