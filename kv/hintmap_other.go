//go:build !unix

package kv

func loadSlots(f File, off int64, n int) ([]slot, []byte, error) { return readSlots(f, off, n) }

func unmapSlots(b []byte) error { return nil }

// holdHint is never called where slots are read, not mapped: see the Unix
// version.
func holdHint(m []byte, f File, release func(File)) {}
