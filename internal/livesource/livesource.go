// Package livesource serves the committed test media (internal/testmedia) as
// an advancing live HLS stream, for tests of the relay. A Source is an
// http.Handler; mount it on an httptest.Server (loopback) and point the
// fetcher at srv.URL + MasterPath.
//
// The VOD set of 8 one-second segments is looped forever: segment position p
// (counted from 0 since the start, the same for every rendition unless
// AdvanceRendition is used) carries the bytes of VOD segment p mod 8, and each
// wrap to VOD segment 0 is preceded by EXT-X-DISCONTINUITY. Segment bytes are
// served unchanged: MPEG-TS PTS/DTS, fMP4 tfdt and WebVTT X-TIMESTAMP-MAP
// restart at every loop and are not rewritten (the discontinuity tells
// players so; a relay only copies bytes and does not care).
//
// Time advances either by hand (Advance, the default: deterministic) or from
// an injected clock (Config.Clock). Playlists are rendered on request from
// the current state; everything is guarded by one mutex, so a Source may be
// driven from the test goroutine while the relay polls it.
//
// Served paths (relative URIs in playlists, so the Source may also be
// mounted under a prefix with http.StripPrefix):
//
//	/master.m3u8                        the set's multivariant playlist
//	/<rendition>.m3u8                   live media playlist (video_hi, video_lo, audio, subs)
//	/<rendition>/seg_<msn>.<ext>        segment with media sequence msn (seg_<msn>_r<k>.<ext> after k resets)
//	/<rendition>/init.mp4               fMP4 init segment
//	/<rendition>/stream_<k>.<ext>       ByteRange mode: every segment of epoch k in one resource
//	/key.bin                            Key mode: the AES-128 key
package livesource

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pullpush/pullpush/internal/testmedia"
)

// MasterPath is the path of the multivariant playlist served by a Source.
const MasterPath = "/master.m3u8"

// KeyPath is the path of the AES-128 key served in Key mode.
const KeyPath = "/key.bin"

// DefaultWindow is the number of segments listed when Config.Window is 0.
const DefaultWindow = 4

// fixedKey is the AES-128 key used in Key mode (16 bytes).
const fixedKey = "pullpush-testkey"

// Key returns the fixed AES-128 key served at KeyPath in Key mode.
func Key() []byte { return []byte(fixedKey) }

// PlaylistPath returns the path of a rendition's media playlist, e.g.
// "/video_hi.m3u8".
func PlaylistPath(rendition string) string { return "/" + rendition + ".m3u8" }

// Config configures a Source. Only Set is required.
type Config struct {
	// Set is the media to loop (testmedia.Load(testmedia.TS) or FMP4).
	Set *testmedia.Set
	// Window is the number of segments listed in a live playlist; 0 means
	// DefaultWindow. The first Window segments are published at creation,
	// so the playlists are full from the first request.
	Window int
	// Clock, when set, drives the source in real time: one more segment is
	// published per Interval since Start. Nil means manual mode: segments
	// are only published by Advance / AdvanceRendition.
	Clock func() time.Time
	// Interval is the clock time between two published segments in clock
	// mode; 0 means the nominal segment duration (1 s). A short Interval
	// makes a fast live stream whose EXTINF durations still say 1 s.
	Interval time.Duration
	// Start is the wall time the source starts at. PROGRAM-DATE-TIME of the
	// segment at position p is Start + (p-Window)·1 s, so the initial window
	// ends at Start. Zero means Clock() in clock mode and
	// 2024-01-01T00:00:00Z in manual mode.
	Start time.Time
	// WithPDT adds EXT-X-PROGRAM-DATE-TIME to every segment.
	WithPDT bool
	// SequenceOffsets gives a rendition's first media sequence number
	// (default 0), e.g. {"audio": 1000}: a relay must not assume renditions
	// share sequence numbers.
	SequenceOffsets map[string]uint64
	// EndAfter, when > 0, stops a rendition after it has published EndAfter
	// segments (counting the initial window): its playlist gets
	// EXT-X-ENDLIST and it no longer advances.
	EndAfter int
	// ByteRange serves each rendition as one growing resource per epoch
	// (stream_<k>.<ext>: the fMP4 init segment followed by every published
	// segment) and lists segments with EXT-X-BYTERANGE.
	ByteRange bool
	// Key encrypts video and audio segments with AES-128 (CBC, PKCS#7,
	// whole segment, IV = media sequence number as the spec's default) with
	// the fixed key Key(), announced by #EXT-X-KEY:METHOD=AES-128,URI="key.bin"
	// (resolving to KeyPath). fMP4 init segments and subtitles stay clear.
	Key bool
	// SingleMedia serves only the first rendition's media playlist
	// (video_hi): the master and the other playlists answer 404.
	SingleMedia bool
	// Event makes the playlists PLAYLIST-TYPE:EVENT: they grow and never
	// slide (Window only sets the initial size).
	Event bool
	// ExtraTags are tag lines written, verbatim and in order, just before
	// the segment at the given position in every media playlist, e.g.
	// {5: {"#EXT-X-CUE-OUT:2"}, 7: {"#EXT-X-CUE-IN"}}, to test passthrough.
	ExtraTags map[int][]string
}

