// Package faultcheck checks the relay's delivery invariant in fault tests:
// every segment a test source offered is at a destination exactly once, in
// order, or is accounted for as a gap.
//
// Three pieces work together:
//
//   - Source wraps a livesource.Source and appends a short trailer naming
//     the segment to every segment body it serves, so each segment's bytes
//     are unique (the looped test media repeats every 8 segments) and a
//     destination file identifies its source segment by its SHA-256 alone.
//     A truncated or corrupted copy matches nothing and is reported.
//   - Dest is a recording sink.Sink that also keeps every media playlist it
//     stored and flags a playlist PUT that references a segment the
//     destination does not hold yet.
//   - Check compares what the source offered with what one destination
//     stored and returns a Report: offered, delivered, gaps (each undelivered
//     segment must be marked EXT-X-GAP in a pushed playlist, or hidden behind
//     an EXT-X-DISCONTINUITY when the relay never saw it), duplicates (one
//     source segment stored under two names), re-PUTs (the same name pushed
//     again with the same bytes, e.g. after a lost response) and violations.
package faultcheck

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/internal/livesource"
	"github.com/pullpush/pullpush/internal/sink"
)

// segmentPath matches the segment paths a livesource.Source serves.
var segmentPath = regexp.MustCompile(`^/[^/]+/seg_\d+(_r\d+)?\.[a-z0-9]+$`)

// Trailer returns the bytes Source appends to the segment listed as uri
// (relative to the source root, e.g. "video_hi/seg_12.ts").
func Trailer(uri string) []byte {
	return []byte("\n#faultcheck " + strings.TrimPrefix(uri, "/") + "\n")
}

// Source is a livesource.Source whose segments carry a unique trailer. It
// also counts requests per segment path. ByteRange mode is not supported.
type Source struct {
	*livesource.Source

	mu        sync.Mutex
	requested map[string]int
	purge     bool
}

// Purge makes the source answer 404 for segments it no longer lists, like
// an origin that deletes segments once they leave its window (by default
// every published segment stays available).
func (s *Source) Purge(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.purge = on
}

// listed reports whether the segment at path (with a leading slash) is in
// its rendition's current window.
func (s *Source) listed(p string) bool {
	rendition, _, _ := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	for _, ref := range s.Window(rendition) {
		if "/"+ref.URI == p {
			return true
		}
	}
	return false
}

// NewSource returns a Source over livesource.New(cfg).
func NewSource(cfg livesource.Config) *Source {
	if cfg.ByteRange {
		panic("faultcheck: ByteRange sources are not supported")
	}
	return &Source{Source: livesource.New(cfg), requested: map[string]int{}}
}

