package hls

// parseDateRange parses the attribute list of EXT-X-DATERANGE.
func parseDateRange(list string) (*DateRange, error) {
	d := &DateRange{}
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
		case "ID":
			d.ID = v
		case "CLASS":
			d.Class = v
		case "START-DATE":
			t, ok := parseTime(v)
			if !ok {
				return nil, attrError(name, v)
			}
			d.StartDate = t
		case "END-DATE":
			t, ok := parseTime(v)
			if !ok {
				return nil, attrError(name, v)
			}
			d.EndDate = &t
		case "DURATION":
			f, ok := parseFloat(v, false)
			if !ok {
				return nil, attrError(name, v)
			}
			d.Duration = &f
		case "PLANNED-DURATION":
			f, ok := parseFloat(v, false)
			if !ok {
				return nil, attrError(name, v)
			}
			d.PlannedDuration = &f
		case "END-ON-NEXT":
			b, ok := parseBool(v)
			if !ok {
				return nil, attrError(name, v)
			}
			d.EndOnNext = b
		default:
			d.Extra = append(d.Extra, Attr{Key: name, Value: v, Quoted: q})
		}
	}
	if d.ID == "" {
		return nil, missingAttr("ID")
	}
	return d, nil
}

// AppendAttrs appends the attribute list of d (without the tag name).
func (d *DateRange) AppendAttrs(b []byte) []byte {
	w := attrWriter{b: b}
	w.quoted("ID", d.ID)
	w.quoted("CLASS", d.Class)
	if !d.StartDate.IsZero() {
		w.key("START-DATE")
		w.b = append(w.b, '"')
		w.b = appendTime(w.b, d.StartDate)
		w.b = append(w.b, '"')
	}
	if d.EndDate != nil {
		w.key("END-DATE")
		w.b = append(w.b, '"')
		w.b = appendTime(w.b, *d.EndDate)
		w.b = append(w.b, '"')
	}
	if d.Duration != nil {
		w.key("DURATION")
		w.b = appendFloat(w.b, *d.Duration)
	}
	if d.PlannedDuration != nil {
		w.key("PLANNED-DURATION")
		w.b = appendFloat(w.b, *d.PlannedDuration)
	}
	w.yes("END-ON-NEXT", d.EndOnNext)
	w.extra(d.Extra)
	return w.b
}

// Encode returns d as an EXT-X-DATERANGE tag line (without newline).
func (d *DateRange) Encode() string {
	return string(d.AppendAttrs([]byte("#EXT-X-DATERANGE:")))
}
