package hls

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// This file holds the value syntaxes shared by the tags: integers, decimals,
// dates, byte ranges, resolutions, and the line scanner. Everything here works
// on substrings of the input and does not allocate on success.

const bom = "\xEF\xBB\xBF"

// lineScanner splits the input into trimmed, non-blank lines.
type lineScanner struct {
	s     string
	pos   int   // offset of the next line
	start int   // offset of the line last returned
	line  int   // number of the line last returned (1-based)
	err   error // set when a line is too long
}

// next returns the next non-blank line with surrounding whitespace removed.
func (sc *lineScanner) next() (string, bool) {
	for sc.pos < len(sc.s) {
		sc.start = sc.pos
		rest := sc.s[sc.pos:]
		var line string
		if i := strings.IndexByte(rest, '\n'); i >= 0 {
			line = rest[:i]
			sc.pos += i + 1
		} else {
			line = rest
			sc.pos = len(sc.s)
		}
		sc.line++
		if len(line) > MaxLineLength {
			sc.err = lineError(sc.line, "", ErrLineTooLong)
			return "", false
		}
		if line = trimSpace(line); line != "" {
			return line, true
		}
	}
	return "", false
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'
}

func trimSpace(s string) string {
	for len(s) > 0 && isSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	for len(s) > 0 && isSpace(s[0]) {
		s = s[1:]
	}
	return s
}

// prepare checks the size limit, copies the input into one string that all
// parsed strings share, and drops a UTF-8 byte order mark.
func prepare(data []byte) (string, error) {
	if len(data) > MaxPlaylistSize {
		return "", &ParseError{Err: fmt.Errorf("%w (%d bytes)", ErrTooLarge, len(data))}
	}
	s := string(data)
	return strings.TrimPrefix(s, bom), nil
}

// readHeader consumes the #EXTM3U line.
func readHeader(sc *lineScanner) error {
	line, ok := sc.next()
	if sc.err != nil {
		return sc.err
	}
	if !ok {
		return &ParseError{Err: ErrMissingHeader}
	}
	if line != "#EXTM3U" {
		return lineError(sc.line, "", ErrMissingHeader)
	}
	return nil
}

// splitTag splits "#EXT-X-FOO:value" into "#EXT-X-FOO", "value", true.
func splitTag(line string) (name, value string, hasValue bool) {
	if i := strings.IndexByte(line, ':'); i >= 0 {
		return line[:i], line[i+1:], true
	}
	return line, "", false
}

// parseUint parses a decimal-integer (digits only) into a non-negative int64.
func parseUint(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' || n > math.MaxInt64/10 {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
		if n > math.MaxInt64 {
			return 0, false
		}
	}
	return int64(n), true
}

// parseInt parses a decimal-integer that must fit in an int.
func parseInt(s string) (int, bool) {
	n, ok := parseUint(s)
	if !ok || n > math.MaxInt {
		return 0, false
	}
	return int(n), true
}

// maxFixed bounds the values read by parseFixed so that the decimal grid
// they are rounded to is always representable exactly when written back.
const maxFixed = 1e9

var pow10 = [...]int64{1, 10, 100, 1000, 10000, 100000, 1000000}

// parseFixed parses a non-negative decimal-floating-point and rounds it to
// the given number of decimals (at most 6). The result is the float64 nearest
// to that rounded decimal, which is exactly what strconv.ParseFloat returns
// for the text appendFixed writes, so parse and write round-trip bit for bit.
func parseFixed(s string, decimals int) (float64, bool) {
	var ip, fp int64
	digits := 0
	i := 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		ip = ip*10 + int64(s[i]-'0')
		digits++
		if ip > maxFixed {
			return 0, false
		}
	}
	nf := 0
	roundUp := false
	if i < len(s) && s[i] == '.' {
		i++
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			digits++
			switch {
			case nf < decimals:
				fp = fp*10 + int64(s[i]-'0')
			case nf == decimals:
				roundUp = s[i] >= '5'
			}
			nf++
		}
	}
	if i != len(s) || digits == 0 {
		return 0, false
	}
	if nf < decimals {
		fp *= pow10[decimals-nf]
	}
	n := ip*pow10[decimals] + fp
	if roundUp {
		n++
	}
	if n >= maxFixed*pow10[decimals] {
		return 0, false
	}
	return float64(n) / float64(pow10[decimals]), true
}

// appendFixed writes f with exactly the given number of decimals, then trims
// trailing zeros while keeping at least minDecimals.
func appendFixed(b []byte, f float64, decimals, minDecimals int) []byte {
	start := len(b)
	b = strconv.AppendFloat(b, f, 'f', decimals, 64)
	dot := -1
	for i := start; i < len(b); i++ {
		if b[i] == '.' {
			dot = i
			break
		}
	}
	if dot < 0 {
		return b
	}
	for len(b)-dot-1 > minDecimals && b[len(b)-1] == '0' {
		b = b[:len(b)-1]
	}
	if b[len(b)-1] == '.' {
		b = b[:len(b)-1]
	}
	return b
}

// isDecimal reports whether s is a [-]digits[.digits] number.
func isDecimal(s string, signed bool) bool {
	if signed && len(s) > 0 && s[0] == '-' {
		s = s[1:]
	}
	digits := 0
	i := 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			digits++
		}
	}
	return i == len(s) && digits > 0
}

