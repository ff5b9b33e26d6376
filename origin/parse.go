package origin

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/pullpush/pullpush/origin/internal/shared"
)

// validName reports whether s is a safe path element: the rule of
// shared.ValidName, as the names of ingest paths become elements of bucket
// keys.
func validName(s string) bool { return shared.ValidName(s) }

// ErrBadPath is returned for ingest paths that are not
// /in/v2/{channel}/{input}/{file} with safe names.
var ErrBadPath = errors.New("bad ingest path")

// IngestPath is a parsed ingest request path.
type IngestPath struct {
	Channel, Input, File string
}

// ParseIngestPath parses the escaped path of an ingest request,
// /in/v2/{channel}/{input}/{file}. Every element must be a safe name
// ([A-Za-z0-9._-]{1,128}, no leading dot); percent-escapes are refused, so
// traversal ("..", "%2F", "\") is impossible.
func ParseIngestPath(escapedPath string) (IngestPath, error) {
	rest, ok := strings.CutPrefix(escapedPath, "/in/v2/")
	if !ok {
		return IngestPath{}, fmt.Errorf("%w: must start with /in/v2/", ErrBadPath)
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 3 {
		return IngestPath{}, fmt.Errorf("%w: want /in/v2/{channel}/{input}/{file}", ErrBadPath)
	}
	for _, p := range parts {
		if !validName(p) {
			return IngestPath{}, fmt.Errorf("%w: %q is not [A-Za-z0-9._-]{1,128} without a leading dot", ErrBadPath, p)
		}
	}
	return IngestPath{Channel: parts[0], Input: parts[1], File: parts[2]}, nil
}

// ErrBadTime is returned for a time-shift parameter that is neither ISO 8601
// nor epoch seconds.
var ErrBadTime = errors.New("bad time")

// ParseTimeParam parses a time-shift start or end value: ISO 8601 with a
// zone (2017-08-18T21:18:54+00:00, ...Z, fractional seconds, +0000 offsets)
// or epoch seconds (integer or decimal).
func ParseTimeParam(s string) (time.Time, error) {
	if s == "" || len(s) > 64 {
		return time.Time{}, fmt.Errorf("%w: %q", ErrBadTime, s)
	}
	// A '+' in an unescaped query string arrives as a space.
	s = strings.ReplaceAll(s, " ", "+")
	if isEpoch(s) {
		f, err := strconv.ParseFloat(s, 64)
		// Bound to years 1970..9999 so time arithmetic cannot overflow.
		if err != nil || f < 0 || f > 253402300799 || math.IsNaN(f) {
			return time.Time{}, fmt.Errorf("%w: %q", ErrBadTime, s)
		}
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(math.Round(frac*1e9))).UTC(), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z0700", "2006-01-02T15:04:05.999999999Z07"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: %q is neither ISO 8601 (2017-08-18T21:18:54+00:00) nor epoch seconds", ErrBadTime, s)
}

func isEpoch(s string) bool {
	dot := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
		case c == '.' && !dot && i > 0:
			dot = true
		default:
			return false
		}
	}
	return true
}
