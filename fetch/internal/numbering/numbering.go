package numbering

// Numbering maps source media sequence numbers to output media sequence
// numbers for one rendition. It is pure state: no I/O, no goroutines, no
// clock. The rendition calls plan with each loaded playlist, then assign
// for each segment plan found new, under the rendition's mutex.
//
// Output numbers only grow and are consecutive: each new segment gets
// next, and next only increases. A source that restarts (its numbers go
// back, its content changes under the same numbers, or its numbers jump
// ahead by more than maxCountedMiss) or loses segments before they were
// seen is rebased: the output continues where it was, with a
// discontinuity. A source that renumbers while keeping the newest segment
// seen listed is realigned on that segment, so nothing is taken for new
// twice. Numbers a previous run may have pushed without saving it
// (reserved) are skipped before new content is numbered after a restart,
// so that no pushed name ever names other bytes.
type Numbering struct {
	Offset   int64 // output seq = source msn + offset
	Next     int64 // next output seq to assign
	reserved int64 // output seqs up to this may name files a previous run pushed
	Head     int64 // newest source msn assigned, -1 none
	recent   map[int64]string
}

// MaxMediaSequence bounds source media sequence numbers, leaving room for
// output numbers (source number + offset) without overflow.
const MaxMediaSequence = 1 << 62

// maxReservedGap bounds the gap skipReserved creates.
const maxReservedGap = 1 << 16

// maxCountedMiss is the largest forward jump of a source's media sequence
// counted as missed segments (a day of 1 s segments); a larger one is the
// source renumbering, like a restart.
const maxCountedMiss = 86400

// recentKept is how many source numbers back recent remembers segments.
const recentKept = 512

// New returns a Numbering that has seen no playlist.
func New() Numbering {
	return Numbering{Head: -1, reserved: -1, recent: map[int64]string{}}
}

// numberingEvent says how plan read a playlist.
type numberingEvent int

const (
	// numContinue: the listing continues the one seen; segments after the
	// newest seen are new.
	numContinue numberingEvent = iota
	// NumFirst: first load without progress; output numbers follow the
	// source's.
	NumFirst
	// numResume: first load after restored progress without a known head,
	// or of a source never seen: the listing is numbered after the
	// numbers used so far.
	numResume
	// NumRealigned: the source renumbered while the newest segment seen
	// stayed listed; numbering continues after it.
	NumRealigned
	// NumStale: an older copy of a listing already seen (a lagging CDN
	// edge); nothing is new.
	NumStale
	// NumWentBack: the source's numbers went back: it restarted.
	NumWentBack
	// NumChanged: other content under the numbers seen: it restarted.
	NumChanged
	// NumJumped: the numbers jumped ahead by more than maxCountedMiss: the
	// source renumbered, nothing was lost.
	NumJumped
	// NumMissed: segments left the source before they were seen.
	NumMissed
)

// Plan is plan's reading of one playlist.
type Plan struct {
	Event    numberingEvent
	Start    int   // index of the first new segment in the listing
	Disc     bool  // the first new segment starts a discontinuity
	PrevHead int64 // head before the playlist
	Realign  int64 // numRealigned: source number the head is listed under now
	Missed   int64 // numMissed: how many segments were lost

	// Skipped reports output numbers skipFrom..skipTo passed over because
	// a previous run may have used them: the caller fills them with gaps
	// or moves its targets past them.
	Skipped          bool
	SkipFrom, SkipTo int64
}

