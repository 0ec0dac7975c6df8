package kv

import (
	"encoding/binary"
	"unsafe"

	"github.com/crabkv/crabkv/walfmt"
	"github.com/dchest/siphash"
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
	// checkRecord verifies the checksum of the record of size bytes at off
	// unless it is known to be sound. A probe calls it before it passes
	// over a record whose hash matches but whose key differs: damage in
	// the key would otherwise hide the key it was, with no error.
	checkRecord(off int64, size int) error
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
	// hdr is the header of the log the index describes; k0 and k1 are its
	// hash key, the key of the hash function.
	hdr    walfmt.FileHeader
	k0, k1 uint64
}

const (
	minSlots = 1 << 10
	// A table grows when it is three quarters full: linear probing stays
	// short below that.
	maxLoadNum, maxLoadDen = 3, 4
)

// newIndex returns an empty index for about keys keys of the log whose
// header is hdr.
func newIndex(keys int, hdr walfmt.FileHeader) *index {
	n := minSlots
	for n < 2*keys {
		n *= 2
	}
	x := &index{slots: make([]slot, n), mask: uint32(n - 1)}
	x.setHashKey(hdr)
	return x
}

// setHashKey keys the index's hash with the hash key of the log it
// describes, before anything is inserted.
func (x *index) setHashKey(hdr walfmt.FileHeader) {
	x.hdr = hdr
	x.k0 = binary.LittleEndian.Uint64(hdr.HashKey[:8])
	x.k1 = binary.LittleEndian.Uint64(hdr.HashKey[8:])
}

// hash returns key's hash: SipHash-2-4 under the log's secret hash key, cut
// to 32 bits. It is part of the hint file's format. A keyed hash is what
// keeps the table's probes short whoever chooses the keys: with an unkeyed
// one, colliding keys are easy to make, and each costs every later lookup
// of its kind a longer probe. (Version 1 logs have a zero hash key; a
// compaction gives them a secret one.)
func (x *index) hash(key []byte) uint32 {
	return uint32(siphash.Hash(x.k0, x.k1, key))
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
		if err := src.checkRecord(int64(s.off), int(s.size)); err != nil {
			return -1, err
		}
		i = (i + 1) & x.mask
	}
	return -1, nil
}

// get returns key's slot.
func (x *index) get(key []byte, src keySource) (slot, bool, error) {
	i, err := x.find(key, x.hash(key), src)
	if i < 0 || err != nil {
		return slot{}, false, err
	}
	return x.slots[i], true, nil
}

// put points key at a record and returns the slot it replaced, if any.
func (x *index) put(key []byte, off int64, size int, src keySource) (slot, bool, error) {
	h := x.hash(key)
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
	mapped := x.mapped
	// The table moves to the heap; releasing the map it leaves can only
	// fail as mapping.unmap can, harmlessly.
	defer func() { _ = x.release(mapped) }()
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
	i, err := x.find(key, x.hash(key), src)
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
// Its error is mapping.unmap's, and as harmless.
func (x *index) release(mapped []byte) error {
	return unmapSlots(mapped)
}

// close releases the table's memory map, if any.
func (x *index) close() error {
	if x == nil {
		return nil
	}
	err := x.release(x.mapped)
	x.slots, x.mapped = nil, nil
	return err
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