// parseFloat parses a plain decimal number (no exponent, NaN or Inf) at full
// precision. appendFloat writes the shortest text that reads back the same.
func parseFloat(s string, signed bool) (float64, bool) {
	if !isDecimal(s, signed) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

func appendFloat(b []byte, f float64) []byte {
	return strconv.AppendFloat(b, f, 'f', -1, 64)
}

// parseByteRange parses "<n>[@<o>]".
func parseByteRange(s string) (*ByteRange, bool) {
	n, o, hasOffset := strings.Cut(s, "@")
	length, ok := parseUint(n)
	if !ok {
		return nil, false
	}
	br := &ByteRange{Length: length}
	if hasOffset {
		off, ok := parseUint(o)
		if !ok {
			return nil, false
		}
		br.Offset = &off
	}
	return br, true
}

// String returns the byte range as "<n>[@<o>]".
func (br *ByteRange) String() string {
	return string(br.append(nil))
}

func (br *ByteRange) append(b []byte) []byte {
	b = strconv.AppendInt(b, br.Length, 10)
	if br.Offset != nil {
		b = append(b, '@')
		b = strconv.AppendInt(b, *br.Offset, 10)
	}
	return b
}

// parseResolution parses "<width>x<height>".
func parseResolution(s string) (*Resolution, bool) {
	i := strings.IndexAny(s, "xX")
	if i < 0 {
		return nil, false
	}
	w, ok1 := parseInt(s[:i])
	h, ok2 := parseInt(s[i+1:])
	if !ok1 || !ok2 {
		return nil, false
	}
	return &Resolution{Width: w, Height: h}, true
}

// String returns the resolution as "<width>x<height>".
func (r Resolution) String() string {
	return string(r.append(nil))
}

func (r Resolution) append(b []byte) []byte {
	b = strconv.AppendInt(b, int64(r.Width), 10)
	b = append(b, 'x')
	return strconv.AppendInt(b, int64(r.Height), 10)
}

// parseBool parses the YES/NO enumerated string.
func parseBool(s string) (bool, bool) {
	switch s {
	case "YES":
		return true, true
	case "NO":
		return false, true
	}
	return false, false
}

// parseTime parses an ISO 8601 / RFC 3339 date-time such as
// 2026-11-26T10:00:00.123+01:00 and returns it in UTC, truncated to the
// millisecond (the precision formatTime writes). A missing zone means UTC.
func parseTime(s string) (time.Time, bool) {
	// YYYY-MM-DDTHH:MM:SS
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	switch s[10] {
	case 'T', 't', ' ':
	default:
		return time.Time{}, false
	}
	year, ok1 := digits(s[0:4])
	month, ok2 := digits(s[5:7])
	day, ok3 := digits(s[8:10])
	hour, ok4 := digits(s[11:13])
	minute, ok5 := digits(s[14:16])
	sec, ok6 := digits(s[17:19])
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 ||
		month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour > 23 || minute > 59 || sec > 60 {
		return time.Time{}, false
	}
	rest := s[19:]
	ms := 0
	if len(rest) > 0 && (rest[0] == '.' || rest[0] == ',') {
		i := 1
		for ; i < len(rest) && rest[i] >= '0' && rest[i] <= '9'; i++ {
			if i <= 3 {
				ms = ms*10 + int(rest[i]-'0')
			}
		}
		if i == 1 {
			return time.Time{}, false
		}
		for n := i - 1; n < 3; n++ {
			ms *= 10
		}
		rest = rest[i:]
	}
	offset := 0 // seconds east of UTC
	switch {
	case rest == "" || rest == "Z" || rest == "z":
	case rest[0] == '+' || rest[0] == '-':
		z := rest[1:]
		var hh, mm int
		okH, okM := false, true
		switch {
		case len(z) == 2:
			hh, okH = digits(z)
		case len(z) == 5 && z[2] == ':':
			hh, okH = digits(z[0:2])
			mm, okM = digits(z[3:5])
		case len(z) == 4:
			hh, okH = digits(z[0:2])
			mm, okM = digits(z[2:4])
		}
		ok := okH && okM
		if !ok || hh > 23 || mm > 59 {
			return time.Time{}, false
		}
		offset = hh*3600 + mm*60
		if rest[0] == '-' {
			offset = -offset
		}
	default:
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec-offset, ms*int(time.Millisecond), time.UTC)
	if y := t.Year(); y < 0 || y > 9999 {
		return time.Time{}, false
	}
	return t, true
}

func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// appendTime writes t in UTC as 2026-11-26T10:00:00.000Z.
func appendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	b = append4(b, year)
	b = append(b, '-')
	b = append2(b, int(month))
	b = append(b, '-')
	b = append2(b, day)
	b = append(b, 'T')
	b = append2(b, hour)
	b = append(b, ':')
	b = append2(b, minute)
	b = append(b, ':')
	b = append2(b, sec)
	ms := t.Nanosecond() / int(time.Millisecond)
	b = append(b, '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z')
	return b
}

func append2(b []byte, n int) []byte {
	return append(b, byte('0'+n/10%10), byte('0'+n%10))
}

func append4(b []byte, n int) []byte {
	if n < 0 || n > 9999 {
		return strconv.AppendInt(b, int64(n), 10)
	}
	return append(b, byte('0'+n/1000), byte('0'+n/100%10), byte('0'+n/10%10), byte('0'+n%10))
}
