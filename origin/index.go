package origin

import (
	"log/slog"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pullpush/pullpush/digest"
	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/adcue"
	"github.com/pullpush/pullpush/internal/logkey"
	"github.com/pullpush/pullpush/origin/internal/media"
	"github.com/pullpush/pullpush/sigv4"
)

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

// append adds rc to the timeline; a gap or overlap of more than tol, or a
// source discontinuity, becomes an output discontinuity. peer finds the
// segment another rendition has at a time (see appendTS); nil for none.
func (r *rendition) append(rc rec, tol int64, peer func(start, tol int64) *rec) {
	if len(r.segs) == 0 {
		if r.nextSeq == 0 {
			r.nextSeq = rc.start / int64(time.Second)
		}
		rc.disc = false
	} else if d := rc.start - r.lastEnd(); d > tol || d < -tol {
		rc.disc = true
	}
	if rc.disc {
		r.discN++
	}
	rc.discN = r.discN
	r.appendTS(&rc, peer)
	rc.seq = r.nextSeq
	r.nextSeq++
	r.segs = append(r.segs, rc)
	if rc.file != nil && rc.dur > 0 {
		r.bytes += rc.file.size
		r.durNS += rc.dur
		if bps := float64(rc.file.size*8) / (float64(rc.dur) / 1e9); bps > r.peak {
			r.peak = bps
		}
	}
}

// appendTS places rc on the rendition's TS timeline: its first DTS is
// unwrapped next to the end of the previous segment, and a jump of more
// than half a segment (a source that restarted its clock, as a VOD2Live
// channel does at every asset, or lost segments) is a discontinuity for
// CMAF endpoints.
//
// CMAF timestamps are the source's plus an offset that changes only at
// such jumps, so that they never go back: a decoder that keeps one fMP4
// demuxer across segments, as ffmpeg's HLS demuxer does, drops the samples
// of a fragment whose decode time is earlier than what it has read. The
// new offset continues the rendition's timeline, unless another rendition
// (found by peer) already has a segment at the same time: then its offset
// is taken, so that every rendition of the channel keeps the source's
// relation between audio and video times, and a rendition that starts
// late joins the others' timeline.
func (r *rendition) appendTS(rc *rec, peer func(start, tol int64) *rec) {
	rc.cdisc = rc.disc
	if rc.file != nil && rc.file.ts != nil {
		ti := rc.file.ts.WithConfigFrom(r.lastTS)
		base, off := ti.DTS0, r.tsOff
		tol := max(rc.dur*9/200000, 9000) // half the segment, at least 0.1 s (90 kHz)
		jump := false
		if r.lastTS != nil {
			base = media.UnwrapNear(ti.DTS0, r.tsEnd)
			if d := base - r.tsEnd; len(r.segs) > 0 && (d > tol || d < -tol) {
				rc.cdisc, jump = true, true
			}
		}
		if r.lastTS == nil || jump {
			var p *rec
			if peer != nil {
				p = peer(rc.start, rc.dur/2)
			}
			switch {
			case p != nil:
				base, off = media.UnwrapNear(ti.DTS0, p.tsBase), p.tsOff
			case jump:
				off = r.tsEnd + r.tsOff - base
			}
		}
		rc.ts, rc.tsBase, rc.tsOff = ti, base, off
		r.tsEnd, r.tsOff, r.lastTS = base+ti.Dur, off, ti
	}
	if len(r.segs) == 0 {
		rc.cdisc = false
	}
	if rc.cdisc {
		r.cdiscN++
	}
	rc.cdiscN = r.cdiscN
}

// peerTS returns the segment with TS timing that a rendition other than
// self has starting within tol of start, or nil. Renditions are searched
// in order of first appearance, so every instance that builds the index
// from the same log finds the same one.
func (c *channel) peerTS(self *rendition, start, tol int64) *rec {
	for _, key := range c.rendKeys {
		r := c.rends[key]
		if r == self {
			continue
		}
		if s := r.tsAt(start, tol); s != nil {
			return s
		}
	}
	return nil
}

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

