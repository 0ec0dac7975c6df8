//go:build !unix

package kv

func loadSlots(f File, off int64, n int) ([]slot, []byte, error) { return readSlots(f, off, n) }

func unmapSlots(b []byte) error { return nil }
