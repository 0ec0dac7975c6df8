//go:build !linux

package kv

import "os"

// fdatasync falls back to File.Sync, which is fsync, or F_FULLFSYNC on
// macOS.
func fdatasync(f *os.File) error { return f.Sync() }
