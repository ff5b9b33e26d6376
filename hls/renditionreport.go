package hls

// parseRenditionReport parses the attribute list of EXT-X-RENDITION-REPORT.
func parseRenditionReport(list string) (*RenditionReport, error) {
	r := &RenditionReport{}
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
			r.URI = v
		case "LAST-MSN", "LAST-PART":
			n, err := int64Attr(name, v)
			if err != nil {
				return nil, err
			}
			if name == "LAST-MSN" {
				r.LastMSN = &n
			} else {
				r.LastPart = &n
			}
		default:
			r.Extra = append(r.Extra, Attr{Key: name, Value: v, Quoted: q})
		}
	}
	if r.URI == "" {
		return nil, missingAttr("URI")
	}
	return r, nil
}

// AppendAttrs appends the attribute list of r (without the tag name).
func (r *RenditionReport) AppendAttrs(b []byte) []byte {
	w := attrWriter{b: b}
	w.quoted("URI", r.URI)
	if r.LastMSN != nil {
		w.int("LAST-MSN", *r.LastMSN)
	}
	if r.LastPart != nil {
		w.int("LAST-PART", *r.LastPart)
	}
	w.extra(r.Extra)
	return w.b
}

// Encode returns r as an EXT-X-RENDITION-REPORT tag line (without newline).
func (r *RenditionReport) Encode() string {
	return string(r.AppendAttrs([]byte("#EXT-X-RENDITION-REPORT:")))
}
