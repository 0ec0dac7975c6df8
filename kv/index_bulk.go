package kv

import "github.com/crabkv/crabkv/walfmt"

// newIndexOf returns an index of the log whose header is hdr holding the
// keys whose slots are es, each key once. It sorts es by home position
// first (a radix sort, two passes of 16 bits), so that the table is filled
// from start to end instead of at random: a compaction's new index of
// millions of keys is then built at the speed of memory rather than at
// one cache miss a key. es is reordered.
func newIndexOf(es []slot, hdr walfmt.FileHeader) *index {
	x := newIndex(len(es), hdr)
	tmp := make([]slot, len(es))
	src, dst := es, tmp
	for shift := uint(0); shift < 32; shift += 16 {
		var count [1<<16 + 1]int
		for _, s := range src {
			count[(s.hash&x.mask)>>shift&0xffff+1]++
		}
		for i := 1; i < len(count); i++ {
			count[i] += count[i-1]
		}
		for _, s := range src {
			d := (s.hash & x.mask) >> shift & 0xffff
			dst[count[d]] = s
			count[d]++
		}
		src, dst = dst, src
	}
	for _, s := range src {
		x.place(s)
	}
	x.count = len(es)
	return x
}
