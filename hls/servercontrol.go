package hls

// parseServerControl parses the attribute list of EXT-X-SERVER-CONTROL.
func parseServerControl(list string) (*ServerControl, error) {
	c := &ServerControl{}
	sc := attrScanner{s: list}
	for {
		name, v, q, ok, err := sc.next()
		if err != nil {
			return nil, err
		}
		if !ok {
			return c, nil
		}
		switch name {
		case "CAN-SKIP-UNTIL":
			c.CanSkipUntil, err = fixedAttr(name, v)
		case "CAN-SKIP-DATERANGES":
			c.CanSkipDateRanges, err = boolAttr(name, v)
		case "HOLD-BACK":
			c.HoldBack, err = fixedAttr(name, v)
		case "PART-HOLD-BACK":
			c.PartHoldBack, err = fixedAttr(name, v)
		case "CAN-BLOCK-RELOAD":
			c.CanBlockReload, err = boolAttr(name, v)
		default:
			c.Extra = append(c.Extra, Attr{Key: name, Value: v, Quoted: q})
		}
		if err != nil {
			return nil, err
		}
	}
}

// AppendAttrs appends the attribute list of c (without the tag name).
func (c *ServerControl) AppendAttrs(b []byte) []byte {
	w := attrWriter{b: b}
	w.yes("CAN-BLOCK-RELOAD", c.CanBlockReload)
	if c.CanSkipUntil != 0 {
		w.fixed("CAN-SKIP-UNTIL", c.CanSkipUntil)
	}
	w.yes("CAN-SKIP-DATERANGES", c.CanSkipDateRanges)
	if c.HoldBack != 0 {
		w.fixed("HOLD-BACK", c.HoldBack)
	}
	if c.PartHoldBack != 0 {
		w.fixed("PART-HOLD-BACK", c.PartHoldBack)
	}
	w.extra(c.Extra)
	return w.b
}

// Encode returns c as an EXT-X-SERVER-CONTROL tag line (without newline).
func (c *ServerControl) Encode() string {
	return string(c.AppendAttrs([]byte("#EXT-X-SERVER-CONTROL:")))
}
