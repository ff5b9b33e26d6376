package index

import (
	"log/slog"
	"sort"
	"time"

	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/adcue"
	"github.com/pullpush/pullpush/internal/logkey"
	"github.com/pullpush/pullpush/origin/internal/media"
)

// MaxSegmentDuration is the longest joined segment duration (an
// endpoint's segmentDuration; MediaPackage's limit).
const MaxSegmentDuration = 30 * time.Second

// Log keys.
const (
	logChannel = "channel"
	logInput   = "input"
	logFile    = "file"
	logErr     = logkey.Err
	logFrom    = "from"
	logTo      = "to"
	logReason  = "reason"
)

// StoredFile is one received file on disk. refs counts the holders (the
// input's name table and every index entry); the file is removed when the
// count drops to zero. Guarded by the channel mutex.
type StoredFile struct {
	ID   uint64
	Path string
	Size int64
	Recv time.Time
	KF   *media.Keyframes // keyframe ranges (video segments), computed on receive
	TS   *media.TSInfo    // TS tracks and timing, computed on receive for CMAF endpoints
	Refs int
	init bool // referenced as EXT-X-MAP
	// derived holds the keyframes of packaged forms of the segment
	// (repackaged or encrypted), per endpoint and rendition name.
	Derived map[string]*media.Keyframes
}

// RecExtra holds the rarely present per-segment tags carried to viewers.
type RecExtra struct {
	Tags       []string
	DateRanges []*hls.DateRange
	Cue        *adcue.Cue // the ad signal they carry, nil for none
}

// Rec is one indexed segment.
type Rec struct {
	Start int64 // unix nanoseconds (PROGRAM-DATE-TIME or receive-derived)
	Dur   int64 // nanoseconds
	Seq   int64 // output media sequence number (timeline entries only)
	DiscN int64 // discontinuities up to and including this segment
	Disc  bool  // EXT-X-DISCONTINUITY before this segment
	File  *StoredFile
	Init  *StoredFile
	Extra *RecExtra
	// CMAF endpoints: the segment's TS info (codec configuration possibly
	// carried over from the previous segment), its first DTS unwrapped on
	// the rendition's TS timeline, the offset from source to CMAF
	// timestamps (90 kHz; see appendTS), and discontinuities that also
	// count timestamp jumps of the source.
	TS     *media.TSInfo
	TSBase int64
	TSOff  int64
	CDisc  bool
	CDiscN int64
	// pub is when the segment was appended to the output timeline (the
	// ingest clock, unix ns); shared storage shows a segment only once
	// its pub is older than the propagation delay.
	Pub int64
	// sw: the first segment after an input switch; grp: the members of
	// a joined segment (segdur.go), nil for an ingest segment.
	sw  bool
	Grp *RecGroup
	// epoch is the sequence number of the first segment since the last
	// break of the timeline (segdur.go's runStart), where joined
	// segments start counting.
	epoch int64
}

// Cue is the ad signal of the segment, nil for none.
func (r *Rec) Cue() *adcue.Cue {
	if r.Extra == nil {
		return nil
	}
	return r.Extra.Cue
}

// End is when the segment ends (unix ns).
func (r *Rec) End() int64 { return r.Start + r.Dur }

// Rendition is the output timeline of one rendition: the segments viewers
// are served, sorted by time, with the origin's own sequence numbers.
type Rendition struct {
	Key     string // source playlist name without .m3u8, e.g. channel_1
	Segs    []Rec  // oldest first; trimmed at the front by retention
	nextSeq int64
	discN   int64
	Target  time.Duration // largest source target duration seen
	Ext     string        // segment extension, e.g. .ts
	// TS timeline of CMAF endpoints: unwrapped source end of the last
	// segment and the source-to-CMAF offset of the current epoch
	tsEnd  int64
	tsOff  int64
	lastTS *media.TSInfo
	cdiscN int64
	// bitrate estimate over all appended segments
	Bytes int64
	DurNS int64
	Peak  float64 // bits per second of the largest segment
	// sw is the channel's switch count at the last append; groups are
	// the joined timelines of endpoints with a segment duration.
	sw     int
	Groups map[time.Duration]*Grouping
	// builds counts the joined timelines built from this rendition; rev
	// is a joined timeline's number among its base's builds (0 for a base
	// rendition), so that cached playlists of a rebuilt timeline, whose
	// numbering may differ, are never served for it.
	builds, Rev uint64
	// Parts is the Low-Latency HLS state (parts.go), nil when the ingest
	// lists no parts.
	Parts *Parts
}

// LastEnd is the end of the newest segment; r has segments.
func (r *Rendition) LastEnd() int64 { return r.Segs[len(r.Segs)-1].End() }

// tsAt returns the segment with TS timing starting within tol of start,
// or nil.
func (r *Rendition) tsAt(start, tol int64) *Rec {
	i := sort.Search(len(r.Segs), func(i int) bool { return r.Segs[i].Start >= start-tol })
	if i < len(r.Segs) && r.Segs[i].Start <= start+tol && r.Segs[i].TS != nil {
		return &r.Segs[i]
	}
	return nil
}

// Muxed reports whether the newest segment has video and audio.
func (r *Rendition) Muxed() bool {
	return len(r.Segs) > 0 && r.Segs[len(r.Segs)-1].TS.Muxed()
}

// BySeq returns the index of the segment with output sequence seq.
func (r *Rendition) BySeq(seq int64) (int, bool) {
	if len(r.Segs) == 0 {
		return 0, false
	}
	i := seq - r.Segs[0].Seq
	if i < 0 || i >= int64(len(r.Segs)) {
		return 0, false
	}
	return int(i), true
}

