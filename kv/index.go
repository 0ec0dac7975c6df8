package kv

import (
	"hash/crc32"
	"unsafe"
)

// slot is one cell of the index: where a key's live record sits in the log,
// and 32 bits of the key's hash. The key itself is not kept: it is in the
// log, and the index compares against it there. An empty slot has off 0
// (no record starts at offset 0, where the file header is).
//
// The layout is also the hint file's (see hint.go): 16 bytes, little-endian.
type slot struct {
	off  uint64
	hash uint32
	size uint32
}

// keySource reads the key of the record at off, for the index to compare.
type keySource interface {
	keyAt(off int64) ([]byte, error)
}

// index maps keys to their records with open addressing and linear
// probing. It costs 16 bytes a slot, 21 to 43 bytes a key, and no Go
// pointers, so the garbage collector never scans it. It is not safe for
// concurrent use; DB.mu guards it.
type index struct {
	slots []slot
	count int
	mask  uint32
	// mapped is the memory map slots live in when they were loaded from a
	// hint file; nil when they are on the Go heap.
	mapped []byte
}

const (
	minSlots = 1 << 10
	// A table grows when it is three quarters full: linear probing stays
	// short below that.
	maxLoadNum, maxLoadDen = 3, 4
)

func newIndex(keys int) *index {
	n := minSlots
	for n < 2*keys {
		n *= 2
	}
	return &index{slots: make([]slot, n), mask: uint32(n - 1)}
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// hashKey returns the key's hash. It is part of the hint file's format:
// CRC-32C, which the CPU computes, mixed by the murmur3 finalizer so that
// similar keys spread over the table.
func hashKey(key []byte) uint32 {
	h := crc32.Checksum(key, castagnoli)
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return h
}

// find returns the position of key's slot, or -1.
func (x *index) find(key []byte, h uint32, src keySource) (int, error) {
	i := h & x.mask
	for range x.slots { // a table loaded from a damaged hint may have no empty slot
		s := &x.slots[i]
		if s.off == 0 {
			return -1, nil
		}
		if s.hash != h {
			i = (i + 1) & x.mask
			continue
		}
		k, err := src.keyAt(int64(s.off))
		if err != nil {
			return -1, err
		}
		if string(k) == string(key) {
			return int(i), nil
		}
		i = (i + 1) & x.mask
	}
	return -1, nil
}

// get returns key's slot.
func (x *index) get(key []byte, src keySource) (slot, bool, error) {
	i, err := x.find(key, hashKey(key), src)
	if i < 0 || err != nil {
		return slot{}, false, err
	}
	return x.slots[i], true, nil
}

// put points key at a record and returns the slot it replaced, if any.
func (x *index) put(key []byte, off int64, size int, src keySource) (slot, bool, error) {
	h := hashKey(key)
	i, err := x.find(key, h, src)
	if err != nil {
		return slot{}, false, err
	}
	if i >= 0 {
		old := x.slots[i]
		x.slots[i].off, x.slots[i].size = uint64(off), uint32(size)
		return old, true, nil
	}
	x.insertNew(h, off, size)
	return slot{}, false, nil
}

// insertNew adds a key known not to be in the index.
func (x *index) insertNew(h uint32, off int64, size int) {
	if (x.count+1)*maxLoadDen > len(x.slots)*maxLoadNum {
		x.grow()
	}
	i := h & x.mask
	for n := 0; x.slots[i].off != 0; n++ {
		if n == len(x.slots) {
			// Full: only a table loaded from a damaged hint can be, and
			// the check of the hint is about to replace it.
			x.grow()
			x.insertNew(h, off, size)
			return
		}
		i = (i + 1) & x.mask
	}
	x.slots[i] = slot{off: uint64(off), hash: h, size: uint32(size)}
	x.count++
}

// grow doubles the table. The stored hashes place every slot again without
// reading a key. A table that was mapped from a hint file moves to the heap.
func (x *index) grow() {
	old := x.slots
	defer x.release(x.mapped)
	x.mapped = nil
	x.slots = make([]slot, 2*len(old))
	x.mask = uint32(len(x.slots) - 1)
	for _, s := range old {
		if s.off == 0 {
			continue
		}
		i := s.hash & x.mask
		for x.slots[i].off != 0 {
			i = (i + 1) & x.mask
		}
		x.slots[i] = s
	}
}

// remove deletes key and returns its slot, if it was there.
func (x *index) remove(key []byte, src keySource) (slot, bool, error) {
	i, err := x.find(key, hashKey(key), src)
	if i < 0 || err != nil {
		return slot{}, false, err
	}
	old := x.slots[i]
	x.removeAt(uint32(i))
	return old, true, nil
}

// removeAt empties slot i and shifts back the slots after it that would
// otherwise become unreachable (backward-shift deletion: no tombstones, so
// lookups never slow down after many deletes).
func (x *index) removeAt(i uint32) {
	j := (i + 1) & x.mask
	for range x.slots { // bounded, for a table from a damaged hint
		s := x.slots[j]
		if s.off == 0 {
			break
		}
		home := s.hash & x.mask
		// Move s into the hole at i unless its home lies cyclically in
		// (i, j], where it is still reachable without passing i.
		if (j-home)&x.mask >= (j-i)&x.mask {
			x.slots[i] = s
			i = j
		}
		j = (j + 1) & x.mask
	}
	x.slots[i] = slot{}
	x.count--
}

// release unmaps a hint file's map once the table no longer uses it. The
// caller holds whatever lock readers of the table take.
func (x *index) release(mapped []byte) {
	unmapSlots(mapped)
}

// close releases the table's memory map, if any.
func (x *index) close() {
	if x != nil {
		x.release(x.mapped)
		x.slots, x.mapped = nil, nil
	}
}

// each calls fn for every occupied slot until fn returns false.
func (x *index) each(fn func(s slot) bool) {
	for _, s := range x.slots {
		if s.off != 0 && !fn(s) {
			return
		}
	}
}

// memory returns the size of the table in bytes.
func (x *index) memory() int64 { return int64(len(x.slots)) * int64(unsafe.Sizeof(slot{})) }
