//go:build !linux

package kv

// preallocate does nothing where fallocate is not available: appends then
// extend the file themselves.
func preallocate(f File, off, n int64) bool { return false }
