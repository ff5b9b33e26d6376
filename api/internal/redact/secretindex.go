package redact

import (
	"slices"
	"strings"
)

// IndexDepth is how many leading bytes of a secret the index walks byte by
// byte; longer secrets are then told apart by comparing their rest.
const IndexDepth = 16

// secretIndex finds registered strings in a text in time that depends on
// the text's length, not on how many strings are registered: a byte trie
// of the strings' first indexDepth bytes, kept up to date by add and
// remove (no rebuild), so a Redactor with thousands of fetchers' secrets
// costs every log line about what it costs with one.
//
// A string added n times stays registered until it is removed n times.
// It is not safe for concurrent use.
type secretIndex struct {
	Nodes []indexNode // nodes[0] is the root
	Free  []int32     // reusable node numbers
	Edges map[indexEdge]int32
}

type indexNode struct {
	refs int32 // registrations passing through or ending here; freed at 0
	ends int32 // registrations ending exactly here
	// long holds, at depth indexDepth, the registrations longer than
	// indexDepth that lead here, longest first (repeated per registration).
	long []string
}

type indexEdge struct {
	from int32
	b    byte
}

func NewSecretIndex() *secretIndex {
	return &secretIndex{Nodes: make([]indexNode, 1), Edges: make(map[indexEdge]int32)}
}

// Add registers s once; an empty s is ignored.
func (x *secretIndex) Add(s string) {
	if s == "" {
		return
	}
	n := int32(0)
	for i := 0; i < len(s) && i < IndexDepth; i++ {
		e := indexEdge{n, s[i]}
		c, ok := x.Edges[e]
		if !ok {
			c = x.alloc()
			x.Edges[e] = c
		}
		x.Nodes[c].refs++
		n = c
	}
	if len(s) <= IndexDepth {
		x.Nodes[n].ends++
		return
	}
	long := x.Nodes[n].long
	i, _ := slices.BinarySearchFunc(long, len(s), func(e string, l int) int { return l - len(e) })
	x.Nodes[n].long = slices.Insert(long, i, s)
}

// Remove unregisters s once; a string not registered is ignored.
func (x *secretIndex) Remove(s string) {
	if s == "" {
		return
	}
	path := make([]indexEdge, 0, min(len(s), IndexDepth))
	n := int32(0)
	for i := 0; i < len(s) && i < IndexDepth; i++ {
		e := indexEdge{n, s[i]}
		c, ok := x.Edges[e]
		if !ok {
			return
		}
		path = append(path, e)
		n = c
	}
	node := &x.Nodes[n]
	if len(s) <= IndexDepth {
		if node.ends == 0 {
			return
		}
		node.ends--
	} else {
		i := slices.Index(node.long, s)
		if i < 0 {
			return
		}
		node.long = slices.Delete(node.long, i, i+1)
	}
	for _, e := range path {
		c := x.Edges[e]
		if x.Nodes[c].refs--; x.Nodes[c].refs == 0 {
			// Only s went through c: the nodes below it on the path
			// drop to 0 too as the loop goes on.
			delete(x.Edges, e)
			x.release(c)
		}
	}
}

func (x *secretIndex) alloc() int32 {
	if k := len(x.Free); k > 0 {
		c := x.Free[k-1]
		x.Free = x.Free[:k-1]
		return c
	}
	x.Nodes = append(x.Nodes, indexNode{})
	return int32(len(x.Nodes) - 1)
}

func (x *secretIndex) release(c int32) {
	x.Nodes[c] = indexNode{}
	x.Free = append(x.Free, c)
}

// longestAt returns the length of the longest registered string that s
// starts with, or 0.
func (x *secretIndex) longestAt(s string) int {
	best := 0
	n := int32(0)
	for i := 0; i < len(s) && i < IndexDepth; i++ {
		c, ok := x.Edges[indexEdge{n, s[i]}]
		if !ok {
			return best
		}
		n = c
		if x.Nodes[n].ends > 0 {
			best = i + 1
		}
	}
	for _, l := range x.Nodes[n].long {
		if strings.HasPrefix(s, l) {
			return len(l) // longest first
		}
	}
	return best
}

// Replace returns s with every registered string replaced by with,
// scanning left to right and taking the longest match at each position.
func (x *secretIndex) Replace(s, with string) string {
	if len(x.Edges) == 0 {
		return s
	}
	var b strings.Builder
	last := 0 // s[last:i] is not yet copied to b
	for i := 0; i < len(s); {
		l := x.longestAt(s[i:])
		if l == 0 {
			i++
			continue
		}
		if b.Len() == 0 {
			b.Grow(len(s))
		}
		b.WriteString(s[last:i])
		b.WriteString(with)
		i += l
		last = i
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}
