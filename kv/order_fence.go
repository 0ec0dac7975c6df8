package kv

import (
	"bytes"
	"cmp"
	"slices"
	"sort"
)

// A seek in a run is a binary search, and each probe of it reads a key from
// the log at a random offset: about twenty dependent cache misses at a
// million keys. A fence lets the search run in memory instead. It holds,
// for every fenceStride-th entry of the run, the 8 bytes of its key that
// follow the prefix all the run's keys share, as a big-endian number
// (prefix8): numbers compare as those bytes do, so a search of the fence
// narrows the run to the one or two blocks of fenceStride entries where
// the target's numbers fall. The records of those blocks are touched
// together, so that their misses overlap, and only then searched by key.
//
// It costs 8 bytes per fenceStride keys (half a byte a key), and building
// it reads one key in fenceStride. Keys that agree on all 8 bytes after
// the shared prefix make equal numbers; a search then narrows the run to
// all the blocks those numbers span, which is still right, only slower.
type fence struct {
	common string   // the prefix every key of the run starts with
	pfx    []uint64 // pfx[j]: prefix8 of run[j*fenceStride]'s key after common
}

// fenceStride is how many entries of a run one fence number stands for.
const fenceStride = 16

// fenceMin is the run length below which no fence is built: it would
// stand for one block.
const fenceMin = 2 * fenceStride

// buildFence returns the fence of run, reading its keys from src, or nil if
// the run is short or a key it needs cannot be read (a damaged record,
// which sorts as the empty key and could break the numbers' order: the
// search then reads keys, as it would without a fence). The keys of a
// sorted run all share the prefix its first and last keys share.
func buildFence(run []uint64, src *logView) *fence {
	n := len(run)
	if n < fenceMin || src.f == nil {
		return nil
	}
	f := newFence(src.keyOrNil(run[0]), src.keyOrNil(run[n-1]), (n+fenceStride-1)/fenceStride)
	if f == nil {
		return nil
	}
	at := make([]fencePoint, len(f.pfx))
	for j := range at {
		at[j] = fencePoint{off: run[j*fenceStride], j: j}
	}
	if !f.fill(at, src) || !f.rising() {
		return nil
	}
	return f
}

// newFence returns a fence of points numbers, not yet set, for a run whose
// first and last keys are first and last, or nil if either could not be
// read (nil).
func newFence(first, last []byte, points int) *fence {
	if first == nil || last == nil {
		return nil
	}
	return &fence{common: string(first[:sharedLen(first, last)]), pfx: make([]uint64, points)}
}

// number returns the fence number of key k, or false if k does not start
// with the prefix the run's keys share (a damaged record, read as none).
func (f *fence) number(k []byte) (uint64, bool) {
	if len(k) < len(f.common) || string(k[:len(f.common)]) != f.common {
		return 0, false
	}
	return prefix8(k[len(f.common):]), true
}

// fill sets the numbers of the points at, reading their keys from src, and
// reports whether every one had a number. The keys are read in the order
// of their records in the log, not in the run's: the run's order is the
// keys', which scatters them through the log, and reading every
// fenceStride-th of them in that order touched the log's pages in random
// order. In the log's order the reads go forward (a read-only Open's first
// key of ten million took 1.06-1.18 s here, where it took 1.41-1.87 s).
// Either way every page of the log is read: a fence of that size costs a
// read of the log. at is reordered.
func (f *fence) fill(at []fencePoint, src *logView) bool {
	slices.SortFunc(at, func(a, b fencePoint) int { return cmp.Compare(a.off, b.off) })
	for _, p := range at {
		num, ok := f.number(src.keyOrNil(p.off))
		if !ok {
			return false
		}
		f.pfx[p.j] = num
	}
	return true
}

// rising reports whether f's numbers never fall, as those of a sorted
// run's keys do.
func (f *fence) rising() bool {
	for j := 1; j < len(f.pfx); j++ {
		if f.pfx[j] < f.pfx[j-1] {
			return false
		}
	}
	return true
}

// fencePoint is an entry of a run the fence stands on: its record's
// offset, and its place j in the fence.
type fencePoint struct {
	off uint64
	j   int
}

// bounds returns the part [lo, hi] of a run of n entries, which f is the
// fence of, where the first key at or after t (or after it: the bounds
// are the same) lies: hi stands for the end when no key in [lo, hi)
// qualifies. lo == hi means the place is found.
func (f *fence) bounds(t []byte, n int) (lo, hi int) {
	if !bytes.HasPrefix(t, []byte(f.common)) {
		if bytes.Compare(t, []byte(f.common)) < 0 {
			return 0, 0 // t sorts before every key
		}
		return n, n // t differs from the shared prefix upwards: after every key
	}
	tp := prefix8(t[len(f.common):])
	// Below fence a, every block starts with a key whose number is
	// smaller than t's, so a key smaller than t; from fence b on, with a
	// key whose number is larger, so a key larger than t.
	a := sort.Search(len(f.pfx), func(j int) bool { return f.pfx[j] >= tp })
	b := a + sort.Search(len(f.pfx)-a, func(j int) bool { return f.pfx[a+j] > tp })
	if a > 0 {
		lo = (a-1)*fenceStride + 1
	}
	hi = n
	if b < len(f.pfx) {
		hi = b * fenceStride
	}
	return lo, hi
}

// searchRun returns the first index of s.run whose key is after target
// (after) or at or after it (!after), reading keys through v. With a fence
// and a map it touches the records of the part the fence leaves before it
// reads their keys.
func (it *Iterator) searchRun(v *logView, target []byte, after bool) int {
	s := it.snap
	lo, hi := 0, len(s.run)
	if s.fence != nil {
		lo, hi = s.fence.bounds(target, len(s.run))
		if v.m != nil && hi-lo <= 4*fenceStride {
			var sum byte
			data := v.m.data[:v.end]
			for _, off := range s.run[lo:hi] {
				if off < uint64(len(data)) {
					sum += data[off]
				}
			}
			it.sink += sum
		}
	}
	return lo + sort.Search(hi-lo, func(i int) bool {
		c := bytes.Compare(v.keyOrNil(s.run[lo+i]), target)
		return c > 0 || (c == 0 && !after)
	})
}
