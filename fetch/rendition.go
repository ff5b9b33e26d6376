package fetch

import (
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/pullpush/pullpush/fetch/internal/numbering"

	"github.com/pullpush/pullpush/hls"
	"github.com/pullpush/pullpush/output"
)

// rendition polls one source media playlist and holds its segments until
// every target has pushed them.
type rendition struct {
	f    *Fetcher
	name string // used in pushed names
	url  string // resolved source playlist URL
	ref  string // URI as written in the source multivariant (for rewriting)
	kind string
	ext  string // default segment extension

	changed notifier

	mu           sync.Mutex
	entries      []*entry // consecutive output seqs
	num          numbering.Numbering
	liveFirst    int64 // first msn listed in the latest source playlist
	liveLast     int64
	ended        bool // source ENDLIST seen; no more entries
	grows        bool // EVENT or VOD source: no sliding window
	playlistType hls.PlaylistType
	version      int
	independent  bool
	td           int
	lastPDT      time.Time
	lastDur      float64
	auxes        map[string]*aux
	tg           []*renditionTarget
	st           RenditionStatus
	stallTold    bool // last stall state told to a StallObserver
	lastNew      time.Time
	bytesIn      int64
	secondsIn    float64
	ll           llState // Low-Latency HLS (llhls.go)
}

// renditionTarget is the per-target push state of a rendition.
type renditionTarget struct {
	pushed         int64 // last output seq done (pushed, missed or dropped)
	saveGen        int64 // save that records pushed, awaited before the next push
	winStart       int64 // first output seq in the pushed playlist
	discSeq        int64 // EXT-X-DISCONTINUITY-SEQUENCE of the window
	playlistPushed bool
	auxPushed      map[string]bool
	expired        []string               // names that left the window, for deletion
	parts          bool                   // the target accepts LL-HLS parts (output.PartTarget)
	partsPushed    map[int64]partProgress // by output seq, for the segments with parts
	partFiles      []pushedPart           // parts pushed, in order, until their segment expires
	expiredParts   []string               // parts whose segment left the window, for deletion
}

func newRendition(f *Fetcher, name, u, ref, kind string) *rendition {
	r := &rendition{
		f: f, name: name, url: u, ref: ref, kind: kind, ext: ".ts",
		num: numbering.New(), auxes: map[string]*aux{}, td: 1,
	}
	if kind == "subtitles" {
		r.ext = ".vtt"
	}
	r.st = RenditionStatus{Name: name, URI: u, Type: kind}
	r.tg = make([]*renditionTarget, len(f.targets))
	for i := range r.tg {
		r.tg[i] = &renditionTarget{pushed: -1, winStart: 0, auxPushed: map[string]bool{},
			parts: output.AcceptsParts(f.targets[i]), partsPushed: map[int64]partProgress{}}
	}
	if doc := f.progress; doc != nil {
		if p := doc.Renditions[name]; p != nil {
			r.restore(p)
		}
	}
	return r
}

// restore applies saved progress: numbering continues and nothing already
// pushed everywhere is pushed again. Segments the source still lists after
// the last one saved as pushed get their old numbers again (the same names
// for the same bytes); the number after each target's saved Pushed is
// reserved, as a crash may have left it pushed unsaved (see skipReserved).
func (r *rendition) restore(p *renditionProgress) {
	ok := func(n int64) bool { return n >= -numbering.MaxMediaSequence && n <= numbering.MaxMediaSequence }
	valid := ok(p.Offset) && ok(p.NextSeq) && ok(p.HeadSrc)
	for _, tp := range p.Targets {
		valid = valid && (tp == nil || ok(tp.Pushed) && ok(tp.DiscSeq))
	}
	if !valid {
		r.f.log.Warn("ignoring saved progress with numbers out of range", "rendition", r.name)
		return
	}
	minPushed := int64(math.MaxInt64)
	for i, t := range r.f.targets {
		tp := p.Targets[t.Name()]
		if tp == nil {
			minPushed = -1
			continue
		}
		r.tg[i].pushed = tp.Pushed
		r.tg[i].winStart = tp.Pushed + 1
		r.tg[i].discSeq = tp.DiscSeq
		minPushed = min(minPushed, tp.Pushed)
	}
	if minPushed < 0 || minPushed == math.MaxInt64 {
		minPushed = p.NextSeq - 1
	}
	for i := range r.tg {
		if p.Targets[r.f.targets[i].Name()] == nil {
			r.tg[i].pushed = minPushed
			r.tg[i].winStart = minPushed + 1
		}
	}
	// A target pushes a segment only once the progress recording the one
	// before it is saved (pushEntry): it may hold one segment past its
	// saved Pushed, so that number must not name other content.
	maxPushed := int64(math.MinInt64)
	for _, t := range r.tg {
		maxPushed = max(maxPushed, t.pushed)
	}
	r.num.Restore(p.Offset, minPushed, maxPushed, p.HeadSrc, p.HeadURI)
}

