package hls

// parseRendition parses the attribute list of EXT-X-MEDIA.
func parseRendition(list string) (*Rendition, error) {
	r := &Rendition{}
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
			switch t := MediaType(v); t {
			case MediaTypeAudio, MediaTypeVideo, MediaTypeSubtitles, MediaTypeClosedCaptions:
				r.Type = t
			default:
				return nil, attrError(name, v)
			}
		case "GROUP-ID":
			r.GroupID = v
		case "NAME":
			r.Name = v
		case "LANGUAGE":
			r.Language = v
		case "ASSOC-LANGUAGE":
			r.AssocLanguage = v
		case "DEFAULT", "AUTOSELECT", "FORCED":
			b, ok := parseBool(v)
			if !ok {
				return nil, attrError(name, v)
			}
			switch name {
			case "DEFAULT":
				r.Default = b
			case "AUTOSELECT":
				r.Autoselect = b
			default:
				r.Forced = b
			}
		case "INSTREAM-ID":
			r.InstreamID = v
		case "CHARACTERISTICS":
			r.Characteristics = v
		case "CHANNELS":
			r.Channels = v
		case "URI":
			r.URI = v
		default:
			r.Extra = append(r.Extra, Attr{Key: name, Value: v, Quoted: q})
		}
	}
	switch {
	case r.Type == "":
		return nil, missingAttr("TYPE")
	case r.GroupID == "":
		return nil, missingAttr("GROUP-ID")
	case r.Name == "":
		return nil, missingAttr("NAME")
	}
	return r, nil
}

// AppendAttrs appends the attribute list of r (without the tag name).
func (r *Rendition) AppendAttrs(b []byte) []byte {
	w := attrWriter{b: b}
	w.enum("TYPE", string(r.Type))
	w.quoted("GROUP-ID", r.GroupID)
	w.quoted("NAME", r.Name)
	w.quoted("LANGUAGE", r.Language)
	w.quoted("ASSOC-LANGUAGE", r.AssocLanguage)
	w.yes("DEFAULT", r.Default)
	w.yes("AUTOSELECT", r.Autoselect)
	w.yes("FORCED", r.Forced)
	w.quoted("INSTREAM-ID", r.InstreamID)
	w.quoted("CHARACTERISTICS", r.Characteristics)
	w.quoted("CHANNELS", r.Channels)
	w.extra(r.Extra)
	w.quoted("URI", r.URI)
	return w.b
}

// Encode returns r as an EXT-X-MEDIA tag line (without newline).
func (r *Rendition) Encode() string {
	return string(r.AppendAttrs([]byte("#EXT-X-MEDIA:")))
}
