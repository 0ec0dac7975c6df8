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
func allocSlots(n int) ([]slot, []byte) {
	size := n * int(unsafe.Sizeof(slot{}))
	data, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return make([]slot, n), nil
	}
	return unsafe.Slice((*slot)(unsafe.Pointer(unsafe.SliceData(data))), n), data
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
func allocFilled(n int) ([]slot, []byte) {
	s, m := allocScratch(n)
	if m != nil {
		populateWrite(m)
	}
	return s, m
}
