//go:build !linux

package kv

// populateWrite does nothing where the kernel has no advice to fault pages
// in: the writes fault them in.
func populateWrite([]byte) {}
