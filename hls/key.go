package hls

import "errors"

// parseKey parses the attribute list of EXT-X-KEY or EXT-X-SESSION-KEY.
func parseKey(list string) (*Key, error) {
	k := &Key{}
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
		case "METHOD":
			k.Method = v
		case "URI":
			k.URI = v
		case "IV":
			if !validIV(v) {
				return nil, attrError(name, v)
			}
			k.IV = v
		case "KEYFORMAT":
			k.KeyFormat = v
		case "KEYFORMATVERSIONS":
			k.KeyFormatVersions = v
		default:
			k.Extra = append(k.Extra, Attr{Key: name, Value: v, Quoted: q})
		}
	}
	if k.Method == "" {
		return nil, errMissingMethod
	}
	return k, nil
}

var errMissingMethod = errors.New("missing required attribute METHOD")

// validIV reports whether v is a hexadecimal-sequence of up to 128 bits.
func validIV(v string) bool {
	if len(v) < 3 || len(v) > 34 || v[0] != '0' || (v[1] != 'x' && v[1] != 'X') {
		return false
	}
	for i := 2; i < len(v); i++ {
		c := v[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// AppendAttrs appends the attribute list of k (without the tag name).
func (k *Key) AppendAttrs(b []byte) []byte {
	w := attrWriter{b: b}
	w.enum("METHOD", k.Method)
	w.quoted("URI", k.URI)
	w.enum("IV", k.IV)
	w.quoted("KEYFORMAT", k.KeyFormat)
	w.quoted("KEYFORMATVERSIONS", k.KeyFormatVersions)
	w.extra(k.Extra)
	return w.b
}

// Encode returns k as an EXT-X-KEY tag line (without newline).
func (k *Key) Encode() string {
	return string(k.AppendAttrs([]byte("#EXT-X-KEY:")))
}
