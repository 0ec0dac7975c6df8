package kv

import "unsafe"

// A compaction of n live records needs, one after another, arrays of n
// entries: the snapshot's offsets and their sort's scratch (8 bytes each),
// the new offsets the copy writes (8), the sort of the new index's entries
// by home slot (16), and the new index's table itself, more than 21 bytes
// a record (tableFor: at most three quarters full). Each was a map of its
// own, touched for the first time: 72 MiB at a million records, beside the
// 16 of the records' own list (es). On a virtual machine whose host backs
// a guest's memory only as it is first written, that cost more than the
// snapshot: a 32 MiB map took 44–82 ms to write once, and 0.2 ms the
// second time (bench/results/compaction/rate/arena/README.md, where the
// compaction with the arena took 218 ms, median of six, against 248).
//
// So the compaction maps the new table first, as its arena, and each array
// lives there in its turn until the table is built in it:
//
//	snapshot            offsets [0, 8n)   sort scratch [8n, 16n)
//	copy                offsets [0, 8n)   new offsets  [8n, 16n)
//	index build         sort by home [0, 16n), once the new offsets are read
//	then                the table, cleared, handed to the new index
//
// Only the table's own pages are new to the process. A region is used
// only in its turn, by the one goroutine that runs the compaction; one
// that a turn needs more room than (writers added keys meanwhile) comes
// from a map of its own, as before, and a table of another size than the
// arena's is allocated whole, the arena then freed once the index is
// built.
type compactArena struct {
	mem   []byte // the map; nil once handed to the index, or freed
	slots int    // the slots of the table it holds: tableFor(keys)
	keys  int    // the entries each array has room for
}

// arenaMin is the fewest records a compaction takes an arena for: below
// it, its arrays are on the heap (scratchArray, mappedScratchMin).
const arenaMin = 1 << 16

// newCompactArena maps the arena of a compaction of keys records, or
// returns nil where they are few enough for the heap or there is no map
// (mapFilled). The methods of a nil arena return nothing, and the caller
// allocates.
func newCompactArena(keys int) *compactArena {
	if keys < arenaMin {
		return nil
	}
	slots := tableFor(keys)
	m := mapFilled(slots * int(unsafe.Sizeof(slot{})))
	if m == nil {
		return nil
	}
	return &compactArena{mem: m, slots: slots, keys: keys}
}

// arenaArray returns n T at byte off of the arena.
func arenaArray[T scratchElem](a *compactArena, off, n int) []T {
	return unsafe.Slice((*T)(unsafe.Pointer(&a.mem[off])), n)
}

// offsets is the snapshot's offsets, empty, with room for keys.
func (a *compactArena) offsets() []int64 {
	if a == nil || a.mem == nil {
		return nil
	}
	return arenaArray[int64](a, 0, a.keys)[:0]
}

// sortScratch is the scratch of the sort of the snapshot's offsets.
func (a *compactArena) sortScratch() []int64 {
	if a == nil || a.mem == nil {
		return nil
	}
	return arenaArray[int64](a, 8*a.keys, a.keys)
}

// newOffsets is the copy's list of new offsets, empty, with room for keys:
// the sort's scratch, once the sort is done.
func (a *compactArena) newOffsets() []uint64 {
	if a == nil || a.mem == nil {
		return nil
	}
	return arenaArray[uint64](a, 8*a.keys, a.keys)[:0]
}

// homeScratch is the scratch of n entries for the sort by home slot, nil
// if the arena has no room for n: it covers the offsets and the new
// offsets, which must not be read after.
func (a *compactArena) homeScratch(n int) []slot {
	if a == nil || a.mem == nil || n > a.keys {
		return nil
	}
	return arenaArray[slot](a, 0, n)
}

// holds reports whether s lies in the arena.
func (a *compactArena) holds(s []slot) bool {
	if a == nil || a.mem == nil || len(s) == 0 {
		return false
	}
	p, lo := uintptr(unsafe.Pointer(&s[0])), uintptr(unsafe.Pointer(&a.mem[0]))
	return p >= lo && p < lo+uintptr(len(a.mem))
}

// table hands the arena over as a cleared table of n slots, with its map
// for the index to free, if it has that size; else it returns nil, nil
// and the arena stays the caller's to free. Nothing may use the arena's
// other arrays after.
func (a *compactArena) table(n int) ([]slot, []byte) {
	if a == nil || a.mem == nil || n != a.slots {
		return nil, nil
	}
	m := a.mem
	a.mem = nil
	clear(m)
	return unsafe.Slice((*slot)(unsafe.Pointer(&m[0])), n), m
}

// free unmaps the arena, unless it was handed over as a table. Nothing
// may use its arrays after.
func (a *compactArena) free() {
	if a == nil || a.mem == nil {
		return
	}
	// Nothing else holds the map; an unmap fails only as mapping.unmap
	// can, harmlessly.
	_ = unmapSlots(a.mem)
	a.mem = nil
}
