package numbering

import (
	"fmt"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// listing is a source media playlist as numbering sees it: the number of
// its first segment and the identities of its segments.
type listing struct {
	first int64
	keys  []string
}

// keysFrom returns n keys prefix+"<i>" for i = from, from+1, ...
func keysFrom(prefix string, from int64, n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("%s%d", prefix, from+int64(i))
	}
	return keys
}

// feed plans l and assigns its new segments as the rendition does; it
// returns the plan and the output numbers given to the new segments.
func feed(n *Numbering, l listing, waiting bool) (Plan, []int64) {
	p := n.Plan(l.first, len(l.keys), func(i int) string { return l.keys[i] }, waiting)
	var seqs []int64
	for i := p.Start; i < len(l.keys); i++ {
		seqs = append(seqs, n.Assign(l.first+int64(i), l.keys[i]))
	}
	return p, seqs
}

func TestNumbering(t *testing.T) {
	live := listing{10, keysFrom("a", 10, 3)} // a10 a11 a12, numbered 10 11 12
	type step struct {
		l        listing
		waiting  bool
		event    numberingEvent
		seqs     []int64
		disc     bool
		skipped  [2]int64 // from, to; zero when nothing is skipped
		missed   int64
		prevHead int64
	}
	type restored struct{ offset, minPushed, maxPushed, head int64 }
	cases := []struct {
		name    string
		restore *restored
		headKey string
		steps   []step
	}{
		{name: "first load follows the source", steps: []step{
			{l: live, event: NumFirst, seqs: []int64{10, 11, 12}, prevHead: -1},
		}},
		{name: "sliding window continues", steps: []step{
			{l: live, event: NumFirst, seqs: []int64{10, 11, 12}, prevHead: -1},
			{l: listing{11, keysFrom("a", 11, 3)}, event: numContinue, seqs: []int64{13}, prevHead: 12},
			{l: listing{11, keysFrom("a", 11, 3)}, event: numContinue, prevHead: 13},
		}},
		{name: "stale listing from a lagging edge is ignored", steps: []step{
			{l: live, event: NumFirst, seqs: []int64{10, 11, 12}, prevHead: -1},
			{l: listing{12, keysFrom("a", 12, 3)}, event: numContinue, seqs: []int64{13, 14}, prevHead: 12},
			{l: live, event: NumStale, prevHead: 14},
		}},
		{name: "numbers going back are a restart", steps: []step{
			{l: live, event: NumFirst, seqs: []int64{10, 11, 12}, prevHead: -1},
			{l: listing{0, keysFrom("b", 0, 2)}, event: NumWentBack, seqs: []int64{13, 14}, disc: true, prevHead: 12},
			{l: listing{1, keysFrom("b", 1, 2)}, event: numContinue, seqs: []int64{15}, prevHead: 1},
		}},
		{name: "other content under the same numbers is a restart", steps: []step{
			{l: live, event: NumFirst, seqs: []int64{10, 11, 12}, prevHead: -1},
			{l: listing{11, keysFrom("c", 11, 3)}, event: NumChanged, seqs: []int64{13, 14, 15}, disc: true, prevHead: 12},
		}},
		{name: "segments gone before seen are counted", steps: []step{
			{l: live, event: NumFirst, seqs: []int64{10, 11, 12}, prevHead: -1},
			{l: listing{20, keysFrom("a", 20, 2)}, event: NumMissed, missed: 7, seqs: []int64{13, 14}, disc: true, prevHead: 12},
		}},
		{name: "a jump beyond a day is renumbering, not loss", steps: []step{
			{l: live, event: NumFirst, seqs: []int64{10, 11, 12}, prevHead: -1},
			{l: listing{13 + maxCountedMiss + 1, keysFrom("a", 100, 2)}, event: NumJumped, seqs: []int64{13, 14}, disc: true, prevHead: 12},
		}},
		{name: "a jump of a day is counted as missed", steps: []step{
			{l: live, event: NumFirst, seqs: []int64{10, 11, 12}, prevHead: -1},
			{l: listing{13 + maxCountedMiss, keysFrom("a", 100, 1)}, event: NumMissed, missed: maxCountedMiss, seqs: []int64{13}, disc: true, prevHead: 12},
		}},
		{name: "renumbered source is realigned on the newest segment seen", steps: []step{
			{l: live, event: NumFirst, seqs: []int64{10, 11, 12}, prevHead: -1},
			{l: listing{50, []string{"a11", "a12", "a13"}}, event: NumRealigned, seqs: []int64{13}, prevHead: 12},
			{l: listing{51, []string{"a12", "a13", "a14"}}, event: numContinue, seqs: []int64{14}, prevHead: 52},
		}},
		{name: "newest segment listed twice is no alignment", steps: []step{
			{l: live, event: NumFirst, seqs: []int64{10, 11, 12}, prevHead: -1},
			{l: listing{50, []string{"a12", "a12", "x"}}, event: NumMissed, missed: 37, seqs: []int64{13, 14, 15}, disc: true, prevHead: 12},
		}},
		{name: "restored numbering gives listed segments their old numbers",
			restore: &restored{offset: 0, minPushed: 20, maxPushed: 21, head: 20}, headKey: "a20",
			steps: []step{
				{l: listing{19, keysFrom("a", 19, 5)}, event: numContinue, seqs: []int64{21, 22, 23}, prevHead: 20},
			}},
		{name: "restart after restore skips the reserved numbers",
			restore: &restored{offset: 0, minPushed: 20, maxPushed: 22, head: 20}, headKey: "a20",
			steps: []step{
				{l: listing{0, keysFrom("b", 0, 2)}, waiting: true, event: NumWentBack, seqs: []int64{24, 25}, disc: true, skipped: [2]int64{21, 23}, prevHead: 20},
			}},
		{name: "restore without a usable head resumes after the reserved numbers",
			restore: &restored{offset: 100, minPushed: 20, maxPushed: 21, head: 7}, headKey: "x",
			steps: []step{
				{l: listing{5, keysFrom("b", 5, 2)}, event: numResume, seqs: []int64{23, 24}, skipped: [2]int64{21, 22}, prevHead: -80},
			}},
		{name: "an implausible reserved gap is ignored",
			restore: &restored{offset: 0, minPushed: 20, maxPushed: 20 + maxReservedGap + 5, head: 20}, headKey: "a20",
			steps: []step{
				{l: listing{0, keysFrom("b", 0, 1)}, event: NumWentBack, seqs: []int64{21}, disc: true, prevHead: 20},
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := New()
			if r := c.restore; r != nil {
				n.Restore(r.offset, r.minPushed, r.maxPushed, r.head, c.headKey)
			}
			for i, s := range c.steps {
				p, seqs := feed(&n, s.l, s.waiting)
				var skipped [2]int64
				if p.Skipped {
					skipped = [2]int64{p.SkipFrom, p.SkipTo}
				}
				if p.Event != s.event || p.Disc != s.disc || skipped != s.skipped || p.Missed != s.missed || p.PrevHead != s.prevHead || !slices.Equal(seqs, s.seqs) {
					t.Fatalf("step %d: event %d disc %v skipped %v missed %d prevHead %d seqs %v; want event %d disc %v skipped %v missed %d prevHead %d seqs %v",
						i, p.Event, p.Disc, skipped, p.Missed, p.PrevHead, seqs, s.event, s.disc, s.skipped, s.missed, s.prevHead, s.seqs)
				}
			}
		})
	}
}

