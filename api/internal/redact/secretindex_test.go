package redact

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// naiveReplace is the reference for secretIndex.replace: left to right,
// the longest registered string at each position.
func naiveReplace(s string, reg map[string]int, with string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		best := 0
		for r, n := range reg {
			if n > 0 && len(r) > best && strings.HasPrefix(s[i:], r) {
				best = len(r)
			}
		}
		if best == 0 {
			b.WriteByte(s[i])
			i++
			continue
		}
		b.WriteString(with)
		i += best
	}
	return b.String()
}

// TestSecretIndex compares the index with a naive scan over random adds,
// removes and texts on a small alphabet (so that prefixes collide and
// strings both shorter and longer than indexDepth share paths), and checks
// that removing everything frees every node.
func TestSecretIndex(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	word := func(max int) string {
		b := make([]byte, 1+rng.IntN(max))
		for i := range b {
			b[i] = "ab%"[rng.IntN(3)]
		}
		return string(b)
	}
	x := newSecretIndex()
	reg := map[string]int{}
	for step := range 1500 {
		switch s := word(2 * indexDepth); {
		case rng.IntN(3) > 0:
			x.add(s)
			reg[s]++
		default:
			x.remove(s) // often not registered: ignored
			if reg[s] > 0 {
				reg[s]--
			}
		}
		text := word(4 * indexDepth)
		if got, want := x.replace(text, "*"), naiveReplace(text, reg, "*"); got != want {
			t.Fatalf("step %d: replace(%q) = %q, want %q", step, text, got, want)
		}
	}
	for s, n := range reg {
		for range n {
			x.remove(s)
		}
	}
	if len(x.edges) != 0 || len(x.nodes)-1 != len(x.free) {
		t.Fatalf("after removing everything: %d edges, %d nodes, %d free", len(x.edges), len(x.nodes), len(x.free))
	}
	if got := x.replace("ab%", "*"); got != "ab%" {
		t.Fatalf("empty index replaced: %q", got)
	}
}
