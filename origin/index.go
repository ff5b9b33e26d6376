package origin

import (
	"log/slog"
	"sort"
	"time"

	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/adcue"
	"github.com/pullpush/pullpush/internal/logkey"
	"github.com/pullpush/pullpush/origin/internal/media"
)

// Log keys.
const (
	ixLogChannel = "channel"
	ixLogInput   = "input"
	ixLogFile    = "file"
	ixLogErr     = logkey.Err
	logFrom      = "from"
	logTo        = "to"
	logReason    = "reason"
)

// storedFile is one received file on disk. refs counts the holders (the
// input's name table and every index entry); the file is removed when the
// count drops to zero. Guarded by the channel mutex.
type storedFile struct {
	id   uint64
	path string
	size int64
	recv time.Time
	kf   *media.Keyframes // keyframe ranges (video segments), computed on receive
	ts   *media.TSInfo    // TS tracks and timing, computed on receive for CMAF endpoints
	refs int
	init bool // referenced as EXT-X-MAP
	// derived holds the keyframes of packaged forms of the segment
	// (repackaged or encrypted), per endpoint and rendition name.
	derived map[string]*media.Keyframes
}

// recExtra holds the rarely present per-segment tags carried to viewers.
type recExtra struct {
	tags       []string
	dateRanges []*hls.DateRange
	cue        *adcue.Cue // the ad signal they carry, nil for none
}

// rec is one indexed segment.
type rec struct {
	start int64 // unix nanoseconds (PROGRAM-DATE-TIME or receive-derived)
	dur   int64 // nanoseconds
	seq   int64 // output media sequence number (timeline entries only)
	discN int64 // discontinuities up to and including this segment
	disc  bool  // EXT-X-DISCONTINUITY before this segment
	file  *storedFile
	init  *storedFile
	extra *recExtra
	// CMAF endpoints: the segment's TS info (codec configuration possibly
	// carried over from the previous segment), its first DTS unwrapped on
	// the rendition's TS timeline, the offset from source to CMAF
	// timestamps (90 kHz; see appendTS), and discontinuities that also
	// count timestamp jumps of the source.
	ts     *media.TSInfo
	tsBase int64
	tsOff  int64
	cdisc  bool
	cdiscN int64
	// pub is when the segment was appended to the output timeline (the
	// ingest clock, unix ns); shared storage shows a segment only once
	// its pub is older than the propagation delay.
	pub int64
	// sw: the first segment after an input switch; grp: the members of
	// a joined segment (segdur.go), nil for an ingest segment.
	sw  bool
	grp *recGroup
	// epoch is the sequence number of the first segment since the last
	// break of the timeline (segdur.go's runStart), where joined
	// segments start counting.
	epoch int64
}

func (r *rec) end() int64 { return r.start + r.dur }

// rendition is the output timeline of one rendition: the segments viewers
// are served, sorted by time, with the origin's own sequence numbers.
type rendition struct {
	key     string // source playlist name without .m3u8, e.g. channel_1
	segs    []rec  // oldest first; trimmed at the front by retention
	nextSeq int64
	discN   int64
	target  time.Duration // largest source target duration seen
	ext     string        // segment extension, e.g. .ts
	// TS timeline of CMAF endpoints: unwrapped source end of the last
	// segment and the source-to-CMAF offset of the current epoch
	tsEnd  int64
	tsOff  int64
	lastTS *media.TSInfo
	cdiscN int64
	// bitrate estimate over all appended segments
	bytes int64
	durNS int64
	peak  float64 // bits per second of the largest segment
	// sw is the channel's switch count at the last append; groups are
	// the joined timelines of endpoints with a segment duration.
	sw     int
	groups map[time.Duration]*grouping
	// builds counts the joined timelines built from this rendition; rev
	// is a joined timeline's number among its base's builds (0 for a base
	// rendition), so that cached playlists of a rebuilt timeline, whose
	// numbering may differ, are never served for it.
	builds, rev uint64
}

func (r *rendition) lastEnd() int64 { return r.segs[len(r.segs)-1].end() }

// tsAt returns the segment with TS timing starting within tol of start,
// or nil.
func (r *rendition) tsAt(start, tol int64) *rec {
	i := sort.Search(len(r.segs), func(i int) bool { return r.segs[i].start >= start-tol })
	if i < len(r.segs) && r.segs[i].start <= start+tol && r.segs[i].ts != nil {
		return &r.segs[i]
	}
	return nil
}

// muxed reports whether the newest segment has video and audio.
func (r *rendition) muxed() bool {
	return len(r.segs) > 0 && r.segs[len(r.segs)-1].ts.Muxed()
}

// bySeq returns the index of the segment with output sequence seq.
func (r *rendition) bySeq(seq int64) (int, bool) {
	if len(r.segs) == 0 {
		return 0, false
	}
	i := seq - r.segs[0].seq
	if i < 0 || i >= int64(len(r.segs)) {
		return 0, false
	}
	return int(i), true
}

