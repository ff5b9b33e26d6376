package hls

// parseVariant parses the attribute list of EXT-X-STREAM-INF. The URI is
// set by the caller from the following line.
func parseVariant(list string) (*Variant, error) {
	v := &Variant{}
	seen := false
	sc := attrScanner{s: list}
	for {
		name, val, q, ok, err := sc.next()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		switch name {
		case "BANDWIDTH":
			if v.Bandwidth, ok = parseInt(val); !ok {
				return nil, attrError(name, val)
			}
			seen = true
		case "AVERAGE-BANDWIDTH":
			if v.AverageBandwidth, ok = parseInt(val); !ok {
				return nil, attrError(name, val)
			}
		case "CODECS":
			v.Codecs = val
		case "RESOLUTION":
			if v.Resolution, ok = parseResolution(val); !ok {
				return nil, attrError(name, val)
			}
		case "FRAME-RATE":
			if v.FrameRate, ok = parseFixed(val, 3); !ok {
				return nil, attrError(name, val)
			}
		case "HDCP-LEVEL":
			v.HDCPLevel = val
		case "VIDEO-RANGE":
			v.VideoRange = val
		case "AUDIO":
			v.Audio = val
		case "VIDEO":
			v.Video = val
		case "SUBTITLES":
			v.Subtitles = val
		case "CLOSED-CAPTIONS":
			v.ClosedCaptions = val
		case "PROGRAM-ID":
			if v.ProgramID, ok = parseInt(val); !ok {
				return nil, attrError(name, val)
			}
		default:
			v.Extra = append(v.Extra, Attr{Key: name, Value: val, Quoted: q})
		}
	}
	if !seen {
		return nil, missingAttr("BANDWIDTH")
	}
	return v, nil
}

// AppendAttrs appends the attribute list of v (without the tag name).
func (v *Variant) AppendAttrs(b []byte) []byte {
	w := attrWriter{b: b}
	w.int("BANDWIDTH", int64(v.Bandwidth))
	if v.AverageBandwidth != 0 {
		w.int("AVERAGE-BANDWIDTH", int64(v.AverageBandwidth))
	}
	w.quoted("CODECS", v.Codecs)
	if v.Resolution != nil {
		w.key("RESOLUTION")
		w.b = v.Resolution.append(w.b)
	}
	if v.FrameRate != 0 {
		w.key("FRAME-RATE")
		w.b = appendFixed(w.b, v.FrameRate, 3, 3)
	}
	w.enum("HDCP-LEVEL", v.HDCPLevel)
	w.enum("VIDEO-RANGE", v.VideoRange)
	w.quoted("AUDIO", v.Audio)
	w.quoted("VIDEO", v.Video)
	w.quoted("SUBTITLES", v.Subtitles)
	if v.ClosedCaptions == "NONE" {
		w.enum("CLOSED-CAPTIONS", v.ClosedCaptions)
	} else {
		w.quoted("CLOSED-CAPTIONS", v.ClosedCaptions)
	}
	if v.ProgramID != 0 {
		w.int("PROGRAM-ID", int64(v.ProgramID))
	}
	w.extra(v.Extra)
	return w.b
}

// Encode returns v as an EXT-X-STREAM-INF tag line followed by a newline and
// the URI line (without a final newline).
func (v *Variant) Encode() string {
	b := v.AppendAttrs([]byte("#EXT-X-STREAM-INF:"))
	b = append(b, '\n')
	b = append(b, v.URI...)
	return string(b)
}

// parseIFrameVariant parses the attribute list of EXT-X-I-FRAME-STREAM-INF.
func parseIFrameVariant(list string) (*IFrameVariant, error) {
	v := &IFrameVariant{}
	seen := false
	sc := attrScanner{s: list}
	for {
		name, val, q, ok, err := sc.next()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		switch name {
		case "BANDWIDTH":
			if v.Bandwidth, ok = parseInt(val); !ok {
				return nil, attrError(name, val)
			}
			seen = true
		case "AVERAGE-BANDWIDTH":
			if v.AverageBandwidth, ok = parseInt(val); !ok {
				return nil, attrError(name, val)
			}
		case "CODECS":
			v.Codecs = val
		case "RESOLUTION":
			if v.Resolution, ok = parseResolution(val); !ok {
				return nil, attrError(name, val)
			}
		case "HDCP-LEVEL":
			v.HDCPLevel = val
		case "VIDEO-RANGE":
			v.VideoRange = val
		case "VIDEO":
			v.Video = val
		case "URI":
			v.URI = val
		default:
			v.Extra = append(v.Extra, Attr{Key: name, Value: val, Quoted: q})
		}
	}
	switch {
	case !seen:
		return nil, missingAttr("BANDWIDTH")
	case v.URI == "":
		return nil, missingAttr("URI")
	}
	return v, nil
}

// AppendAttrs appends the attribute list of v (without the tag name).
func (v *IFrameVariant) AppendAttrs(b []byte) []byte {
	w := attrWriter{b: b}
	w.int("BANDWIDTH", int64(v.Bandwidth))
	if v.AverageBandwidth != 0 {
		w.int("AVERAGE-BANDWIDTH", int64(v.AverageBandwidth))
	}
	w.quoted("CODECS", v.Codecs)
	if v.Resolution != nil {
		w.key("RESOLUTION")
		w.b = v.Resolution.append(w.b)
	}
	w.enum("HDCP-LEVEL", v.HDCPLevel)
	w.enum("VIDEO-RANGE", v.VideoRange)
	w.quoted("VIDEO", v.Video)
	w.extra(v.Extra)
	w.quoted("URI", v.URI)
	return w.b
}

// Encode returns v as an EXT-X-I-FRAME-STREAM-INF tag line (without newline).
func (v *IFrameVariant) Encode() string {
	return string(v.AppendAttrs([]byte("#EXT-X-I-FRAME-STREAM-INF:")))
}

// parseSessionData parses the attribute list of EXT-X-SESSION-DATA.
func parseSessionData(list string) (*SessionData, error) {
	d := &SessionData{}
	sc := attrScanner{s: list}
	for {
		name, val, q, ok, err := sc.next()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		switch name {
		case "DATA-ID":
			d.DataID = val
		case "VALUE":
			d.Value = val
		case "URI":
			d.URI = val
		case "LANGUAGE":
			d.Language = val
		default:
			d.Extra = append(d.Extra, Attr{Key: name, Value: val, Quoted: q})
		}
	}
	if d.DataID == "" {
		return nil, missingAttr("DATA-ID")
	}
	return d, nil
}

// AppendAttrs appends the attribute list of d (without the tag name).
func (d *SessionData) AppendAttrs(b []byte) []byte {
	w := attrWriter{b: b}
	w.quoted("DATA-ID", d.DataID)
	w.quoted("VALUE", d.Value)
	w.quoted("URI", d.URI)
	w.quoted("LANGUAGE", d.Language)
	w.extra(d.Extra)
	return w.b
}

// Encode returns d as an EXT-X-SESSION-DATA tag line (without newline).
func (d *SessionData) Encode() string {
	return string(d.AppendAttrs([]byte("#EXT-X-SESSION-DATA:")))
}