// SegmentRef describes one segment a Source published.
type SegmentRef struct {
	// Rendition is the rendition name, e.g. "video_hi".
	Rendition string
	// MediaSequence is the segment's media sequence number.
	MediaSequence uint64
	// URI is the segment URI as listed, relative to the Source root, e.g.
	// "video_hi/seg_12.ts" (in ByteRange mode the shared resource).
	URI string
	// Duration is the EXTINF duration in seconds.
	Duration float64
	// Size is the number of bytes served for the segment.
	Size int
	// SHA256 is the hex SHA-256 of the bytes served (encrypted in Key mode).
	SHA256 string
	// Discontinuity reports an EXT-X-DISCONTINUITY before the segment.
	Discontinuity bool
	// DiscontinuitySequence is the segment's discontinuity sequence number.
	DiscontinuitySequence uint64
	// Position is the segment's position in the looped programme since the
	// start; it carries VOD segment Position mod 8.
	Position int
	// Epoch counts ResetSequence calls that took effect before the segment.
	Epoch int
	// PDT is the segment's program date time (listed only with WithPDT).
	PDT time.Time
	// RangeOffset and RangeLength locate the segment in URI in ByteRange
	// mode; RangeLength is 0 otherwise.
	RangeOffset, RangeLength int64
	// Encrypted reports AES-128 encryption (Key mode, video and audio).
	Encrypted bool
	// Tags are the Config.ExtraTags lines written before the segment.
	Tags []string
}

// Source is a live HLS source. Create it with New.
type Source struct {
	cfg      Config
	window   int
	interval time.Duration
	nominal  time.Duration // nominal segment duration, for PDT

	mu         sync.Mutex
	rends      []*rendition
	byName     map[string]*rendition
	clockSteps int // segments published by the clock so far
	requests   map[string]int
}

type rendition struct {
	src       *testmedia.Rendition
	name      string
	offset    uint64
	encrypted bool
	version   int
	hashes    []string // of the clear VOD segments

	nextMSN      uint64
	nextPos      int
	lastPos      int // -1 before the first segment
	epoch        int
	resetPending bool
	discSeq      uint64
	published    int
	ended        bool

	entries    []*entry // every segment published, in order
	epochStart int      // index in entries of the current epoch's first segment
	byURI      map[string]*entry
	files      map[string]*rangeFile // ByteRange resources by URI
}

type entry struct {
	ref    SegmentRef
	data   []byte
	listed bool
}

// rangeFile is a growing ByteRange resource; parts are never modified.
type rangeFile struct {
	parts [][]byte
	size  int64
}

// New returns a Source with the first Window segments of every rendition
// published. It panics if cfg.Set is nil or has no renditions.
func New(cfg Config) *Source {
	if cfg.Set == nil || len(cfg.Set.Renditions) == 0 {
		panic("livesource: Config.Set is required")
	}
	cfg.ExtraTags = maps.Clone(cfg.ExtraTags)
	cfg.SequenceOffsets = maps.Clone(cfg.SequenceOffsets)
	s := &Source{cfg: cfg, window: cfg.Window, interval: cfg.Interval, byName: make(map[string]*rendition), requests: make(map[string]int)}
	if s.window <= 0 {
		s.window = DefaultWindow
	}
	s.nominal = time.Duration(max(cfg.Set.Renditions[0].TargetDuration, 1)) * time.Second
	if s.interval <= 0 {
		s.interval = s.nominal
	}
	if s.cfg.Start.IsZero() {
		if cfg.Clock != nil {
			s.cfg.Start = cfg.Clock()
		} else {
			s.cfg.Start = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
		}
	}
	for _, r := range cfg.Set.Renditions {
		rd := &rendition{
			src:       r,
			name:      r.Name,
			offset:    cfg.SequenceOffsets[r.Name],
			encrypted: cfg.Key && r.Kind != testmedia.KindSubtitles,
			version:   r.Version,
			lastPos:   -1,
			byURI:     make(map[string]*entry),
			files:     make(map[string]*rangeFile),
		}
		rd.nextMSN = rd.offset
		if cfg.ByteRange {
			rd.version = max(rd.version, 4)
		}
		for _, seg := range r.Segments {
			sum := sha256.Sum256(seg.Data)
			rd.hashes = append(rd.hashes, hex.EncodeToString(sum[:]))
		}
		s.rends = append(s.rends, rd)
		s.byName[r.Name] = rd
	}
	for _, r := range s.rends {
		s.publish(r, s.window)
	}
	return s
}