// ServeHTTP serves the live source, appending Trailer to segment bodies.
func (s *Source) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !segmentPath.MatchString(r.URL.Path) || r.Header.Get("Range") != "" {
		s.Source.ServeHTTP(w, r)
		return
	}
	s.mu.Lock()
	s.requested[r.URL.Path]++
	purge := s.purge
	s.mu.Unlock()
	if purge && !s.listed(r.URL.Path) {
		http.NotFound(w, r)
		return
	}
	rec := httptest.NewRecorder()
	s.Source.ServeHTTP(rec, r)
	body := rec.Body.Bytes()
	if rec.Code == http.StatusOK {
		body = append(body, Trailer(r.URL.Path)...)
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(rec.Code)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// Requested returns how many requests reached the source for a segment
// (uri relative to the source root or with a leading slash).
func (s *Source) Requested(uri string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requested["/"+strings.TrimPrefix(uri, "/")]
}

// Newest returns the newest segment the rendition lists now.
func (s *Source) Newest(rendition string) (livesource.SegmentRef, bool) {
	w := s.Window(rendition)
	if len(w) == 0 {
		return livesource.SegmentRef{}, false
	}
	return w[len(w)-1], true
}

// Segment is a segment a Source offered, with the digest of the bytes it
// served (trailer included).
type Segment struct {
	livesource.SegmentRef
	Served string // hex SHA-256 of the served body
}

// Offered returns the segments of a rendition that appeared in a playlist
// the source served, in order, with the digests of their served bodies.
func (s *Source) Offered(rendition string) []Segment {
	return s.withDigests(rendition, s.Source.Offered(rendition))
}

// Published returns every segment the rendition published, listed in a
// served playlist or not, with the digests of their bodies.
func (s *Source) Published(rendition string) []Segment {
	return s.withDigests(rendition, s.Source.Published(rendition))
}

func (s *Source) withDigests(rendition string, refs []livesource.SegmentRef) []Segment {
	out := make([]Segment, 0, len(refs))
	for _, ref := range refs {
		data, _ := s.Data(rendition, ref.Epoch, ref.MediaSequence)
		h := sha256.New()
		h.Write(data)
		h.Write(Trailer(ref.URI))
		out = append(out, Segment{SegmentRef: ref, Served: hex.EncodeToString(h.Sum(nil))})
	}
	return out
}

// Dest is a recording WebDAV sink that keeps every media playlist it stored
// and checks, at each playlist PUT, that every file the playlist references
// is already stored.
type Dest struct {
	Sink *sink.Sink

	mu         sync.Mutex
	playlists  map[string][][]byte // stored versions, by path
	violations []string
}

// NewDest returns a Dest over sink.New(opts).
func NewDest(opts sink.Options) *Dest {
	return &Dest{Sink: sink.New(opts), playlists: map[string][][]byte{}}
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// ServeHTTP checks playlist PUTs, then lets the sink handle the request.
func (d *Dest) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPut || !strings.HasSuffix(r.URL.Path, ".m3u8") {
		d.Sink.ServeHTTP(w, r)
		return
	}
	var buf bytes.Buffer
	buf.ReadFrom(r.Body)
	body := buf.Bytes()
	r.Body = readCloser{bytes.NewReader(body)}
	d.checkRefs(r.URL.Path, body)
	sw := &statusWriter{ResponseWriter: w}
	d.Sink.ServeHTTP(sw, r)
	if sw.status/100 == 2 {
		d.mu.Lock()
		d.playlists[r.URL.Path] = append(d.playlists[r.URL.Path], body)
		d.mu.Unlock()
	}
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

func (d *Dest) checkRefs(p string, body []byte) {
	for _, v := range CheckRefs(p, body, func(file string) bool {
		_, ok := d.Sink.Get(file)
		return ok
	}) {
		d.violate("%s", v)
	}
}

// CheckRefs checks the playlist body about to be stored at path p: it
// returns one violation for each file the playlist references (segments
// not marked EXT-X-GAP, init sections, keys, media playlists) that stored
// does not report as held yet, or a single one when the playlist does not
// parse. References are resolved against p's directory.
func CheckRefs(p string, body []byte, stored func(path string) bool) []string {
	pl, err := hls.Parse(body)
	if err != nil {
		return []string{fmt.Sprintf("playlist %s does not parse: %v", p, err)}
	}
	dir := path.Dir(p) + "/"
	var out []string
	for _, ref := range References(pl) {
		if !stored(dir + ref) {
			out = append(out, fmt.Sprintf("playlist %s references %s before it was stored", p, ref))
		}
	}
	return out
}

// References lists the URIs of the files a playlist needs a player to
// find: for a media playlist each segment not marked EXT-X-GAP, its init
// section and its keys; for a multivariant playlist each variant and
// rendition playlist.
func References(pl hls.Playlist) []string {
	var refs []string
	switch m := pl.(type) {
	case *hls.Media:
		for _, s := range m.Segments {
			if !s.Gap {
				refs = append(refs, s.URI)
			}
			if s.Map != nil {
				refs = append(refs, s.Map.URI)
			}
			for _, k := range s.Keys {
				if k.URI != "" {
					refs = append(refs, k.URI)
				}
			}
		}
	case *hls.Multivariant:
		for _, v := range m.Variants {
			refs = append(refs, v.URI)
		}
		for _, r := range m.Renditions {
			if r.URI != "" {
				refs = append(refs, r.URI)
			}
		}
	}
	return refs
}

func (d *Dest) violate(format string, args ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.violations = append(d.violations, fmt.Sprintf(format, args...))
}

// Violations returns the playlist checks that failed so far.
func (d *Dest) Violations() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.violations)
}

// Playlists returns every stored version of the playlist at path, oldest first.
func (d *Dest) Playlists(p string) [][]byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.playlists[p])
}

// Options tell Check where a rendition's files are.
type Options struct {
	// Dir is the destination directory path, e.g. "/in/v2/1/a/".
	Dir string
	// Stem is the file name stem of the output (default "channel").
	Stem string
	// Name maps a source rendition to its pushed name; nil replaces "_"
	// with "-" (the relay's naming of livesource renditions).
	Name func(rendition string) string
	// IgnoreTail leaves out the segments offered after the newest one
	// delivered, for a relay stopped while the source went on.
	IgnoreTail bool
	// IgnoreHead leaves out the segments offered before the oldest one
	// delivered, for a relay that started (and began at the live edge)
	// after the source had published them.
	IgnoreHead bool
	// Published checks against every segment the source published instead
	// of those listed in a playlist it served: segments published and gone
	// while no one was polling (the relay was down) count as gaps too.
	Published bool
}

