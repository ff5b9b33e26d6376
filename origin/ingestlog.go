package origin

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Kinds of ingest-log entries.
const (
	entryFile     = "file"     // a segment or init section was stored (Object)
	entryPlaylist = "playlist" // a multivariant or media playlist (Body)
	entryDelete   = "delete"   // the pusher deleted Name
)

// logEntry is one ingest request recorded in the bucket. Every instance
// builds its index only by applying entries in key order, so entries carry
// everything the index needs: the receive time, and for files what was
// computed from the bytes on receive (size, keyframes, TS timing).
type logEntry struct {
	Kind   string `json:"kind"`
	Input  string `json:"input"`
	Name   string `json:"name"`
	Time   int64  `json:"time"` // receive time, unix ns (also in the key)
	Object string `json:"object,omitempty"`
	Size   int64  `json:"size,omitempty"`
	KF     *kfDTO `json:"kf,omitempty"`
	TS     *tsDTO `json:"ts,omitempty"`
	Body   string `json:"body,omitempty"`
}

// Bucket layout under the prefix.
const (
	logDir  = "log/"  // log/{channel}/{time:019d}/{input}/{name}/{writer}
	segDir  = "seg/"  // seg/{channel}/{input}/{time:019d}-{writer}-{name}
	snapDir = "snap/" // snap/{channel}/{time:019d}.json
)

// logPrefix is the key prefix of a channel's log entries.
func logPrefix(ch string) string { return logDir + ch + "/" }

// logKey names an entry. Keys sort by receive time (fixed width), then
// input, then file name, then writer: the deterministic global order.
func logKey(ch string, t int64, input, name, writer string) string {
	return fmt.Sprintf("%s%019d/%s/%s/%s", logPrefix(ch), t, input, name, writer)
}

// logTimeBound returns a key that sorts after every entry of time t-1 and
// before every entry of time t (a StartAfter value).
func logTimeBound(ch string, t int64) string {
	return fmt.Sprintf("%s%019d/~", logPrefix(ch), t-1)
}

// errBadKey is wrapped by the errors of parseLogKey and parseSnapKey.
var errBadKey = errors.New("bad storage key")

// logKeyInfo is a parsed log key.
type logKeyInfo struct {
	Channel, Input, Name, Writer string
	Time                         int64
}

// parseLogKey parses a key written by logKey.
func parseLogKey(key string) (logKeyInfo, error) {
	rest, ok := strings.CutPrefix(key, logDir)
	parts := strings.Split(rest, "/")
	if !ok || len(parts) != 5 {
		return logKeyInfo{}, fmt.Errorf("%w: %q", errBadKey, truncate(key, 80))
	}
	t, err := parseTime19(parts[1])
	if err != nil {
		return logKeyInfo{}, fmt.Errorf("%w: %q: time", errBadKey, truncate(key, 80))
	}
	for _, p := range []string{parts[0], parts[2], parts[3], parts[4]} {
		if !validName(p) {
			return logKeyInfo{}, fmt.Errorf("%w: %q: element %q", errBadKey, truncate(key, 80), truncate(p, 20))
		}
	}
	return logKeyInfo{Channel: parts[0], Time: t, Input: parts[2], Name: parts[3], Writer: parts[4]}, nil
}

// snapKey names the snapshot of a channel's index at virtual time t.
func snapKey(ch string, t int64) string { return fmt.Sprintf("%s%s/%019d.json", snapDir, ch, t) }

// parseSnapKey returns the time of a snapshot key of channel ch.
func parseSnapKey(ch, key string) (int64, error) {
	rest, ok := strings.CutPrefix(key, snapDir+ch+"/")
	num, ok2 := strings.CutSuffix(rest, ".json")
	if !ok || !ok2 {
		return 0, fmt.Errorf("%w: %q", errBadKey, truncate(key, 80))
	}
	return parseTime19(num)
}

// parseTime19 parses a 19-digit non-negative decimal.
func parseTime19(s string) (int64, error) {
	if len(s) != 19 {
		return 0, fmt.Errorf("%w: want 19 digits", errBadKey)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%w: want 19 digits", errBadKey)
		}
	}
	t, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", errBadKey, err)
	}
	return t, nil
}

// errBadEntry is wrapped by the errors of decodeEntry.
var errBadEntry = errors.New("bad ingest log entry")

// decodeEntry decodes an entry body and checks it against its key.
func decodeEntry(k logKeyInfo, data []byte) (*logEntry, error) {
	var e logEntry
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("%w: %v", errBadEntry, err)
	}
	if e.Time != k.Time || e.Input != k.Input || e.Name != k.Name {
		return nil, fmt.Errorf("%w: does not match its key", errBadEntry)
	}
	switch e.Kind {
	case entryFile:
		if !strings.HasPrefix(e.Object, segDir+k.Channel+"/") || strings.Contains(e.Object, "..") || e.Size < 0 {
			return nil, fmt.Errorf("%w: file entry without object", errBadEntry)
		}
	case entryPlaylist, entryDelete:
	default:
		return nil, fmt.Errorf("%w: unknown kind %q", errBadEntry, truncate(e.Kind, 20))
	}
	return &e, nil
}
