//go:build windows

package kv

// renameOpenFiles reports whether a file may be renamed over while it is
// open. Go opens files on Windows without FILE_SHARE_DELETE, so every handle
// on the old log must be closed before it is replaced.
const renameOpenFiles = false

// syncDir does nothing on Windows, which has no directory fsync: NTFS
// journals the rename (MoveFileEx) itself.
func syncDir(dir string) error { return nil }