// Report is the outcome of Check for one destination.
type Report struct {
	Offered    int // segments the source listed
	Delivered  int // offered segments stored at the destination
	Gaps       int // offered segments not delivered but accounted for (Marked + Unseen)
	Marked     int // gaps marked EXT-X-GAP in a pushed playlist
	Unseen     int // gaps the relay never saw, marked by a DISCONTINUITY after them
	Lost       int // offered segments neither delivered nor accounted for
	Duplicates int // extra copies of a segment stored under another name
	RePuts     int // successful PUTs of a name already stored, same bytes
	// Undelivered lists the URIs of the offered segments not delivered, in
	// order (per rendition only; nil in the total).
	Undelivered []string
	// Violations describes every breach of the invariant (empty when it holds).
	Violations []string
	// Renditions holds the same counts per rendition.
	Renditions map[string]Report
}

func (r *Report) add(o Report) {
	r.Offered += o.Offered
	r.Delivered += o.Delivered
	r.Gaps += o.Gaps
	r.Marked += o.Marked
	r.Unseen += o.Unseen
	r.Lost += o.Lost
	r.Duplicates += o.Duplicates
	r.RePuts += o.RePuts
	r.Violations = append(r.Violations, o.Violations...)
}

// String formats the counts on one line.
func (r Report) String() string {
	return fmt.Sprintf("offered=%d delivered=%d gaps=%d (marked %d, unseen %d) lost=%d duplicates=%d re-puts=%d violations=%d",
		r.Offered, r.Delivered, r.Gaps, r.Marked, r.Unseen, r.Lost, r.Duplicates, r.RePuts, len(r.Violations))
}

// slot is what the pushed playlists said about one output sequence number.
type slot struct {
	gap, disc, listed bool
	uri               string
}

// Check compares what src offered for every rendition with what d stored.
// Call it once the relay has caught up (or stopped).
func Check(src *Source, d *Dest, opts Options) Report {
	if opts.Stem == "" {
		opts.Stem = "channel"
	}
	if opts.Name == nil {
		opts.Name = func(r string) string { return strings.ReplaceAll(r, "_", "-") }
	}
	total := Report{Renditions: map[string]Report{}}
	writes := d.Sink.Writes()
	for _, rend := range src.Renditions() {
		ref := src.Offered(rend)
		if opts.Published {
			ref = src.Published(rend)
		}
		rep := checkRendition(ref, writes, d, opts, opts.Name(rend))
		total.Renditions[rend] = rep
		for i, v := range rep.Violations {
			rep.Violations[i] = rend + ": " + v
		}
		total.add(rep)
	}
	return total
}

type delivery struct {
	seq int64
	idx int
}

