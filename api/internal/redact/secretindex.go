package redact

import (
	"slices"
	"strings"
)

// indexDepth is how many leading bytes of a secret the index walks byte by
// byte; longer secrets are then told apart by comparing their rest.
const indexDepth = 16

// secretIndex finds registered strings in a text in time that depends on
// the text's length, not on how many strings are registered: a byte trie
// of the strings' first indexDepth bytes, kept up to date by add and
// remove (no rebuild), so a Redactor with thousands of fetchers' secrets
// costs every log line about what it costs with one.
//
// A string added n times stays registered until it is removed n times.
// It is not safe for concurrent use.
type secretIndex struct {
	nodes []indexNode // nodes[0] is the root
	free  []int32     // reusable node numbers
	edges map[indexEdge]int32
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

func newSecretIndex() *secretIndex {
	return &secretIndex{nodes: make([]indexNode, 1), edges: make(map[indexEdge]int32)}
}

// add registers s once; an empty s is ignored.
func (x *secretIndex) add(s string) {
	if s == "" {
		return
	}
	n := int32(0)
	for i := 0; i < len(s) && i < indexDepth; i++ {
		e := indexEdge{n, s[i]}
		c, ok := x.edges[e]
		if !ok {
			c = x.alloc()
			x.edges[e] = c
		}
		x.nodes[c].refs++
		n = c
	}
	if len(s) <= indexDepth {
		x.nodes[n].ends++
		return
	}
	long := x.nodes[n].long
	i, _ := slices.BinarySearchFunc(long, len(s), func(e string, l int) int { return l - len(e) })
	x.nodes[n].long = slices.Insert(long, i, s)
}

// remove unregisters s once; a string not registered is ignored.
func (x *secretIndex) remove(s string) {
	if s == "" {
		return
	}
	path := make([]indexEdge, 0, min(len(s), indexDepth))
	n := int32(0)
	for i := 0; i < len(s) && i < indexDepth; i++ {
		e := indexEdge{n, s[i]}
		c, ok := x.edges[e]
		if !ok {
			return
		}
		path = append(path, e)
		n = c
	}
	node := &x.nodes[n]
	if len(s) <= indexDepth {
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
		c := x.edges[e]
		if x.nodes[c].refs--; x.nodes[c].refs == 0 {
			// Only s went through c: the nodes below it on the path
			// drop to 0 too as the loop goes on.
			delete(x.edges, e)
			x.release(c)
		}
	}
}

func (x *secretIndex) alloc() int32 {
	if k := len(x.free); k > 0 {
		c := x.free[k-1]
		x.free = x.free[:k-1]
		return c
	}
	x.nodes = append(x.nodes, indexNode{})
	return int32(len(x.nodes) - 1)
}

func (x *secretIndex) release(c int32) {
	x.nodes[c] = indexNode{}
	x.free = append(x.free, c)
}

// longestAt returns the length of the longest registered string that s
// starts with, or 0.
func (x *secretIndex) longestAt(s string) int {
	best := 0
	n := int32(0)
	for i := 0; i < len(s) && i < indexDepth; i++ {
		c, ok := x.edges[indexEdge{n, s[i]}]
		if !ok {
			return best
		}
		n = c
		if x.nodes[n].ends > 0 {
			best = i + 1
		}
	}
	for _, l := range x.nodes[n].long {
		if strings.HasPrefix(s, l) {
			return len(l) // longest first
		}
	}
	return best
}

// replace returns s with every registered string replaced by with,
// scanning left to right and taking the longest match at each position.
func (x *secretIndex) replace(s, with string) string {
	if len(x.edges) == 0 {
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
