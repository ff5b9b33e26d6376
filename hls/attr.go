package hls

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// attrScanner iterates over an attribute list (KEY=VALUE,KEY="VALUE",...)
// without allocating. Commas inside quoted strings are part of the value.
// It is lenient about whitespace around names and values and about empty
// entries (",,"), which real playlists contain.
type attrScanner struct {
	s string
}

// next returns the next attribute. ok is false at the end of the list.
func (sc *attrScanner) next() (key, value string, quoted, ok bool, err error) {
	s := sc.s
	for len(s) > 0 && (s[0] == ',' || isSpace(s[0])) {
		s = s[1:]
	}
	if s == "" {
		sc.s = ""
		return "", "", false, false, nil
	}
	i := 0
	for i < len(s) && s[i] != '=' && s[i] != ',' {
		i++
	}
	key = trimSpace(s[:i])
	if i == len(s) || s[i] == ',' {
		return "", "", false, false, fmt.Errorf("attribute %q has no value", key)
	}
	if key == "" {
		return "", "", false, false, errors.New("attribute without a name")
	}
	s = s[i+1:]
	for len(s) > 0 && isSpace(s[0]) {
		s = s[1:]
	}
	if len(s) > 0 && s[0] == '"' {
		end := 1
		for end < len(s) && s[end] != '"' {
			end++
		}
		if end == len(s) {
			return "", "", false, false, fmt.Errorf("unterminated quoted string in attribute %s", key)
		}
		value = s[1:end]
		s = s[end+1:]
		for len(s) > 0 && isSpace(s[0]) {
			s = s[1:]
		}
		if len(s) > 0 && s[0] != ',' {
			return "", "", false, false, fmt.Errorf("unexpected %q after quoted value of attribute %s", s[0], key)
		}
		sc.s = s
		return key, value, true, true, nil
	}
	end := 0
	for end < len(s) && s[end] != ',' {
		end++
	}
	sc.s = s[end:]
	return key, trimSpace(s[:end]), false, true, nil
}

// ParseAttributes parses an attribute list such as
//
//	BANDWIDTH=1280000,CODECS="avc1.4d401f,mp4a.40.2",RESOLUTION=640x360
//
// Commas inside quoted strings belong to the value; quotes are removed and
// recorded in Attr.Quoted. Attributes are returned in their original order.
func ParseAttributes(s string) ([]Attr, error) {
	var attrs []Attr
	sc := attrScanner{s: s}
	for {
		k, v, q, ok, err := sc.next()
		if err != nil {
			return nil, fmt.Errorf("hls: invalid attribute list: %w", err)
		}
		if !ok {
			return attrs, nil
		}
		attrs = append(attrs, Attr{Key: k, Value: v, Quoted: q})
	}
}

// FormatAttributes writes attrs as an attribute list, the inverse of
// ParseAttributes.
func FormatAttributes(attrs []Attr) string {
	w := attrWriter{}
	w.extra(attrs)
	return string(w.b)
}

// String returns the attribute as KEY=VALUE or KEY="VALUE".
func (a Attr) String() string {
	return FormatAttributes([]Attr{a})
}

// attrWriter appends an attribute list, inserting the separating commas.
type attrWriter struct {
	b []byte
	n int
}

func (w *attrWriter) key(k string) {
	if w.n > 0 {
		w.b = append(w.b, ',')
	}
	w.n++
	w.b = append(w.b, k...)
	w.b = append(w.b, '=')
}

// quoted writes a quoted-string attribute; empty values are omitted.
func (w *attrWriter) quoted(k, v string) {
	if v == "" {
		return
	}
	w.key(k)
	w.value(v, true)
}

// enum writes an enumerated-string attribute unquoted; empty values are
// omitted.
func (w *attrWriter) enum(k, v string) {
	if v == "" {
		return
	}
	w.key(k)
	w.value(v, false)
}

// value writes v quoted or not as asked, unless v would not read back the
// same that way: a value containing '"' cannot be quoted, one containing ','
// (or surrounding spaces) must be.
func (w *attrWriter) value(v string, quote bool) {
	if quote && strings.IndexByte(v, '"') >= 0 && safeUnquoted(v) {
		quote = false
	} else if !quote && v != "" && !safeUnquoted(v) {
		quote = true
	}
	if quote {
		w.b = append(w.b, '"')
		w.b = append(w.b, v...)
		w.b = append(w.b, '"')
		return
	}
	w.b = append(w.b, v...)
}

// yes writes KEY=YES when v is true.
func (w *attrWriter) yes(k string, v bool) {
	if v {
		w.key(k)
		w.b = append(w.b, "YES"...)
	}
}

// int writes a decimal-integer attribute.
func (w *attrWriter) int(k string, v int64) {
	w.key(k)
	w.b = strconv.AppendInt(w.b, v, 10)
}

// extra writes attributes the model has no field for, as they were read.
func (w *attrWriter) extra(attrs []Attr) {
	for _, a := range attrs {
		w.key(a.Key)
		w.value(a.Value, a.Quoted)
	}
}

// safeUnquoted reports whether v reads back identically when written
// without quotes.
func safeUnquoted(v string) bool {
	if v == "" || v[0] == '"' || isSpace(v[0]) || isSpace(v[len(v)-1]) {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] == ',' || v[i] == '\n' {
			return false
		}
	}
	return true
}

// attrError describes an invalid attribute value.
func attrError(key, value string) error {
	return fmt.Errorf("invalid %s %q", key, value)
}

func missingAttr(key string) error {
	return fmt.Errorf("missing required attribute %s", key)
}

// fixed writes a decimal attribute with up to 6 decimals (at least one), as
// parseFixed reads it back.
func (w *attrWriter) fixed(k string, v float64) {
	w.key(k)
	w.b = appendFixed(w.b, v, 6, 1)
}

// fixedAttr parses a non-negative decimal attribute rounded to 6 decimals.
func fixedAttr(key, v string) (float64, error) {
	f, ok := parseFixed(v, 6)
	if !ok {
		return 0, attrError(key, v)
	}
	return f, nil
}

// boolAttr parses a YES/NO attribute.
func boolAttr(key, v string) (bool, error) {
	b, ok := parseBool(v)
	if !ok {
		return false, attrError(key, v)
	}
	return b, nil
}

// int64Attr parses a decimal-integer attribute.
func int64Attr(key, v string) (int64, error) {
	n, ok := parseUint(v)
	if !ok {
		return 0, attrError(key, v)
	}
	return n, nil
}
