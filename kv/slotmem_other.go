//go:build !unix

package kv

// allocSlots returns a zeroed table of n slots on the heap.
func allocSlots(n int) ([]slot, []byte) { return make([]slot, n), nil }
