//go:build unix

package kv

import (
	"syscall"
	"unsafe"
)

// allocSlots returns a zeroed table of n slots in an anonymous memory map,
// and the map. Mapping is a system call whatever the size: the kernel
// zeroes each page when it is first touched, so a growth, which touches
// the new table a step at a time, never waits for a whole table to be
// cleared, as a Go allocation reusing heap memory would make it. Where
// the map fails, the table is allocated on the heap.
func allocSlots(n int) ([]slot, []byte) { return mapArray[slot](n) }

// mapArray returns a zeroed array of n T in an anonymous memory map, and
// the map, which unmapSlots frees; where the map fails, the array is on
// the heap and the map nil. T holds no pointers: the garbage collector
// does not look into the map.
func mapArray[T scratchElem](n int) ([]T, []byte) {
	var zero T
	size := n * int(unsafe.Sizeof(zero))
	if size == 0 {
		return nil, nil
	}
	data := mapBytes(size)
	if data == nil {
		return make([]T, n), nil
	}
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(data))), n), data
}

// mapBytes returns n zeroed bytes in an anonymous memory map, which
// unmapSlots frees, or nil where the map fails.
func mapBytes(n int) []byte {
	data, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return nil
	}
	return data
}

// mapFilled is mapBytes for memory about to be written whole, advised to
// use huge pages and faulted in at once (see allocFilled); nil where the
// map fails.
func mapFilled(n int) []byte {
	m := mapBytes(n)
	if len(m) >= 4<<20 {
		adviseHugePages(m)
	}
	if m != nil {
		populateWrite(m)
	}
	return m
}

// allocScratch is allocSlots for a table or buffer that is written from
// end to end at once (a replay's collection and its sort): the map is
// advised to use huge pages, so that filling it faults a few hundred
// times instead of a few hundred thousand. The advice is only that: where
// the kernel declines it, the map works as any other.
func allocScratch(n int) ([]slot, []byte) {
	s, m := allocSlots(n)
	if len(m) >= 4<<20 {
		adviseHugePages(m)
	}
	return s, m
}

// allocFilled is allocScratch for a buffer the caller is about to write
// whole (a sort's scratch, a copy's destination): its pages are faulted in
// at once, in one system call (populateWrite), where each would fault as
// the first write reached it. On a virtual machine, where a fault costs
// 10–15 µs, a 3 MiB buffer took 8–9 ms to map, fill and unmap a page fault
// at a time, and 4–6 ms populated (go test -run '^$' -bench ScratchFill
// ./kv). A buffer sized from an estimate, or a table that may stay mostly
// empty, is left to fault as it is used: populated, its unused pages would
// be memory held for nothing.
func allocFilled(n int) ([]slot, []byte) { return filledArray[slot](n) }

// mappedScratchMin is the length from which a scratch array of offsets
// (8 bytes each) is worth a map of its own: half a mebibyte, where the
// system calls cost less than the page faults they save.
const mappedScratchMin = 1 << 16

// scratchArray returns n zeroed T for a buffer the caller is about to
// write whole: from filledArray once n reaches mappedScratchMin, with the
// map to free with unmapSlots, and from the heap, with no map, below it.
func scratchArray[T scratchElem](n int) ([]T, []byte) {
	if n < mappedScratchMin {
		return make([]T, n), nil
	}
	return filledArray[T](n)
}

// filledArray is allocFilled for an array of any T that mapArray takes:
// a compaction's lists of offsets and slots, a radix sort's scratch.
func filledArray[T scratchElem](n int) ([]T, []byte) {
	var zero T
	if n == 0 {
		return nil, nil
	}
	m := mapFilled(n * int(unsafe.Sizeof(zero)))
	if m == nil {
		return make([]T, n), nil
	}
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(m))), n), m
}
