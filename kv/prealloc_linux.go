package kv

import "golang.org/x/sys/unix"

// preallocate reserves n bytes of f from off, extending the file with
// zeros, and reports whether it did. Appends into reserved space change no
// file metadata, so the fdatasync that follows a synced append has only the
// data to write.
func preallocate(f File, off, n int64) bool {
	of, ok := f.(osFile)
	if !ok {
		return false
	}
	err := withFd(of.File, func(fd int) error {
		for {
			if err := unix.Fallocate(fd, 0, off, n); err != unix.EINTR {
				return err
			}
		}
	})
	return err == nil
}