func checkRendition(offered []Segment, writes []sink.Request, d *Dest, opts Options, name string) Report {
	var rep Report
	bad := func(format string, args ...any) {
		if len(rep.Violations) < 20 {
			rep.Violations = append(rep.Violations, fmt.Sprintf(format, args...))
		}
	}
	rep.Offered = len(offered)
	bySHA := make(map[string]int, len(offered))
	for i, s := range offered {
		if j, dup := bySHA[s.Served]; dup {
			bad("checker: offered segments %s and %s have the same bytes", offered[j].URI, s.URI)
		}
		bySHA[s.Served] = i
	}

	prefix := opts.Dir + opts.Stem + "_" + name + "_"
	seqOf := func(p string) (int64, bool) {
		rest, ok := strings.CutPrefix(p, prefix)
		if !ok {
			return 0, false
		}
		num, ext, ok := strings.Cut(rest, ".")
		if !ok || ext == "" || strings.ContainsAny(ext, "./") {
			return 0, false
		}
		n, err := strconv.ParseInt(num, 10, 64)
		return n, err == nil && n >= 0
	}

	stored := map[string]string{} // path -> sha of first successful PUT
	seqIdx := map[int64]int{}     // output seq -> offered index
	copies := map[int][]int64{}   // offered index -> output seqs it was stored as
	lastSeq := int64(-1)
	for _, w := range writes {
		if w.Method != http.MethodPut {
			continue
		}
		seq, ok := seqOf(w.Path)
		if !ok {
			continue
		}
		if prev, again := stored[w.Path]; again {
			if prev != w.SHA256 {
				bad("%s stored twice with different bytes (name collision)", w.Path)
			} else {
				rep.RePuts++
			}
			if seq != lastSeq {
				bad("%s pushed again after later segments", w.Path)
			}
			continue
		}
		stored[w.Path] = w.SHA256
		if seq <= lastSeq {
			bad("%s pushed after output sequence %d: not in order", w.Path, lastSeq)
		}
		lastSeq = max(lastSeq, seq)
		idx, ok := bySHA[w.SHA256]
		if !ok {
			bad("%s holds %d bytes that are no offered segment (truncated or corrupt)", w.Path, w.Size)
			continue
		}
		if _, taken := seqIdx[seq]; taken {
			bad("output sequence %d stored under two names", seq)
			continue
		}
		seqIdx[seq] = idx
		copies[idx] = append(copies[idx], seq)
	}
	for idx, seqs := range copies {
		if len(seqs) > 1 {
			rep.Duplicates += len(seqs) - 1
			bad("%s stored %d times (output sequences %v)", offered[idx].URI, len(seqs), seqs)
		}
	}
	rep.Delivered = len(copies)

	// What the stored playlists said about each output sequence number.
	slots := map[int64]*slot{}
	minSeq := int64(-1)
	for _, body := range d.Playlists(opts.Dir + opts.Stem + "_" + name + ".m3u8") {
		m, err := hls.ParseMedia(body)
		if err != nil {
			bad("stored playlist does not parse: %v", err)
			continue
		}
		for i, s := range m.Segments {
			seq := m.MediaSequence + int64(i)
			if minSeq < 0 || seq < minSeq {
				minSeq = seq
			}
			sl := slots[seq]
			if sl == nil {
				sl = &slot{uri: s.URI}
				slots[seq] = sl
			} else if sl.uri != s.URI {
				bad("output sequence %d listed as %s and as %s", seq, sl.uri, s.URI)
			}
			sl.listed = true
			sl.gap = sl.gap || s.Gap
			sl.disc = sl.disc || s.Discontinuity
			if got, ok := seqOf(opts.Dir + s.URI); !ok || got != seq {
				bad("output sequence %d listed with URI %s", seq, s.URI)
			}
			if _, ok := seqIdx[seq]; ok && s.Gap {
				bad("output sequence %d delivered but listed as EXT-X-GAP", seq)
			}
		}
	}

	var order []delivery
	for seq, idx := range seqIdx {
		order = append(order, delivery{seq, idx})
	}
	sort.Slice(order, func(i, j int) bool { return order[i].seq < order[j].seq })
	prev := delivery{seq: -1, idx: -1}
	if len(order) > 0 {
		prev.seq = order[0].seq - 1
	}
	if minSeq >= 0 && (len(order) == 0 || minSeq <= prev.seq) {
		prev.seq = minSeq - 1
	}
	head := 0
	if opts.IgnoreHead && len(order) > 0 {
		head = order[0].idx
		prev = delivery{seq: order[0].seq - 1, idx: head - 1}
	}
	// account checks the offered segments strictly between a and b (b.idx ==
	// len(offered) for the tail).
	account := func(a, b delivery, tail bool) {
		k := b.idx - a.idx - 1
		if k < 0 {
			bad("output sequence %d holds %s, which comes before %s at %d: not in order",
				b.seq, offered[b.idx].URI, offered[a.idx].URI, a.seq)
			return
		}
		for i := a.idx + 1; i < b.idx; i++ {
			rep.Undelivered = append(rep.Undelivered, offered[i].URI)
		}
		marked, skipped := 0, 0
		disc := false
		end := b.seq
		if tail {
			end = a.seq + int64(k) + 1
		}
		for s := a.seq + 1; s < end; s++ {
			sl := slots[s]
			switch {
			case sl != nil && sl.gap:
				marked++
				disc = disc || sl.disc
			case tail:
			case sl == nil:
				skipped++ // a number no playlist lists (a restart skipped it)
			default:
				bad("output sequence %d listed but neither delivered nor marked EXT-X-GAP", s)
			}
		}
		if !tail {
			if sl := slots[b.seq]; sl != nil && sl.disc {
				disc = true
			}
			if skipped > 0 && !disc {
				bad("output sequence numbers %d to %d skipped without a DISCONTINUITY", a.seq+1, b.seq-1)
			}
			if marked > k {
				bad("%d segments marked EXT-X-GAP between %d and %d for %d offered segments", marked, a.seq, b.seq, k)
			}
		}
		rep.Marked += min(marked, k)
		rest := k - min(marked, k)
		if rest == 0 {
			return
		}
		if disc && !tail {
			rep.Unseen += rest
			return
		}
		rep.Lost += rest
		first := a.idx + 1 + min(marked, k)
		bad("%d offered segments from %s on neither delivered nor marked (no EXT-X-GAP, no DISCONTINUITY)", rest, offered[first].URI)
	}
	for _, x := range order {
		account(prev, x, false)
		prev = x
	}
	if opts.IgnoreTail && len(order) > 0 {
		rep.Offered = prev.idx + 1 - head
	} else {
		rep.Offered -= head
		account(prev, delivery{idx: len(offered)}, true)
	}
	rep.Gaps = rep.Marked + rep.Unseen
	return rep
}