// Plan reads a listing of count segments numbered first, first+1, ...,
// whose identities key(i) gives (URI without query, byte range), and
// updates the numbering for it. waiting tells whether entries are still
// held (not yet pushed everywhere). The segments from the returned start
// on are new and get their numbers from assign, in order.
func (n *Numbering) Plan(first int64, count int, key func(i int) string, waiting bool) Plan {
	p := Plan{PrevHead: n.Head}
	if count == 0 {
		return p
	}
	last := first + int64(count) - 1
	if n.Head < 0 {
		if n.Next == 0 && !waiting {
			p.Event = NumFirst
			n.Offset = 0
			n.Next = first
			return p
		}
		p.Event = numResume
		n.skipReserved(&p)
		n.Offset = n.Next - first
		return p
	}
	if j, ok := n.realignOn(first, count, key); ok {
		p.Event, p.Start, p.Realign = NumRealigned, j+1, n.Head
		return p
	}
	if last < n.Head {
		if u, ok := n.recent[last]; ok && u == key(count-1) {
			p.Event, p.Start = NumStale, count
			return p
		}
		p.Event = NumWentBack
		n.restart(first, &p)
		return p
	}
	if u, ok := n.recent[n.Head]; ok && n.Head >= first && key(int(n.Head-first)) != u {
		p.Event = NumChanged
		n.restart(first, &p)
		return p
	}
	start := n.Head + 1 - first
	if start >= 0 {
		p.Event, p.Start = numContinue, int(start)
		return p
	}
	if missed := -start; missed > maxCountedMiss {
		p.Event = NumJumped
	} else {
		p.Event, p.Missed = NumMissed, missed
	}
	n.restart(first, &p)
	return p
}

// restart rebases the numbering on a listing starting at first, after the
// reserved numbers, with a discontinuity.
func (n *Numbering) restart(first int64, p *Plan) {
	n.skipReserved(p)
	n.Offset = n.Next - first
	p.Disc = true
}

// skipReserved moves numbering past the output numbers a previous run may
// have pushed without saving it, before new content is numbered, so that no
// name is ever reused for other bytes.
func (n *Numbering) skipReserved(p *Plan) {
	if n.Next > n.reserved {
		return
	}
	p.Skipped, p.SkipFrom, p.SkipTo = true, n.Next, n.reserved
	n.Next = n.reserved + 1
}

// realignOn handles a source that lists the newest segment already seen
// under another media sequence number than before: a packager or CDN that
// renumbered its playlist, or skipped numbers while segments stayed
// listed. Numbering alone would take the renumbered segments for new ones
// (pushing them twice) or count segments still listed as missed. When the
// newest segment seen is listed exactly once, realignOn rebases the source
// numbering on it and returns its index: the segments after it are new.
func (n *Numbering) realignOn(first int64, count int, key func(int) string) (int, bool) {
	u, ok := n.recent[n.Head]
	if !ok {
		return 0, false
	}
	if i := n.Head - first; i >= 0 && i < int64(count) && key(int(i)) == u {
		return 0, false // numbering unchanged
	}
	j := -1
	for i := range count {
		if key(i) == u {
			if j >= 0 {
				return 0, false // listed twice: no safe alignment
			}
			j = i
		}
	}
	if j < 0 {
		return 0, false
	}
	msn := first + int64(j)
	n.Offset = n.Next - msn - 1
	n.Head = msn
	clear(n.recent)
	n.recent[n.Head] = u
	return j, true
}

// Assign numbers the new source segment msn with identity key and returns
// its output number.
func (n *Numbering) Assign(msn int64, key string) int64 {
	seq := n.Next
	n.Next++
	n.Head = msn
	n.recent[msn] = key
	delete(n.recent, msn-recentKept)
	return seq
}

// Restore continues the numbering of a previous run: offset as saved,
// numbering after minPushed (the last number every target pushed), the
// numbers up to maxPushed+1 reserved (a target may hold one segment past
// its saved position), and savedHead/savedKey as the head when they
// describe the segment numbered minPushed.
func (n *Numbering) Restore(offset, minPushed, maxPushed, savedHead int64, savedKey string) {
	n.Offset = offset
	n.Next = minPushed + 1
	n.reserved = max(n.reserved, maxPushed+1)
	if n.reserved-n.Next > maxReservedGap {
		n.reserved = n.Next - 1 // not from a progress this code saved
	}
	n.Head = minPushed - n.Offset
	if savedHead == n.Head && savedKey != "" {
		n.recent[n.Head] = savedKey
	}
}

// NextToSave is the next output number a restarted run may assign.
func (n *Numbering) NextToSave() int64 { return max(n.Next, n.reserved+1) }

// HeadKey is the identity of the newest segment assigned, "" unknown.
func (n *Numbering) HeadKey() string { return n.recent[n.Head] }

// Source returns the source number of output number seq under the
// current offset.
func (n *Numbering) Source(seq int64) int64 { return seq - n.Offset }
