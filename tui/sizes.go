package tui

import (
	"container/heap"
	"maps"
	"math/bits"
	"slices"
	"strings"
)

// sizeViewTop is how many of the largest values the size view lists:
// enough to page through, few enough that the walk keeps them in a heap
// of its own and the screen gets a sorted copy ten times a second.
const sizeViewTop = 10_000

// summaryBiggest is how many of the largest keys the summary names.
const summaryBiggest = 5

// topSizes keeps the n largest values a walk has met: a min-heap whose
// root is the row that would be listed last, so that a larger value
// replaces it in O(log n). Among equal sizes the key first in byte order
// is listed first; as a walk goes in key order, a later key of the same
// size as the root never replaces it.
type topSizes struct {
	n    int
	rows sizeHeap
}

func newTopSizes(n int) *topSizes { return &topSizes{n: n} }

// offer considers key, whose value is size bytes long. The key is copied
// only when it is kept.
func (t *topSizes) offer(key []byte, size int) {
	if len(t.rows) < t.n {
		heap.Push(&t.rows, findRow{key: string(key), size: size, off: -1})
		return
	}
	if root := t.rows[0]; size < root.size || (size == root.size && string(key) > root.key) {
		return
	}
	t.rows[0] = findRow{key: string(key), size: size, off: -1}
	heap.Fix(&t.rows, 0)
}

// sorted returns a copy of the rows, largest first.
func (t *topSizes) sorted() []findRow {
	out := slices.Clone([]findRow(t.rows))
	slices.SortFunc(out, func(a, b findRow) int {
		if a.size != b.size {
			return b.size - a.size
		}
		return strings.Compare(a.key, b.key)
	})
	return out
}

// sizeHeap is a container/heap of rows, the one listed last at the root.
type sizeHeap []findRow

func (h sizeHeap) Len() int { return len(h) }
func (h sizeHeap) Less(i, j int) bool {
	if h[i].size != h[j].size {
		return h[i].size < h[j].size
	}
	return h[i].key > h[j].key
}
func (h sizeHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *sizeHeap) Push(x any)   { *h = append(*h, x.(findRow)) }
func (h *sizeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// sizeSummary are the figures of the summary panel (S), in the manner of
// redis-cli --bigkeys and --memkeys: how many keys, how many bytes, how
// they spread over sizes, how many expire and how many are stored
// encoded.
type sizeSummary struct {
	keys         int
	total        int64 // bytes of values, as Get returns them
	stored       int64 // bytes of values as stored, for the keys whose store says
	storedKnown  int   // keys whose store says how their value is stored
	expiring     int
	codecs       map[string]int // keys by codec, where the store says
	hist         [65]int        // hist[0] empty values; hist[i] sizes in [2^(i-1), 2^i)
	biggest      []findRow      // the largest values, largest first
	smallest     int            // the smallest value's size; -1 before the first key
	largestTotal int64          // bytes of the values listed in the size view
}

func newSizeSummary() *sizeSummary {
	return &sizeSummary{codecs: map[string]int{}, smallest: -1}
}

// add counts one key's value.
func (s *sizeSummary) add(info ValueInfo) {
	s.keys++
	s.total += int64(info.ValueSize)
	s.hist[bits.Len(uint(info.ValueSize))]++
	if s.smallest < 0 || info.ValueSize < s.smallest {
		s.smallest = info.ValueSize
	}
	if !info.Expires.IsZero() {
		s.expiring++
	}
	if info.Codec != "" {
		s.codecs[info.Codec]++
		s.stored += int64(info.StoredSize)
		s.storedKnown++
	}
}

// snapshot returns a copy to hand to the screen, naming the largest of
// rows, the size view's list.
func (s *sizeSummary) snapshot(rows []findRow) *sizeSummary {
	c := *s
	c.codecs = maps.Clone(s.codecs)
	c.biggest = slices.Clone(rows[:min(summaryBiggest, len(rows))])
	c.largestTotal = 0
	for _, r := range rows {
		c.largestTotal += int64(r.size)
	}
	return &c
}

// encoded is how many keys are stored with a codec that is not raw.
func (s *sizeSummary) encoded() int {
	n := 0
	for c, k := range s.codecs {
		if c != "raw" {
			n += k
		}
	}
	return n
}
