package hls

// parsePart parses the attribute list of EXT-X-PART.
func parsePart(list string) (*Part, error) {
	p := &Part{}
	hasDuration := false
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
		case "DURATION":
			p.Duration, err = fixedAttr(name, v)
			hasDuration = true
		case "URI":
			p.URI = v
		case "INDEPENDENT":
			p.Independent, err = boolAttr(name, v)
		case "BYTERANGE":
			br, ok := parseByteRange(v)
			if !ok {
				return nil, attrError(name, v)
			}
			p.ByteRange = br
		case "GAP":
			p.Gap, err = boolAttr(name, v)
		default:
			p.Extra = append(p.Extra, Attr{Key: name, Value: v, Quoted: q})
		}
		if err != nil {
			return nil, err
		}
	}
	if !hasDuration {
		return nil, missingAttr("DURATION")
	}
	if p.URI == "" {
		return nil, missingAttr("URI")
	}
	return p, nil
}

// AppendAttrs appends the attribute list of p (without the tag name).
func (p *Part) AppendAttrs(b []byte) []byte {
	w := attrWriter{b: b}
	w.fixed("DURATION", p.Duration)
	w.quoted("URI", p.URI)
	w.yes("INDEPENDENT", p.Independent)
	if p.ByteRange != nil {
		w.key("BYTERANGE")
		w.b = append(w.b, '"')
		w.b = p.ByteRange.append(w.b)
		w.b = append(w.b, '"')
	}
	w.yes("GAP", p.Gap)
	w.extra(p.Extra)
	return w.b
}

// Encode returns p as an EXT-X-PART tag line (without newline).
func (p *Part) Encode() string {
	return string(p.AppendAttrs([]byte("#EXT-X-PART:")))
}

func appendParts(b []byte, parts []*Part) []byte {
	for _, p := range parts {
		if p != nil {
			b = p.AppendAttrs(append(b, "#EXT-X-PART:"...))
			b = append(b, '\n')
		}
	}
	return b
}
