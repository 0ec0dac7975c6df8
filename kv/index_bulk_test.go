package kv

import (
	"fmt"
	"testing"

	"github.com/crabkv/crabkv/walfmt"
)

// TestNewIndexOfGrows builds an index in bulk, as a compaction does, then
// puts and removes keys until its table has grown twice, and checks every
// key once it has; then closes it, which unmaps its table.
func TestNewIndexOfGrows(t *testing.T) {
	var src memKeys
	hdr := walfmt.NewFileHeader()
	h := newIndex(0, hdr)
	var es []slot
	model := map[string]int64{}
	for i := range 50_000 {
		k := fmt.Sprintf("bulk-%d", i)
		off := src.add(k)
		es = append(es, slot{off: uint64(off), hash: h.hash([]byte(k)), size: 1})
		model[k] = off
	}
	x := newIndexOf(es, hdr, nil)
	checkIndex(t, x, &src, model, "bulk")
	first := len(x.slots)
	for i := 0; len(x.slots) < 4*first || x.old != nil; i++ {
		k := fmt.Sprintf("more-%d", i)
		off := src.add(k)
		if _, _, err := x.put([]byte(k), off, 1, &src); err != nil {
			t.Fatal(err)
		}
		model[k] = off
		if i%3 == 0 {
			gone := fmt.Sprintf("bulk-%d", i)
			if _, _, err := x.remove([]byte(gone), &src); err != nil {
				t.Fatal(err)
			}
			delete(model, gone)
		}
	}
	checkIndex(t, x, &src, model, "grown")
	if err := x.close(); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkScratchFill writes every slot of a fresh scratch buffer of
// 3 MiB (too small for huge pages), as a sort or a bulk build does: the
// cost of its first touch.
func BenchmarkScratchFill(b *testing.B) {
	const n = 3 << 20 / 16
	b.SetBytes(n * 16)
	for b.Loop() {
		s, m := allocFilled(n)
		for i := range s {
			s[i].off = uint64(i)
		}
		_ = unmapSlots(m)
	}
}
