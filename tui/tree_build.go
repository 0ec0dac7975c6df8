package tui

import (
	"sort"
	"strings"
)

// Delimiters the key tree groups by, in the order d switches through.
var treeDelimiters = []byte{'/', ':'}

// treeNode is a group of the key tree: the keys that start with prefix,
// which ends with the delimiter (the root's is empty). It counts every key
// below it and the total size of their values.
type treeNode struct {
	prefix string
	keys   int
	bytes  int64
	groups []*treeNode // subgroups, in key order
	leaves []treeLeaf  // keys with no delimiter after prefix, in key order
	index  map[string]*treeNode
	open   bool
}

// treeLeaf is one key of the tree and the size of its value.
type treeLeaf struct {
	key  string
	size int
}

// newTreeNode returns an empty group for prefix.
func newTreeNode(prefix string) *treeNode {
	return &treeNode{prefix: prefix}
}

// add puts key, whose value is size bytes, under n, grouping it by delim
// past n's prefix, and counts it in n and every group on its way.
func (n *treeNode) add(key string, size int, delim byte) {
	n.keys++
	n.bytes += int64(size)
	rest := key[len(n.prefix):]
	i := strings.IndexByte(rest, delim)
	if i < 0 {
		n.leaves = append(n.leaves, treeLeaf{key: key, size: size})
		return
	}
	n.child(key[:len(n.prefix)+i+1]).add(key, size, delim)
}

// child returns n's subgroup for prefix, creating it. A scan in key order
// meets each group's keys together, so the group is almost always the
// last one made; the map serves keys that arrive out of order.
func (n *treeNode) child(prefix string) *treeNode {
	if k := len(n.groups); k > 0 && n.groups[k-1].prefix == prefix {
		return n.groups[k-1]
	}
	if c, ok := n.index[prefix]; ok {
		return c
	}
	c := newTreeNode(prefix)
	if n.index == nil {
		n.index = map[string]*treeNode{}
	}
	n.index[prefix] = c
	k := sort.Search(len(n.groups), func(i int) bool { return n.groups[i].prefix > prefix })
	n.groups = append(n.groups, nil)
	copy(n.groups[k+1:], n.groups[k:])
	n.groups[k] = c
	return c
}

// detectDelimiter picks the delimiter that most of sample's keys contain,
// '/' when none has either.
func detectDelimiter(sample []string) byte {
	best, bestN := treeDelimiters[0], 0
	for _, d := range treeDelimiters {
		n := 0
		for _, k := range sample {
			if strings.IndexByte(k, d) >= 0 {
				n++
			}
		}
		if n > bestN {
			best, bestN = d, n
		}
	}
	return best
}

// nextDelimiter is the delimiter after d in treeDelimiters.
func nextDelimiter(d byte) byte {
	i := strings.IndexByte(string(treeDelimiters), d)
	return treeDelimiters[(i+1)%len(treeDelimiters)]
}

// treeRow is one line of the tree as shown: a group, or a key.
type treeRow struct {
	depth int
	group *treeNode // nil for a key
	leaf  treeLeaf
}

// rows lists the tree as shown: each open group followed by its subgroups
// and then its keys, at one more level of depth.
func (n *treeNode) rows(depth int, out []treeRow) []treeRow {
	for _, g := range n.groups {
		out = append(out, treeRow{depth: depth, group: g})
		if g.open {
			out = g.rows(depth+1, out)
		}
	}
	for _, l := range n.leaves {
		out = append(out, treeRow{depth: depth, leaf: l})
	}
	return out
}
