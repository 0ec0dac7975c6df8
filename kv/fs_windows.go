//go:build windows

package kv

import (
	"os"

	"golang.org/x/sys/windows"
)

// openFile is os.OpenFile, except that a read-only open shares the file
// for deletion too (FILE_SHARE_DELETE), which os.OpenFile does not: a
// follower holds the log open while its writer's compaction renames a new
// log over it, and without that share mode the rename fails.
func openFile(name string, flag int, perm os.FileMode) (*os.File, error) {
	if flag != os.O_RDONLY {
		return os.OpenFile(name, flag, perm)
	}
	p, err := windows.UTF16PtrFromString(name)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	share := uint32(windows.FILE_SHARE_READ | windows.FILE_SHARE_WRITE | windows.FILE_SHARE_DELETE)
	h, err := windows.CreateFile(p, windows.GENERIC_READ, share, nil, windows.OPEN_EXISTING, windows.FILE_ATTRIBUTE_NORMAL, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	return os.NewFile(uintptr(h), name), nil
}
