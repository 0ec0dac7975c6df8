package kv

import "github.com/crabkv/crabkv/walfmt"

// newIndexOf returns an index of the log whose header is hdr holding the
// keys whose slots are es, each key once. It sorts es by home position
// first (see sortByHome), so that the table is filled from start to end
// instead of at random: a compaction's new index of millions of keys is
// then built at the speed of memory rather than at one cache miss a key.
// es is reordered.
func newIndexOf(es []slot, hdr walfmt.FileHeader) *index {
	x := newIndex(len(es), hdr)
	for _, s := range sortByHome(es, make([]slot, len(es)), x.mask) {
		x.place(s)
	}
	x.count = len(es)
	return x
}
