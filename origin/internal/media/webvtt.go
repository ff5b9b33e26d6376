package media

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// A WebVTT segment as HLS ingest carries it (W3C WebVTT, RFC 8216 3.5):
// the header with its optional X-TIMESTAMP-MAP, then cues. NOTE, STYLE
// and REGION blocks, and blocks that are not cues, are skipped; a cue
// whose timing does not parse is an error.

// VTTDoc is a parsed WebVTT segment.
type VTTDoc struct {
	// X-TIMESTAMP-MAP: cue time Local is MPEG-TS time MPEGTS. Without
	// the header both are 0 (RFC 8216).
	MPEGTS int64
	Local  time.Duration
	Cues   []VTTCue
}

// VTTCue is one cue.
type VTTCue struct {
	ID         string
	Start, End time.Duration
	Settings   string
	Payload    string
}

// ErrWebVTT wraps every parse error.
var ErrWebVTT = errors.New("webvtt")

// maxVTTTime bounds cue and map times (a day is far beyond any segment;
// the bound keeps the 90 kHz arithmetic far from overflow).
const maxVTTTime = 1000 * time.Hour

// ParseWebVTT parses a WebVTT segment.
func ParseWebVTT(data []byte) (*VTTDoc, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	text := strings.ReplaceAll(strings.ReplaceAll(string(data), "\r\n", "\n"), "\r", "\n")
	lines := strings.Split(text, "\n")
	first := lines[0]
	if rest, ok := strings.CutPrefix(first, "WEBVTT"); !ok || (rest != "" && rest[0] != ' ' && rest[0] != '\t') {
		return nil, fmt.Errorf("%w: no WEBVTT signature", ErrWebVTT)
	}
	doc := &VTTDoc{}
	i := 1
	for ; i < len(lines) && lines[i] != ""; i++ {
		if v, ok := strings.CutPrefix(lines[i], "X-TIMESTAMP-MAP="); ok {
			if err := doc.timestampMap(v); err != nil {
				return nil, fmt.Errorf("%w: line %d: %w", ErrWebVTT, i+1, err)
			}
		}
	}
	for i < len(lines) {
		for i < len(lines) && lines[i] == "" {
			i++
		}
		start := i
		for i < len(lines) && lines[i] != "" {
			i++
		}
		block := lines[start:i]
		if len(block) == 0 {
			break
		}
		if b := block[0]; b == "NOTE" || strings.HasPrefix(b, "NOTE ") || strings.HasPrefix(b, "NOTE\t") ||
			b == "STYLE" || b == "REGION" {
			continue
		}
		c := VTTCue{}
		timing := 0
		if !strings.Contains(block[0], "-->") {
			c.ID, timing = block[0], 1
		}
		if timing >= len(block) || !strings.Contains(block[timing], "-->") {
			continue // not a cue: ignored, as WebVTT parsers do
		}
		if err := c.parseTiming(block[timing]); err != nil {
			return nil, fmt.Errorf("%w: line %d: %w", ErrWebVTT, start+timing+1, err)
		}
		c.Payload = strings.Join(block[timing+1:], "\n")
		doc.Cues = append(doc.Cues, c)
	}
	return doc, nil
}

// timestampMap parses the value of X-TIMESTAMP-MAP
// (MPEGTS:n,LOCAL:time, in either order).
func (d *VTTDoc) timestampMap(v string) error {
	var haveTS, haveLocal bool
	for _, f := range strings.Split(v, ",") {
		k, val, _ := strings.Cut(strings.TrimSpace(f), ":")
		switch k {
		case "MPEGTS":
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil || n < 0 || n >= 1<<33 {
				return fmt.Errorf("X-TIMESTAMP-MAP MPEGTS %q is not a 33-bit time", val)
			}
			d.MPEGTS, haveTS = n, true
		case "LOCAL":
			t, err := parseVTTTime(val)
			if err != nil {
				return fmt.Errorf("X-TIMESTAMP-MAP LOCAL: %w", err)
			}
			d.Local, haveLocal = t, true
		default:
			return fmt.Errorf("X-TIMESTAMP-MAP: unknown field %q", k)
		}
	}
	if !haveTS || !haveLocal {
		return errors.New("X-TIMESTAMP-MAP needs MPEGTS and LOCAL")
	}
	return nil
}

// parseTiming parses "start --> end [settings]".
func (c *VTTCue) parseTiming(l string) error {
	a, b, _ := strings.Cut(l, "-->")
	var err error
	if c.Start, err = parseVTTTime(strings.TrimSpace(a)); err != nil {
		return err
	}
	b = strings.TrimLeft(b, " \t")
	end, settings, _ := strings.Cut(strings.ReplaceAll(b, "\t", " "), " ")
	if c.End, err = parseVTTTime(end); err != nil {
		return err
	}
	if c.End <= c.Start {
		return fmt.Errorf("cue ends at %v, not after its start %v", c.End, c.Start)
	}
	c.Settings = strings.TrimSpace(settings)
	return nil
}

// parseVTTTime parses a WebVTT timestamp: [hh:]mm:ss.ttt.
func parseVTTTime(s string) (time.Duration, error) {
	bad := fmt.Errorf("timestamp %q is not [hh:]mm:ss.ttt", s)
	hms, frac, ok := strings.Cut(s, ".")
	if !ok || len(frac) != 3 {
		return 0, bad
	}
	parts := strings.Split(hms, ":")
	if len(parts) != 2 && len(parts) != 3 {
		return 0, bad
	}
	num := func(p string, digits int) (int64, bool) {
		if len(p) < digits || (digits == 2 && len(p) != 2) || len(p) > 6 {
			return 0, false
		}
		for _, r := range p {
			if r < '0' || r > '9' {
				return 0, false
			}
		}
		n, err := strconv.ParseInt(p, 10, 64)
		return n, err == nil
	}
	ms, ok := num(frac, 3)
	if !ok {
		return 0, bad
	}
	var h int64
	if len(parts) == 3 {
		if h, ok = num(parts[0], 1); !ok {
			return 0, bad
		}
		parts = parts[1:]
	}
	m, ok1 := num(parts[0], 2)
	sec, ok2 := num(parts[1], 2)
	if !ok1 || !ok2 || m > 59 || sec > 59 {
		return 0, bad
	}
	d := time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(sec)*time.Second + time.Duration(ms)*time.Millisecond
	if d > maxVTTTime {
		return 0, fmt.Errorf("timestamp %q is beyond %v", s, maxVTTTime)
	}
	return d, nil
}

// MPEGTime is the MPEG-TS time (90 kHz, not wrapped) of cue time t.
func (d *VTTDoc) MPEGTime(t time.Duration) int64 {
	return d.MPEGTS + int64((t-d.Local)*9/100000)
}
