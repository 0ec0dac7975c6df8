package kv

import (
	"os"

	"golang.org/x/sys/unix"
)

// osFileRange starts the write-out of a range of an operating system's
// file with sync_file_range, which leaves the file's metadata and the
// disk's cache alone: it paces, and the file's Sync makes durable.
func osFileRange(f File) func(off, n int64, wait bool) error {
	of, ok := f.(osFile)
	if !ok {
		return nil
	}
	return func(off, n int64, wait bool) error {
		flags := unix.SYNC_FILE_RANGE_WRITE
		if wait {
			flags |= unix.SYNC_FILE_RANGE_WAIT_BEFORE | unix.SYNC_FILE_RANGE_WAIT_AFTER
		}
		err := withFd(of.File, func(fd int) error {
			for {
				if err := unix.SyncFileRange(fd, off, n, flags); err != unix.EINTR {
					return err
				}
			}
		})
		switch err {
		case nil:
			return nil
		case unix.ENOSYS, unix.EOPNOTSUPP:
			return errNoWriteback
		default:
			return &os.PathError{Op: "sync_file_range", Path: of.Name(), Err: err}
		}
	}
}
