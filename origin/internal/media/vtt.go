package media

import (
	"bytes"
	"strconv"
)

// ShiftTimestampMap returns the WebVTT segment data with the MPEGTS value
// of its X-TIMESTAMP-MAP header moved by off (90 kHz, modulo 2^33), so
// that its cues keep their place on a CMAF timeline that is offset from
// the source's (see rendition.appendTS). Data without the header, or with
// one that does not parse, is returned unchanged.
func ShiftTimestampMap(data []byte, off int64) []byte {
	const tag = "X-TIMESTAMP-MAP="
	// The header ends at the first blank line; the map is one of its lines.
	header := data
	if i := bytes.Index(data, []byte("\n\n")); i >= 0 {
		header = data[:i]
	}
	i := bytes.Index(header, []byte(tag))
	if i < 0 {
		return data
	}
	lineEnd := bytes.IndexAny(header[i:], "\r\n")
	if lineEnd < 0 {
		lineEnd = len(header) - i
	}
	line := header[i+len(tag) : i+lineEnd]
	var out []byte
	for _, field := range bytes.Split(line, []byte(",")) {
		if v, ok := bytes.CutPrefix(field, []byte("MPEGTS:")); ok {
			ts, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil {
				return data
			}
			const wrap = 1 << 33
			ts = ((ts+off)%wrap + wrap) % wrap
			field = strconv.AppendInt([]byte("MPEGTS:"), ts, 10)
		}
		if out != nil {
			out = append(out, ',')
		} else {
			out = []byte{}
		}
		out = append(out, field...)
	}
	res := make([]byte, 0, len(data)+8)
	res = append(res, data[:i+len(tag)]...)
	res = append(res, out...)
	return append(res, data[i+lineEnd:]...)
}
