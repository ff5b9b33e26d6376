package shared

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Kinds of ingest-log entries.
const (
	EntryFile     = "file"     // a segment or init section was stored (Object)
	EntryPlaylist = "playlist" // a multivariant or media playlist (Body)
	EntryDelete   = "delete"   // the pusher deleted Name
)

// Entry is one ingest request recorded in the bucket. Every instance
// builds its index only by applying entries in key order, so entries carry
// everything the index needs: the receive time, and for files what was
// computed from the bytes on receive (size, keyframes, TS timing).
type Entry struct {
	Kind   string        `json:"kind"`
	Input  string        `json:"input"`
	Name   string        `json:"name"`
	Time   int64         `json:"time"` // receive time, unix ns (also in the key)
	Object string        `json:"object,omitempty"`
	Size   int64         `json:"size,omitempty"`
	KF     *KeyframesDTO `json:"kf,omitempty"`
	TS     *TSInfoDTO    `json:"ts,omitempty"`
	Body   string        `json:"body,omitempty"`
}

// Bucket layout under the prefix.
const (
	logDir  = "log/"  // log/{channel}/{time:019d}/{input}/{name}/{writer}
	SegDir  = "seg/"  // seg/{channel}/{input}/{time:019d}-{writer}-{name}
	SnapDir = "snap/" // snap/{channel}/{time:019d}.json
)

// LogPrefix is the key prefix of a channel's log entries.
func LogPrefix(ch string) string { return logDir + ch + "/" }

// LogKey names an entry. Keys sort by receive time (fixed width), then
// input, then file name, then writer: the deterministic global order.
func LogKey(ch string, t int64, input, name, writer string) string {
	return fmt.Sprintf("%s%019d/%s/%s/%s", LogPrefix(ch), t, input, name, writer)
}

// LogTimeBound returns a key that sorts after every entry of time t-1 and
// before every entry of time t (a StartAfter value).
func LogTimeBound(ch string, t int64) string {
	return fmt.Sprintf("%s%019d/~", LogPrefix(ch), t-1)
}

// errBadKey is wrapped by the errors of ParseLogKey and ParseSnapKey.
var errBadKey = errors.New("bad storage key")

// KeyInfo is a parsed log key.
type KeyInfo struct {
	Channel, Input, Name, Writer string
	Time                         int64
}

// ParseLogKey parses a key written by LogKey.
func ParseLogKey(key string) (KeyInfo, error) {
	rest, ok := strings.CutPrefix(key, logDir)
	parts := strings.Split(rest, "/")
	if !ok || len(parts) != 5 {
		return KeyInfo{}, fmt.Errorf("%w: %q", errBadKey, truncate(key, 80))
	}
	t, err := parseTime19(parts[1])
	if err != nil {
		return KeyInfo{}, fmt.Errorf("%w: %q: time", errBadKey, truncate(key, 80))
	}
	for _, p := range []string{parts[0], parts[2], parts[3], parts[4]} {
		if !ValidName(p) {
			return KeyInfo{}, fmt.Errorf("%w: %q: element %q", errBadKey, truncate(key, 80), truncate(p, 20))
		}
	}
	return KeyInfo{Channel: parts[0], Time: t, Input: parts[2], Name: parts[3], Writer: parts[4]}, nil
}

// SnapKey names the snapshot of a channel's index at virtual time t.
func SnapKey(ch string, t int64) string { return fmt.Sprintf("%s%s/%019d.json", SnapDir, ch, t) }

// ParseSnapKey returns the time of a snapshot key of channel ch.
func ParseSnapKey(ch, key string) (int64, error) {
	rest, ok := strings.CutPrefix(key, SnapDir+ch+"/")
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

// ErrBadEntry is wrapped by the errors of DecodeEntry.
var ErrBadEntry = errors.New("bad ingest log entry")

// DecodeEntry decodes an entry body and checks it against its key.
func DecodeEntry(k KeyInfo, data []byte) (*Entry, error) {
	var e Entry
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadEntry, err)
	}
	if e.Time != k.Time || e.Input != k.Input || e.Name != k.Name {
		return nil, fmt.Errorf("%w: does not match its key", ErrBadEntry)
	}
	switch e.Kind {
	case EntryFile:
		if !strings.HasPrefix(e.Object, SegDir+k.Channel+"/") || strings.Contains(e.Object, "..") || e.Size < 0 {
			return nil, fmt.Errorf("%w: file entry without object", ErrBadEntry)
		}
	case EntryPlaylist, EntryDelete:
	default:
		return nil, fmt.Errorf("%w: unknown kind %q", ErrBadEntry, truncate(e.Kind, 20))
	}
	return &e, nil
}

// truncate shortens s to n bytes for an error message.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