// Renditions returns the rendition names in master order.
func (s *Source) Renditions() []string {
	names := make([]string, len(s.rends))
	for i, r := range s.rends {
		names[i] = r.name
	}
	return names
}

// Advance publishes n more segments in every rendition (renditions that
// reached EndAfter stay ended).
func (s *Source) Advance(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.syncClock()
	for _, r := range s.rends {
		s.publish(r, n)
	}
}

// AdvanceRendition publishes n more segments in one rendition only, letting
// renditions drift apart. It panics on an unknown rendition.
func (s *Source) AdvanceRendition(name string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.syncClock()
	s.publish(s.rendition(name), n)
}

// ResetSequence simulates a restart of the source: the next segment of every
// rendition starts a new epoch, with its media sequence number back to the
// rendition's initial value (0 unless SequenceOffsets says otherwise), an
// EXT-X-DISCONTINUITY, and URIs seg_<msn>_r<epoch>.<ext> that do not collide
// with earlier ones. Until then the old window is still listed; from then on
// only segments of the new epoch are. The discontinuity sequence keeps
// counting and the programme position and PDT continue.
func (s *Source) ResetSequence() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.syncClock()
	for _, r := range s.rends {
		r.resetPending = true
	}
}

// SkipSequence makes every rendition skip n media sequence numbers (and n
// programme positions): the next segment published has a media sequence
// number n higher than it would have had, and the skipped ones never exist.
func (s *Source) SkipSequence(n int) {
	if n < 0 {
		panic("livesource: SkipSequence with negative n")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.syncClock()
	for _, r := range s.rends {
		r.nextMSN += uint64(n)
		r.nextPos += n
	}
}

// Offered returns every segment of the rendition that appeared in at least
// one media playlist served over HTTP, in publication order: what a relay
// polling the source was offered and should deliver exactly once.
func (s *Source) Offered(rendition string) []SegmentRef {
	return s.refs(rendition, func(e *entry) bool { return e.listed })
}

// Published returns every segment the rendition has published, served in a
// playlist or not, in order.
func (s *Source) Published(rendition string) []SegmentRef {
	return s.refs(rendition, func(*entry) bool { return true })
}

// Window returns the segments the rendition's playlist lists now.
func (s *Source) Window(rendition string) []SegmentRef {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.syncClock()
	r := s.rendition(rendition)
	var out []SegmentRef
	for _, e := range s.listed(r) {
		out = append(out, e.ref)
	}
	return out
}

// Ended reports whether the rendition reached EndAfter.
func (s *Source) Ended(rendition string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.syncClock()
	return s.rendition(rendition).ended
}

// Data returns the bytes served for a published segment (encrypted in Key
// mode), or false if the rendition never published msn in the given epoch.
func (s *Source) Data(rendition string, epoch int, msn uint64) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.syncClock()
	for _, e := range s.rendition(rendition).entries {
		if e.ref.Epoch == epoch && e.ref.MediaSequence == msn {
			return e.data, true
		}
	}
	return nil, false
}

// Requests returns how many requests were made for path (e.g.
// "/video_hi.m3u8"), whatever their outcome.
func (s *Source) Requests(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[path]
}

// RequestCounts returns a copy of the per-path request counters.
func (s *Source) RequestCounts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.requests)
}

func (s *Source) refs(rendition string, keep func(*entry) bool) []SegmentRef {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.syncClock()
	var out []SegmentRef
	for _, e := range s.rendition(rendition).entries {
		if keep(e) {
			out = append(out, e.ref)
		}
	}
	return out
}

// rendition returns the named rendition or panics: tests pass constants.
func (s *Source) rendition(name string) *rendition {
	r := s.byName[name]
	if r == nil {
		panic(fmt.Sprintf("livesource: unknown rendition %q", name))
	}
	return r
}

