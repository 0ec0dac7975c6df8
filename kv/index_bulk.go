package kv

import "github.com/crabkv/crabkv/walfmt"

// newIndexOf returns an index of the log whose header is hdr holding the
// keys whose slots are es, each key once, in a table of the size a replay
// of the log would give it (tableFor): up to three quarters full, not
// half, which at some key counts would double the memory a key costs, and
// the hint the compaction writes, for no gain a lookup can measure (a
// probe reads a cache line of four slots). It sorts es by home position
// first (see sortedTable), so that the table is filled from start to end
// instead of at random: a compaction's new index of millions of keys is
// then built at the speed of memory rather than at one cache miss a key.
// es is reordered. The table is built in the arena a, if it has the size.
func newIndexOf(es []slot, hdr walfmt.FileHeader, a *compactArena) *index {
	x, sorted, done := sortedTable(a, es, tableFor(len(es)), hdr)
	for _, s := range sorted {
		x.place(s)
	}
	done()
	x.count = len(es)
	return x
}

// sortedTable returns an empty index of the log whose header is hdr, with
// a table of n slots, and es sorted by home slot in it (es reordered, or a
// scratch array), to be placed in the table in that order; done frees the
// scratch, once the sorted entries are placed.
//
// The table and the sort's scratch come from the arena a where it has
// room and the size (see compactArena). Elsewhere they are maps advised
// to use huge pages (allocScratch), as a replay's are: both are written
// from end to end at once, and a heap allocation of tens of mebibytes
// costs a page fault every 4 KiB of it, and the garbage collector a
// cycle.
func sortedTable(a *compactArena, es []slot, n int, hdr walfmt.FileHeader) (x *index, sorted []slot, done func()) {
	x = &index{}
	x.setHashKey(hdr)
	x.mask = uint32(n - 1)
	done = func() {}
	tmp := a.homeScratch(len(es))
	if tmp == nil {
		var m []byte
		tmp, m = allocFilled(len(es))
		// Nothing else holds tmp; an unmap fails only as mapping.unmap
		// can, harmlessly.
		done = func() { _ = unmapSlots(m) }
	}
	sorted = sortByHome(es, tmp, x.mask)
	if a.holds(sorted) {
		// An odd number of passes: the arena is about to be the table.
		sorted = es[:copy(es, sorted)]
	}
	slots, m := a.table(n)
	if slots == nil {
		slots, m = allocScratch(n)
	}
	x.slots = slots
	x.setMapped(m)
	return x, sorted, done
}