func TestNumberingSaved(t *testing.T) {
	n := New()
	n.Restore(0, 20, 22, 20, "a20")
	if got := n.NextToSave(); got != 24 {
		t.Fatalf("nextToSave after restore = %d, want 24 (past the reserved numbers)", got)
	}
	if got := n.HeadKey(); got != "a20" {
		t.Fatalf("headKey = %q, want a20", got)
	}
	feed(&n, listing{20, keysFrom("a", 20, 5)}, false)
	if got, want := n.NextToSave(), int64(25); got != want {
		t.Fatalf("nextToSave = %d, want %d", got, want)
	}
	if got := n.Source(24); got != 24 {
		t.Fatalf("source(24) = %d, want 24", got)
	}
}

// drawListing draws an arbitrary listing: numbers anywhere (near the
// previous ones or far), keys from a small set so that renumbering,
// duplicates and stale copies occur.
func drawListing(t *rapid.T, label string) listing {
	first := rapid.OneOf(
		rapid.Int64Range(0, 40),
		rapid.Int64Range(0, 3*maxCountedMiss),
	).Draw(t, label+"first")
	keys := rapid.SliceOfN(rapid.SampledFrom([]string{"a", "b", "c", "d", "e", "f", "g", "h"}), 0, 8).Draw(t, label+"keys")
	return listing{first, keys}
}