// syncClock publishes the segments due by the clock. Called with s.mu held.
func (s *Source) syncClock() {
	if s.cfg.Clock == nil {
		return
	}
	elapsed := s.cfg.Clock().Sub(s.cfg.Start)
	if elapsed < 0 {
		return
	}
	due := int(elapsed / s.interval)
	if due <= s.clockSteps {
		return
	}
	n := due - s.clockSteps
	s.clockSteps = due
	for _, r := range s.rends {
		s.publish(r, n)
	}
}

// publish appends n segments to r. Called with s.mu held (or from New).
func (s *Source) publish(r *rendition, n int) {
	vodLen := len(r.src.Segments)
	for range n {
		if r.ended {
			return
		}
		pos := r.nextPos
		disc := r.lastPos >= 0 && pos/vodLen != r.lastPos/vodLen
		if r.resetPending {
			r.resetPending = false
			r.epoch++
			r.nextMSN = r.offset
			r.epochStart = len(r.entries)
			disc = true
		}
		if disc {
			r.discSeq++
		}
		msn := r.nextMSN
		vod := r.src.Segments[pos%vodLen]
		e := &entry{ref: SegmentRef{
			Rendition:             r.name,
			MediaSequence:         msn,
			Duration:              vod.Duration,
			Discontinuity:         disc,
			DiscontinuitySequence: r.discSeq,
			Position:              pos,
			Epoch:                 r.epoch,
			PDT:                   s.cfg.Start.Add(time.Duration(pos-s.window) * s.nominal),
			Encrypted:             r.encrypted,
			Tags:                  slices.Clone(s.cfg.ExtraTags[pos]),
		}}
		e.data = vod.Data
		e.ref.SHA256 = r.hashes[pos%vodLen]
		if r.encrypted {
			e.data = encrypt(vod.Data, SequenceIV(msn))
			sum := sha256.Sum256(e.data)
			e.ref.SHA256 = hex.EncodeToString(sum[:])
		}
		e.ref.Size = len(e.data)
		ext := r.src.Ext()
		if s.cfg.ByteRange {
			fext := ext
			if r.src.Init != nil {
				fext = ".mp4"
			}
			uri := fmt.Sprintf("%s/stream_%d%s", r.name, r.epoch, fext)
			f := r.files[uri]
			if f == nil {
				f = &rangeFile{}
				if r.src.Init != nil {
					f.parts = append(f.parts, r.src.Init)
					f.size = int64(len(r.src.Init))
				}
				r.files[uri] = f
			}
			e.ref.URI = uri
			e.ref.RangeOffset, e.ref.RangeLength = f.size, int64(len(e.data))
			f.parts = append(f.parts, e.data)
			f.size += int64(len(e.data))
		} else {
			if r.epoch == 0 {
				e.ref.URI = fmt.Sprintf("%s/seg_%d%s", r.name, msn, ext)
			} else {
				e.ref.URI = fmt.Sprintf("%s/seg_%d_r%d%s", r.name, msn, r.epoch, ext)
			}
			r.byURI[e.ref.URI] = e
		}
		r.entries = append(r.entries, e)
		r.nextMSN++
		r.nextPos++
		r.lastPos = pos
		r.published++
		if s.cfg.EndAfter > 0 && r.published >= s.cfg.EndAfter {
			r.ended = true
		}
	}
}

// listed returns the entries the playlist lists now. Called with s.mu held.
func (s *Source) listed(r *rendition) []*entry {
	cur := r.entries[r.epochStart:]
	if !s.cfg.Event && len(cur) > s.window {
		cur = cur[len(cur)-s.window:]
	}
	return cur
}

