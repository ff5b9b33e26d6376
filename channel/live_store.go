package channel

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/pullpush/pullpush/hls"
)

// liveEntry is one segment a track of a live span plays, as the placement
// log keeps it: a source segment (Slate -1) or a slate segment.
type liveEntry struct {
	Start time.Duration `json:"start"` // on the span, nanoseconds
	Dur   time.Duration `json:"dur"`
	Disc  bool          `json:"disc,omitempty"`
	Slate int           `json:"slate"` // the slate segment, -1 for a source segment
	// A source segment: its URL, media sequence number, init section and
	// the tags it carried.
	URL       string         `json:"url,omitempty"`
	Seq       int64          `json:"seq,omitempty"`
	Init      string         `json:"init,omitempty"`
	InitRange *hls.ByteRange `json:"initRange,omitempty"`
	Tags      []string       `json:"tags,omitempty"`
	Gap       bool           `json:"gap,omitempty"`
}

// liveLog is the placement log of a live span, shared by the engines on a
// schedule directory: one small file per placed segment
// ({dir}/{track}-{k}.json). The first engine to place segment k of a track
// creates its file (a hard link of a complete temporary file, so it appears
// whole and only once); every other engine, and the same engine after a
// restart, reads it instead of placing its own. So all engines list the
// same live segments and count the same media sequence after the span.
type liveLog struct {
	dir string
}

// newLiveLog is the log of the live item it of channel ch in the schedule
// directory root.
func newLiveLog(root, ch string, it *ScheduleItem) *liveLog {
	h := fnv.New32a()
	_, _ = h.Write([]byte(it.URL))
	name := fmt.Sprintf("%s-%d-%08x", it.ID, it.Start.UnixNano(), h.Sum32())
	return &liveLog{dir: filepath.Join(root, ch+".live", name)}
}

func (l *liveLog) path(t, k int) string {
	return filepath.Join(l.dir, strconv.Itoa(t)+"-"+strconv.Itoa(k)+".json")
}

// load returns segment k of track t when an engine liveEntry it.
func (l *liveLog) load(t, k int) (liveEntry, bool, error) {
	data, err := os.ReadFile(l.path(t, k))
	if errors.Is(err, fs.ErrNotExist) {
		return liveEntry{}, false, nil
	}
	if err != nil {
		return liveEntry{}, false, fmt.Errorf("live placement log: %w", err)
	}
	var p liveEntry
	if err := json.Unmarshal(data, &p); err != nil {
		return liveEntry{}, false, fmt.Errorf("live placement log %s: %w", l.path(t, k), err)
	}
	if p.Dur <= 0 || p.Slate < -1 || (p.Slate < 0 && p.URL == "") {
		return liveEntry{}, false, fmt.Errorf("live placement log %s: invalid segment", l.path(t, k))
	}
	return p, true, nil
}

// create records p as segment k of track t unless an engine did first;
// it returns what the log holds.
func (l *liveLog) create(t, k int, p liveEntry) (liveEntry, error) {
	data, err := json.Marshal(p)
	if err != nil {
		return p, err
	}
	if err := os.MkdirAll(l.dir, 0o755); err != nil {
		return p, fmt.Errorf("live placement log: %w", err)
	}
	tmp, err := os.CreateTemp(l.dir, ".tmp-*")
	if err != nil {
		return p, fmt.Errorf("live placement log: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return p, fmt.Errorf("live placement log: %w", err)
	}
	err = os.Link(tmp.Name(), l.path(t, k))
	if err == nil {
		return p, nil
	}
	if !errors.Is(err, fs.ErrExist) {
		return p, fmt.Errorf("live placement log: %w", err)
	}
	got, ok, err := l.load(t, k)
	if err != nil || !ok {
		return p, fmt.Errorf("live placement log: segment %d of track %d exists but cannot be read: %v", k, t, err)
	}
	return got, nil
}
