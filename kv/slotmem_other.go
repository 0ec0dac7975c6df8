//go:build !unix

package kv

// allocSlots returns a zeroed table of n slots on the heap.
func allocSlots(n int) ([]slot, []byte) { return make([]slot, n), nil }

// allocScratch is allocSlots for a buffer written from end to end at once.
func allocScratch(n int) ([]slot, []byte) { return allocSlots(n) }

// allocFilled is allocScratch for a buffer the caller is about to write
// whole.
func allocFilled(n int) ([]slot, []byte) { return allocScratch(n) }

// scratchArray returns n zeroed T on the heap.
func scratchArray[T scratchElem](n int) ([]T, []byte) { return make([]T, n), nil }

// mapBytes returns nil: there are no anonymous maps here.
func mapBytes(int) []byte { return nil }

// mapFilled returns nil, as mapBytes.
func mapFilled(int) []byte { return nil }