// playlist renders r's media playlist and marks its segments offered.
// Called with s.mu held.
func (s *Source) playlist(r *rendition) []byte {
	es := s.listed(r)
	var b bytes.Buffer
	b.WriteString("#EXTM3U\n")
	fmt.Fprintf(&b, "#EXT-X-VERSION:%d\n", r.version)
	fmt.Fprintf(&b, "#EXT-X-TARGETDURATION:%d\n", max(r.src.TargetDuration, 1))
	var first SegmentRef
	if len(es) > 0 {
		first = es[0].ref
	}
	ds := first.DiscontinuitySequence
	if first.Discontinuity {
		ds--
	}
	fmt.Fprintf(&b, "#EXT-X-MEDIA-SEQUENCE:%d\n", first.MediaSequence)
	fmt.Fprintf(&b, "#EXT-X-DISCONTINUITY-SEQUENCE:%d\n", ds)
	if s.cfg.Event {
		b.WriteString("#EXT-X-PLAYLIST-TYPE:EVENT\n")
	}
	if r.src.Init != nil {
		if s.cfg.ByteRange {
			fmt.Fprintf(&b, "#EXT-X-MAP:URI=\"%s/stream_%d.mp4\",BYTERANGE=\"%d@0\"\n", r.name, first.Epoch, len(r.src.Init))
		} else {
			fmt.Fprintf(&b, "#EXT-X-MAP:URI=\"%s\"\n", r.src.InitURI)
		}
	}
	if r.encrypted {
		fmt.Fprintf(&b, "#EXT-X-KEY:METHOD=AES-128,URI=\"%s\"\n", strings.TrimPrefix(KeyPath, "/"))
	}
	for _, e := range es {
		e.listed = true
		for _, t := range e.ref.Tags {
			b.WriteString(t + "\n")
		}
		if e.ref.Discontinuity {
			b.WriteString("#EXT-X-DISCONTINUITY\n")
		}
		if s.cfg.WithPDT {
			fmt.Fprintf(&b, "#EXT-X-PROGRAM-DATE-TIME:%s\n", e.ref.PDT.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
		}
		fmt.Fprintf(&b, "#EXTINF:%s,\n", strconv.FormatFloat(e.ref.Duration, 'f', 6, 64))
		if e.ref.RangeLength > 0 {
			fmt.Fprintf(&b, "#EXT-X-BYTERANGE:%d@%d\n", e.ref.RangeLength, e.ref.RangeOffset)
		}
		b.WriteString(e.ref.URI + "\n")
	}
	if r.ended {
		b.WriteString("#EXT-X-ENDLIST\n")
	}
	return b.Bytes()
}

// ServeHTTP serves the master playlist, media playlists, segments, init
// segments and the key. Only GET and HEAD are allowed.
func (s *Source) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	s.mu.Lock()
	s.requests[req.URL.Path]++
	s.mu.Unlock()
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := strings.TrimPrefix(req.URL.Path, "/")
	if p == strings.TrimPrefix(MasterPath, "/") {
		if s.cfg.SingleMedia {
			http.NotFound(w, req)
			return
		}
		serveBytes(w, req, "master.m3u8", s.cfg.Set.Master, true)
		return
	}
	if p == strings.TrimPrefix(KeyPath, "/") {
		if !s.cfg.Key {
			http.NotFound(w, req)
			return
		}
		serveBytes(w, req, "key.bin", Key(), false)
		return
	}
	s.mu.Lock()
	s.syncClock()
	if name, ok := strings.CutSuffix(p, ".m3u8"); ok && !strings.Contains(name, "/") {
		r := s.byName[name]
		if r == nil || (s.cfg.SingleMedia && r != s.rends[0]) {
			s.mu.Unlock()
			http.NotFound(w, req)
			return
		}
		body := s.playlist(r)
		s.mu.Unlock()
		serveBytes(w, req, p, body, true)
		return
	}
	name, _, _ := strings.Cut(p, "/")
	r := s.byName[name]
	if r == nil {
		s.mu.Unlock()
		http.NotFound(w, req)
		return
	}
	if r.src.Init != nil && p == r.src.InitURI {
		s.mu.Unlock()
		serveBytes(w, req, p, r.src.Init, false)
		return
	}
	if e := r.byURI[p]; e != nil {
		data := e.data
		s.mu.Unlock()
		serveBytes(w, req, p, data, false)
		return
	}
	if f := r.files[p]; f != nil {
		parts := slices.Clone(f.parts)
		s.mu.Unlock()
		w.Header().Set("Content-Type", contentType(p))
		http.ServeContent(w, req, "", time.Time{}, newMultiReader(parts))
		return
	}
	s.mu.Unlock()
	http.NotFound(w, req)
}

// serveBytes serves b with a content type from name; playlists are marked
// uncacheable. Range requests are honoured.
func serveBytes(w http.ResponseWriter, req *http.Request, name string, b []byte, playlist bool) {
	w.Header().Set("Content-Type", contentType(name))
	if playlist {
		w.Header().Set("Cache-Control", "no-cache")
	}
	http.ServeContent(w, req, "", time.Time{}, bytes.NewReader(b))
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".m3u8":
		return "application/vnd.apple.mpegurl"
	case ".ts":
		return "video/mp2t"
	case ".m4s", ".mp4":
		return "video/mp4"
	case ".vtt":
		return "text/vtt"
	default:
		return "application/octet-stream"
	}
}
