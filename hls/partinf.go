package hls

// parsePartInf parses the attribute list of EXT-X-PART-INF.
func parsePartInf(list string) (*PartInf, error) {
	p := &PartInf{}
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
		case "PART-TARGET":
			if p.PartTarget, err = fixedAttr(name, v); err != nil {
				return nil, err
			}
			seen = true
		default:
			p.Extra = append(p.Extra, Attr{Key: name, Value: v, Quoted: q})
		}
	}
	if !seen {
		return nil, missingAttr("PART-TARGET")
	}
	return p, nil
}

// AppendAttrs appends the attribute list of p (without the tag name).
func (p *PartInf) AppendAttrs(b []byte) []byte {
	w := attrWriter{b: b}
	w.fixed("PART-TARGET", p.PartTarget)
	w.extra(p.Extra)
	return w.b
}

// Encode returns p as an EXT-X-PART-INF tag line (without newline).
func (p *PartInf) Encode() string {
	return string(p.AppendAttrs([]byte("#EXT-X-PART-INF:")))
}