// FirstEndingAfter returns the index of the first segment whose end is
// after t (binary search).
func (r *Rendition) FirstEndingAfter(t int64) int {
	return sort.Search(len(r.Segs), func(i int) bool { return r.Segs[i].End() > t })
}

// CountEndingBy returns the number of segments that end at or before t.
func (r *Rendition) CountEndingBy(t int64) int {
	return sort.Search(len(r.Segs), func(i int) bool { return r.Segs[i].End() > t })
}

// CountStartingBefore returns the number of segments starting before t.
func (r *Rendition) CountStartingBefore(t int64) int {
	return sort.Search(len(r.Segs), func(i int) bool { return r.Segs[i].Start >= t })
}

// InRend is the ingest state of one rendition of one input.
type InRend struct {
	lastSeq   int64 // last indexed source media sequence (-1: none)
	lastEnd   int64
	restart   bool  // next indexed segment starts a discontinuity
	shift     int64 // added to this input's segment times after a backward clock jump (ns)
	target    time.Duration
	Pending   *hls.Media // latest playlist not fully indexed yet
	PendRaw   []byte     // its text (shared storage: for snapshots)
	pendRecv  time.Time
	waitName  string    // file the pending playlist waits for
	waitSince time.Time // when the wait began
	buf       []Rec     // segments received while this input is passive
	// lastRecv is when this input last indexed a new segment of the
	// rendition (the ingest clock): how the origin tells an active input
	// that stopped delivering from one that is merely a little behind.
	LastRecv time.Time
}

// Input is one redundant ingest of a channel.
type Input struct {
	Name   string
	Dir    string
	Files  map[string]*StoredFile // latest file per name
	Rends  map[string]*InRend
	master *hls.Multivariant
	// masterRaw is the text of master (shared storage: for snapshots).
	MasterRaw []byte
}

// Index is the time index of a channel: the state (renditions,
// segments, inputs, switches) shared by every settings generation, and
// the parameters of one generation. It has no lock: the channel's mu
// guards every method and the state.
type Index struct {
	*State
	Params
}

// Params are the settings the index works with: plain values, fixed
// for one settings generation of the channel.
type Params struct {
	ID  string // channel ID, for logs and snapshots
	Log *slog.Logger
	Now func() time.Time // the wall clock
	// Retain is how long segments stay in the index (the longest
	// startover window).
	Retain time.Duration
	// SegDurs are the endpoints' segment durations (0: none), in endpoint
	// order: the joined timelines kept per rendition.
	SegDurs []time.Duration
	// Shared is set on shared storage: the index is built by replaying
	// the ingest log, with the ingest clock at State.VNow, and released
	// files are handed to RemoveFile (delete from the bucket).
	Shared     bool
	RemoveFile func(path string)
}

// NewState returns an empty index state.
func NewState() *State {
	return &State{
		Inputs: make(map[string]*Input),
		Rends:  make(map[string]*Rendition),
		Inits:  make(map[uint64]*StoredFile),
	}
}

// State is the state of a channel's index.
type State struct {
	Inputs   map[string]*Input
	Order    []string // input names in arrival order
	Active   string
	Master   *hls.Multivariant
	Rends    map[string]*Rendition
	RendKeys []string // in order of first appearance
	Inits    map[uint64]*StoredFile
	fileSeq  uint64
	skew     int64 // media time minus wall time at the newest append (ns)
	hasSkew  bool
	Switches int
	// activeSince is when active became the active input (ingest clock):
	// a rendition the active input has not delivered yet counts as
	// delivered then.
	activeSince time.Time
	VNow        time.Time // ingest clock of the replay (shared storage)
	// changed is closed at the next change of an output timeline (see
	// Changed).
	changed chan struct{}
}

// clockNow is the ingest clock: the time of the log entry being replayed
// on shared storage, else the wall clock. Everything that changes the
// index reads it, so every instance replaying the same log builds the same
// index.
func (c *Index) clockNow() time.Time {
	if c.Shared {
		return c.VNow
	}
	return c.Now()
}

// Rend returns the output timeline of rendition key, created when new.
func (c *Index) Rend(key string) *Rendition {
	r := c.Rends[key]
	if r == nil {
		r = &Rendition{Key: key}
		c.Rends[key] = r
		c.RendKeys = append(c.RendKeys, key)
	}
	return r
}

// Rend returns the ingest state of rendition key of in, created when new.
func (in *Input) Rend(key string) *InRend {
	ir := in.Rends[key]
	if ir == nil {
		ir = &InRend{lastSeq: -1}
		in.Rends[key] = ir
	}
	return ir
}

// other returns the input that is not in, or nil.
func (c *Index) other(in *Input) *Input {
	for _, n := range c.Order {
		if n != in.Name {
			return c.Inputs[n]
		}
	}
	return nil
}

// MediaNow is "now" on the source's timeline (PROGRAM-DATE-TIME), in ns,
// by the wall clock (playback).
func (c *Index) MediaNow() int64 { return c.toMedia(c.Now()) }

// ingestMediaNow is mediaNow by the ingest clock (index changes).
func (c *Index) ingestMediaNow() int64 { return c.toMedia(c.clockNow()) }

func (c *Index) toMedia(t time.Time) int64 {
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

// IsSubtitles reports whether ext is the extension of WebVTT segments.
func IsSubtitles(ext string) bool { return ext == ".vtt" || ext == ".webvtt" }