// TestNumberingOutputNeverGoesBack: whatever the source lists, the output
// numbers given out (assigned or skipped) are consecutive and strictly
// increasing, so no number is given twice and no restart makes the output
// go back.
func TestNumberingOutputNeverGoesBack(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := New()
		if rapid.Bool().Draw(t, "restored") {
			minPushed := rapid.Int64Range(-1, 1000).Draw(t, "minPushed")
			maxPushed := minPushed + rapid.Int64Range(0, 3).Draw(t, "ahead")
			n.Restore(rapid.Int64Range(-1000, 1000).Draw(t, "offset"), minPushed, maxPushed, rapid.Int64Range(-1, 1000).Draw(t, "head"), "a")
		}
		var given []int64
		steps := rapid.IntRange(1, 12).Draw(t, "steps")
		for i := range steps {
			l := drawListing(t, fmt.Sprint(i))
			before := n.Next
			p, seqs := feed(&n, l, rapid.Bool().Draw(t, "waiting"))
			if p.Start < 0 || p.Start > len(l.keys) {
				t.Fatalf("start %d outside a listing of %d", p.Start, len(l.keys))
			}
			if k := len(seqs); k > 0 && n.Source(seqs[k-1]) != l.first+int64(len(l.keys)-1) {
				t.Fatalf("offset %d maps output %d to source %d, want %d", n.Offset, seqs[k-1], n.Source(seqs[k-1]), l.first+int64(len(l.keys)-1))
			}
			var out []int64
			if p.Skipped {
				if p.SkipFrom != before || p.SkipTo < p.SkipFrom {
					t.Fatalf("skipped %d..%d with next %d", p.SkipFrom, p.SkipTo, before)
				}
				for s := p.SkipFrom; s <= p.SkipTo; s++ {
					out = append(out, s)
				}
			}
			out = append(out, seqs...)
			for j, s := range out {
				if len(given) > 0 && s <= given[len(given)-1] {
					t.Fatalf("output %d after %d (event %d)", s, given[len(given)-1], p.Event)
				}
				if (len(given) > 0 || j > 0) && p.Event != NumFirst && s != before+int64(j) {
					t.Fatalf("output %d, want %d: not consecutive (event %d)", s, before+int64(j), p.Event)
				}
				given = append(given, s)
			}
			if len(given) > 0 && n.Next != given[len(given)-1]+1 {
				t.Fatalf("next %d after output %d", n.Next, given[len(given)-1])
			}
		}
	})
}

// liveSource is a well-behaved live source whose content i is listed
// under number i+shift; it may renumber (change shift) at any reload.
type liveSource struct {
	window int
	lo, hi int   // content listed: lo..hi-1
	shift  int64 // number of content i is i+shift
}

func (s *liveSource) listing() listing {
	l := listing{first: int64(s.lo) + s.shift}
	for i := s.lo; i < s.hi; i++ {
		l.keys = append(l.keys, fmt.Sprintf("c%d", i))
	}
	return l
}

// TestNumberingContiguousRunMapsToContiguousOutput: a source sliding its
// window by less than its length, even while renumbering, gets each
// segment numbered exactly once, content i as output base+i.
func TestNumberingContiguousRunMapsToContiguousOutput(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := &liveSource{window: rapid.IntRange(1, 8).Draw(t, "window"), shift: rapid.Int64Range(0, 1000).Draw(t, "shift")}
		s.hi = s.window
		n := New()
		numbered := map[string]int64{}
		base := int64(-1)
		steps := rapid.IntRange(1, 20).Draw(t, "steps")
		for i := range steps {
			if i > 0 {
				// Slide by less than the window so the newest seen stays
				// listed, and maybe renumber.
				adv := rapid.IntRange(0, s.window-1).Draw(t, fmt.Sprint("advance", i))
				s.lo += adv
				s.hi += adv
				if rapid.Bool().Draw(t, fmt.Sprint("renumber", i)) {
					s.shift = rapid.Int64Range(0, 3*maxCountedMiss).Draw(t, fmt.Sprint("shift", i))
				}
			}
			l := s.listing()
			_, seqs := feed(&n, l, false)
			for j, seq := range seqs {
				c := s.lo + len(l.keys) - len(seqs) + j
				key := fmt.Sprintf("c%d", c)
				if _, dup := numbered[key]; dup {
					t.Fatalf("content %s numbered twice", key)
				}
				numbered[key] = seq
				if base < 0 {
					base = seq - int64(c)
				}
				if seq != base+int64(c) {
					t.Fatalf("content %d numbered %d, want %d", c, seq, base+int64(c))
				}
			}
		}
		for c := range s.hi {
			if _, ok := numbered[fmt.Sprintf("c%d", c)]; !ok {
				t.Fatalf("content %d listed but never numbered", c)
			}
		}
	})
}

// TestNumberingRestartNeverReusesNames: after a restore, a source that
// restarted with new content gets numbers past every number a target may
// have pushed (the reserved ones), so no name is reused for other bytes.
func TestNumberingRestartNeverReusesNames(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		minPushed := rapid.Int64Range(0, 1000).Draw(t, "minPushed")
		maxPushed := minPushed + rapid.Int64Range(0, 3).Draw(t, "ahead")
		offset := rapid.Int64Range(-1000, minPushed).Draw(t, "offset")
		n := New()
		n.Restore(offset, minPushed, maxPushed, minPushed-offset, "old")
		first := rapid.Int64Range(0, minPushed-offset).Draw(t, "first")
		count := rapid.IntRange(1, 8).Draw(t, "count")
		p, seqs := feed(&n, listing{first, keysFrom("new", 0, count)}, rapid.Bool().Draw(t, "waiting"))
		if !p.Disc {
			t.Fatalf("restart read as event %d without a discontinuity", p.Event)
		}
		for _, s := range seqs {
			if s <= maxPushed+1 {
				t.Fatalf("new content numbered %d, which a target may have pushed (up to %d)", s, maxPushed+1)
			}
		}
	})
}