// skipNumbers passes over output numbers from..to that a previous run may
// have pushed without saving it (see numbering.skipReserved). Called with
// r.mu held.
func (r *rendition) skipNumbers(from, to int64) {
	if len(r.entries) == 0 {
		// Nothing waits to be pushed: each target continues after the
		// reserved numbers, with a playlist window starting there.
		for _, t := range r.tg {
			if t.pushed < to {
				t.pushed, t.winStart = to, to+1
			}
		}
		return
	}
	// Entries wait: fill the reserved numbers with gaps so numbering stays
	// consecutive for the pushers.
	for seq := from; seq <= to; seq++ {
		e := &entry{r: r, seq: seq, src: -1, name: r.segmentName(seq, r.ext), missed: true,
			ready: make(chan struct{}), dropped: map[int]bool{}}
		close(e.ready)
		for _, t := range r.tg {
			if e.seq > t.pushed {
				e.pending++
			}
		}
		r.entries = append(r.entries, e)
	}
}

func (r *rendition) progress() *renditionProgress {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := &renditionProgress{Offset: r.num.Offset, NextSeq: r.num.NextToSave(), HeadSrc: r.num.Head, HeadURI: r.num.HeadKey(), Targets: map[string]*targetProgress{}}
	for i, t := range r.tg {
		disc := t.discSeq
		for _, e := range r.entries {
			if e.seq >= t.winStart && e.seq <= t.pushed && e.disc {
				disc++
			}
		}
		p.Targets[r.f.targets[i].Name()] = &targetProgress{Pushed: t.pushed, DiscSeq: disc}
	}
	// HeadSrc/HeadURI describe the newest segment pushed everywhere so a
	// restart resumes from there.
	minPushed := int64(math.MaxInt64)
	for _, t := range r.tg {
		minPushed = min(minPushed, t.pushed)
	}
	if minPushed >= 0 {
		if e := r.entryLocked(minPushed); e != nil {
			p.HeadSrc = e.src
			p.HeadURI = uriKey(e.srcURL) + rangeKey(e.rng)
		} else {
			p.HeadSrc = r.num.Source(minPushed)
			p.HeadURI = ""
		}
	}
	return p
}

func (r *rendition) playlistName() string { return r.f.stem + "_" + r.name + ".m3u8" }

func (r *rendition) segmentName(seq int64, ext string) string {
	return fmt.Sprintf("%s_%s_%d%s", r.f.stem, r.name, seq, ext)
}

// bandwidth estimates the peak bitrate from pulled segments (bits/s).
func (r *rendition) bandwidth() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.secondsIn <= 0 {
		return 1000000
	}
	return int(float64(r.bytesIn*8)/r.secondsIn*1.1) + 1
}

func (r *rendition) entryLocked(seq int64) *entry {
	if len(r.entries) == 0 {
		return nil
	}
	i := seq - r.entries[0].seq
	if i < 0 || i >= int64(len(r.entries)) {
		return nil
	}
	return r.entries[i]
}

func (r *rendition) playlistPushed(ti int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.tg[ti].playlistPushed
}

// snapshot returns status, lag in seconds and pending files per target.
func (r *rendition) snapshot() (RenditionStatus, float64, []int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.st
	pending := make([]int, len(r.tg))
	lag := 0.0
	minPushed := int64(math.MaxInt64)
	for _, t := range r.tg {
		minPushed = min(minPushed, t.pushed)
	}
	for _, e := range r.entries {
		if e.seq > minPushed {
			lag += e.duration
		}
		for ti, t := range r.tg {
			if e.seq > t.pushed {
				pending[ti]++
			}
		}
	}
	return st, lag, pending
}
