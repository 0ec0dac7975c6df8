package kv

import "github.com/crabkv/crabkv/walfmt"

// newIndexOf returns an index of the log whose header is hdr holding the
// keys whose slots are es, each key once, in a table of the size a replay
// of the log would give it (tableFor): up to three quarters full, not
// half, which at some key counts would double the memory a key costs, and
// the hint the compaction writes, for no gain a lookup can measure (a
// probe reads a cache line of four slots). It sorts es by home position
// first (see sortByHome), so that the table is filled from start to end
// instead of at random: a compaction's new index of millions of keys is
// then built at the speed of memory rather than at one cache miss a key.
// es is reordered.
//
// The table and the sort's scratch are maps advised to use huge pages
// (allocScratch), as a replay's are: both are written from end to end at
// once, and a heap allocation of tens of mebibytes costs a page fault
// every 4 KiB of it, and the garbage collector a cycle.
func newIndexOf(es []slot, hdr walfmt.FileHeader) *index {
	x := &index{}
	x.setHashKey(hdr)
	n := tableFor(len(es))
	slots, m := allocScratch(n)
	x.slots, x.mask = slots, uint32(n-1)
	x.setMapped(m)
	tmp, tmpMem := allocFilled(len(es))
	for _, s := range sortByHome(es, tmp, x.mask) {
		x.place(s)
	}
	// Nothing else holds tmp; an unmap fails only as mapping.unmap can,
	// harmlessly.
	_ = unmapSlots(tmpMem)
	x.count = len(es)
	return x
}