// firstEndingAfter returns the index of the first segment whose end is
// after t (binary search).
func (r *rendition) firstEndingAfter(t int64) int {
	return sort.Search(len(r.segs), func(i int) bool { return r.segs[i].end() > t })
}

// countEndingBy returns the number of segments that end at or before t.
func (r *rendition) countEndingBy(t int64) int {
	return sort.Search(len(r.segs), func(i int) bool { return r.segs[i].end() > t })
}

// countStartingBefore returns the number of segments starting before t.
func (r *rendition) countStartingBefore(t int64) int {
	return sort.Search(len(r.segs), func(i int) bool { return r.segs[i].start >= t })
}

// inRend is the ingest state of one rendition of one input.
type inRend struct {
	lastSeq   int64 // last indexed source media sequence (-1: none)
	lastEnd   int64
	restart   bool  // next indexed segment starts a discontinuity
	shift     int64 // added to this input's segment times after a backward clock jump (ns)
	target    time.Duration
	pending   *hls.Media // latest playlist not fully indexed yet
	pendRaw   []byte     // its text (shared storage: for snapshots)
	pendRecv  time.Time
	waitName  string    // file the pending playlist waits for
	waitSince time.Time // when the wait began
	buf       []rec     // segments received while this input is passive
	// lastRecv is when this input last indexed a new segment of the
	// rendition (the ingest clock): how the origin tells an active input
	// that stopped delivering from one that is merely a little behind.
	lastRecv time.Time
}

// input is one redundant ingest of a channel.
type input struct {
	name   string
	dir    string
	files  map[string]*storedFile // latest file per name
	rends  map[string]*inRend
	master *hls.Multivariant
	// masterRaw is the text of master (shared storage: for snapshots).
	masterRaw []byte
}

// chIndex is the time index of a channel: the state (renditions,
// segments, inputs, switches) shared by every settings generation, and
// the parameters of one generation. It has no lock: the channel's mu
// guards every method and the state.
type chIndex struct {
	*idxState
	idxParams
}

// idxParams are the settings the index works with: plain values, fixed
// for one settings generation of the channel.
type idxParams struct {
	id  string // channel ID, for logs and snapshots
	log *slog.Logger
	now func() time.Time // the wall clock
	// retain is how long segments stay in the index (the longest
	// startover window).
	retain time.Duration
	// segdurs are the endpoints' segment durations (0: none), in endpoint
	// order: the joined timelines kept per rendition.
	segdurs []time.Duration
	// shared is set on shared storage: the index is built by replaying
	// the ingest log, with the ingest clock at vnow, and released files
	// are handed to removeFile (delete from the bucket).
	shared     bool
	removeFile func(path string)
}

// newIdxState returns an empty index state.
func newIdxState() *idxState {
	return &idxState{
		inputs: make(map[string]*input),
		rends:  make(map[string]*rendition),
		inits:  make(map[uint64]*storedFile),
	}
}

// idxState is the state of a channel's index.
type idxState struct {
	inputs   map[string]*input
	order    []string // input names in arrival order
	active   string
	master   *hls.Multivariant
	rends    map[string]*rendition
	rendKeys []string // in order of first appearance
	inits    map[uint64]*storedFile
	fileSeq  uint64
	skew     int64 // media time minus wall time at the newest append (ns)
	hasSkew  bool
	switches int
	// activeSince is when active became the active input (ingest clock):
	// a rendition the active input has not delivered yet counts as
	// delivered then.
	activeSince time.Time
	vnow        time.Time // ingest clock of the replay (shared storage)
}

// clockNow is the ingest clock: the time of the log entry being replayed
// on shared storage, else the wall clock. Everything that changes the
// index reads it, so every instance replaying the same log builds the same
// index.
func (c *chIndex) clockNow() time.Time {
	if c.shared {
		return c.vnow
	}
	return c.now()
}

func (c *chIndex) rend(key string) *rendition {
	r := c.rends[key]
	if r == nil {
		r = &rendition{key: key}
		c.rends[key] = r
		c.rendKeys = append(c.rendKeys, key)
	}
	return r
}

func (in *input) rend(key string) *inRend {
	ir := in.rends[key]
	if ir == nil {
		ir = &inRend{lastSeq: -1}
		in.rends[key] = ir
	}
	return ir
}

// other returns the input that is not in, or nil.
func (c *chIndex) other(in *input) *input {
	for _, n := range c.order {
		if n != in.name {
			return c.inputs[n]
		}
	}
	return nil
}

// mediaNow is "now" on the source's timeline (PROGRAM-DATE-TIME), in ns,
// by the wall clock (playback).
func (c *chIndex) mediaNow() int64 { return c.toMedia(c.now()) }

// ingestMediaNow is mediaNow by the ingest clock (index changes).
func (c *chIndex) ingestMediaNow() int64 { return c.toMedia(c.clockNow()) }

func (c *chIndex) toMedia(t time.Time) int64 {
	n := t.UnixNano()
	if c.hasSkew {
		n += c.skew
	}
	return n
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// isSubtitles reports whether ext is the extension of WebVTT segments.
func isSubtitles(ext string) bool { return ext == ".vtt" || ext == ".webvtt" }