// channel is one channel: its settings (immutable; an update builds a new
// channel value around the same index) and its index (chState).
type channel struct {
	cfg      ChannelConfig
	acc      *access     // CDN authorization and ingest allowlist
	eps      []*endpoint // eps[0] is the default endpoint
	retain   time.Duration
	needTS   bool // a CMAF endpoint needs the TS timing of every segment
	dir      string
	log      *slog.Logger
	now      func() time.Time
	verifier *digest.Verifier            // shared credentials
	perInput map[string]*digest.Verifier // per-input credentials
	creds    *credStore                  // what the verifiers accept
	sig      *sigv4.Verifier             // SigV4-signed ingest, or nil
	// shared is set on shared storage: the index is built by replaying
	// the ingest log, with the ingest clock at vnow, and released files
	// are handed to removeFile (delete from the bucket).
	shared     bool
	removeFile func(path string)
	publishLag int64 // ns; see published
	// gen tells this channel's settings apart from earlier ones of the same
	// channel ID (an update or a re-creation): packaged products are
	// cached under it.
	gen uint64

	// chState is the index, shared by every settings generation of the
	// channel: an update swaps the settings above and keeps it.
	*chState
}

// chState is the index of a channel: everything in it is guarded by mu.
type chState struct {
	mu       sync.Mutex
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
func (c *channel) clockNow() time.Time {
	if c.shared {
		return c.vnow
	}
	return c.now()
}

// staleAfter is how long the active input may go without delivering a new
// segment of a rendition, while the passive input has media the output
// lacks, before the origin switches to the passive input: one and a half
// target durations, so an input that keeps its cadence but arrives up to a
// target duration after the other (or sends its first backlog a moment
// later) never loses the output, and one that stopped loses it about a
// target duration after its next segment was due.
func staleAfter(target time.Duration) time.Duration {
	if target <= 0 {
		target = 2 * time.Second
	}
	return target * 3 / 2
}

// maxPassiveBuffer bounds the segments kept per rendition of a passive input.
const maxPassiveBuffer = 64

// fileGrace is how long a received file stays in an input's name table.
// Files that no playlist referenced by then are deleted.
const fileGrace = 2 * time.Minute

// release drops one reference to f and deletes the file at zero.
func (c *channel) release(f *storedFile) {
	if f == nil {
		return
	}
	f.refs--
	if f.refs > 0 {
		return
	}
	if f.init {
		delete(c.inits, f.id)
	}
	if c.shared {
		c.removeFile(f.path)
		return
	}
	if err := os.Remove(f.path); err != nil && !os.IsNotExist(err) {
		c.log.Warn("remove segment", logFile, f.path, logErr, err)
	}
}

func (c *channel) releaseRec(r *rec) {
	c.release(r.file)
	c.release(r.init)
}

func (c *channel) rend(key string) *rendition {
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
func (c *channel) other(in *input) *input {
	for _, n := range c.order {
		if n != in.name {
			return c.inputs[n]
		}
	}
	return nil
}

// mediaNow is "now" on the source's timeline (PROGRAM-DATE-TIME), in ns,
// by the wall clock (playback).
func (c *channel) mediaNow() int64 { return c.toMedia(c.now()) }

// ingestMediaNow is mediaNow by the ingest clock (index changes).
func (c *channel) ingestMediaNow() int64 { return c.toMedia(c.clockNow()) }

func (c *channel) toMedia(t time.Time) int64 {
	n := t.UnixNano()
	if c.hasSkew {
		n += c.skew
	}
	return n
}

// storeFile registers a received file under name, replacing (and
// releasing) an older file of the same name, and indexes playlists that
// were waiting for it.
func (c *channel) storeFile(in *input, name string, f *storedFile) {
	c.fileSeq++
	f.id = c.fileSeq
	f.refs = 1
	if old := in.files[name]; old != nil {
		c.release(old)
	}
	in.files[name] = f
	c.retryPending(in, name)
}

// retryPending re-indexes the pending playlists of in that wait for name
// or have waited long enough to skip a missing file.
func (c *channel) retryPending(in *input, name string) {
	now := c.clockNow()
	for _, key := range sortedKeys(in.rends) {
		ir := in.rends[key]
		if ir.pending == nil {
			continue
		}
		if ir.waitName == name || now.Sub(ir.waitSince) > skipAfter(ir.target) {
			c.indexPlaylist(in, key, ir.pending, ir.pendRecv)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// skipAfter is how long a playlist waits for a missing segment before the
// origin gives up on it (when later segments are present).
func skipAfter(target time.Duration) time.Duration {
	if target <= 0 {
		target = 2 * time.Second
	}
	return 3 * target
}

// deleteFile handles a DELETE from the pusher: the name is forgotten, but a
// file still referenced by the index stays until retention removes it.
func (c *channel) deleteFile(in *input, name string) {
	if f := in.files[name]; f != nil {
		delete(in.files, name)
		c.release(f)
	}
}

// setMaster records an ingested multivariant playlist.
func (c *channel) setMaster(in *input, m *hls.Multivariant) {
	in.master = m
	if c.master == nil || in.name == c.active || c.active == "" {
		c.master = m
	}
}

// segmentTimes computes the start time (ns) of every segment of m: from
// PROGRAM-DATE-TIME where present (extrapolated by EXTINF), else anchored
// to the end of the last indexed segment, else to the receive time of the
// playlist (its last segment ends at recv).
func segmentTimes(m *hls.Media, ir *inRend, recv time.Time) []int64 {
	n := len(m.Segments)
	starts := make([]int64, n)
	known := make([]bool, n)
	anchor := -1
	for i, s := range m.Segments {
		if !s.ProgramDateTime.IsZero() {
			starts[i], known[i] = s.ProgramDateTime.UnixNano(), true
			if anchor < 0 {
				anchor = i
			}
		} else if i > 0 && known[i-1] {
			starts[i], known[i] = starts[i-1]+durNS(m.Segments[i-1].Duration), true
		}
	}
	if anchor < 0 {
		// No PDT: continue from what this input indexed before, else the
		// receive time.
		j := ir.lastSeq + 1 - m.MediaSequence
		if ir.lastSeq >= 0 && !ir.restart && j >= 0 && j < int64(n) {
			anchor = int(j)
			starts[anchor] = ir.lastEnd
		} else {
			anchor = n - 1
			starts[anchor] = recv.UnixNano() - durNS(m.Segments[n-1].Duration)
		}
		for i := anchor + 1; i < n; i++ {
			starts[i] = starts[i-1] + durNS(m.Segments[i-1].Duration)
		}
	}
	for i := anchor - 1; i >= 0; i-- {
		starts[i] = starts[i+1] - durNS(m.Segments[i].Duration)
	}
	return starts
}

func durNS(sec float64) int64 { return int64(sec * 1e9) }

// fileName maps a playlist URI to the file name in the input folder.
func fileName(uri string) string {
	if i := strings.IndexAny(uri, "?#"); i >= 0 {
		uri = uri[:i]
	}
	return path.Base(uri)
}

// indexPlaylist indexes the segments of media playlist m of rendition key,
// in order, until one is missing (then m waits for it).
func (c *channel) indexPlaylist(in *input, key string, m *hls.Media, recv time.Time) {
	ir := in.rend(key)
	ir.pending = nil
	if len(m.Segments) == 0 {
		return
	}
	ir.target = time.Duration(m.TargetDuration) * time.Second
	lastSrc := m.MediaSequence + int64(len(m.Segments)) - 1
	if ir.lastSeq >= 0 && lastSrc < ir.lastSeq-int64(len(m.Segments)) {
		// The pusher restarted its numbering.
		c.log.Info("input restarted sequence numbers", logChannel, c.cfg.ID, logInput, in.name)
		ir.lastSeq, ir.restart = m.MediaSequence-1, true
	}
	starts := segmentTimes(m, ir, recv)
	var curMap *hls.Map
	now := c.clockNow()
	for i, s := range m.Segments {
		if s.Map != nil {
			curMap = s.Map
		}
		srcSeq := m.MediaSequence + int64(i)
		if srcSeq <= ir.lastSeq {
			continue
		}
		f := in.files[fileName(s.URI)]
		var init *storedFile
		missing := ""
		if f == nil {
			missing = fileName(s.URI)
		}
		if curMap != nil {
			init = in.files[fileName(curMap.URI)]
			if init == nil {
				missing = fileName(curMap.URI)
			}
		}
		if missing != "" {
			if ir.waitName != missing {
				ir.waitName, ir.waitSince = missing, now
			}
			if i < len(m.Segments)-1 && now.Sub(ir.waitSince) > skipAfter(ir.target) {
				c.log.Warn("segment never arrived; skipping", logChannel, c.cfg.ID, logInput, in.name, logFile, missing)
				ir.lastSeq, ir.waitName = srcSeq, ""
				continue
			}
			ir.pending, ir.pendRecv = m, recv
			return
		}
		ir.waitName = ""
		rc := rec{start: starts[i] + ir.shift, dur: durNS(s.Duration), disc: s.Discontinuity || ir.restart, file: f, init: init}
		if len(s.Tags) > 0 || len(s.DateRanges) > 0 {
			rc.extra = cloneExtra(s)
		}
		f.refs++
		if init != nil {
			init.refs++
			if !init.init {
				init.init = true
				c.inits[init.id] = init
			}
		}
		// Only the input's own clock going back (a restarted source) is a
		// jump to re-time; a segment that is merely older than what the
		// other input already delivered is not.
		back := ir.lastEnd != 0 && starts[i] < ir.lastEnd-rc.dur/2
		ir.restart = false
		ir.lastSeq, ir.lastEnd, ir.lastRecv = srcSeq, starts[i]+rc.dur, now
		c.offer(in, key, rc, ir.target, path.Ext(fileName(s.URI)), back)
	}
}

// offer hands a newly indexed segment of input in to the channel: appended
// to the output timeline when in is active, buffered otherwise.
func (c *channel) offer(in *input, key string, rc rec, target time.Duration, ext string, back bool) {
	if c.active == "" {
		c.active, c.activeSince = in.name, c.clockNow()
		c.log.Info("input active", logChannel, c.cfg.ID, logInput, in.name)
	}
	ir := in.rend(key)
	if in.name != c.active {
		ir.buf = append(ir.buf, rc)
		if over := len(ir.buf) - maxPassiveBuffer; over > 0 {
			for i := range ir.buf[:over] {
				c.releaseRec(&ir.buf[i])
			}
			ir.buf = append(ir.buf[:0], ir.buf[over:]...)
		}
		c.checkPassive(in, key)
		return
	}
	r := c.rend(key)
	r.ext = ext
	if target > r.target {
		r.target = target
	}
	tol := rc.dur / 2
	if len(r.segs) > 0 {
		end := r.lastEnd()
		if rc.disc && back && rc.start < end-tol {
			// The source marked a discontinuity and its clock went back:
			// continue the timeline after what viewers already have, so
			// it stays sorted by time.
			delta := end - rc.start
			ir.shift += delta
			rc.start += delta
		}
		if rc.end() <= end+tol {
			c.releaseRec(&rc) // already have it (from the other input)
			return
		}
		if rc.start > end+tol {
			if o := c.other(in); o != nil && o.covers(key, end, tol) {
				ir.buf = append(ir.buf, rc)
				c.switchTo(o, "active input missed segments")
				return
			}
		}
	}
	c.appendRec(r, rc, tol)
}

func (c *channel) appendRec(r *rendition, rc rec, tol int64) {
	now := c.clockNow().UnixNano()
	rc.pub = now
	if r.sw != c.switches {
		rc.sw, r.sw = len(r.segs) > 0, c.switches
	}
	r.append(rc, tol, func(start, tol int64) *rec { return c.peerTS(r, start, tol) })
	r.setEpoch()
	c.extendGroups(r)
	skew := rc.end() - now
	if !c.hasSkew || rc.end() > c.ingestMediaNow() {
		c.skew, c.hasSkew = skew, true
	}
	c.trim(r)
}

// covers reports whether in buffered a segment of key starting at end (±tol).
func (in *input) covers(key string, end, tol int64) bool {
	ir := in.rends[key]
	if ir == nil {
		return false
	}
	for i := range ir.buf {
		if d := ir.buf[i].start - end; d >= -tol && d <= tol {
			return true
		}
	}
	return false
}

// checkPassive switches to passive input in when it buffered media of
// rendition key that the output timeline lacks and the active input
// delivered no new segment of key for longer than staleAfter (by the
// ingest clock). Where the passive input is ahead does not matter: during
// the first backlog burst, or with inputs arriving a little apart, the
// passive input is often ahead for a moment, and switching then would only
// flap. It reports whether it switched.
func (c *channel) checkPassive(in *input, key string) bool {
	ir := in.rends[key]
	act := c.inputs[c.active]
	if ir == nil || len(ir.buf) == 0 || act == nil || act == in {
		return false
	}
	newest := &ir.buf[len(ir.buf)-1]
	target := ir.target
	if r := c.rends[key]; r != nil && len(r.segs) > 0 {
		if newest.end() <= r.lastEnd()+newest.dur/2 {
			return false // the output has all of it already
		}
		target = max(target, r.target)
	}
	last := c.activeSince
	if air := act.rends[key]; air != nil && air.lastRecv.After(last) {
		last = air.lastRecv
	}
	if c.clockNow().Sub(last) <= staleAfter(target) {
		return false
	}
	c.switchTo(in, "active input stopped delivering")
	return true
}

// checkInputs runs checkPassive on every rendition of the passive inputs,
// so an active input that stopped loses the output even when no further
// segment arrives on any input.
func (c *channel) checkInputs() {
	for _, n := range c.order {
		in := c.inputs[n]
		if n == c.active {
			continue
		}
		for _, key := range sortedKeys(in.rends) {
			if c.checkPassive(in, key) {
				return
			}
		}
	}
}

// switchTo makes in the active input and appends what it buffered.
func (c *channel) switchTo(in *input, reason string) {
	c.log.Warn("switching input", logChannel, c.cfg.ID, logFrom, c.active, logTo, in.name, logReason, reason)
	c.active, c.activeSince = in.name, c.clockNow()
	c.switches++
	if in.master != nil {
		c.master = in.master
	}
	for _, key := range sortedKeys(in.rends) {
		ir := in.rends[key]
		buf := ir.buf
		ir.buf = nil
		r := c.rend(key)
		if ir.target > r.target {
			r.target = ir.target
		}
		for _, rc := range buf {
			tol := rc.dur / 2
			if len(r.segs) > 0 && rc.end() <= r.lastEnd()+tol {
				c.releaseRec(&rc)
				continue
			}
			if r.ext == "" && rc.file != nil {
				r.ext = path.Ext(rc.file.path)
			}
			c.appendRec(r, rc, tol)
		}
	}
}

// trim removes segments older than the startover window.
func (c *channel) trim(r *rendition) {
	cutoff := c.ingestMediaNow() - int64(c.retain)
	n := r.countEndingBy(cutoff)
	if n == 0 {
		return
	}
	for i := range r.segs[:n] {
		c.releaseRec(&r.segs[i])
	}
	clear(r.segs[:n])
	r.segs = r.segs[n:]
	r.trimGroups()
}

// sweep applies retention to every rendition, forgets old file names and
// switches away from an active input that stopped delivering.
func (c *channel) sweep() {
	for _, key := range c.rendKeys {
		c.trim(c.rends[key])
	}
	now := c.clockNow()
	for _, n := range c.order { // in order: indexing may switch inputs
		in := c.inputs[n]
		for name, f := range in.files {
			if now.Sub(f.recv) > fileGrace {
				delete(in.files, name)
				c.release(f)
			}
		}
		for _, key := range sortedKeys(in.rends) {
			ir := in.rends[key]
			if ir.pending != nil && now.Sub(ir.waitSince) > skipAfter(ir.target) {
				c.indexPlaylist(in, key, ir.pending, ir.pendRecv)
			}
		}
	}
	c.checkInputs()
}

// cloneExtra copies the ad markers of s, so the index does not keep the
// whole playlist text alive (the parser's strings share one copy).
func cloneExtra(s *hls.Segment) *recExtra {
	e := &recExtra{}
	for _, t := range s.Tags {
		e.tags = append(e.tags, strings.Clone(t))
	}
	for _, d := range s.DateRanges {
		cp := *d
		cp.ID, cp.Class = strings.Clone(d.ID), strings.Clone(d.Class)
		cp.Extra = make([]hls.Attr, len(d.Extra))
		for i, a := range d.Extra {
			cp.Extra[i] = hls.Attr{Key: strings.Clone(a.Key), Value: strings.Clone(a.Value), Quoted: a.Quoted}
		}
		e.dateRanges = append(e.dateRanges, &cp)
	}
	e.cue, _ = adcue.Read(e.tags, e.dateRanges)
	return e
}
