//go:build !unix

package kv

func loadSlots(f File, n int) ([]slot, []byte, error) { return readSlots(f, n) }

func unmapSlots(b []byte) error { return nil }
